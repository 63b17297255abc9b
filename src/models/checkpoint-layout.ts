/**
 * Real Stable Diffusion checkpoints into the TextToImageModel shape, from either layout:
 *
 * - the diffusers folder: model_index.json, unet/{config.json, diffusion_pytorch_model[.fp16].safetensors},
 *   text_encoder/{config.json, model[.fp16].safetensors}, vae/{config.json, diffusion_pytorch_model[.fp16].safetensors},
 *   tokenizer/{vocab.json, merges.txt, ...}, scheduler/scheduler_config.json;
 * - the original single file (SD 1.x): model.diffusion_model.*, cond_stage_model.transformer.*,
 *   first_stage_model.* in one .safetensors, through the key map of sd-single-file-keys.ts. It holds no
 *   tokenizer and no configs: those come from the options (default: SD 1.5's).
 *
 * Weights may be F32, F16 or BF16 (and F64); they become float32 in memory (SD 1.5: ~4.3 GB). Files are
 * read tensor by tensor (no 2 GiB limit). Everything the configs expect is checked before anything is
 * used: one CheckpointError lists every missing, unexpected and mis-shaped key. Pickle (.ckpt/.bin)
 * files are not read.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fromSchedulerConfig, NoiseSchedule, STABLE_DIFFUSION_SCHEDULE, type ScheduleConfig } from '../diffusion/schedule.ts';
import type { Shape } from '../graph/index.ts';
import { iterateSafetensors, readSafetensorsHeader, writeSafetensors, type ByteSink, type WritableDType } from '../train/safetensors.ts';
import { clipTextParamShapes, SD15_TEXT_CONFIG, type CLIPTextConfig } from './clip-text.ts';
import { diffusersKeyOf, isIgnoredOriginalKey, originalKeyOf, originalShapeOf, type SingleFileConfigs } from './sd-single-file-keys.ts';
import type { TextToImageModel } from './text-to-image.ts';
import { ClipTokenizer } from './tokenizers/clip-bpe.ts';
import { unetParamShapes } from './unet.ts';
import { SD15_UNET_CONFIG, type UNet2DConditionConfig } from './unet-config.ts';
import { SD_VAE_CONFIG, VaeCodec, vaeDownscale, vaeParamShapes, type AutoencoderKLConfig } from './vae.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** A text-to-image model with a VAE, loaded from a checkpoint. release() frees the codec's sessions. */
export interface StableDiffusionModel extends TextToImageModel {
  readonly vae: AutoencoderKLConfig;
  readonly codec: VaeCodec;
  readonly tokenizer: ClipTokenizer;
  /** Number of parameters loaded, by component. */
  readonly parameterCounts: { unet: number; text_encoder: number; vae: number };
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
}

export interface SingleFileOptions extends LoadOptions {
  /** A tokenizer/ folder (vocab.json + merges.txt or tokenizer.json): single files carry none. */
  tokenizerDir: string;
  /** Architecture configs (default SD 1.5's). */
  unet?: UNet2DConditionConfig;
  text?: CLIPTextConfig;
  vae?: AutoencoderKLConfig;
  /** Noise schedule (default SD 1.x's scaled_linear 0.00085..0.012, steps_offset 1). */
  schedule?: Partial<ScheduleConfig>;
}

