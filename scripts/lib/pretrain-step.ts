/**
 * The pretraining step of emoji-mini, shared by `npm run pretrain` and `npm run bench:pretrain-step`:
 * the dataset as latents (every picture plain and mirrored), the tokenizer, the training graph (text
 * encoder + UNet, every parameter trainable, v-prediction MSE) compiled with Σ g², and the batch of a
 * step, written into the same arrays every step.
 */
import { captionFor, itemSampler, loadDataset, mulberry32, type Dataset } from '../../src/data/dataset.ts';
import { stylePhrases } from '../../src/data/emoji-sets.ts';
import { NoiseSchedule } from '../../src/diffusion/schedule.ts';
import * as G from '../../src/graph/index.ts';
import { Rng } from '../../src/graph/rng.ts';
import { clipTextModel } from '../../src/models/clip-text.ts';
import { pixelEncodeArray } from '../../src/models/pixel-codec.ts';
import type { WordTokenizer } from '../../src/models/tokenizers/word.ts';
import { EMOJI_MINI_UNET_CONFIG, unet2DConditionModel } from '../../src/models/unet.ts';
import { buildEmojiTokenizer, EMOJI_MINI_CONTEXT, EMOJI_MINI_SCHEDULE, emojiMiniTextConfigFor } from '../../src/pipeline/emoji-mini.ts';
import { rgbToUnit } from '../../src/formats/pixels.ts';
import { StepFunction } from '../../src/train/step.ts';

/** The share of pretraining captions left empty, for classifier-free guidance. */
export const CAPTION_DROPOUT = 0.1;

export interface PretrainDataOptions {
  data: string;
  /** Share of each batch drawn from the emoji sets (the rest from the icon collections). */
  emojiShare: number;
}

export interface PretrainData {
  ds: Dataset;
  tokenizer: WordTokenizer;
  /** Every picture's latent, plain and mirrored: [count, c, h, w] each. */
  latents: Float32Array;
  flipped: Float32Array;
  /** [c, h, w] of a latent. */
  latentShape: [number, number, number];
  pickItem: (u: number) => number;
}

/** The dataset as latents, plain and mirrored, and its tokenizer. */
export function loadPretrainData(o: PretrainDataOptions): PretrainData {
  const ds = loadDataset(o.data);
  const tokenizer = buildEmojiTokenizer(ds.items, stylePhrases(ds.sets));
  const [c, h, w] = [12, ds.height / 2, ds.width / 2];
  const latent = c * h * w;
  const latents = new Float32Array(ds.count * latent);
  const flipped = new Float32Array(ds.count * latent);
  const px = ds.height * ds.width * 3;
  const mirror = new Uint8Array(px);
  for (let i = 0; i < ds.count; i++) {
    const rgb = ds.pixels.subarray(i * px, (i + 1) * px);
    const dims = { batch: 1, channels: 3, height: ds.height, width: ds.width };
    latents.set(pixelEncodeArray(rgbToUnit(rgb, ds.width, ds.height), dims), i * latent);
    for (let y = 0; y < ds.height; y++)
      for (let x = 0; x < ds.width; x++) for (let k = 0; k < 3; k++) mirror[(y * ds.width + x) * 3 + k] = rgb[(y * ds.width + (ds.width - 1 - x)) * 3 + k];
    flipped.set(pixelEncodeArray(rgbToUnit(mirror, ds.width, ds.height), dims), i * latent);
  }
  return { ds, tokenizer, latents, flipped, latentShape: [c, h, w], pickItem: itemSampler(ds, o.emojiShare) };
}

export interface PretrainGraph {
  stepFn: StepFunction;
  paramCount: number;
  /** FLOPs of one training step (matrix products and convolutions). */
  flops: number;
}

/**
 * Pretraining's form of the convolutions' weight gradients: the taps' GEMMs with the batch innermost
 * (1.1x the step of 'tap-gemms', the graph's default, in npm run bench:pretrain-step --forms; see the
 * README). Pair training and drawing keep the graph's default.
 */
export const PRETRAIN_CONV_WEIGHT_GRAD: G.ConvWeightGradForm = 'tap-gemms-batch-last';

