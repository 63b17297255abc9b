/**
 * Any model PairStyle reads, by path: a Stable Diffusion single file or diffusers folder, or a PairStyle
 * model folder (the embedded emoji-mini layout). config/model.ts says which (it reads the environment);
 * this module loads it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unreadableWeightsReason } from '../formats/pytorch-sniff.ts';
import type { Device } from '../graph/device.ts';
import { CheckpointError } from '../models/checkpoint-error.ts';
import { isDiffusersPipelineDir, loadDiffusersPipeline } from './diffusers-folder.ts';
import { loadModelFolder } from './model-folder.ts';
import { loadSingleFileCheckpoint, type SingleFileOptions } from './single-file.ts';
import type { LoadOptions } from './stable-diffusion.ts';
import type { TextToImageModel } from './text-to-image.ts';

/**
 * Any model PairStyle reads, by path: a .safetensors single file (needs opts.tokenizerDir, and for SDXL
 * opts.tokenizer2Dir), a diffusers Stable Diffusion folder, or a pixel-codec model folder (the embedded
 * emoji-mini layout).
 */
export async function loadTextToImageModel(path: string, opts: LoadOptions & Partial<SingleFileOptions> = {}): Promise<TextToImageModel> {
  if (/\.safetensors$/i.test(path)) return loadSingleFileCheckpoint(path, { ...opts, tokenizerDir: opts.tokenizerDir ?? '' });
  if (/\.(ckpt|pt|pth|bin)$/i.test(path)) throw new CheckpointError(`${path} ${unreadableWeightsReason(path)}`);
  if (isDiffusersPipelineDir(path)) return loadDiffusersPipeline(path, opts);
  if (opts.imageSize !== undefined)
    throw new CheckpointError(`${path}: a pixel-codec model draws at its own size; an image size applies to Stable Diffusion checkpoints`);
  return loadModelFolder(path);
}

/** What loadModelOf needs of a model setting (config/model.ts's ModelConfig). */
export interface ModelSetting {
  path: string;
  tokenizerDir?: string;
  tokenizer2Dir?: string;
  imageSize?: number;
  device?: Device;
}

/**
 * Loads a model setting's model. A diffusers folder that holds only the fp16 weight variant
 * (*.fp16.safetensors, as many published copies do) is read in that variant.
 */
export async function loadModelOf(cfg: ModelSetting): Promise<TextToImageModel> {
  const fp16Only =
    isDiffusersPipelineDir(cfg.path) &&
    !existsSync(join(cfg.path, 'unet', 'diffusion_pytorch_model.safetensors')) &&
    existsSync(join(cfg.path, 'unet', 'diffusion_pytorch_model.fp16.safetensors'));
  return loadTextToImageModel(cfg.path, {
    tokenizerDir: cfg.tokenizerDir,
    tokenizer2Dir: cfg.tokenizer2Dir,
    imageSize: cfg.imageSize,
    device: cfg.device,
    ...(fp16Only ? { variant: 'fp16' } : {}),
  });
}
