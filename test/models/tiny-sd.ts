/** A tiny Stable Diffusion (UNet, CLIP text, VAE by the SD classes) with random weights, for checkpoint tests. */
import type { CLIPTextConfig } from '../../src/models/clip-text.ts';
import { stableDiffusionInventory } from '../../src/pipeline/stable-diffusion.ts';
import type { UNet2DConditionConfig } from '../../src/models/unet.ts';
import { SD_VAE_CONFIG, type AutoencoderKLConfig } from '../../src/models/vae.ts';
import { randomWeight } from './random-weights.ts';
import { tinyClipVocab } from '../../testing/tiny-clip-vocab.ts';

export const TINY_SD_UNET: UNet2DConditionConfig = {
  sample_size: 4,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 16,
  attention_head_dim: 2,
  num_attention_heads: null,
  transformer_layers_per_block: 1,
  norm_num_groups: 4,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: false,
  act_fn: 'silu',
};
export const TINY_SD_TEXT: CLIPTextConfig = {
  vocab_size: Object.keys(tinyClipVocab()).length,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  max_position_embeddings: 8,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};
export const TINY_SD_VAE: AutoencoderKLConfig = {
  ...SD_VAE_CONFIG,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [8, 16],
  layers_per_block: 1,
  norm_num_groups: 4,
  sample_size: 8,
  shift_factor: null,
  mid_block_add_attention: true,
  use_quant_conv: true,
  use_post_quant_conv: true,
};

export function tinySdWeights(seed = 1): Map<string, Float32Array> {
  const inv = stableDiffusionInventory(TINY_SD_UNET, TINY_SD_TEXT, TINY_SD_VAE);
  return new Map([...inv].map(([k, s]) => [k, randomWeight(k, s, seed)]));
}
