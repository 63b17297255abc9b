/**
 * Real Stable Diffusion checkpoints into the TextToImageModel shape, from either layout:
 *
 * - the diffusers folder: model_index.json, unet/{config.json, diffusion_pytorch_model[.fp16].safetensors},
 *   text_encoder/{config.json, model[.fp16].safetensors}, vae/{config.json, diffusion_pytorch_model[.fp16].safetensors},
 *   tokenizer/{vocab.json, merges.txt, ...}, scheduler/scheduler_config.json;
 * - the original single file: SD 1.x's (model.diffusion_model.*, cond_stage_model.transformer.*,
 *   first_stage_model.*) or SDXL's (conditioner.embedders.{0,1}.* for the two text encoders) in one
 *   .safetensors, through the key map of sd-single-file-keys.ts. It holds no tokenizer and no configs:
 *   those come from the options (default: SD 1.5's or SDXL base's, by the keys).
 *
 * Weights may be F32, F16 or BF16 (and F64); they become float32 in memory (SD 1.5: ~4.3 GB). Files are
 * read tensor by tensor (no 2 GiB limit). Everything the configs expect is checked before anything is
 * used: one CheckpointError lists every missing, unexpected and mis-shaped key. Pickle (.ckpt/.bin)
 * files are not read.
 */
import { unreadableWeightsReason } from '../formats/pytorch-sniff.ts';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fromSchedulerConfig, NoiseSchedule, STABLE_DIFFUSION_SCHEDULE, type ScheduleConfig } from '../diffusion/schedule.ts';
import type { Shape } from '../graph/index.ts';
import {
  iterateSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type ByteSink,
  type SafetensorsHeader,
  type WritableDType,
} from '../formats/safetensors.ts';
import { clipTextParamShapes, SD15_TEXT_CONFIG, SDXL_TEXT_2_CONFIG, SDXL_TEXT_CONFIG, type CLIPTextConfig } from '../models/clip-text.ts';
import {
  diffusersPartsOf,
  isIgnoredOriginalKey,
  originalKeyOf,
  originalShapeOf,
  originalSlotOf,
  originalTensorShape,
  type DiffusersPart,
  type Placement,
  type SingleFileConfigs,
} from '../models/sd-single-file-keys.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { ClipTokenizer } from '../models/tokenizers/clip-bpe.ts';
import { unetParamShapes } from '../models/unet.ts';
import { pooledTextWidth, SD15_UNET_CONFIG, SDXL_UNET_CONFIG, type UNet2DConditionConfig } from '../models/unet-config.ts';
import { SD_VAE_CONFIG, VaeCodec, vaeDownscale, vaeParamShapes, type AutoencoderKLConfig } from '../models/vae.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** A text-to-image model with a VAE, loaded from a checkpoint. release() frees the codec's sessions. */
export interface StableDiffusionModel extends TextToImageModel {
  readonly vae: AutoencoderKLConfig;
  readonly codec: VaeCodec;
  readonly tokenizer: ClipTokenizer;
  readonly tokenizer2?: ClipTokenizer;
  /** Number of parameters loaded, by component (text_encoder_2: 0 without one). */
  readonly parameterCounts: { unet: number; text_encoder: number; text_encoder_2: number; vae: number };
  release(): Promise<void>;
}

export interface LoadOptions {
  /** Model id (default: the folder or file name). */
  id?: string;
  /** diffusers weight variant: 'fp16' reads *.fp16.safetensors. */
  variant?: string;
  /** For the VAE codec's onnxruntime sessions. */
  threads?: number;
  device?: 'cpu' | 'cuda';
  /**
   * The pixel size to train and draw at (default: the UNet's sample_size x the VAE's downscale: SD 1.5
   * 512, SDXL 1024). SDXL's size conditioning follows it. Pair training at 512 px is what fits SDXL in 24 GB.
   */
  imageSize?: number;
}

export interface SingleFileOptions extends LoadOptions {
  /** A tokenizer/ folder (vocab.json + merges.txt or tokenizer.json): single files carry none. */
  tokenizerDir: string;
  /** SDXL: the second tokenizer's folder (SDXL base's tokenizer_2/, which pads with '!'). */
  tokenizer2Dir?: string;
  /**
   * Architecture configs (default SD 1.5's, or SDXL base's for a file with SDXL keys). `text2` (SDXL's
   * second text encoder) reads the file in SDXL's layout.
   */
  unet?: UNet2DConditionConfig;
  text?: CLIPTextConfig;
  text2?: CLIPTextConfig;
  vae?: AutoencoderKLConfig;
  /** Noise schedule (default SD 1.x's scaled_linear 0.00085..0.012, steps_offset 1; SDXL's adds 'leading' spacing). */
  schedule?: Partial<ScheduleConfig>;
}

