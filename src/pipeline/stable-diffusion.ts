/**
 * Stable Diffusion checkpoints as a TextToImageModel: SD 1.x (one text encoder) or SDXL (two), with a
 * VAE. The model type, the parameters its configs define, the check that the configs fit together, and
 * the model assembled from configs, tokenizers, a schedule and weights. The two layouts on disk are read
 * and written by diffusers-folder.ts and single-file.ts; weights may be F32, F16 or BF16 (and F64) and
 * become float32 in memory (SD 1.5: ~4.3 GB). Pickle (.ckpt/.bin) files are not read.
 */
import type { NoiseSchedule } from '../diffusion/schedule.ts';
import type { WritableDType } from '../formats/safetensors.ts';
import type { Shape } from '../graph/index.ts';
import { CheckpointError } from '../models/checkpoint-error.ts';
import { clipTextParamShapes, type CLIPTextConfig } from '../models/clip-text.ts';
import type { ClipTokenizer } from '../models/tokenizers/clip-bpe.ts';
import { unetParamShapes } from '../models/unet.ts';
import { pooledTextWidth, type UNet2DConditionConfig } from '../models/unet-config.ts';
import { VaeCodec, vaeDownscale, vaeParamShapes, type AutoencoderKLConfig } from '../models/vae.ts';
import { fmt, numel } from './checkpoint-check.ts';
import type { TextToImageModel } from './text-to-image.ts';

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

export interface CheckpointContents extends StableDiffusionConfigs {
  /** Weights by prefixed diffusers name. */
  weights: ReadonlyMap<string, Float32Array>;
  dtype?: WritableDType;
}

/** One component's weights (by the names `rename` gives), each checked against its shape in the inventory. */
export function checkpointComponent(
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
