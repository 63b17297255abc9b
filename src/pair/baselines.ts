/**
 * Baselines for the Pair Customization evaluation (scripts/eval-pair.ts).
 *
 * (a) DreamBooth-LoRA on the style image alone: one adapter on every attention projection of the UNet
 *     (the same modules as StyleLoRA), A initialised as PEFT does (kaiming-uniform, U(+-1/sqrt(in))) and
 *     trained, B zero-initialised and trained; the style image alone with the prompt
 *     "<subject> in <s1> style"; MSE on the model's target (epsilon or v), AdamW, the same random horizontal flip, noise and timestep
 *     sampling as trainPair (`timesteps`: from the lowest share of the noise schedule, as the pair method's style row). It returns a Style, so drawMixes' lora-scale mode applies it with the same
 *     prompt suffix as a pair-trained style.
 * (b) the pair's StyleLoRA applied by LoRA scale: drawMixes(..., { mode: 'lora-scale' }) on trainPair's style.
 * (c) the pair method without orthogonality: trainPair({ trainableA: true }).
 */
import * as G from '../graph/index.ts';
import { DiffusionPipeline } from '../pipeline/diffusion-pipeline.ts';
import { Rng } from '../graph/rng.ts';
import type { Precision } from '../graph/device.ts';
import type { TextToImageModel } from '../pipeline/text-to-image.ts';
import { conditionFeeds, modelUnet } from '../pipeline/conditioning.ts';
import { trainAdapters } from './adapter-training.ts';
import { PAIR_DEFAULTS, STYLE_TOKEN, type PairTrainResult } from './train.ts';
import { collectStyle, styledPrompt } from './style.ts';

export interface SingleImageLoraOptions {
  model: TextToImageModel;
  /** The style image, float32 [3, S, S] in [-1, 1] at the model's image size. */
  image: Float32Array;
  name: string;
  /** What the image shows (default: PAIR_DEFAULTS.subject). */
  subject?: string;
  steps?: number;
  rank?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  device?: 'cpu' | 'cuda';
  /** fp16: the UNet runs in float16 with float32 LoRA master weights and dynamic loss scaling, as trainPair's. */
  precision?: Precision;
  /** Adapt the resnets' convolutions too, as the pair method's `convs` (compare like with like). */
  convs?: boolean;
  /** Every step draws its timestep from this share of the noise schedule, from its clean end (default 1: all of it), as the pair method's `styleTimesteps`. */
  timesteps?: number;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  shouldStop?: () => boolean;
}

/** Baseline (a): a DreamBooth-style LoRA trained on one image with the prompt "<subject> in <s1> style". */
export async function trainSingleImageLora(opts: SingleImageLoraOptions): Promise<Omit<PairTrainResult, 'phases'>> {
  const t0 = performance.now();
  const { model } = opts;
  const rank = opts.rank ?? PAIR_DEFAULTS.rank;
  const steps = opts.steps ?? PAIR_DEFAULTS.steps;
  const seed = opts.seed ?? PAIR_DEFAULTS.seed;
  const subject = (opts.subject ?? PAIR_DEFAULTS.subject).trim() || PAIR_DEFAULTS.subject;
  const prompt = styledPrompt(subject, STYLE_TOKEN);
  const timesteps = opts.timesteps ?? 1;
  if (!(timesteps > 0 && timesteps <= 1)) throw new Error(`single-image LoRA: timesteps must be in (0, 1], got ${opts.timesteps}`);

  const runtime = { threads: opts.threads, device: opts.device, precision: opts.precision };
  const pipe = new DiffusionPipeline(model, runtime);
  const cond = conditionFeeds(model, await pipe.encodeText([prompt]), [0]);
  await pipe.release();

  const [c, h, w] = model.codec.latentShape;
  const isLora = (n: string) => n.includes('.lora_A.') || n.includes('.lora_B.');
  const g = new G.Graph({ paramMode: (n) => (isLora(n) ? 'trainable' : 'frozen') });
  const pred = modelUnet(g, model, 1, { precision: opts.precision, lora: [{ name: 'style', rank, convs: opts.convs ?? PAIR_DEFAULTS.convs }] });
  const loss = G.mse(pred, g.input('target', [1, c, h, w]));

  const initRng = new Rng(seed * 7919 + 17);
  const params: Record<string, Float32Array> = {};
  const modules: { module: string; inDim: number; outDim: number; kernel?: number }[] = [];
  for (const [name, t] of g.params) {
    const m = /^(.*)\.lora_A\.style\.weight$/.exec(name);
    if (!m) continue;
    const inDim = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const outDim = g.params.get(`${m[1]}.lora_B.style.weight`)!.shape[0];
    modules.push({ module: m[1], inDim, outDim, ...(t.shape.length === 4 ? { kernel: t.shape[2] } : {}) });
    const bound = 1 / Math.sqrt(inDim);
    params[name] = Float32Array.from({ length: rank * inDim }, () => (initRng.uniform() * 2 - 1) * bound);
    params[`${m[1]}.lora_B.style.weight`] = new Float32Array(outDim * rank);
  }
  if (modules.length === 0) throw new Error('single-image LoRA: the model has no attention projections to adapt');

  const trained = await trainAdapters({
    model,
    loss,
    params,
    feeds: { 'lora_gate.style': new Float32Array([1]) },
    items: [{ rows: [opts.image], conditioning: cond }],
    steps,
    lr: opts.lr ?? PAIR_DEFAULTS.lr,
    seed,
    ...runtime,
    timestepShare: () => timesteps,
    onStep: (step, loss) => opts.onProgress?.({ step, steps, loss }),
    shouldStop: opts.shouldStop,
  });

  const seconds = (performance.now() - t0) / 1000;
  const style = collectStyle(model, modules, 'style', (n) => params[n], {
    name: opts.name,
    rank,
    styleToken: STYLE_TOKEN,
    contentToken: '',
    subject,
    contentPrompt: '',
    stylePrompt: prompt,
    steps,
    seconds,
    seed,
  });
  return { style, seconds, meanStepMs: trained.stepMs.reduce((a, b) => a + b, 0) / steps, ...trained };
}