/** Every parameter the configs define, prefixed 'unet.' / 'text_encoder.' / 'vae.' (and 'text_encoder_2.' for SDXL). */
export function stableDiffusionInventory(
  unet: UNet2DConditionConfig,
  text: CLIPTextConfig,
  vae: AutoencoderKLConfig,
  text2?: CLIPTextConfig,
): Map<string, Shape> {
  const second = text2 ? clipTextParamShapes(text2, { prefix: 'text_encoder_2.' }) : [];
  return new Map([...unetParamShapes(unet), ...clipTextParamShapes(text), ...second, ...vaeParamShapes(vae)]);
}

/** The architecture of a Stable Diffusion checkpoint: SD 1.x (one text encoder) or SDXL (two). */
export interface StableDiffusionConfigs {
  unet: UNet2DConditionConfig;
  text: CLIPTextConfig;
  text2?: CLIPTextConfig;
  vae: AutoencoderKLConfig;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Same weights: equal shapes, or a 1x1 conv [O, I, 1, 1] against a linear [O, I] (same values). */
export function sameWeightShape(expected: readonly number[], got: readonly number[]): boolean {
  if (expected.length === got.length && expected.every((d, i) => d === got[i])) return true;
  const [long, short] = expected.length > got.length ? [expected, got] : [got, expected];
  return short.length === 2 && long.length === 4 && long[0] === short[0] && long[1] === short[1] && long[2] === 1 && long[3] === 1;
}

interface Problems {
  missing: string[];
  unexpected: string[];
  misshaped: string[];
  unreadable: string[];
}

function problemsError(where: string, p: Problems, hint = ''): CheckpointError {
  const lines = [
    `${where}: the weights do not match the model configs (${p.missing.length} missing, ${p.unexpected.length} unexpected, ${p.misshaped.length} mis-shaped, ${p.unreadable.length} of an unsupported dtype)${hint}`,
    ...p.missing.map((k) => `  missing     ${k}`),
    ...p.unexpected.map((k) => `  unexpected  ${k}`),
    ...p.misshaped.map((k) => `  mis-shaped  ${k}`),
    ...p.unreadable.map((k) => `  dtype       ${k}`),
  ];
  return new CheckpointError(lines.join('\n'));
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * One safetensors file's entries, checked against `expected` (prefixed names) through `rename`
 * (file key -> prefixed name, undefined = unexpected, null = ignored); adds problems, returns the
 * file keys to read with their names.
 */
async function planFile(
  path: string,
  expected: ReadonlyMap<string, Shape>,
  rename: (key: string) => string | null | undefined,
  seen: Set<string>,
  p: Problems,
  label = '',
): Promise<Map<string, string>> {
  const header = await readSafetensorsHeader(path);
  const plan = new Map<string, string>();
  for (const [key, info] of Object.entries(header.tensors)) {
    const name = rename(key);
    if (name === null) continue;
    const shape = name === undefined ? undefined : expected.get(name);
    if (name === undefined || !shape) {
      p.unexpected.push(`${label}${key}${name && name !== key ? ` (as ${name})` : ''}`);
      continue;
    }
    if (seen.has(name)) {
      p.unexpected.push(`${label}${key} (a second copy of ${name})`);
      continue;
    }
    seen.add(name);
    if (!FLOAT_DTYPES.has(info.dtype)) p.unreadable.push(`${label}${key} is ${info.dtype}; weights must be F32, F16 or BF16`);
    else if (!sameWeightShape(shape, info.shape))
      p.misshaped.push(`${label}${key} is ${fmt(info.shape)}, the config needs ${fmt(shape)}${name !== key ? ` for ${name}` : ''}`);
    else plan.set(key, name);
  }
  return plan;
}

async function readPlanned(path: string, plan: ReadonlyMap<string, string>, into: Map<string, Float32Array>, hash?: ByteSink): Promise<void> {
  for await (const t of iterateSafetensors(path, { select: (k) => plan.has(k), hash })) into.set(plan.get(t.name)!, t.data);
}

function missingOf(expected: ReadonlyMap<string, Shape>, seen: ReadonlySet<string>, p: Problems, show: (name: string) => string = (n) => n): void {
  for (const name of expected.keys()) if (!seen.has(name)) p.missing.push(show(name));
}

const countParams = (w: ReadonlyMap<string, Float32Array>, prefix: string) => [...w].reduce((a, [k, v]) => (k.startsWith(prefix) ? a + v.length : a), 0);

/** Checks that the configs fit together (before any weight is read). */
export function checkConfigsFit(where: string, cfg: StableDiffusionConfigs): void {
  const textWidth = cfg.text.hidden_size + (cfg.text2?.hidden_size ?? 0);
  if (cfg.unet.in_channels !== cfg.vae.latent_channels)
    throw new CheckpointError(`${where}: the UNet takes ${cfg.unet.in_channels} channels but the VAE makes ${cfg.vae.latent_channels}`);
  if (cfg.unet.cross_attention_dim !== textWidth) {
    throw new CheckpointError(
      `${where}: the UNet cross-attends to width ${cfg.unet.cross_attention_dim} but the text encoder${cfg.text2 ? 's give' : ' is'} ${textWidth}${cfg.text2 ? ` (${cfg.text.hidden_size} + ${cfg.text2.hidden_size})` : ' wide'}`,
    );
  }
  const pooled = pooledTextWidth(cfg.unet);
  if (cfg.unet.addition_embed_type === 'text_time' && (!cfg.text2 || cfg.text2.projection_dim !== pooled)) {
    throw new CheckpointError(
      `${where}: the UNet's text_time conditioning needs a ${pooled}-wide pooled text embedding, which needs a second text encoder with projection_dim ${pooled}${cfg.text2 ? ` (text_encoder_2 has ${cfg.text2.projection_dim ?? 'none'})` : ''}`,
    );
  }
  if (cfg.text2 && cfg.text2.max_position_embeddings !== cfg.text.max_position_embeddings)
    throw new CheckpointError(`${where}: the two text encoders take ${cfg.text.max_position_embeddings} and ${cfg.text2.max_position_embeddings} tokens`);
}

/** A StableDiffusionModel from configs, tokenizers, a schedule and weights by prefixed name (loaders, and the GPU check's random weights). */
export function stableDiffusionModelOf(
  id: string,
  hash: string,
  cfg: StableDiffusionConfigs,
  tokenizers: { tokenizer: ClipTokenizer; tokenizer2?: ClipTokenizer; forceZerosForEmptyPrompt?: boolean },
  schedule: NoiseSchedule,
  weights: Map<string, Float32Array>,
  opts: LoadOptions,
): StableDiffusionModel {
  checkConfigsFit(id, cfg);
  if (cfg.text2 && !tokenizers.tokenizer2) throw new CheckpointError(`${id}: a second text encoder needs its tokenizer (tokenizer_2/)`);
  const imageSize = opts.imageSize ?? cfg.unet.sample_size * vaeDownscale(cfg.vae);
  const multiple = vaeDownscale(cfg.vae) * 2 ** (cfg.unet.block_out_channels.length - 1);
  if (!Number.isInteger(imageSize / multiple) || imageSize < multiple)
    throw new CheckpointError(`${id}: image size ${imageSize} px must be a positive multiple of ${multiple} (the VAE's and UNet's downsampling)`);
  const weight = (name: string) => weights.get(name);
  const codec = new VaeCodec(cfg.vae, imageSize, weight, { threads: opts.threads, device: opts.device });
  return {
    id,
    hash,
    unet: cfg.unet,
    text: cfg.text,
    text2: cfg.text2,
    vae: cfg.vae,
    ...tokenizers,
    contextLength: cfg.text.max_position_embeddings,
    schedule,
    imageSize,
    codec,
    weight,
    parameterCounts: {
      unet: countParams(weights, 'unet.'),
      text_encoder: countParams(weights, 'text_encoder.'),
      text_encoder_2: countParams(weights, 'text_encoder_2.'),
      vae: countParams(weights, 'vae.'),
    },
    release: () => codec.release(),
  };
}

// ------------------------------------------------------------------------------------------------
// Configs from diffusers / transformers JSON

const readJson = (path: string): Record<string, unknown> => {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`${path}: ${(e as Error).message}`);
  }
};

