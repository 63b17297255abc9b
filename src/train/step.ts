/**
 * A training step compiled from a scalar loss: one ONNX graph that takes the batch and the trainable
 * parameters and returns the loss, the gradient of every trainable parameter and (with `gradNorm`) the
 * sum of the gradients' squares. The `Trainer` around it feeds the same parameter arrays every step
 * (onnxruntime reads them in place) and runs one pass per parameter outside onnxruntime: AdamW with the
 * loss-scale inverse and the clipping factor folded into the gradient, and the EMA folded into the
 * same pass. With the parameters in a resident memory (resident.ts, as pretraining has them), the graph
 * writes the gradients into the optimizer's buffers there and the pass is a WebAssembly SIMD kernel:
 * nothing is copied in JavaScript per step (onnxruntime still returns its own copies of the outputs,
 * made inside its run, which are dropped).
 *
 * Why the optimizer is not in the graph: onnxruntime-node (1.30) has no IO binding on the CPU and copies
 * every output into a new JavaScript buffer, even when it has written it into a preallocated output
 * (see session.ts), so state cannot stay resident in onnxruntime between runs. An optimizer in the graph
 * would return the weights, both moments and the average every step (four copies of the parameters
 * instead of one of the gradients), and its ~16 unfused element-wise kernels per parameter read and
 * write memory ~5x as often as the single pass outside it.
 */
import {
  emitOnnx,
  grad,
  GraphSession,
  GraphError,
  mul,
  sumOfSquares,
  type ConstData,
  type Feed,
  type Outputs,
  type SessionOptions,
  type Tensor,
} from '../graph/index.ts';
import type { EMA } from './ema.ts';
import { LOSS_SCALE_INPUT, type DynamicLossScaler } from './loss-scale.ts';
import { assertFiniteLoss } from './nan.ts';
import type { AdamW } from './optim.ts';

/** Name of the step graph's output with Σ g² over every gradient (as the graph computes them: scaled under lossScale). */
export const GRAD_SUMSQ_OUTPUT = 'grad_sumsq';

export interface CompileStepOptions extends SessionOptions {
  /** Values of frozen parameters (they become initializers). */
  weights?: (name: string) => ConstData | undefined;
  /** More tensors to return on every step (e.g. predictions for logging). */
  extraOutputs?: Record<string, Tensor>;
  /**
   * Differentiate loss x the float32 scalar input 'loss_scale' (float16 graphs; see loss-scale.ts). The
   * 'loss' output stays unscaled; the gradients come back scaled.
   */
  lossScale?: boolean;
  /**
   * Also return Σ g² over every gradient (output GRAD_SUMSQ_OUTPUT), for clipping and the loss scaler's
   * overflow check without a pass over the gradients outside onnxruntime. On with lossScale.
   */
  gradNorm?: boolean;
}

export interface StepResult {
  loss: number;
  grads: Record<string, Float32Array>;
  /** Σ g² over every gradient, from the graph (compiled with gradNorm or lossScale), else undefined. */
  gradSumSq?: number;
  outputs: Outputs;
  /** Milliseconds spent inside onnxruntime's run() (including its copies of the outputs). */
  ortMs: number;
}

export class StepFunction {
  /** `gradsInto` records given to run(), keyed by the graph's output names. */
  private readonly outputsInto = new WeakMap<Record<string, Float32Array>, Record<string, Float32Array>>();

  private constructor(
    private readonly session: GraphSession,
    /** Names of the trainable parameters, in graph order. */
    readonly paramNames: string[],
    readonly paramShapes: Record<string, number[]>,
    /** The ONNX model size in bytes and node count, for reports. */
    readonly modelBytes: number,
    readonly nodeCount: number,
    /** Whether the graph returns GRAD_SUMSQ_OUTPUT. */
    readonly hasGradSumSq: boolean,
  ) {}

