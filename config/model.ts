/**
 * Which text-to-image model PairStyle runs, and on what, from the environment:
 *
 *   PAIRSTYLE_MODEL      a PairStyle model folder, a diffusers Stable Diffusion folder (model_index.json,
 *                        unet/, text_encoder/, vae/, tokenizer/, scheduler/; SDXL's also text_encoder_2/,
 *                        tokenizer_2/) or an original SD 1.x / SDXL single-file .safetensors checkpoint
 *                        (default: the embedded emoji-mini model)
 *   PAIRSTYLE_TOKENIZER  a tokenizer folder (vocab.json + merges.txt, or tokenizer.json) for a single
 *                        file, which carries none (e.g. SD 1.5's tokenizer/); folders bring their own
 *   PAIRSTYLE_TOKENIZER_2  an SDXL single file's second tokenizer folder (SDXL base's tokenizer_2/)
 *   PAIRSTYLE_IMAGE_SIZE  a Stable Diffusion checkpoint's working size in pixels, a multiple of 64
 *                        (default: its own, SD 1.5 512, SDXL 1024)
 *   PAIRSTYLE_DEVICE     'cpu' (default) or 'cuda' (onnxruntime-node installed with
 *                        --onnxruntime-node-install=cuda12, CUDA 12 and cuDNN 9)
 *   PAIRSTYLE_PRECISION  'fp32' (default) or 'fp16': half-precision compute, meant for GPUs (accepted on
 *                        the CPU too)
 *
 * ConfigError lives here, the config module the others import, so that this one imports none of them.
 * This module reads and checks the setting and loads nothing: src/pipeline/load-model.ts loads the
 * model a setting names (`loadModelOf(checkedModelConfig())`).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../src/errors/user-error.ts';
import { unreadableWeightsReason } from '../src/formats/pytorch-sniff.ts';
import { DEVICES, PRECISIONS, type Device, type Precision } from '../src/graph/device.ts';

/** A missing or malformed setting (re-exported by config/bot.ts); the message lists every problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Model files that are not there: the bot cannot serve until they are (a user error of kind 'unavailable'). */
export class ModelMissingError extends UserError {
  override name = 'ModelMissingError';
  constructor(message: string) {
    super(message, 'unavailable');
  }
}

/** Where the embedded default model ships (the default of PAIRSTYLE_MODEL). */
export const EMOJI_MINI_DIR = fileURLToPath(new URL('../models/emoji-mini/', import.meta.url));

/** Where the model's sessions run: what DiffusionPipeline and trainPair take as device / precision. */
export interface ModelRuntimeConfig {
  device: Device;
  precision: Precision;
}

/** The whole model setting: what to load (path, tokenizer) and where it runs. */
export interface ModelConfig extends ModelRuntimeConfig {
  path: string;
  tokenizerDir?: string;
  tokenizer2Dir?: string;
  imageSize?: number;
}

/** The configured model's path: PAIRSTYLE_MODEL (a folder or a .safetensors file) or the embedded model's folder. */
export function modelDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAIRSTYLE_MODEL || EMOJI_MINI_DIR;
}

/** A setting that is one of `allowed` (the first when unset); a bad value is added to `problems`. */
function choice<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], problems: string[]): T {
  const v = env[name]?.trim() || allowed[0];
  if (allowed.includes(v as T)) return v as T;
  problems.push(`${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')} (got '${env[name]}')`);
  return allowed[0];
}

/** PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION; bad values are added to `problems`, or, without it, thrown as one ConfigError. */
export function modelRuntimeConfig(env: NodeJS.ProcessEnv = process.env, problems?: string[]): ModelRuntimeConfig {
  const found: string[] = [];
  const cfg = { device: choice(env, 'PAIRSTYLE_DEVICE', DEVICES, found), precision: choice(env, 'PAIRSTYLE_PRECISION', PRECISIONS, found) };
  if (problems) problems.push(...found);
  else if (found.length) throw new ConfigError(`the model settings are wrong:\n${found.map((p) => `  - ${p}`).join('\n')}`);
  return cfg;
}