/** unet/config.json -> UNet2DConditionConfig, refusing the variants these models do not implement. */
export function unetConfigFromJson(j: Record<string, unknown>, where = 'unet/config.json'): UNet2DConditionConfig {
  const unsupported: string[] = [];
  const must = (field: string, ok: (v: unknown) => boolean, what: string) => {
    if (field in j && !ok(j[field])) unsupported.push(`${field}=${JSON.stringify(j[field])} (supported: ${what})`);
  };
  const nullish = (v: unknown) => v === null || v === undefined;
  must('class_embed_type', nullish, 'null');
  must('addition_embed_type', (v) => nullish(v) || v === 'text_time', 'null or "text_time"');
  must('encoder_hid_dim', nullish, 'null');
  must('resnet_time_scale_shift', (v) => v === 'default', '"default"');
  must('time_embedding_type', (v) => v === 'positional', '"positional"');
  must('center_input_sample', (v) => v === false, 'false');
  must('only_cross_attention', (v) => v === false, 'false');
  must('dual_cross_attention', (v) => v === false, 'false');
  must('downsample_padding', (v) => v === 1, '1');
  must('mid_block_scale_factor', (v) => v === 1, '1');
  must('act_fn', (v) => v === 'silu', '"silu"');
  must('mid_block_type', (v) => v === 'UNetMidBlock2DCrossAttn' || v === null, '"UNetMidBlock2DCrossAttn"');
  must('conv_in_kernel', (v) => v === 3, '3');
  must('conv_out_kernel', (v) => v === 3, '3');
  if (unsupported.length) throw new CheckpointError(`${where}: this UNet variant is not supported:\n  ${unsupported.join('\n  ')}`);
  const pick = <K extends keyof UNet2DConditionConfig>(k: K, fallback?: UNet2DConditionConfig[K]) => {
    const v = (j[k] ?? fallback) as UNet2DConditionConfig[K];
    if (v === undefined) throw new CheckpointError(`${where}: no "${k}"`);
    return v;
  };
  return {
    sample_size: pick('sample_size'),
    in_channels: pick('in_channels', 4),
    out_channels: pick('out_channels', 4),
    block_out_channels: pick('block_out_channels'),
    layers_per_block: pick('layers_per_block', 2),
    down_block_types: pick('down_block_types'),
    up_block_types: pick('up_block_types'),
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    cross_attention_dim: pick('cross_attention_dim'),
    attention_head_dim: pick('attention_head_dim', 8),
    num_attention_heads: (j.num_attention_heads ?? null) as UNet2DConditionConfig['num_attention_heads'],
    transformer_layers_per_block: pick('transformer_layers_per_block', 1),
    norm_num_groups: pick('norm_num_groups', 32),
    norm_eps: pick('norm_eps', 1e-5),
    flip_sin_to_cos: pick('flip_sin_to_cos', true),
    freq_shift: pick('freq_shift', 0),
    use_linear_projection: pick('use_linear_projection', false),
    act_fn: 'silu',
    ...(j.addition_embed_type === 'text_time'
      ? {
          addition_embed_type: 'text_time' as const,
          addition_time_embed_dim: pick('addition_time_embed_dim'),
          projection_class_embeddings_input_dim: pick('projection_class_embeddings_input_dim'),
        }
      : {}),
  };
}

