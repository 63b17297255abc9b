/**
 * Pair Customization training (Jones et al., 2024) on any TextToImageModel.
 *
 * ContentLoRA and StyleLoRA sit on every attention projection of the UNet (to_q, to_k, to_v, to_out.0;
 * self and cross). Their down-projections are frozen orthogonal rows of a seeded QR (orthogonal.ts);
 * only the zero-initialised up-projections B train. One batched forward+backward per step, batch 2:
 *   row 0: the content image, prompt "<subject> <v1>", ContentLoRA on  -> trains ContentLoRA
 *   row 1: the style image, prompt "<subject> <v1> in <s1> style", both adapters on -> trains StyleLoRA
 *          only (ContentLoRA's B sees no gradient from this row); weight 0 during the warm-up share.
 * Both rows share the noise and the timestep; both images get the same random horizontal flip. The
 * regression target is the model's own (epsilon for SD 1.5, v for emoji-mini), the MSE as in the paper.
 *
 * Several pairs (the official code leaves this open): one ContentLoRA and one StyleLoRA for all of
 * them; step i trains on pair i mod n (its content image and "<its subject> <v1>" prompt in row 0, its
 * style image in row 1), so the StyleLoRA learns what the pairs' differences share.
 */
import * as G from '../graph/index.ts';
import { DiffusionPipeline } from '../pipeline/diffusion-pipeline.ts';
import type { Precision } from '../graph/device.ts';
import { conditionFeeds, modelUnet, type ModelShapes } from '../pipeline/conditioning.ts';
import type { TextToImageModel } from '../pipeline/text-to-image.ts';
import { VaeCodec } from '../models/vae.ts';
import { trainAdapters } from './adapter-training.ts';
import type { Augmentation } from './augment.ts';
import { orthogonalDownProjections } from './orthogonal.ts';
import { keepsStep, type TrainingStepCache } from './step-cache.ts';
import { collectStyle, styledPrompt, type Style } from './style.ts';

export const CONTENT_TOKEN = '<v1>';
export const STYLE_TOKEN = '<s1>';

/**
 * Defaults for the embedded model, and why:
 * - rank 8: the narrowest attention input is 64 wide and content+style need 2*rank <= 64; 8 learns a
 *   32x32 style in a hundred steps without memorising the pair.
 * - 100 steps at lr 3e-3 (AdamW, no weight decay), style branch from step 33 (the official 1/3
 *   warm-up share): B starts at zero and only a few thousand numbers train; the official 1e-5 is for
 *   SDXL with rank 64 and 750 steps. The earlier 300 steps at 1e-3 (the same lr x steps) drew styles
 *   equal inside eval:pair's noise (README, "The pair defaults") at a third of the steps: 4-5 s here.
 * - the style row's steps draw their timesteps from all of the noise schedule (styleTimesteps 1), as
 *   the paper's: training it only on the lowest 1 - STYLE_START, where draws apply the style, was
 *   inside eval:pair's noise over five runs (README, "The style trained where it acts").
 */
export const PAIR_DEFAULTS = {
  rank: 8,
  lr: 3e-3,
  steps: 100,
  styleStartShare: 1 / 3,
  styleTimesteps: 1,
  subject: 'picture',
  seed: 0,
  convs: false,
  styleLayers: 'all' as StyleLayers,
};

/**
 * Which adapted UNet modules StyleLoRA trains on: 'all' of them (the paper's), only the up blocks'
 * ('up-blocks', the decoder half, where B-LoRA found SDXL's style), or only the cross-attention keys
 * and values ('cross-kv', how the prompt is read: what Custom Diffusion trains), or only the
 * self-attention's projections ('self-attention', how the picture reads itself). Elsewhere its B stays
 * zero, so a style file keeps the same modules and draws run the same graph; ContentLoRA trains everywhere.
 */
export type StyleLayers = 'all' | 'up-blocks' | 'cross-kv' | 'self-attention';

/** Whether StyleLoRA trains on `module` ('unet.up_blocks.0.attentions.1...') under `layers`. */
export const styleTrainsOn = (layers: StyleLayers, module: string): boolean => {
  if (layers === 'up-blocks') return module.startsWith('unet.up_blocks.');
  if (layers === 'cross-kv') return /\.attn2\.to_[kv]$/.test(module);
  if (layers === 'self-attention') return /\.attn1\./.test(module);
  return true;
};

/** The official code's defaults (for SDXL; used for every Stable Diffusion checkpoint): rank 64, lr 1e-5, 750 steps, style branch from step 250. */
export const STABLE_DIFFUSION_PAIR_DEFAULTS = { ...PAIR_DEFAULTS, rank: 64, lr: 1e-5, steps: 750 };