/** Every parameter the three configs define, prefixed 'unet.' / 'text_encoder.' / 'vae.'. */
export function stableDiffusionInventory(unet: UNet2DConditionConfig, text: CLIPTextConfig, vae: AutoencoderKLConfig): Map<string, Shape> {
  return new Map([...unetParamShapes(unet), ...clipTextParamShapes(text), ...vaeParamShapes(vae)]);
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
    else if (!sameWeightShape(shape, info.shape)) p.misshaped.push(`${label}${key} is ${fmt(info.shape)}, the config needs ${fmt(shape)}${name !== key ? ` for ${name}` : ''}`);
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

function assemble(
  id: string,
  hash: string,
  cfg: { unet: UNet2DConditionConfig; text: CLIPTextConfig; vae: AutoencoderKLConfig },
  tokenizer: ClipTokenizer,
  schedule: NoiseSchedule,
  weights: Map<string, Float32Array>,
  opts: LoadOptions,
): StableDiffusionModel {
  const imageSize = cfg.unet.sample_size * vaeDownscale(cfg.vae);
  const weight = (name: string) => weights.get(name);
  const codec = new VaeCodec(cfg.vae, imageSize, weight, { threads: opts.threads, device: opts.device });
  if (cfg.unet.in_channels !== cfg.vae.latent_channels) throw new CheckpointError(`${id}: the UNet takes ${cfg.unet.in_channels} channels but the VAE makes ${cfg.vae.latent_channels}`);
  if (cfg.unet.cross_attention_dim !== cfg.text.hidden_size) throw new CheckpointError(`${id}: the UNet cross-attends to width ${cfg.unet.cross_attention_dim} but the text encoder is ${cfg.text.hidden_size} wide`);
  return {
    id,
    hash,
    unet: cfg.unet,
    text: cfg.text,
    vae: cfg.vae,
    tokenizer,
    contextLength: cfg.text.max_position_embeddings,
    schedule,
    imageSize,
    codec,
    weight,
    parameterCounts: { unet: countParams(weights, 'unet.'), text_encoder: countParams(weights, 'text_encoder.'), vae: countParams(weights, 'vae.') },
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
  must('addition_embed_type', nullish, 'null (SDXL text_time conditioning is not implemented)');
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
  };
}

/** text_encoder/config.json (transformers CLIPTextConfig) -> CLIPTextConfig. */
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
  if (existsSync(bin)) throw new CheckpointError(`${bin}: PyTorch pickle weights are not read; convert them to safetensors (${name})`);
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
    if (!(part in index)) throw new CheckpointError(`${join(dir, 'model_index.json')}: no "${part}"; expected a Stable Diffusion pipeline (unet, text_encoder, vae, tokenizer, scheduler)`);
  }
  const cfg = {
    unet: unetConfigFromJson(readJson(join(dir, 'unet/config.json')), join(dir, 'unet/config.json')),
    text: textConfigFromJson(readJson(join(dir, 'text_encoder/config.json')), join(dir, 'text_encoder/config.json')),
    vae: vaeConfigFromJson(readJson(join(dir, 'vae/config.json')), join(dir, 'vae/config.json')),
  };
  const expected = stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae);
  const files = [
    { path: weightsFile(dir, 'unet', 'diffusion_pytorch_model', opts.variant), prefix: 'unet.', rename: (k: string) => `unet.${k}` },
    {
      path: weightsFile(dir, 'text_encoder', 'model', opts.variant),
      prefix: 'text_encoder.',
      rename: (k: string) => (/^(text_model\.)?embeddings\.position_ids$/.test(k) ? null : `text_encoder.${k.startsWith('text_model.') ? k : `text_model.${k}`}`),
    },
    {
      path: weightsFile(dir, 'vae', 'diffusion_pytorch_model', opts.variant),
      prefix: 'vae.',
      rename: (k: string) => `vae.${k.replace(/(mid_block\.attentions\.0)\.(query|key|value|proj_attn)\./, (_, m: string, old: string) => `${m}.${DEPRECATED_VAE_ATTENTION[old]}.`)}`,
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
  for (let i = 0; i < files.length; i++) await readPlanned(files[i].path, plans[i], weights, i < 2 ? hash : undefined);
  return assemble(
    opts.id ?? basename(dir),
    hash.digest('hex').slice(0, 16),
    cfg,
    ClipTokenizer.fromDir(join(dir, 'tokenizer')),
    fromSchedulerConfig(readJson(join(dir, 'scheduler/scheduler_config.json'))),
    weights,
    opts,
  );
}

// ------------------------------------------------------------------------------------------------
// The original single file

export async function loadSingleFileCheckpoint(file: string, opts: SingleFileOptions): Promise<StableDiffusionModel> {
  if (!/\.safetensors$/i.test(file)) throw new CheckpointError(`${file}: only .safetensors single files are read (pickle .ckpt files are not)`);
  if (!opts.tokenizerDir) throw new CheckpointError(`${file}: a single-file checkpoint carries no tokenizer; pass tokenizerDir (a folder with vocab.json + merges.txt, e.g. an SD 1.5 tokenizer/ folder)`);
  const cfg = { unet: opts.unet ?? SD15_UNET_CONFIG, text: opts.text ?? SD15_TEXT_CONFIG, vae: opts.vae ?? SD_VAE_CONFIG };
  const keyCfg: SingleFileConfigs = { unet: cfg.unet, vae: cfg.vae };
  const expected = stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae);
  const p: Problems = { missing: [], unexpected: [], misshaped: [], unreadable: [] };
  const seen = new Set<string>();
  const plan = await planFile(file, expected, (k) => (isIgnoredOriginalKey(k) ? null : diffusersKeyOf(k, keyCfg)), seen, p);
  missingOf(expected, seen, p, (name) => `${originalKeyOf(name, keyCfg)} ${fmt(originalShapeOf(name, expected.get(name)!))} (${name})`);
  if (p.missing.length + p.unexpected.length + p.misshaped.length + p.unreadable.length) {
    const hint = p.unexpected.some((k) => k.startsWith('cond_stage_model.model.'))
      ? '; cond_stage_model.model.* is the OpenCLIP text encoder of SD 2.x, which this loader does not read'
      : p.unexpected.some((k) => k.startsWith('conditioner.'))
        ? '; conditioner.* keys are SDXL\'s, which this loader does not read'
        : '';
    throw problemsError(file, p, hint);
  }
  const weights = new Map<string, Float32Array>();
  const hash = createHash('sha256');
  await readPlanned(file, plan, weights, hash);
  return assemble(
    opts.id ?? basename(file).replace(/\.safetensors$/i, ''),
    hash.digest('hex').slice(0, 16),
    cfg,
    ClipTokenizer.fromDir(opts.tokenizerDir),
    new NoiseSchedule(opts.schedule ?? STABLE_DIFFUSION_SCHEDULE),
    weights,
    opts,
  );
}