/**
 * text_encoder/config.json (transformers CLIPTextConfig) -> CLIPTextConfig. projection_dim is kept only
 * for CLIPTextModelWithProjection (every CLIP text config has the field, plain CLIPTextModel ignores it).
 */
export function textConfigFromJson(j: Record<string, unknown>, where = 'text_encoder/config.json'): CLIPTextConfig {
  const num = (k: string, fallback?: number) => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number') throw new CheckpointError(`${where}: no number "${k}"`);
    return v;
  };
  const act = (j.hidden_act ?? 'quick_gelu') as CLIPTextConfig['hidden_act'];
  if (act !== 'quick_gelu' && act !== 'gelu') throw new CheckpointError(`${where}: hidden_act ${JSON.stringify(act)} is not supported (quick_gelu, gelu)`);
  return {
    vocab_size: num('vocab_size', 49408),
    hidden_size: num('hidden_size', 512),
    intermediate_size: num('intermediate_size', 2048),
    num_hidden_layers: num('num_hidden_layers', 12),
    num_attention_heads: num('num_attention_heads', 8),
    max_position_embeddings: num('max_position_embeddings', 77),
    hidden_act: act,
    layer_norm_eps: num('layer_norm_eps', 1e-5),
    ...(Array.isArray(j.architectures) && j.architectures.includes('CLIPTextModelWithProjection') ? { projection_dim: num('projection_dim') } : {}),
  };
}

/** vae/config.json -> AutoencoderKLConfig (diffusers defaults where a field is absent). */
export function vaeConfigFromJson(j: Record<string, unknown>, where = 'vae/config.json'): AutoencoderKLConfig {
  const boc = j.block_out_channels as number[] | undefined;
  if (!Array.isArray(boc)) throw new CheckpointError(`${where}: no "block_out_channels"`);
  const n = boc.length;
  return {
    in_channels: (j.in_channels as number) ?? 3,
    out_channels: (j.out_channels as number) ?? 3,
    down_block_types: (j.down_block_types as AutoencoderKLConfig['down_block_types']) ?? new Array(n).fill('DownEncoderBlock2D'),
    up_block_types: (j.up_block_types as AutoencoderKLConfig['up_block_types']) ?? new Array(n).fill('UpDecoderBlock2D'),
    block_out_channels: boc,
    layers_per_block: (j.layers_per_block as number) ?? 1,
    act_fn: 'silu',
    latent_channels: (j.latent_channels as number) ?? 4,
    norm_num_groups: (j.norm_num_groups as number) ?? 32,
    sample_size: (j.sample_size as number) ?? 32,
    scaling_factor: (j.scaling_factor as number) ?? 0.18215,
    shift_factor: (j.shift_factor as number | null) ?? null,
    mid_block_add_attention: (j.mid_block_add_attention as boolean) ?? true,
    use_quant_conv: (j.use_quant_conv as boolean) ?? true,
    use_post_quant_conv: (j.use_post_quant_conv as boolean) ?? true,
  };
}

// ------------------------------------------------------------------------------------------------
// The diffusers folder

/** diffusers < 0.14 VAE attention names, still in many published vae/ files. */
const DEPRECATED_VAE_ATTENTION: Record<string, string> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