/**
 * The defaults for a model: the official ones for Stable Diffusion checkpoints (VAE latents), the
 * embedded model's for pixel-codec models. The rank is capped so that content and style rows fit the
 * narrowest attention input (2 x rank <= its width), which only small test models reach.
 */
export function pairDefaultsFor(model: Pick<TextToImageModel, 'unet' | 'codec'>): typeof PAIR_DEFAULTS {
  const base = model.codec instanceof VaeCodec ? STABLE_DIFFUSION_PAIR_DEFAULTS : PAIR_DEFAULTS;
  const u = model.unet;
  const attentionWidths = u.block_out_channels.filter((_, i) => u.down_block_types[i] === 'CrossAttnDownBlock2D' || i === u.block_out_channels.length - 1);
  const narrowest = Math.min(u.cross_attention_dim, ...attentionWidths);
  return { ...base, rank: Math.max(1, Math.min(base.rank, Math.floor(narrowest / 2))) };
}

/** One before/after pair: images float32 [3, S, S] in [-1, 1] at the model's image size. */
export interface TrainingPair {
  content: Float32Array;
  style: Float32Array;
  /** What the pair shows (default: the options' subject). */
  subject?: string;
}

export interface PairTrainOptions {
  model: TextToImageModel;
  /** The first pair's content and style images, float32 [3, S, S] in [-1, 1] at the model's image size. */
  content: Float32Array;
  style: Float32Array;
  /** Further pairs of the same style. */
  extraPairs?: readonly TrainingPair[];
  name: string;
  subject?: string;
  steps?: number;
  rank?: number;
  lr?: number;
  seed?: number;
  styleStartShare?: number;
  /**
   * The joint phase (the style row's steps) draws its timesteps from this share of the noise schedule,
   * from its clean end (default 1: all of it). A draw applies the style only from STYLE_START of its
   * steps on, at the lower timesteps, so a share of 1 - STYLE_START trains the style where it acts.
   */
  styleTimesteps?: number;
  /** Train A too (no orthogonality): the ablation baseline (c). */
  trainableA?: boolean;
  /** Adapt the resnets' 3x3 convolutions too (LoCon), not only the attention projections. */
  convs?: boolean;
  /** Which adapted modules StyleLoRA trains on (default 'all'; see StyleLayers). */
  styleLayers?: StyleLayers;
  /** Shifts and zooms of each pair, the same for its two pictures, besides the flip (src/pair/augment.ts; default: flips only). */
  augmentation?: Augmentation;
  threads?: number;
  device?: 'cpu' | 'cuda';
  /** fp16: the UNet runs in float16 with float32 LoRA master weights and dynamic loss scaling. */
  precision?: Precision;
  /** Recompute attention probabilities in the backward pass (default: from RECOMPUTE_ATTENTION_TOKENS latent pixels on). */
  recomputeAttention?: boolean;
  onProgress?: (p: { step: number; steps: number; loss: number; phase: 'content' | 'joint' }) => void;
  shouldStop?: () => boolean;
  /** Awaited between steps: a quick job may use the device meanwhile (see trainAdapters). */
  pause?: () => Promise<void>;
  /** Encode the prompts with this pipeline (its text session stays cached; default: a pipeline of its own, released after). */
  pipe?: DiffusionPipeline;
  /** Keep the compiled training step here for the next training with the same options (small models only: keepsStep). */
  stepCache?: TrainingStepCache;
}

/** Where a training's time went, in ms (they add up to `seconds`). */
export interface PairTrainPhases {
  /** Encoding the prompts (with the text encoder's session creation when the pipeline had none). */
  textMs: number;
  /** Building the loss graph and the adapters' starting weights. */
  graphMs: number;
  /** Autodiff, ONNX emission and onnxruntime session creation (near 0 when the step came from stepCache). */
  compileMs: number;
  /** Encoding the pictures. */
  encodeMs: number;
  /** The training steps (sum of stepMs). */
  stepsMs: number;
  /** The rest: collecting the style, releasing, pauses. */
  otherMs: number;
}

export interface PairTrainResult {
  style: Style;
  losses: number[];
  /** The timestep each step drew (shared by its two rows). */
  timesteps: number[];
  seconds: number;
  meanStepMs: number;
  /** Wall time of each step (noise and targets, forward+backward, optimizer), in ms. */
  stepMs: number[];
  /** Of each step, the time inside onnxruntime's run(), in ms (the rest: noise and targets, optimizer). */
  stepOrtMs: number[];
  /** Steps skipped by fp16 loss scaling (overflow); 0 in fp32. */
  skippedSteps: number;
  phases: PairTrainPhases;
  /** True when the compiled step came from stepCache. */
  reusedStep: boolean;
}

