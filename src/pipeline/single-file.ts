/**
 * The original single file: SD 1.x's (model.diffusion_model.*, cond_stage_model.transformer.*,
 * first_stage_model.*) or SDXL's (conditioner.embedders.{0,1}.* for the two text encoders) in one
 * .safetensors, through the key map of src/models/sd-single-file-keys.ts. It holds no tokenizer and no
 * configs: those come from the options (default: SD 1.5's or SDXL base's, by the keys). Read, and
 * written (exports, and the tests' small checkpoints).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { NoiseSchedule, STABLE_DIFFUSION_SCHEDULE, type ScheduleConfig } from '../diffusion/schedule.ts';
import { iterateSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsHeader } from '../formats/safetensors.ts';
import type { Shape } from '../graph/index.ts';
import { CheckpointError } from '../models/checkpoint-error.ts';
import { SD15_TEXT_CONFIG, SDXL_TEXT_2_CONFIG, SDXL_TEXT_CONFIG, type CLIPTextConfig } from '../models/clip-text.ts';
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
import { ClipTokenizer } from '../models/tokenizers/clip-bpe.ts';
import { SD15_UNET_CONFIG, SDXL_UNET_CONFIG, type UNet2DConditionConfig } from '../models/unet-config.ts';
import { SD_VAE_CONFIG, type AutoencoderKLConfig } from '../models/vae.ts';
import { FLOAT_DTYPES, fmt, hasProblems, noProblems, numel, problemsError, sameWeightShape, type Problems } from './checkpoint-check.ts';
import {
  checkConfigsFit,
  checkpointComponent,
  stableDiffusionInventory,
  stableDiffusionModelOf,
  type CheckpointContents,
  type LoadOptions,
  type StableDiffusionConfigs,
  type StableDiffusionModel,
} from './stable-diffusion.ts';

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

/** SDXL base's VAE: the SD VAE with sgm's scale_factor (sd_xl_base.yaml, and vae/config.json of the diffusers copy). */
const SDXL_VAE_CONFIG: AutoencoderKLConfig = { ...SD_VAE_CONFIG, scaling_factor: 0.13025 };

/**
 * SDXL base's schedule (its scheduler/scheduler_config.json, which diffusers also assumes for SDXL
 * single files): SD 1.x's betas with 'leading' timestep spacing.
 */
export const SDXL_SCHEDULE: Partial<ScheduleConfig> = Object.freeze({ ...STABLE_DIFFUSION_SCHEDULE, timestep_spacing: 'leading' });

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
  const p = noProblems();
  const plan = planSingleFile(header, expected, keyCfg, p);
  if (hasProblems(p)) {
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

/**
 * An original-layout single file: SD 1.x's (model.diffusion_model.*, cond_stage_model.transformer.*,
 * first_stage_model.*), or SDXL's when `c.text2` is set (conditioner.embedders.0.transformer.* and
 * conditioner.embedders.1.model.*, with OpenCLIP's fused q/k/v and transposed text_projection).
 */
export async function writeSingleFileCheckpoint(file: string, c: CheckpointContents): Promise<void> {
  const keyCfg: SingleFileConfigs = { unet: c.unet, vae: c.vae, text2: c.text2 };
  const params = checkpointComponent(c, '');
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