function weightsFile(dir: string, sub: string, base: string, variant?: string): string {
  const name = variant ? `${base}.${variant}.safetensors` : `${base}.safetensors`;
  const path = join(dir, sub, name);
  if (existsSync(path)) return path;
  const bin = join(dir, sub, variant ? `${base}.${variant}.bin` : `${base}.bin`);
  if (existsSync(bin)) throw new CheckpointError(`${bin} ${unreadableWeightsReason(bin)} (${name})`);
  throw new CheckpointError(`${path}: not found${variant ? '' : " (fp16-only copies need { variant: 'fp16' })"}`);
}

/** True for a diffusers Stable Diffusion folder (model_index.json with unet, text_encoder and vae). */
export function isDiffusersPipelineDir(dir: string): boolean {
  if (!existsSync(join(dir, 'model_index.json'))) return false;
  const j = readJson(join(dir, 'model_index.json'));
  return 'unet' in j && 'text_encoder' in j && 'vae' in j;
}

export async function loadDiffusersPipeline(dir: string, opts: LoadOptions = {}): Promise<StableDiffusionModel> {
  const index = readJson(join(dir, 'model_index.json'));
  for (const part of ['unet', 'text_encoder', 'vae', 'tokenizer', 'scheduler']) {
    if (!(part in index))
      throw new CheckpointError(
        `${join(dir, 'model_index.json')}: no "${part}"; expected a Stable Diffusion pipeline (unet, text_encoder, vae, tokenizer, scheduler)`,
      );
  }
  const sdxl = 'text_encoder_2' in index;
  if (sdxl && !('tokenizer_2' in index)) throw new CheckpointError(`${join(dir, 'model_index.json')}: "text_encoder_2" without "tokenizer_2"`);
  const cfg: StableDiffusionConfigs = {
    unet: unetConfigFromJson(readJson(join(dir, 'unet/config.json')), join(dir, 'unet/config.json')),
    text: textConfigFromJson(readJson(join(dir, 'text_encoder/config.json')), join(dir, 'text_encoder/config.json')),
    text2: sdxl ? textConfigFromJson(readJson(join(dir, 'text_encoder_2/config.json')), join(dir, 'text_encoder_2/config.json')) : undefined,
    vae: vaeConfigFromJson(readJson(join(dir, 'vae/config.json')), join(dir, 'vae/config.json')),
  };
  checkConfigsFit(dir, cfg);
  const expected = stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae, cfg.text2);
  const textRename = (prefix: string) => (k: string) =>
    /^(text_model\.)?embeddings\.position_ids$/.test(k)
      ? null
      : `${prefix}${k.startsWith('text_model.') || k === 'text_projection.weight' ? k : `text_model.${k}`}`;
  const files = [
    { path: weightsFile(dir, 'unet', 'diffusion_pytorch_model', opts.variant), prefix: 'unet.', rename: (k: string) => `unet.${k}` },
    { path: weightsFile(dir, 'text_encoder', 'model', opts.variant), prefix: 'text_encoder.', rename: textRename('text_encoder.') },
    ...(sdxl ? [{ path: weightsFile(dir, 'text_encoder_2', 'model', opts.variant), prefix: 'text_encoder_2.', rename: textRename('text_encoder_2.') }] : []),
    {
      path: weightsFile(dir, 'vae', 'diffusion_pytorch_model', opts.variant),
      prefix: 'vae.',
      rename: (k: string) =>
        `vae.${k.replace(/(mid_block\.attentions\.0)\.(query|key|value|proj_attn)\./, (_, m: string, old: string) => `${m}.${DEPRECATED_VAE_ATTENTION[old]}.`)}`,
    },
  ];
  const p: Problems = { missing: [], unexpected: [], misshaped: [], unreadable: [] };
  const seen = new Set<string>();
  const plans = [];
  // Problems name the component folder of each key (unet/, text_encoder/, vae/).
  for (const f of files) plans.push(await planFile(f.path, expected, f.rename, seen, p, `${f.prefix.slice(0, -1)}/`));
  missingOf(expected, seen, p);
  if (p.missing.length + p.unexpected.length + p.misshaped.length + p.unreadable.length) throw problemsError(dir, p);

  const weights = new Map<string, Float32Array>();
  const hash = createHash('sha256');
  // The hash covers the UNet and text encoders (what a style is trained against), not the VAE.
  for (let i = 0; i < files.length; i++) await readPlanned(files[i].path, plans[i], weights, files[i].prefix !== 'vae.' ? hash : undefined);
  return stableDiffusionModelOf(
    opts.id ?? basename(dir),
    hash.digest('hex').slice(0, 16),
    cfg,
    {
      tokenizer: ClipTokenizer.fromDir(join(dir, 'tokenizer')),
      tokenizer2: sdxl ? ClipTokenizer.fromDir(join(dir, 'tokenizer_2')) : undefined,
      forceZerosForEmptyPrompt: index.force_zeros_for_empty_prompt === true,
    },
    fromSchedulerConfig(readJson(join(dir, 'scheduler/scheduler_config.json'))),
    weights,
    opts,
  );
}

