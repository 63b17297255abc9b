/**
 * The one training loop of the pair method and its baselines: adapters on a frozen model, trained on the
 * model's own denoising objective. Each step draws a timestep, a horizontal flip and the noise (shared
 * by every row), takes the next training item (item i mod n), writes the noised latents and targets of
 * its rows into the batch buffers and runs the compiled step (forward, backward, AdamW).
 *
 * With `augmentation` (src/pair/augment.ts) each step also draws a shift and a zoom, from a stream of
 * their own (seed + 2), so the timesteps, flips and noise are those of the same training without it;
 * every row of the item gets the same transform, and each transformed picture is encoded once, when first drawn.
 *
 * The caller brings the loss graph (which rows, which adapters, which loss), the adapters' weights and
 * the conditioning of each item; this module compiles the step on the chosen device and precision
 * (float16: dynamic loss scaling), encodes the pictures, and runs the steps with cancellation, pauses,
 * progress and timing. A pause (`pause`, awaited between two steps) lends the device to other work:
 * the training's whole state (adapter weights, optimizer moments, step counter, random stream) stays in
 * this loop's memory, so it goes on exactly where it was and ends with the same weights as without it.
 */
import type * as G from '../graph/index.ts';
import { Rng } from '../graph/rng.ts';
import { cancelled } from '../errors/user-error.ts';
import type { Precision } from '../graph/device.ts';
import type { TextToImageModel } from '../pipeline/text-to-image.ts';
import { DynamicLossScaler } from '../train/loss-scale.ts';
import { AdamW } from '../train/optim.ts';
import { StepFunction, Trainer } from '../train/step.ts';
import type { TrainingStepCache } from './step-cache.ts';
import { type Augmentation, checkAugmentation, drawTransform, type Transform, transformImage, transformKey } from './augment.ts';

/** One training item: the pictures of its rows (float32 [3, S, S] in [-1, 1]) and its conditioning feeds. */
export interface TrainingItem {
  rows: readonly Float32Array[];
  conditioning: Record<string, G.Feed>;
}

export interface AdapterTrainingOptions {
  model: TextToImageModel;
  /** The scalar loss over the batch (one batch row per item row; inputs sample, target, timestep, the conditioning and `feeds`). */
  loss: G.Tensor;
  /** The trained arrays (by parameter name), updated in place. */
  params: Record<string, Float32Array>;
  /** Other inputs of the loss graph that the caller owns: frozen adapter weights, gates, row weights (changed in beforeStep). */
  feeds: Record<string, G.Feed>;
  items: readonly TrainingItem[];
  steps: number;
  lr: number;
  /** The loop's random stream (timesteps, flips, noise) is seeded with seed + 1. */
  seed: number;
  /** Shifts and zooms besides the flip, the same for every row of an item (default: flips only). */
  augmentation?: Augmentation;
  threads?: number;
  device?: 'cpu' | 'cuda';
  /** fp16: the graph runs in float16 with float32 adapter weights; the step then uses dynamic loss scaling. */
  precision?: Precision;
  /**
   * The share of the noise schedule, from its clean end, that step i (0-based) draws its timestep from
   * (default 1: all of it). The same uniform draw is scaled, so the random stream is unchanged.
   */
  timestepShare?: (i: number) => number;
  /** Called before step i (0-based) runs, with the feeds it will get. */
  beforeStep?: (i: number, feeds: Record<string, G.Feed>) => void;
  onStep?: (step: number, loss: number) => void;
  /** Checked before every step; true ends training with a CancelledError. */
  shouldStop?: () => boolean;
  /** Awaited before every step (before shouldStop): other work may use the device meanwhile. */
  pause?: () => Promise<void>;
  /**
   * Keep the compiled step in this cache under `key` (which must name everything the loss graph and
   * the session options depend on), and reuse it when it is already there.
   */
  stepCache?: { cache: TrainingStepCache; key: string };
}

export interface AdapterTrainingResult {
  losses: number[];
  /** The timestep each step drew (shared by its rows). */
  timesteps: number[];
  /** Wall time of each step (noise and targets, forward+backward, optimizer), in ms. */
  stepMs: number[];
  /** Of each step, the time inside onnxruntime's run() (forward+backward, its copies of the gradients), in ms. */
  stepOrtMs: number[];
  /** Steps skipped by fp16 loss scaling (overflow); 0 in fp32. */
  skippedSteps: number;
  /** Getting the compiled step (autodiff, ONNX emission, session creation; near 0 when reused from stepCache), in ms. */
  compileMs: number;
  /** Encoding the pictures (both flips), in ms. */
  encodeMs: number;
  /** True when the compiled step came from stepCache (compiled by an earlier training). */
  reusedStep: boolean;
}