export async function trainPair(opts: PairTrainOptions): Promise<PairTrainResult> {
  const t0 = performance.now();
  const { model } = opts;
  const defaults = pairDefaultsFor(model);
  const rank = opts.rank ?? defaults.rank;
  const steps = opts.steps ?? defaults.steps;
  const seed = opts.seed ?? defaults.seed;
  const subject = (opts.subject ?? defaults.subject).trim() || defaults.subject;
  const styleStart = Math.round(steps * (opts.styleStartShare ?? defaults.styleStartShare));
  const styleTimesteps = opts.styleTimesteps ?? defaults.styleTimesteps;
  if (!(styleTimesteps > 0 && styleTimesteps <= 1)) throw new Error(`pair training: styleTimesteps must be in (0, 1], got ${opts.styleTimesteps}`);
  const pairs: TrainingPair[] = [{ content: opts.content, style: opts.style, subject }, ...(opts.extraPairs ?? [])];
  const subjects = pairs.map((p) => (p.subject ?? subject).trim() || subject);
  const contentPrompts = subjects.map((s) => `${s} ${CONTENT_TOKEN}`);
  const contentPrompt = contentPrompts[0];
  const stylePrompt = styledPrompt(contentPrompt, STYLE_TOKEN);

  // Frozen text conditioning per pair: row 0 its content prompt, row 1 its style prompt.
  const runtime = { threads: opts.threads, device: opts.device, precision: opts.precision };
  if (opts.pipe && opts.pipe.model !== model) throw new Error('pair training: the pipeline given for the prompts runs another model');
  const pipe = opts.pipe ?? new DiffusionPipeline(model, runtime);
  const encoded = await pipe.encodeText(contentPrompts.flatMap((p) => [p, styledPrompt(p, STYLE_TOKEN)]));
  const conds = pairs.map((_, k) => conditionFeeds(model, encoded, [2 * k, 2 * k + 1]));
  if (!opts.pipe) await pipe.release();
  const tGraph = performance.now();

  const styleLayers = opts.styleLayers ?? defaults.styleLayers;
  const paramMode = pairParamMode(opts.trainableA ?? false, styleLayers);
  const g = new G.Graph({ paramMode });
  const convs = opts.convs ?? defaults.convs;
  const recomputeAttention = opts.recomputeAttention ?? recomputesAttention(model);
  const loss = pairTrainingLoss(g, model, rank, { precision: opts.precision, recomputeAttention, convs });

  // Adapter weights: A orthogonal (content rows 0..r-1, style rows r..2r-1), B zero.
  const params: Record<string, Float32Array> = {};
  const fed: Record<string, Float32Array> = {};
  const modules: { module: string; inDim: number; outDim: number; kernel?: number }[] = [];
  /** Each adapter weight goes where the graph's param mode puts it: trained, or fed as it starts. */
  const place = (name: string, value: Float32Array) => {
    (paramMode(name) === 'trainable' ? params : fed)[name] = value;
  };
  for (const [name, t] of g.params) {
    const m = /^(.*)\.lora_A\.content\.weight$/.exec(name);
    if (!m) continue;
    // A convolution's A [rank, in, k, k] is the same rows as a projection's [rank, in*k*k].
    const inDim = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const outDim = g.params.get(`${m[1]}.lora_B.content.weight`)!.shape[0];
    modules.push({ module: m[1], inDim, outDim, ...(t.shape.length === 4 ? { kernel: t.shape[2] } : {}) });
    const { content, style } = orthogonalDownProjections(inDim, rank, seed);
    place(`${m[1]}.lora_A.content.weight`, content.slice());
    place(`${m[1]}.lora_A.style.weight`, style.slice());
    place(`${m[1]}.lora_B.content.weight`, new Float32Array(outDim * rank));
    place(`${m[1]}.lora_B.style.weight`, new Float32Array(outDim * rank));
  }
  if (modules.length === 0) throw new Error('pair training: the model has no attention projections to adapt');
  if (!modules.some((m) => styleTrainsOn(styleLayers, m.module)))
    throw new Error(`pair training: the model has no adapted modules in its ${styleLayers} for the style`);
  // Everything the compiled step depends on: the model, the graph's options, the session's options.
  const stepKey = JSON.stringify({ model: model.hash, rank, convs, trainableA: opts.trainableA ?? false, styleLayers, recomputeAttention, ...runtime });
  const frozenBytes = [...g.params.values()].reduce((sum, t) => sum + (g.modeOf(t) === 'frozen' ? 4 * t.size : 0), 0);
  const stepCache = opts.stepCache && keepsStep(frozenBytes) ? { cache: opts.stepCache, key: stepKey } : undefined;
  const graphMs = performance.now() - tGraph;

  const rowWeight = new Float32Array([1, 0]);
  const trained = await trainAdapters({
    model,
    loss,
    params,
    feeds: {
      row_weight: rowWeight,
      'lora_gate.content': new Float32Array([1, 1]),
      'lora_gate.style': new Float32Array([0, 1]),
      'train_rows.content': new Float32Array([1, 0]),
      ...fed,
    },
    // Pair k: row 0 its content image, row 1 its style image.
    items: pairs.map((p, k) => ({ rows: [p.content, p.style], conditioning: conds[k] })),
    steps,
    lr: opts.lr ?? defaults.lr,
    seed,
    augmentation: opts.augmentation,
    ...runtime,
    timestepShare: (i) => (i >= styleStart ? styleTimesteps : 1),
    beforeStep: (i) => (rowWeight[1] = i >= styleStart ? 1 : 0),
    onStep: (step, loss) => opts.onProgress?.({ step, steps, loss, phase: step > styleStart ? 'joint' : 'content' }),
    shouldStop: opts.shouldStop,
    pause: opts.pause,
    stepCache,
  });

  const seconds = (performance.now() - t0) / 1000;
  const style = collectStyle(model, modules, 'style', (n) => params[n] ?? fed[n], {
    name: opts.name,
    rank,
    styleToken: STYLE_TOKEN,
    contentToken: CONTENT_TOKEN,
    subject,
    contentPrompt,
    stylePrompt,
    steps,
    seconds,
    seed,
    ...(pairs.length > 1 ? { pairs: pairs.length, subjects } : {}),
  });
  const stepsMs = trained.stepMs.reduce((a, b) => a + b, 0);
  const textMs = tGraph - t0;
  const { compileMs, encodeMs } = trained;
  const otherMs = 1000 * seconds - textMs - graphMs - compileMs - encodeMs - stepsMs;
  return { style, seconds, meanStepMs: stepsMs / steps, ...trained, phases: { textMs, graphMs, compileMs, encodeMs, stepsMs, otherMs } };
}