  static async compile(loss: Tensor, opts: CompileStepOptions = {}): Promise<StepFunction> {
    const params = loss.graph.trainableParams();
    if (params.length === 0) throw new GraphError('compile step: the graph has no trainable parameters');
    const grads = grad(opts.lossScale ? mul(loss, loss.graph.input(LOSS_SCALE_INPUT, [])) : loss, params);
    const outputs: Record<string, Tensor> = { loss, ...(opts.extraOutputs ?? {}) };
    params.forEach((p, i) => (outputs[`grad/${p.node.name}`] = grads[i]));
    const withSumSq = opts.gradNorm === true || opts.lossScale === true;
    if (withSumSq) outputs[GRAD_SUMSQ_OUTPUT] = sumOfSquares(grads);
    const model = emitOnnx({ outputs, weights: opts.weights, name: 'train_step' });
    const session = await GraphSession.create(model, opts);
    const names = params.map((p) => p.node.name!);
    const shapes = Object.fromEntries(params.map((p) => [p.node.name!, [...p.shape]]));
    return new StepFunction(session, names, shapes, model.bytes.length, model.nodeCount, withSumSq);
  }

  /**
   * Runs one forward+backward. `feeds` holds the batch and every trainable (and fed) parameter; the
   * gradients of the parameters named in `gradsInto` are written into those arrays (a record given again
   * is read once: keep its entries as they are between runs).
   */
  async run(feeds: Record<string, Feed>, gradsInto?: Record<string, Float32Array>): Promise<StepResult> {
    let into = gradsInto && this.outputsInto.get(gradsInto);
    if (gradsInto && !into) {
      into = Object.fromEntries(Object.entries(gradsInto).map(([n, a]) => [`grad/${n}`, a]));
      this.outputsInto.set(gradsInto, into);
    }
    const t0 = performance.now();
    const outputs = await this.session.run(feeds, into);
    const ortMs = performance.now() - t0;
    const grads: Record<string, Float32Array> = {};
    for (const n of this.paramNames) grads[n] = outputs[`grad/${n}`] as Float32Array;
    const gradSumSq = this.hasGradSumSq ? Number((outputs[GRAD_SUMSQ_OUTPUT] as Float32Array)[0]) : undefined;
    return { loss: Number((outputs.loss as Float32Array)[0]), grads, gradSumSq, outputs, ortMs };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export interface TrainerOptions {
  /** Current values of the trainable parameters, updated in place. */
  params: Record<string, Float32Array>;
  optimizer: AdamW;
  ema?: EMA;
  /** Global gradient-norm clipping threshold. */
  clipNorm?: number;
  /** Learning-rate multiplier per step (warm-up, decay). */
  lrSchedule?: (step: number) => number;
  /** Steps already done (when resuming). */
  startStep?: number;
  /** For steps compiled with lossScale: feeds the scale, unscales the gradients, skips overflowing steps. */
  lossScaler?: DynamicLossScaler;
}

export interface TrainStepReport {
  step: number;
  loss: number;
  gradNorm: number;
  lrScale: number;
  ortMs: number;
  /** True when loss scaling found an overflow and the optimizer step was skipped. */
  skipped: boolean;
  /** Wall time of the whole step, including the optimizer and copies. */
  totalMs: number;
  /** Milliseconds of the optimizer's pass (AdamW, and the EMA; 0 on a skipped step). */
  optimizerMs: number;
  outputs: Outputs;
}

export class Trainer {
  step: number;
  /** What every run is fed: the batch's arrays (replaced per step), the parameters and the loss scale (the same arrays every step). */
  private readonly feeds: Record<string, Feed>;
  private readonly scaleFeed = new Float32Array(1);
  /** Whether the EMA is folded into the optimizer's pass (it averages exactly the optimizer's parameters). */
  private readonly emaInOptimizer: boolean;
  /** Where the graph writes the gradients: the optimizer's resident gradient buffers, if it has any. */
  private readonly gradsInto?: Record<string, Float32Array>;

  constructor(
    readonly stepFn: StepFunction,
    readonly opts: TrainerOptions,
  ) {
    this.step = opts.startStep ?? 0;
    for (const n of stepFn.paramNames) {
      if (!opts.params[n]) throw new GraphError(`trainer: no value for trainable parameter '${n}'`);
    }
    this.feeds = { ...opts.params, ...(opts.lossScaler ? { [LOSS_SCALE_INPUT]: this.scaleFeed } : {}) };
    this.emaInOptimizer = opts.ema !== undefined && opts.optimizer.averages(opts.ema);
    const buffers = opts.optimizer.gradientBuffers();
    if (Object.keys(buffers).length > 0) this.gradsInto = buffers;
  }

  /** One optimisation step on a batch (data inputs and fed parameters). */
  async trainStep(batch: Record<string, Feed>): Promise<TrainStepReport> {
    const t0 = performance.now();
    const { optimizer, ema, clipNorm, lossScaler: scaler } = this.opts;
    Object.assign(this.feeds, batch);
    if (scaler) this.scaleFeed[0] = scaler.scale;
    const r = await this.stepFn.run(this.feeds, this.gradsInto);
    const lrScale = this.opts.lrSchedule ? this.opts.lrSchedule(this.step) : 1;
    const inv = scaler ? 1 / scaler.scale : 1;
    // Σ g² of the gradients as the graph returned them, from the graph when it has it.
    const sumSq = clipNorm || scaler ? (r.gradSumSq ?? sumOfSquaresOf(r.grads)) : NaN;
    if (scaler) {
      if (!scaler.record(Number.isFinite(r.loss) && finiteWhenScaled(sumSq, r.grads, inv), r.loss, this.step + 1)) {
        this.step++;
        return {
          step: this.step,
          loss: r.loss,
          gradNorm: NaN,
          lrScale,
          ortMs: r.ortMs,
          skipped: true,
          totalMs: performance.now() - t0,
          optimizerMs: 0,
          outputs: r.outputs,
        };
      }
    } else assertFiniteLoss(r.loss, this.step + 1);
    let gradScale = inv;
    let gradNorm = NaN;
    if (clipNorm) {
      // A float32 sum that overflowed while every gradient is finite: the exact norm in float64.
      gradNorm = (Number.isFinite(sumSq) ? Math.sqrt(sumSq) : Math.sqrt(sumOfSquaresOf(r.grads))) * inv;
      const coef = clipNorm / (gradNorm + 1e-6); // torch clip_grad_norm_; a non-finite norm leaves the gradients as they are
      if (coef < 1) gradScale *= coef;
    }
    const t1 = performance.now();
    optimizer.step(r.grads, { lrScale, gradScale, ema: this.emaInOptimizer ? ema : undefined });
    if (ema && !this.emaInOptimizer) ema.update();
    const t2 = performance.now();
    this.step++;
    return { step: this.step, loss: r.loss, gradNorm, lrScale, ortMs: r.ortMs, skipped: false, totalMs: t2 - t0, optimizerMs: t2 - t1, outputs: r.outputs };
  }
}

/** Σ g² in float64 (for steps compiled without gradNorm). */
function sumOfSquaresOf(grads: Record<string, Float32Array>): number {
  let sum = 0;
  for (const g of Object.values(grads)) for (let i = 0, n = g.length; i < n; i++) sum += g[i] * g[i];
  return sum;
}

/**
 * Whether every gradient x inv is finite as float32 (the loss scaler's overflow test). Every |g| is at
 * most sqrt(Σ g²), so a finite bound settles it; otherwise (an overflow, or a float32 sum that overflowed)
 * the gradients are checked one by one.
 */
function finiteWhenScaled(sumSq: number, grads: Record<string, Float32Array>, inv: number): boolean {
  if (Number.isFinite(sumSq) && Number.isFinite(Math.fround(Math.sqrt(sumSq) * inv))) return true;
  for (const g of Object.values(grads)) for (let i = 0, n = g.length; i < n; i++) if (!Number.isFinite(Math.fround(g[i] * inv))) return false;
  return true;
}