/** Why the configured model files cannot be loaded (nothing read but file names): empty when they look right. */
function modelFileProblems(cfg: ModelConfig, env: NodeJS.ProcessEnv): string[] {
  const { path, tokenizerDir } = cfg;
  const setting = `PAIRSTYLE_MODEL=${path}`;
  const problems: string[] = [];
  for (const [name, dir] of [
    ['PAIRSTYLE_TOKENIZER', tokenizerDir],
    ['PAIRSTYLE_TOKENIZER_2', cfg.tokenizer2Dir],
  ] as const) {
    if (dir !== undefined && !existsSync(join(dir, 'tokenizer.json')) && !(existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt')))) {
      problems.push(`${name}=${dir} is not a tokenizer folder (no vocab.json + merges.txt, no tokenizer.json)`);
    }
  }
  if (!env.PAIRSTYLE_MODEL) {
    if (!existsSync(join(path, 'model_index.json')))
      problems.push(`the embedded model is missing from ${path}: build it with 'npm run data:build && npm run pretrain', or set PAIRSTYLE_MODEL`);
    return problems;
  }
  if (!existsSync(path)) problems.push(`${setting} does not exist: set it to a model folder, a diffusers Stable Diffusion folder or a .safetensors checkpoint`);
  else if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, 'model_index.json'))) problems.push(`${setting} is not a model folder (no model_index.json)`);
  } else if (/\.(ckpt|pt|pth|bin)$/i.test(path)) problems.push(`${setting} ${unreadableWeightsReason(path)}`);
  else if (!/\.safetensors$/i.test(path)) problems.push(`${setting} is neither a folder nor a .safetensors checkpoint`);
  else if (tokenizerDir === undefined) {
    problems.push(
      `${setting} is a single-file checkpoint, which carries no tokenizer: set PAIRSTYLE_TOKENIZER to a tokenizer folder (vocab.json + merges.txt, e.g. SD 1.5's tokenizer/)`,
    );
  }
  return problems;
}

/** PAIRSTYLE_IMAGE_SIZE: undefined when unset; a bad value is added to `problems`. */
function imageSizeOf(env: NodeJS.ProcessEnv, problems: string[]): number | undefined {
  const v = env.PAIRSTYLE_IMAGE_SIZE?.trim();
  if (!v) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (n >= 64 && n <= 2048 && n % 64 === 0) return n;
  problems.push(`PAIRSTYLE_IMAGE_SIZE must be a multiple of 64 from 64 to 2048 pixels (got '${env.PAIRSTYLE_IMAGE_SIZE}')`);
  return undefined;
}

/**
 * The model setting from the environment. Bad device / precision values and, with `checkFiles` (the
 * default), model files that are missing or of the wrong kind are added to `problems`.
 */
export function modelConfig(env: NodeJS.ProcessEnv, problems: string[], opts: { checkFiles?: boolean } = {}): ModelConfig {
  const cfg: ModelConfig = {
    path: modelDir(env),
    tokenizerDir: env.PAIRSTYLE_TOKENIZER?.trim() || undefined,
    tokenizer2Dir: env.PAIRSTYLE_TOKENIZER_2?.trim() || undefined,
    imageSize: imageSizeOf(env, problems),
    ...modelRuntimeConfig(env, problems),
  };
  if (opts.checkFiles !== false) problems.push(...modelFileProblems(cfg, env));
  return cfg;
}

/** The model setting: ConfigError for bad device / precision values, ModelMissingError for model files that are not there. */
export function checkedModelConfig(env: NodeJS.ProcessEnv = process.env): ModelConfig {
  modelRuntimeConfig(env); // bad values throw their ConfigError here, so what follows is only about files
  const problems: string[] = [];
  const cfg = modelConfig(env, problems);
  if (problems.length) throw new ModelMissingError(problems.join('; '));
  return cfg;
}
