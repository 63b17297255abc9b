/**
 * Files of the embedded model, in the diffusers folder layout so the same loader reads real checkpoints:
 *   model_index.json, unet/{config.json, diffusion_pytorch_model.safetensors},
 *   text_encoder/{config.json, model.safetensors}, tokenizer/vocab.json, scheduler/scheduler_config.json
 * Weights are fp16; the codec is the pixel space-to-depth (no vae/ folder).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiffusionPipeline } from '../diffusion/pipeline.ts';
import { cfgTerms } from '../diffusion/guidance.ts';
import { NoiseSchedule } from '../diffusion/schedule.ts';
import { gridPng } from '../images/grid.ts';
import { readSafetensors, writeSafetensors } from '../train/safetensors.ts';
import { emojiMiniModel, emojiMiniTextConfigFor, EMOJI_MINI_ID, EMOJI_MINI_SCHEDULE } from './emoji-mini.ts';
import { unitToRgb } from './pixel-codec.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { WordTokenizer } from './tokenizers/word.ts';
import { EMOJI_MINI_UNET_CONFIG } from './unet-config.ts';

export const EMOJI_MINI_DIR = fileURLToPath(new URL('../../models/emoji-mini/', import.meta.url));

const split = (weights: ReadonlyMap<string, Float32Array>, prefix: string) =>
  Object.fromEntries(
    [...weights]
      .filter(([n]) => n.startsWith(prefix))
      .map(([n, data]) => [n.slice(prefix.length), { data, shape: [data.length] as number[] }]),
  );

export interface ExportInfo {
  steps: number;
  batch: number;
  finalLoss: number;
  pictures: number;
  secondsThisRun: number;
}

/** Writes the model folder. `shapes` are taken from the configs by rebuilding the graph inventory. */
export async function exportEmojiMini(
  dir: string,
  tokenizer: WordTokenizer,
  weights: ReadonlyMap<string, Float32Array>,
  info: ExportInfo,
  shapes?: ReadonlyMap<string, readonly number[]>,
): Promise<void> {
  const { unetParamShapes } = await import('./unet.ts');
  const { clipTextParamShapes } = await import('./clip-text.ts');
  const textCfg = emojiMiniTextConfigFor(tokenizer);
  const inventory = shapes ?? new Map([...unetParamShapes(EMOJI_MINI_UNET_CONFIG), ...clipTextParamShapes(textCfg)]);
  const withShapes = (part: Record<string, { data: Float32Array; shape: number[] }>, prefix: string) => {
    for (const [k, v] of Object.entries(part)) {
      const shape = inventory.get(prefix + k);
      if (!shape) throw new Error(`export: no shape for ${prefix + k}`);
      v.shape = [...shape];
    }
    return part;
  };
  for (const sub of ['unet', 'text_encoder', 'tokenizer', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  const meta = { format: 'pt', model: EMOJI_MINI_ID, steps: String(info.steps) };
  await writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), withShapes(split(weights, 'unet.'), 'unet.'), { dtype: 'F16', metadata: meta });
  await writeSafetensors(join(dir, 'text_encoder/model.safetensors'), withShapes(split(weights, 'text_encoder.'), 'text_encoder.'), { dtype: 'F16', metadata: meta });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  writeFileSync(join(dir, 'unet/config.json'), json({ _class_name: 'UNet2DConditionModel', ...EMOJI_MINI_UNET_CONFIG }));
  writeFileSync(join(dir, 'text_encoder/config.json'), json({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...textCfg }));
  writeFileSync(join(dir, 'tokenizer/vocab.json'), json(tokenizer.toJSON()));
  writeFileSync(join(dir, 'scheduler/scheduler_config.json'), json({ _class_name: 'DDIMScheduler', ...new NoiseSchedule(EMOJI_MINI_SCHEDULE).toSchedulerConfig() }));
  writeFileSync(
    join(dir, 'model_index.json'),
    json({ _class_name: 'PairStyleTextToImage', id: EMOJI_MINI_ID, image_codec: 'pixel_unshuffle_2', image_size: 32, context_length: 16, training: info }),
  );
}

/** Loads the shipped embedded model (or another folder written by exportEmojiMini). */
export async function loadEmojiMini(dir = EMOJI_MINI_DIR): Promise<TextToImageModel> {
  const tokenizer = WordTokenizer.fromJSON(readFileSync(join(dir, 'tokenizer/vocab.json'), 'utf8'));
  const hash = createHash('sha256');
  const weights = new Map<string, Float32Array>();
  for (const [file, prefix] of [
    ['unet/diffusion_pytorch_model.safetensors', 'unet.'],
    ['text_encoder/model.safetensors', 'text_encoder.'],
  ]) {
    const path = join(dir, file);
    hash.update(readFileSync(path));
    const { tensors } = await readSafetensors(path);
    for (const [k, t] of Object.entries(tensors)) weights.set(prefix + k, t.data);
  }
  return emojiMiniModel(tokenizer, weights, hash.digest('hex').slice(0, 16));
}

export const SAMPLE_PROMPTS = [
  'dog face',
  'red apple',
  'rocket',
  'smiling face with sunglasses',
  'cat face in noto style',
  'cat face in twemoji style',
  'cat face in fluent style',
  'pizza',
];

/** A grid of the sample prompts drawn with CFG 4, 25 DDIM steps, seeds 0..7. */
export async function writeSampleGrid(file: string, tokenizer: WordTokenizer, weights: ReadonlyMap<string, Float32Array>, title: string): Promise<void> {
  const model = emojiMiniModel(tokenizer, weights, 'training');
  const pipe = new DiffusionPipeline(model);
  const prompts = ['', ...SAMPLE_PROMPTS];
  const { images } = await pipe.generate({
    prompts,
    trajectories: SAMPLE_PROMPTS.map((_, i) => ({ seed: i, terms: cfgTerms(0, i + 1, 4) })),
    steps: 25,
  });
  await pipe.release();
  const px = 3 * 32 * 32;
  const tiles = SAMPLE_PROMPTS.map((p, i) => ({ rgb: unitToRgb(images.subarray(i * px, (i + 1) * px), 32, 32), width: 32, height: 32, label: p }));
  void title;
  writeFileSync(file, await gridPng(tiles, { columns: 4, scale: 4, labelHeight: 16 }));
}
