/**
 * The embedded default model, "emoji-mini": the tiny configs of UNet2DConditionModel and CLIPTextModel,
 * a word-level tokenizer over the emoji captions, the lossless pixel codec (32x32x3 <-> 12x16x16), and
 * the DDPM linear noise schedule with v-prediction. Pixel-space 32x32 images need a schedule that ends
 * near pure noise: SD's scaled_linear (tuned for 4-channel VAE latents) leaves sqrt(abar_T) = 0.068 of
 * the signal at t = 999, DDPM's linear 1e-4..0.02 leaves 0.006. At such low signal an epsilon model's
 * x0 estimate, (x_t - sigma eps) / alpha, amplifies its errors ~150x; a v model predicts the picture
 * itself there (v = alpha eps - sigma x0), which is what the early sampler steps need.
 */
import { NoiseSchedule, type ScheduleConfig } from '../diffusion/schedule.ts';
import { emojiMiniTextConfig, type CLIPTextConfig } from '../models/clip-text.ts';
import { PixelCodec } from '../models/pixel-codec.ts';
import type { ModelFolderContents } from './model-folder.ts';
import type { PromptTokenizer, TextToImageModel } from './text-to-image.ts';
import { WordTokenizer } from '../models/tokenizers/word.ts';
import { EMOJI_MINI_UNET_CONFIG } from '../models/unet-config.ts';

export const EMOJI_MINI_ID = 'emoji-mini';
export const EMOJI_MINI_IMAGE_SIZE = 32;
export const EMOJI_MINI_CONTEXT = 16;
export const EMOJI_MINI_SCHEDULE: Partial<ScheduleConfig> = {
  num_train_timesteps: 1000,
  beta_start: 1e-4,
  beta_end: 0.02,
  beta_schedule: 'linear',
  prediction_type: 'v_prediction',
  // No x0 clipping in DDIM: with classifier-free guidance the guided x0 estimate leaves [-1, 1] at high
  // noise, and DDIM clips x0 but keeps the unclipped noise direction (diffusers' default), which drove
  // CFG-5 draws into saturated noise with coloured backgrounds. Unclipped, DDIM gives the same pictures
  // as Euler and DPM++ (2M) (the same ODE); checked on the step-9,594 weights.
  clip_sample: false,
  clip_sample_range: 1,
  set_alpha_to_one: true,
  steps_offset: 0,
  timestep_spacing: 'trailing',
};
/** The style phrases of the three v1 pretraining sets (also words of the vocabulary). */
export const PRETRAINING_STYLE_PHRASES = ['noto style', 'twemoji style', 'fluent style'];

/**
 * The tokenizer vocabulary: every subject, keyword and style phrase of the pretraining captions
 * (`stylePhrases`: the dataset's set names and manners; v1's three set names by default).
 */
export function buildEmojiTokenizer(
  items: readonly { subject: string; keywords: readonly string[] }[],
  stylePhrases: readonly string[] = PRETRAINING_STYLE_PHRASES,
): WordTokenizer {
  const captions = [...stylePhrases, 'in'];
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

/** What the emoji-mini model folder holds, for writeModelFolder. */
export function emojiMiniFolder(tokenizer: WordTokenizer, weights: ReadonlyMap<string, Float32Array>, training: Record<string, unknown>): ModelFolderContents {
  return {
    id: EMOJI_MINI_ID,
    unet: EMOJI_MINI_UNET_CONFIG,
    text: emojiMiniTextConfigFor(tokenizer),
    tokenizer,
    schedule: EMOJI_MINI_SCHEDULE,
    imageSize: EMOJI_MINI_IMAGE_SIZE,
    contextLength: EMOJI_MINI_CONTEXT,
    weights,
    training,
  };
}

/** The text encoder's token embedding, [vocab, width]. */
export const TOKEN_EMBEDDING = 'text_encoder.text_model.embeddings.token_embedding.weight';

/**
 * Carries a token embedding over to a new vocabulary by word: rows of words both vocabularies know
 * keep their trained vectors, new words start at the mean of the old vectors. `params` holds the old
 * embedding under TOKEN_EMBEDDING and is updated in place; returns how many rows were carried over,
 * or null when the vocabularies are the same.
 */
export function remapTokenEmbedding(params: Record<string, Float32Array>, from: WordTokenizer, to: WordTokenizer): { kept: number } | null {
  const old = params[TOKEN_EMBEDDING];
  if (!old) throw new Error(`no ${TOKEN_EMBEDDING} to carry over`);
  const same = from.vocabSize === to.vocabSize && from.tokens.every((t, i) => to.tokens[i] === t);
  if (same) return null;
  const width = old.length / from.vocabSize;
  if (!Number.isInteger(width)) throw new Error(`token embedding of ${old.length} values does not match a vocabulary of ${from.vocabSize}`);
  const mean = new Float32Array(width);
  for (let r = 0; r < from.vocabSize; r++) for (let k = 0; k < width; k++) mean[k]! += old[r * width + k]! / from.vocabSize;
  const out = new Float32Array(to.vocabSize * width);
  let kept = 0;
  to.tokens.forEach((t, r) => {
    const o = from.id(t);
    if (o === undefined) out.set(mean, r * width);
    else {
      out.set(old.subarray(o * width, (o + 1) * width), r * width);
      kept++;
    }
  });
  params[TOKEN_EMBEDDING] = out;
  return { kept };
}
