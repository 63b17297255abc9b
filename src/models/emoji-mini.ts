/**
 * The embedded default model, "emoji-mini": the tiny configs of UNet2DConditionModel and CLIPTextModel,
 * a word-level tokenizer over the emoji captions, the lossless pixel codec (32x32x3 <-> 12x16x16), and
 * the DDPM linear noise schedule. Pixel-space 32x32 images need a schedule that ends near pure noise:
 * SD's scaled_linear (tuned for 4-channel VAE latents) leaves sqrt(abar_T) = 0.068 of the signal at
 * t = 999, DDPM's linear 1e-4..0.02 leaves 0.006.
 */
import { NoiseSchedule, type ScheduleConfig } from '../diffusion/schedule.ts';
import { emojiMiniTextConfig, type CLIPTextConfig } from './clip-text.ts';
import { pixelDecodeArray, pixelEncodeArray } from './pixel-codec.ts';
import type { ImageCodec, PromptTokenizer, TextToImageModel } from './text-to-image.ts';
import { WordTokenizer } from './tokenizers/word.ts';
import { EMOJI_MINI_UNET_CONFIG } from './unet-config.ts';

export const EMOJI_MINI_ID = 'emoji-mini';
export const EMOJI_MINI_IMAGE_SIZE = 32;
export const EMOJI_MINI_CONTEXT = 16;
export const EMOJI_MINI_SCHEDULE: Partial<ScheduleConfig> = {
  numTrainTimesteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  predictionType: 'epsilon',
  clipSample: true,
  clipSampleRange: 1,
  setAlphaToOne: true,
  stepsOffset: 0,
  timestepSpacing: 'trailing',
};
/** The style phrases of the three pretraining sets (also words of the vocabulary). */
export const PRETRAINING_STYLE_PHRASES = ['noto style', 'twemoji style', 'fluent style'];

/** Space-to-depth 2x codec: exact, no weights. */
export class PixelCodec implements ImageCodec {
  readonly latentShape: readonly [number, number, number];
  constructor(readonly imageSize: number) {
    this.latentShape = [12, imageSize / 2, imageSize / 2];
  }
  async encode(images: Float32Array, batch: number): Promise<Float32Array> {
    return pixelEncodeArray(images, { batch, channels: 3, height: this.imageSize, width: this.imageSize });
  }
  async decode(latents: Float32Array, batch: number): Promise<Float32Array> {
    return pixelDecodeArray(latents, { batch, channels: 12, height: this.imageSize / 2, width: this.imageSize / 2 });
  }
}

/** The tokenizer vocabulary: every subject, keyword and style phrase of the pretraining captions. */
export function buildEmojiTokenizer(items: readonly { subject: string; keywords: readonly string[] }[]): WordTokenizer {
  const captions = [...PRETRAINING_STYLE_PHRASES, 'in'];
  for (const it of items) captions.push(it.subject, ...it.keywords);
  return WordTokenizer.fromCaptions(captions);
}

export function emojiMiniTextConfigFor(tokenizer: WordTokenizer): CLIPTextConfig {
  return { ...emojiMiniTextConfig(tokenizer.vocabSize), max_position_embeddings: EMOJI_MINI_CONTEXT };
}

/** The emoji-mini model over a set of weights (prefixed 'unet.' / 'text_encoder.'). */
export function emojiMiniModel(tokenizer: WordTokenizer & PromptTokenizer, weights: ReadonlyMap<string, Float32Array>, hash: string): TextToImageModel {
  return {
    id: EMOJI_MINI_ID,
    hash,
    unet: EMOJI_MINI_UNET_CONFIG,
    text: emojiMiniTextConfigFor(tokenizer),
    tokenizer,
    contextLength: EMOJI_MINI_CONTEXT,
    schedule: new NoiseSchedule(EMOJI_MINI_SCHEDULE),
    imageSize: EMOJI_MINI_IMAGE_SIZE,
    codec: new PixelCodec(EMOJI_MINI_IMAGE_SIZE),
    weight: (name) => weights.get(name),
  };
}