// ------------------------------------------------------------------------------------------------
// The original single file

/** SDXL base's VAE: the SD VAE with sgm's scale_factor (sd_xl_base.yaml, and vae/config.json of the diffusers copy). */
const SDXL_VAE_CONFIG: AutoencoderKLConfig = { ...SD_VAE_CONFIG, scaling_factor: 0.13025 };

/**
 * SDXL base's schedule (its scheduler/scheduler_config.json, which diffusers also assumes for SDXL
 * single files): SD 1.x's betas with 'leading' timestep spacing.
 */
export const SDXL_SCHEDULE: Partial<ScheduleConfig> = Object.freeze({ ...STABLE_DIFFUSION_SCHEDULE, timestepSpacing: 'leading' });

/** Hints for unexpected keys of the models this loader does not read. */
const OTHER_MODELS: [prefix: string, hint: string][] = [
  ['cond_stage_model.model.', 'cond_stage_model.model.* is the OpenCLIP text encoder of SD 2.x, which this loader does not read'],
  ['conditioner.embedders.0.model.', "conditioner.embedders.0.model.* is the SDXL refiner's only (OpenCLIP) text encoder; the refiner is not read"],
];

/** The values of one diffusers parameter inside an original tensor of `shape` (whole, a block of rows, or transposed). */
function valuesOf(data: Float32Array, shape: readonly number[], at: Placement): Float32Array {
  if (at.rows) {
    const row = data.length / shape[0];
    return data.slice(at.rows[0] * row, at.rows[1] * row);
  }
  if (!at.transpose) return data;
  const [a, b] = shape;
  const out = new Float32Array(data.length);
  for (let i = 0; i < b; i++) for (let j = 0; j < a; j++) out[i * a + j] = data[j * b + i];
  return out;
}

/** Writes one diffusers parameter's values into an original tensor of `shape`: the inverse of valuesOf. */
function placeValues(into: Float32Array, shape: readonly number[], at: Placement, values: Float32Array): void {
  if (at.rows) {
    into.set(values, at.rows[0] * (into.length / shape[0]));
    return;
  }
  const [a, b] = shape;
  for (let i = 0; i < b; i++) for (let j = 0; j < a; j++) into[j * b + i] = values[i * a + j];
}

/**
 * The single file's entries, checked against `expected` through the key map before any data is read:
 * adds problems, returns the keys to read with the parameters each holds.
 */
function planSingleFile(header: SafetensorsHeader, expected: ReadonlyMap<string, Shape>, keyCfg: SingleFileConfigs, p: Problems): Map<string, DiffusersPart[]> {
  const seen = new Set<string>();
  const plan = new Map<string, DiffusersPart[]>();
  const shapeOf = (name: string) => expected.get(name)!;
  for (const [key, info] of Object.entries(header.tensors)) {
    if (isIgnoredOriginalKey(key)) continue;
    const parts = diffusersPartsOf(key, keyCfg);
    const names = parts?.map((x) => x.name).join(' + ');
    if (!parts || parts.some((x) => !expected.has(x.name))) {
      p.unexpected.push(`${key}${names ? ` (as ${names})` : ''}`);
      continue;
    }
    const copied = parts.find((x) => seen.has(x.name));
    if (copied) {
      p.unexpected.push(`${key} (a second copy of ${copied.name})`);
      continue;
    }
    for (const x of parts) seen.add(x.name);
    const want = originalTensorShape(parts, shapeOf);
    if (!FLOAT_DTYPES.has(info.dtype)) p.unreadable.push(`${key} is ${info.dtype}; weights must be F32, F16 or BF16`);
    else if (!sameWeightShape(want, info.shape)) p.misshaped.push(`${key} is ${fmt(info.shape)}, the config needs ${fmt(want)} for ${names}`);
    else plan.set(key, parts);
  }
  // A missing fused tensor is one line, naming the parameters it would hold.
  const missing = new Map<string, string[]>();
  for (const name of expected.keys()) {
    if (seen.has(name)) continue;
    const key = originalKeyOf(name, keyCfg);
    missing.set(key, [...(missing.get(key) ?? []), name]);
  }
  for (const [key, names] of missing) p.missing.push(`${key} ${fmt(originalTensorShape(diffusersPartsOf(key, keyCfg)!, shapeOf))} (${names.join(', ')})`);
  return plan;
}

/**
 * An original-layout single file: SD 1.x, or SDXL when it has `conditioner.embedders.*` keys or
 * `opts.text2` is given. Configs default to SD 1.5's or SDXL base's; SDXL needs both tokenizer folders.
 */
