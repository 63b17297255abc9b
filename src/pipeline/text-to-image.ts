/**
 * What a text-to-image model is to the rest of PairStyle: configs of its UNet and text encoder, a
 * tokenizer, the training noise schedule, an image codec (pixel space-to-depth or a VAE) and weights
 * by parameter name (prefixed 'unet.' / 'text_encoder.' / 'text_encoder_2.'). The embedded emoji model and real Stable
 * Diffusion checkpoints both load into this shape.
 */
import type { NoiseSchedule } from '../diffusion/schedule.ts';
import type { CLIPTextConfig } from '../models/clip-text.ts';
import type { ImageCodec } from '../models/image-codec.ts';
import type { UNet2DConditionConfig } from '../models/unet-config.ts';

export interface PromptTokenizer {
  encode(text: string, contextLength: number): number[];
}

export interface TextToImageModel {
  /** Stable identifier, e.g. 'emoji-mini'. */
  readonly id: string;
  /** Content hash of the weights (style files record it; loading a style checks it). */
  readonly hash: string;
  readonly unet: UNet2DConditionConfig;
  readonly text: CLIPTextConfig;
  readonly tokenizer: PromptTokenizer;
  /** SDXL: the second text encoder (CLIPTextModelWithProjection, prefix 'text_encoder_2.') and its tokenizer. */
  readonly text2?: CLIPTextConfig;
  readonly tokenizer2?: PromptTokenizer;
  /** SDXL base's force_zeros_for_empty_prompt: an empty prompt conditions on zeros. */
  readonly forceZerosForEmptyPrompt?: boolean;
  readonly contextLength: number;
  readonly schedule: NoiseSchedule;
  readonly imageSize: number;
  readonly codec: ImageCodec;
  /** Frozen weights by prefixed parameter name. */
  weight(name: string): Float32Array | undefined;
}