/**
 * From this many latent pixels (tokens of the first attention level) on, training recomputes attention
 * probabilities in the backward pass instead of keeping them: SD 1.5 and SDXL (64x64 latents at 512 px)
 * yes, emoji-mini (16x16) no. Below it they are small and recomputing them only costs time.
 */
export const RECOMPUTE_ATTENTION_TOKENS = 1024;

/** Whether training on this model recomputes attention probabilities by default (RECOMPUTE_ATTENTION_TOKENS). */
export function recomputesAttention(model: ModelShapes): boolean {
  const [, h, w] = model.codec.latentShape;
  return h * w >= RECOMPUTE_ATTENTION_TOKENS;
}

/**
 * LoRA B trains; LoRA A trains only without orthogonality (baseline c), else it is fed; the model is
 * frozen. StyleLoRA's A and B on modules outside `styleLayers` are fed (B zero: no style there).
 */
export const pairParamMode =
  (trainableA: boolean, styleLayers: StyleLayers = 'all') =>
  (n: string): 'trainable' | 'fed' | 'frozen' => {
    const isB = n.includes('.lora_B.');
    const isA = n.includes('.lora_A.');
    if (!isA && !isB) return 'frozen';
    const isStyle = n.includes('.lora_A.style.') || n.includes('.lora_B.style.');
    if (isStyle && !styleTrainsOn(styleLayers, n.slice(0, n.indexOf('.lora_')))) return 'fed';
    return isB || trainableA ? 'trainable' : 'fed';
  };

/**
 * The pair-training loss on a graph (batch 2; inputs sample, timestep, the conditioning, target,
 * row_weight, lora_gate.*, train_rows.content): row 0 trains ContentLoRA, row 1 StyleLoRA (see the top).
 * Needs only the model's shapes, so memory planning can build it for checkpoints that are not loaded.
 */
export function pairTrainingLoss(
  g: G.Graph,
  model: ModelShapes,
  rank: number,
  opts: { precision?: Precision; recomputeAttention?: boolean; convs?: boolean } = {},
): G.Tensor {
  const [c, h, w] = model.codec.latentShape;
  const recomputeAttention = opts.recomputeAttention ?? recomputesAttention(model);
  const convs = opts.convs ?? false;
  const pred = modelUnet(g, model, 2, {
    precision: opts.precision,
    recomputeAttention,
    lora: [
      { name: 'content', rank, convs, trainRows: g.input('train_rows.content', [2]) },
      { name: 'style', rank, convs },
    ],
  });
  const err = G.sub(pred, g.input('target', [2, c, h, w]));
  const perRow = G.reduceMean(G.mul(err, err), [1, 2, 3]);
  return G.sumAll(G.mul(perRow, g.input('row_weight', [2])));
}