export async function loadSingleFileCheckpoint(file: string, opts: SingleFileOptions): Promise<StableDiffusionModel> {
  if (!/\.safetensors$/i.test(file)) throw new CheckpointError(`${file}: only .safetensors single files are read (pickle .ckpt files are not)`);
  const header = await readSafetensorsHeader(file);
  const sdxl = opts.text2 !== undefined || Object.keys(header.tensors).some((k) => k.startsWith('conditioner.embedders.'));
  if (sdxl && (!opts.tokenizerDir || !opts.tokenizer2Dir)) {
    throw new CheckpointError(
      `${file}: an SDXL single-file checkpoint carries no tokenizers; pass tokenizerDir (CLIP ViT-L's: SDXL base's tokenizer/ folder) and tokenizer2Dir (OpenCLIP ViT-bigG's: its tokenizer_2/ folder)`,
    );
  }
  if (!opts.tokenizerDir)
    throw new CheckpointError(
      `${file}: a single-file checkpoint carries no tokenizer; pass tokenizerDir (a folder with vocab.json + merges.txt, e.g. an SD 1.5 tokenizer/ folder)`,
    );
  const cfg: StableDiffusionConfigs = sdxl
    ? { unet: opts.unet ?? SDXL_UNET_CONFIG, text: opts.text ?? SDXL_TEXT_CONFIG, text2: opts.text2 ?? SDXL_TEXT_2_CONFIG, vae: opts.vae ?? SDXL_VAE_CONFIG }
    : { unet: opts.unet ?? SD15_UNET_CONFIG, text: opts.text ?? SD15_TEXT_CONFIG, vae: opts.vae ?? SD_VAE_CONFIG };
  checkConfigsFit(file, cfg);
  const keyCfg: SingleFileConfigs = { unet: cfg.unet, vae: cfg.vae, text2: cfg.text2 };
  const expected = stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae, cfg.text2);
  const p: Problems = { missing: [], unexpected: [], misshaped: [], unreadable: [] };
  const plan = planSingleFile(header, expected, keyCfg, p);
  if (p.missing.length + p.unexpected.length + p.misshaped.length + p.unreadable.length) {
    const hints = OTHER_MODELS.filter(([prefix]) => p.unexpected.some((k) => k.startsWith(prefix))).map(([, hint]) => `; ${hint}`);
    throw problemsError(file, p, hints.join(''));
  }
  const weights = new Map<string, Float32Array>();
  const hash = createHash('sha256');
  for await (const t of iterateSafetensors(file, { select: (k) => plan.has(k), hash })) {
    for (const part of plan.get(t.name)!) weights.set(part.name, valuesOf(t.data, t.shape, part));
  }
  return stableDiffusionModelOf(
    opts.id ?? basename(file).replace(/\.safetensors$/i, ''),
    hash.digest('hex').slice(0, 16),
    cfg,
    {
      tokenizer: ClipTokenizer.fromDir(opts.tokenizerDir),
      tokenizer2: sdxl ? ClipTokenizer.fromDir(opts.tokenizer2Dir!) : undefined,
      // SDXL base's model_index.json sets force_zeros_for_empty_prompt.
      forceZerosForEmptyPrompt: sdxl,
    },
    new NoiseSchedule(opts.schedule ?? (sdxl ? SDXL_SCHEDULE : STABLE_DIFFUSION_SCHEDULE)),
    weights,
    opts,
  );
}

// ------------------------------------------------------------------------------------------------
// Writing (exports, and the tests' small checkpoints)

export interface CheckpointContents extends StableDiffusionConfigs {
  /** Weights by prefixed diffusers name. */
  weights: ReadonlyMap<string, Float32Array>;
  dtype?: WritableDType;
}

function component(
  c: CheckpointContents,
  prefix: string,
  rename: (name: string) => string = (n) => n.slice(prefix.length),
  reshape = (_n: string, s: Shape) => [...s],
) {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [name, shape] of stableDiffusionInventory(c.unet, c.text, c.vae, c.text2)) {
    if (!name.startsWith(prefix)) continue;
    const data = c.weights.get(name);
    if (!data) throw new CheckpointError(`write checkpoint: no weights for ${name}`);
    if (data.length !== numel(shape)) throw new CheckpointError(`write checkpoint: ${name} has ${data.length} values for ${fmt(shape)}`);
    out[rename(name)] = { data, shape: reshape(name, shape) };
  }
  return out;
}

/**
 * A diffusers folder. The tokenizer files are copied from `tokenizerDir`; the schedule is written as
 * a DDIMScheduler config. Each component is encoded in memory (so at most ~2 GB per file).
 */