// ------------------------------------------------------------------------------------------------
// Writing (exports, and the tests' small checkpoints)

export interface CheckpointContents {
  unet: UNet2DConditionConfig;
  text: CLIPTextConfig;
  vae: AutoencoderKLConfig;
  /** Weights by prefixed diffusers name. */
  weights: ReadonlyMap<string, Float32Array>;
  dtype?: WritableDType;
}

function component(c: CheckpointContents, prefix: string, rename: (name: string) => string = (n) => n.slice(prefix.length), reshape = (_n: string, s: Shape) => [...s]) {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [name, shape] of stableDiffusionInventory(c.unet, c.text, c.vae)) {
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
export async function writeDiffusersPipeline(dir: string, c: CheckpointContents & { tokenizerDir: string; schedule?: Partial<ScheduleConfig> }): Promise<void> {
  for (const sub of ['unet', 'text_encoder', 'vae', 'scheduler']) mkdirSync(join(dir, sub), { recursive: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  const opts = { dtype: c.dtype ?? 'F32', metadata: { format: 'pt' } } as const;
  await writeSafetensors(join(dir, 'unet/diffusion_pytorch_model.safetensors'), component(c, 'unet.'), opts);
  await writeSafetensors(join(dir, 'text_encoder/model.safetensors'), component(c, 'text_encoder.'), opts);
  await writeSafetensors(join(dir, 'vae/diffusion_pytorch_model.safetensors'), component(c, 'vae.'), opts);
  writeFileSync(join(dir, 'unet/config.json'), json({ _class_name: 'UNet2DConditionModel', ...c.unet }));
  writeFileSync(join(dir, 'text_encoder/config.json'), json({ architectures: ['CLIPTextModel'], model_type: 'clip_text_model', ...c.text }));
  writeFileSync(join(dir, 'vae/config.json'), json({ _class_name: 'AutoencoderKL', ...c.vae }));
  writeFileSync(join(dir, 'scheduler/scheduler_config.json'), json({ _class_name: 'DDIMScheduler', ...new NoiseSchedule(c.schedule ?? STABLE_DIFFUSION_SCHEDULE).toSchedulerConfig() }));
  cpSync(c.tokenizerDir, join(dir, 'tokenizer'), { recursive: true });
  writeFileSync(
    join(dir, 'model_index.json'),
    json({
      _class_name: 'StableDiffusionPipeline',
      scheduler: ['diffusers', 'DDIMScheduler'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
    }),
  );
}

/** An original-layout single file (model.diffusion_model.*, cond_stage_model.transformer.*, first_stage_model.*). */
export async function writeSingleFileCheckpoint(file: string, c: CheckpointContents): Promise<void> {
  const keyCfg = { unet: c.unet, vae: c.vae };
  const all = {
    ...component(c, 'unet.', (n) => originalKeyOf(n, keyCfg)),
    ...component(c, 'text_encoder.', (n) => originalKeyOf(n, keyCfg)),
    ...component(c, 'vae.', (n) => originalKeyOf(n, keyCfg), originalShapeOf),
  };
  await writeSafetensors(file, all, { dtype: c.dtype ?? 'F32', metadata: { format: 'pt' } });
}

/**
 * Any model PairStyle reads, by path: a .safetensors single file (needs opts.tokenizerDir), a diffusers
 * Stable Diffusion folder, or a pixel-codec model folder (the embedded emoji-mini layout).
 */
export async function loadTextToImageModel(path: string, opts: LoadOptions & Partial<SingleFileOptions> = {}): Promise<TextToImageModel> {
  if (/\.safetensors$/i.test(path)) return loadSingleFileCheckpoint(path, { ...opts, tokenizerDir: opts.tokenizerDir ?? '' });
  if (/\.(ckpt|pt|pth|bin)$/i.test(path)) throw new CheckpointError(`${path}: PyTorch pickle checkpoints are not read; convert it to .safetensors`);
  if (isDiffusersPipelineDir(path)) return loadDiffusersPipeline(path, opts);
  const { loadModelFolder } = await import('./model-folder.ts');
  return loadModelFolder(path);
}
