/**
 * Model folders in the diffusers layout, for models with the pixel codec (the embedded emoji-mini
 * model, and tiny random models in tests):
 *   model_index.json                     id, image codec, image size, context length, training info
 *   unet/{config.json, diffusion_pytorch_model.safetensors}
 *   text_encoder/{config.json, model.safetensors}
 *   tokenizer/vocab.json                 word-level vocabulary
 *   scheduler/scheduler_config.json      diffusers field names
 * Weights are fp16 on disk; the configs are read back from the folder, not assumed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromSchedulerConfig, NoiseSchedule, type ScheduleConfig } from '../diffusion/schedule.ts';
import { readSafetensors, writeSafetensors } from '../formats/safetensors.ts';
import { clipTextParamShapes, type CLIPTextConfig } from '../models/clip-text.ts';
import { PixelCodec } from '../models/pixel-codec.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { WordTokenizer } from '../models/tokenizers/word.ts';
import { unetParamShapes } from '../models/unet.ts';
import type { UNet2DConditionConfig } from '../models/unet-config.ts';

export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export interface ModelFolderContents {
  id: string;
  unet: UNet2DConditionConfig;
  text: CLIPTextConfig;
  tokenizer: WordTokenizer;
  schedule: Partial<ScheduleConfig>;
  imageSize: number;
  contextLength: number;
  /** Weights by prefixed name ('unet.' / 'text_encoder.'). */
  weights: ReadonlyMap<string, Float32Array>;
  /** Free-form training facts recorded in model_index.json. */
  training?: Record<string, unknown>;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export async function writeModelFolder(dir: string, m: ModelFolderContents): Promise<void> {
  const inventory = new Map([...unetParamShapes(m.unet), ...clipTextParamShapes(m.text)]);
  const part = (prefix: string) => {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, shape] of inventory) {
      if (!name.startsWith(prefix)) continue;
      const data = m.weights.get(name);
      if (!data) throw new ModelFolderError(`write model: no weights for ${name}`);
      out[name.slice(prefix.length)] = { data, shape: [...shape] };
    }
    return out;
  };
  for (const sub of ['unet', 'text_encoder', 'tokenizer', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  const meta = { format: 'pt', model: m.id };
  await writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), part('unet.'), { dtype: 'F16', metadata: meta });
  await writeSafetensors(join(dir, 'text_encoder/model.safetensors'), part('text_encoder.'), { dtype: 'F16', metadata: meta });
  writeFileSync(join(dir, 'unet/config.json'), json({ _class_name: 'UNet2DConditionModel', ...m.unet }));
  writeFileSync(join(dir, 'text_encoder/config.json'), json({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...m.text }));
  writeFileSync(join(dir, 'tokenizer/vocab.json'), json(m.tokenizer.toJSON()));
  writeFileSync(join(dir, 'scheduler/scheduler_config.json'), json({ _class_name: 'DDIMScheduler', ...new NoiseSchedule(m.schedule).toSchedulerConfig() }));
  writeFileSync(
    join(dir, 'model_index.json'),
    json({
      _class_name: 'PairStyleTextToImage',
      id: m.id,
      image_codec: 'pixel_unshuffle_2',
      image_size: m.imageSize,
      context_length: m.contextLength,
      training: m.training ?? {},
    }),
  );
}

const readJson = (dir: string, file: string): Record<string, unknown> => {
  try {
    return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ModelFolderError(`${join(dir, file)}: ${(e as Error).message}`);
  }
};

/**
 * The dataset sets a model folder records it was pretrained on (model_index.json's training.sets, written by
 * pretraining and the export script), or null when it records none.
 */
export function readPretrainingSets(dir: string): string[] | null {
  const sets = (readJson(dir, 'model_index.json').training as { sets?: unknown } | undefined)?.sets;
  return Array.isArray(sets) && sets.every((x) => typeof x === 'string') ? sets : null;
}

export async function loadModelFolder(dir: string): Promise<TextToImageModel> {
  const index = readJson(dir, 'model_index.json');
  if (index.image_codec !== 'pixel_unshuffle_2') throw new ModelFolderError(`${dir}: image codec '${String(index.image_codec)}' is not supported here`);
  const { _class_name: _u, ...unet } = readJson(dir, 'unet/config.json');
  const { architectures: _a, model_type: _t, ...text } = readJson(dir, 'text_encoder/config.json');
  const tokenizer = WordTokenizer.fromJSON(readFileSync(join(dir, 'tokenizer/vocab.json'), 'utf8'));
  const hash = createHash('sha256');
  const weights = new Map<string, Float32Array>();
  const expected = new Map([...unetParamShapes(unet as unknown as UNet2DConditionConfig), ...clipTextParamShapes(text as unknown as CLIPTextConfig)]);
  for (const [file, prefix] of [
    ['unet/diffusion_pytorch_model.safetensors', 'unet.'],
    ['text_encoder/model.safetensors', 'text_encoder.'],
  ] as const) {
    const path = join(dir, file);
    hash.update(readFileSync(path));
    const { tensors } = await readSafetensors(path);
    for (const [k, t] of Object.entries(tensors)) weights.set(prefix + k, t.data);
  }
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const w = weights.get(name);
    if (!w) problems.push(`missing ${name}`);
    else if (w.length !== shape.reduce((a, b) => a * b, 1)) problems.push(`${name} has ${w.length} values, expected [${shape}]`);
  }
  for (const name of weights.keys()) if (!expected.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length) throw new ModelFolderError(`${dir}: the weights do not match the configs:\n  ${problems.join('\n  ')}`);
  const imageSize = Number(index.image_size);
  return {
    id: String(index.id),
    hash: hash.digest('hex').slice(0, 16),
    unet: unet as unknown as UNet2DConditionConfig,
    text: text as unknown as CLIPTextConfig,
    tokenizer,
    contextLength: Number(index.context_length),
    schedule: fromSchedulerConfig(readJson(dir, 'scheduler/scheduler_config.json')),
    imageSize,
    codec: new PixelCodec(imageSize),
    weight: (name) => weights.get(name),
  };
}