export async function writeDiffusersPipeline(
  dir: string,
  c: CheckpointContents & { tokenizerDir: string; tokenizer2Dir?: string; schedule?: Partial<ScheduleConfig>; forceZerosForEmptyPrompt?: boolean },
): Promise<void> {
  if (c.text2 && !c.tokenizer2Dir) throw new CheckpointError('write checkpoint: a second text encoder needs tokenizer2Dir');
  for (const sub of ['unet', 'text_encoder', 'vae', 'scheduler', ...(c.text2 ? ['text_encoder_2'] : [])]) mkdirSync(join(dir, sub), { recursive: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const opts = { dtype: c.dtype ?? 'F32', metadata: { format: 'pt' } } as const;
  await writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), component(c, 'unet.'), opts);
  await writeSafetensors(join(dir, 'text_encoder/model.safetensors'), component(c, 'text_encoder.'), opts);
  await writeSafetensors(join(dir, 'vae/diffusion_pytorch_model.safetensors'), component(c, 'vae.'), opts);
  writeFileSync(join(dir, 'unet/config.json'), json({ _class_name: 'UNet2DConditionModel', ...c.unet }));
  writeFileSync(join(dir, 'text_encoder/config.json'), json({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...c.text }));
  if (c.text2) {
    await writeSafetensors(join(dir, 'text_encoder_2/model.safetensors'), component(c, 'text_encoder_2.'), opts);
    writeFileSync(join(dir, 'text_encoder_2/config.json'), json({ architectures: ['CLIPTextModelWithProjection'], model_type: 'clip_text_model', ...c.text2 }));
    cpSync(c.tokenizer2Dir!, join(dir, 'tokenizer_2'), { recursive: true });
  }
  writeFileSync(join(dir, 'vae/config.json'), json({ _class_name: 'AutoencoderKL', ...c.vae }));
  writeFileSync(
    join(dir, 'scheduler/scheduler_config.json'),
    json({ _class_name: 'DDIMScheduler', ...new NoiseSchedule(c.schedule ?? STABLE_DIFFUSION_SCHEDULE).toSchedulerConfig() }),
  );
  cpSync(c.tokenizerDir, join(dir, 'tokenizer'), { recursive: true });
  writeFileSync(
    join(dir, 'model_index.json'),
    json({
      _class_name: c.text2 ? 'StableDiffusionXLPipeline' : 'StableDiffusionPipeline',
      scheduler: ['diffusers', 'DDIMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      ...(c.text2
        ? {
            text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
            tokenizer_2: ['transformers', 'CLIPTokenizer'],
            force_zeros_for_empty_prompt: c.forceZerosForEmptyPrompt ?? true,
          }
        : {}),
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    }),
  );
}

/**
 * An original-layout single file: SD 1.x's (model.diffusion_model.*, cond_stage_model.transformer.*,
 * first_stage_model.*), or SDXL's when `c.text2` is set (conditioner.embedders.0.transformer.* and
 * conditioner.embedders.1.model.*, with OpenCLIP's fused q/k/v and transposed text_projection).
 */
export async function writeSingleFileCheckpoint(file: string, c: CheckpointContents): Promise<void> {
  const keyCfg: SingleFileConfigs = { unet: c.unet, vae: c.vae, text2: c.text2 };
  const params = component(c, '');
  const tensors: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [name, { data, shape }] of Object.entries(params)) {
    const slot = originalSlotOf(name, keyCfg);
    if (!slot.rows && !slot.transpose) {
      tensors[slot.key] = { data, shape: originalShapeOf(name, shape) };
      continue;
    }
    if (!tensors[slot.key]) {
      const whole = originalTensorShape(diffusersPartsOf(slot.key, keyCfg)!, (n) => params[n].shape);
      tensors[slot.key] = { data: new Float32Array(numel(whole)), shape: whole };
    }
    placeValues(tensors[slot.key].data, tensors[slot.key].shape, slot, data);
  }
  await writeSafetensors(file, tensors, { dtype: c.dtype ?? 'F32', metadata: { format: 'pt' } });
}

/**
 * Any model PairStyle reads, by path: a .safetensors single file (needs opts.tokenizerDir, and for SDXL
 * opts.tokenizer2Dir), a diffusers Stable Diffusion folder, or a pixel-codec model folder (the embedded
 * emoji-mini layout).
 */
export async function loadTextToImageModel(path: string, opts: LoadOptions & Partial<SingleFileOptions> = {}): Promise<TextToImageModel> {
  if (/\.safetensors$/i.test(path)) return loadSingleFileCheckpoint(path, { ...opts, tokenizerDir: opts.tokenizerDir ?? '' });
  if (/\.(ckpt|pt|pth|bin)$/i.test(path)) throw new CheckpointError(`${path} ${unreadableWeightsReason(path)}`);
  if (isDiffusersPipelineDir(path)) return loadDiffusersPipeline(path, opts);
  const { loadModelFolder } = await import('./model-folder.ts');
  if (opts.imageSize !== undefined)
    throw new CheckpointError(`${path}: a pixel-codec model draws at its own size; an image size applies to Stable Diffusion checkpoints`);
  return loadModelFolder(path);
}
