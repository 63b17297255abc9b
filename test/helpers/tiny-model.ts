/**
 * A tiny random-weight text-to-image model with the pixel codec, written as a model folder (the same
 * layout and loader as the shipped emoji-mini model): 8x8 RGB images, 12x4x4 latents, attention 16 and
 * 32 wide (so rank-8 content+style adapters fit), a 1-layer 16-wide text encoder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clipTextParamShapes, type CLIPTextConfig } from '../../src/models/clip-text.ts';
import { loadModelFolder, writeModelFolder } from '../../src/pipeline/model-folder.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { WordTokenizer } from '../../src/models/tokenizers/word.ts';
import { unetParamShapes, type UNet2DConditionConfig } from '../../src/models/unet.ts';
import { randomWeight } from '../models/random-weights.ts';

export const TINY_UNET: UNet2DConditionConfig = {
  sample_size: 4,
  in_channels: 12,
  out_channels: 12,
  block_out_channels: [16, 32],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 16,
  attention_head_dim: 2,
  norm_num_groups: 4,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
};

/**
 * The tiny model as a folder. `variant` > 0: the same architecture with other random weights, as a new
 * pretraining would give (another weight hash: styles trained on variant 0 do not fit it).
 */
export async function writeTinyModelFolder(dir = mkdtempSync(join(tmpdir(), 'pairstyle-tiny-')), variant = 0): Promise<string> {
  const tokenizer = WordTokenizer.fromCaptions(['cat face', 'dog face', 'red apple', 'rocket', 'picture', 'in noto style']);
  const text: CLIPTextConfig = {
    vocab_size: tokenizer.vocabSize,
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    max_position_embeddings: 8,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  };
  const shapes = new Map([...unetParamShapes(TINY_UNET), ...clipTextParamShapes(text)]);
  const weights = new Map([...shapes].map(([n, s]) => [n, randomWeight(n, s, 1 + variant)]));
  await writeModelFolder(dir, {
    id: 'tiny-test',
    unet: TINY_UNET,
    text,
    tokenizer,
    schedule: {
      beta_schedule: 'linear',
      beta_start: 1e-4,
      beta_end: 0.02,
      num_train_timesteps: 1000,
      clip_sample: true,
      set_alpha_to_one: true,
      steps_offset: 0,
      timestep_spacing: 'trailing',
    },
    imageSize: 8,
    contextLength: 8,
    weights,
  });
  return dir;
}

export async function tinyModel(): Promise<TextToImageModel> {
  return loadModelFolder(await writeTinyModelFolder());
}