export async function trainAdapters(o: AdapterTrainingOptions): Promise<AdapterTrainingResult> {
  const { model, items } = o;
  if (items.length === 0) throw new Error('adapter training: no training items');
  const rows = items[0].rows.length;
  const fp16 = o.precision === 'fp16';
  if (o.augmentation) checkAugmentation(o.augmentation);
  const t0 = performance.now();
  const compile = () => StepFunction.compile(o.loss, { weights: (n) => model.weight(n), threads: o.threads, device: o.device, lossScale: fp16 });
  const lent = o.stepCache ? await o.stepCache.cache.lend(o.stepCache.key, compile) : undefined;
  const step = lent ? lent.step : await compile();
  const compileMs = performance.now() - t0;
  try {
    const optimizer = new AdamW([{ params: Object.entries(o.params).map(([name, data]) => ({ name, data })), lr: o.lr, weightDecay: 0 }]);
    const lossScaler = fp16 ? new DynamicLossScaler() : undefined;
    const trainer = new Trainer(step, { params: o.params, optimizer, lossScaler });

    // The latents of item k's rows under a transform, encoded once; the picture and its mirror image up front.
    const t1 = performance.now();
    const latents = new Map<string, Float32Array[]>();
    const latentsOf = async (k: number, t: Transform): Promise<Float32Array[]> => {
      const key = `${k}|${transformKey(t)}`;
      let rowLatents = latents.get(key);
      if (!rowLatents) {
        rowLatents = [];
        for (const img of items[k].rows) rowLatents.push(await model.codec.encode(transformImage(img, model.imageSize, t), 1));
        latents.set(key, rowLatents);
      }
      return rowLatents;
    };
    for (let k = 0; k < items.length; k++) for (const flip of [false, true]) await latentsOf(k, { flip, dx: 0, dy: 0, zoom: 1 });
    const encodeMs = performance.now() - t1;
    const augmentRng = new Rng(o.seed + 2);
    const latent = model.codec.latentShape.reduce((a, b) => a * b, 1);
    const sample = new Float32Array(rows * latent);
    const target = new Float32Array(rows * latent);
    const timestep = new Float32Array(rows);
    const noise = new Float32Array(latent);
    const feeds: Record<string, G.Feed> = { ...o.feeds, sample, target, timestep };
    const rng = new Rng(o.seed + 1);
    const losses: number[] = [];
    const timesteps: number[] = [];
    const stepMs: number[] = [];
    const stepOrtMs: number[] = [];
    for (let i = 0; i < o.steps; i++) {
      if (o.pause) await o.pause();
      if (o.shouldStop?.()) throw cancelled();
      const stepStart = performance.now();
      const t = Math.floor(rng.uniform() * model.schedule.betas.length * (o.timestepShare?.(i) ?? 1));
      const flip = rng.uniform() < 0.5;
      rng.fillNormal(noise);
      const k = i % items.length;
      Object.assign(feeds, items[k].conditioning);
      const rowLatents = await latentsOf(k, o.augmentation ? drawTransform(augmentRng, o.augmentation, flip) : { flip, dx: 0, dy: 0, zoom: 1 });
      for (let row = 0; row < rows; row++) {
        const x0 = rowLatents[row];
        sample.set(model.schedule.addNoise(x0, noise, t), row * latent);
        target.set(model.schedule.target(x0, noise, t), row * latent);
      }
      timestep.fill(t);
      timesteps.push(t);
      o.beforeStep?.(i, feeds);
      const r = await trainer.trainStep(feeds);
      stepMs.push(performance.now() - stepStart);
      stepOrtMs.push(r.ortMs);
      losses.push(r.loss);
      o.onStep?.(i + 1, r.loss);
    }
    return { losses, timesteps, stepMs, stepOrtMs, skippedSteps: lossScaler?.skipped ?? 0, compileMs, encodeMs, reusedStep: lent ? !lent.compiled : false };
  } finally {
    await (lent ? lent.done() : step.release());
  }
}