export interface PretrainStepOptions {
  /** Intra-op threads (0: onnxruntime's default, all cores). */
  threads: number;
  /** The form of the convolutions' weight gradients (default: PRETRAIN_CONV_WEIGHT_GRAD). */
  convWeightGrad?: G.ConvWeightGradForm;
  /** Stop onnxruntime's threads spinning after each run (for sessions that take turns in one process). */
  stopSpinningAfterRun?: boolean;
  /** onnxruntime's inter-op threads (SessionOptions.interOpThreads; default 1, the sequential executor). */
  interOpThreads?: number;
  /** onnxruntime's memory pattern (SessionOptions.memoryPattern; default off). */
  memoryPattern?: boolean;
  /** Record onnxruntime's profile (SessionOptions.profileFilePrefix). */
  profileFilePrefix?: string;
}

/** The training graph (text encoder + UNet, every parameter trainable) compiled as a step with Σ g². */
export async function compilePretrainStep(data: PretrainData, batch: number, opts: PretrainStepOptions): Promise<PretrainGraph> {
  const [c, h, w] = data.latentShape;
  const g = new G.Graph({ convWeightGrad: opts.convWeightGrad ?? PRETRAIN_CONV_WEIGHT_GRAD });
  const ids = g.input('input_ids', [batch, EMOJI_MINI_CONTEXT], 'int64');
  const states = clipTextModel(g, emojiMiniTextConfigFor(data.tokenizer), ids);
  const pred = unet2DConditionModel(g, EMOJI_MINI_UNET_CONFIG, {
    sample: g.input('sample', [batch, c, h, w]),
    timestep: g.input('timestep', [batch]),
    encoderHiddenStates: states,
  });
  const loss = G.mse(pred, g.input('target', [batch, c, h, w]));
  const stepFn = await StepFunction.compile(loss, {
    gradNorm: true,
    ...(opts.threads ? { threads: opts.threads } : {}),
    ...(opts.stopSpinningAfterRun ? { stopSpinningAfterRun: true } : {}),
    ...(opts.interOpThreads ? { interOpThreads: opts.interOpThreads } : {}),
    ...(opts.memoryPattern ? { memoryPattern: true } : {}),
    ...(opts.profileFilePrefix ? { profileFilePrefix: opts.profileFilePrefix } : {}),
  });
  const paramCount = Object.values(stepFn.paramShapes).reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
  const flops = G.countFlops([loss, ...G.grad(loss, g.trainableParams())]);
  return { stepFn, paramCount, flops };
}

/**
 * The batches of a run: step k's batch is a function of (seed, k) only, so a resumed run sees the
 * batches it would have seen. `feeds` are the same arrays every step; `fill(step)` rewrites them.
 */
export class PretrainBatches {
  readonly schedule = new NoiseSchedule(EMOJI_MINI_SCHEDULE);
  private readonly latent: number;
  private readonly x0: Float32Array;
  private readonly noise: Float32Array;
  readonly feeds: { sample: Float32Array; timestep: Float32Array; input_ids: BigInt64Array; target: Float32Array };

  constructor(
    private readonly data: PretrainData,
    private readonly batch: number,
    private readonly seed: number,
  ) {
    const [c, h, w] = data.latentShape;
    this.latent = c * h * w;
    this.x0 = new Float32Array(batch * this.latent);
    this.noise = new Float32Array(batch * this.latent);
    this.feeds = {
      sample: new Float32Array(batch * this.latent),
      timestep: new Float32Array(batch),
      input_ids: new BigInt64Array(batch * EMOJI_MINI_CONTEXT),
      target: new Float32Array(batch * this.latent),
    };
  }

  /** Writes step `step`'s batch (with CAPTION_DROPOUT and random horizontal flips) into `feeds`. */
  fill(step: number): void {
    const { data, batch, latent, x0, noise, seed, schedule, feeds } = this;
    const rng = new Rng(seed * 1_000_003 + step);
    const captionRng = mulberry32(seed * 7919 + step);
    const ts = schedule.randomTimesteps(batch, rng);
    rng.fillNormal(noise);
    for (let b = 0; b < batch; b++) {
      const i = data.pickItem(rng.uniform());
      const src = rng.uniform() < 0.5 ? data.latents : data.flipped;
      x0.set(src.subarray(i * latent, (i + 1) * latent), b * latent);
      const caption = captionRng() < CAPTION_DROPOUT ? '' : captionFor(data.ds.items[i], captionRng);
      data.tokenizer.encode(caption, EMOJI_MINI_CONTEXT).forEach((id, j) => (feeds.input_ids[b * EMOJI_MINI_CONTEXT + j] = BigInt(id)));
      feeds.timestep[b] = ts[b];
    }
    feeds.sample.set(schedule.addNoise(x0, noise, ts));
    feeds.target.set(schedule.target(x0, noise, ts));
  }
}
