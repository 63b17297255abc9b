/**
 * A training step compiled from a scalar loss: one ONNX graph that takes the batch and the trainable
 * parameters and returns the loss and the gradient of every trainable parameter. The `Trainer`
 * around it applies gradient clipping, AdamW and EMA in place on Float32Arrays.
 */
import { emitOnnx, grad, GraphSession, GraphError, mul, type ConstData, type Feed, type Outputs, type SessionOptions, type Tensor } from '../graph/index.ts';
import type { EMA } from './ema.ts';
import { LOSS_SCALE_INPUT, type DynamicLossScaler } from './loss-scale.ts';
import { assertFiniteLoss } from './nan.ts';
import { clipGradNorm, type AdamW } from './optim.ts';

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
}

export interface StepResult {
  loss: number;
  grads: Record<string, Float32Array>;
  outputs: Outputs;
  /** Milliseconds spent inside onnxruntime's run(). */
  ortMs: number;
}

export class StepFunction {
  private constructor(
    private readonly session: GraphSession,
    /** Names of the trainable parameters, in graph order. */
    readonly paramNames: string[],
    readonly paramShapes: Record<string, number[]>,
    /** The ONNX model size in bytes and node count, for reports. */
    readonly modelBytes: number,
    readonly nodeCount: number,
  ) {}

  static async compile(loss: Tensor, opts: CompileStepOptions = {}): Promise<StepFunction> {
    const params = loss.graph.trainableParams();
    if (params.length === 0) throw new GraphError('compile step: the graph has no trainable parameters');
    const grads = grad(opts.lossScale ? mul(loss, loss.graph.input(LOSS_SCALE_INPUT, [])) : loss, params);
    const outputs: Record<string, Tensor> = { loss, ...(opts.extraOutputs ?? {}) };
    params.forEach((p, i) => (outputs[`grad/${p.node.name}`] = grads[i]));
    const model = emitOnnx({ outputs, weights: opts.weights, name: 'train_step' });
    const session = await GraphSession.create(model, opts);
    const names = params.map((p) => p.node.name!);
    return new StepFunction(session, names, Object.fromEntries(params.map((p) => [p.node.name!, [...p.shape]])), model.bytes.length, model.nodeCount);
  }

  /** Runs one forward+backward. `feeds` holds the batch and every trainable (and fed) parameter. */
  async run(feeds: Record<string, Feed>): Promise<StepResult> {
    const t0 = performance.now();
    const outputs = await this.session.run(feeds);
    const ortMs = performance.now() - t0;
    const grads: Record<string, Float32Array> = {};
    for (const n of this.paramNames) grads[n] = outputs[`grad/${n}`] as Float32Array;
    return { loss: Number((outputs.loss as Float32Array)[0]), grads, outputs, ortMs };
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
  outputs: Outputs;
}

export class Trainer {
  step: number;
  constructor(
    readonly stepFn: StepFunction,
    readonly opts: TrainerOptions,
  ) {
    this.step = opts.startStep ?? 0;
    for (const n of stepFn.paramNames) {
      if (!opts.params[n]) throw new GraphError(`trainer: no value for trainable parameter '${n}'`);
    }
  }

  /** One optimisation step on a batch (data inputs and fed parameters). */
  async trainStep(batch: Record<string, Feed>): Promise<TrainStepReport> {
    const t0 = performance.now();
    const scaler = this.opts.lossScaler;
    const r = await this.stepFn.run({ ...batch, ...this.opts.params, ...(scaler ? { [LOSS_SCALE_INPUT]: Float32Array.of(scaler.scale) } : {}) });
    const lrScale = this.opts.lrSchedule ? this.opts.lrSchedule(this.step) : 1;
    if (scaler) {
      if (!scaler.unscale(r.loss, r.grads, this.step + 1)) {
        this.step++;
        return { step: this.step, loss: r.loss, gradNorm: NaN, lrScale, ortMs: r.ortMs, skipped: true, totalMs: performance.now() - t0, outputs: r.outputs };
      }
    } else assertFiniteLoss(r.loss, this.step + 1);
    const gradNorm = this.opts.clipNorm ? clipGradNorm(r.grads, this.opts.clipNorm) : NaN;
    this.opts.optimizer.step(r.grads, { lrScale });
    this.opts.ema?.update();
    this.step++;
    return { step: this.step, loss: r.loss, gradNorm, lrScale, ortMs: r.ortMs, skipped: false, totalMs: performance.now() - t0, outputs: r.outputs };
  }
}
