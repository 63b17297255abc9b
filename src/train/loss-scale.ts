/**
 * Dynamic loss scaling for float16 graphs (the scheme of torch.cuda.amp.GradScaler). Small gradients
 * underflow to zero in float16, so the step graph differentiates loss x scale; the optimizer uses the
 * float32 gradients times 1/scale. A step whose loss or gradients are not
 * finite (float16 overflow) is skipped and the scale halved; after `growthInterval` good steps in a row
 * it doubles. A scale that falls below `minScale` means the model itself overflows, not the gradients.
 */
import { NonFiniteLossError } from './nan.ts';

export interface LossScalerOptions {
  /** Starting scale (default 2^16, as torch). */
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  /** Good steps in a row before the scale grows (default 2000, as torch). */
  growthInterval?: number;
  /** Below this the scaler gives up with NonFiniteLossError (default 1). */
  minScale?: number;
}

/** Name of the step graph's scale input (float32 scalar), see StepFunction.compile's lossScale option. */
export const LOSS_SCALE_INPUT = 'loss_scale';

export class DynamicLossScaler {
  scale: number;
  skipped = 0;
  private goodSteps = 0;
  private readonly o: Required<LossScalerOptions>;

  constructor(opts: LossScalerOptions = {}) {
    this.o = { initScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, minScale: 1, ...opts };
    this.scale = this.o.initScale;
  }

  /**
   * Unscales `grads` in place and says whether the step may be applied. On overflow the scale backs off
   * and the caller skips the optimizer step. (The Trainer does not unscale in place: it checks the
   * step graph's sum of squares with `record` and hands 1/scale to the optimizer as its gradScale.)
   */
  unscale(loss: number, grads: Record<string, Float32Array>, step: number): boolean {
    const inv = 1 / this.scale;
    let finite = Number.isFinite(loss);
    for (const g of Object.values(grads)) {
      for (let i = 0, n = g.length; i < n; i++) {
        g[i] = g[i]! * inv;
        if (!Number.isFinite(g[i]!)) finite = false; // checked as stored: float32 overflows where a double would not
      }
    }
    return this.record(finite, loss, step);
  }

  /**
   * Records whether a step's loss and scaled gradients were all finite and says whether the step may be
   * applied: on overflow the scale backs off (NonFiniteLossError below minScale) and the caller skips
   * the optimizer step; after growthInterval good steps in a row the scale grows.
   */
  record(finite: boolean, loss: number, step: number): boolean {
    if (!finite) {
      this.skipped++;
      this.goodSteps = 0;
      this.scale *= this.o.backoffFactor;
      if (this.scale < this.o.minScale) throw new NonFiniteLossError(loss, step);
      return false;
    }
    if (++this.goodSteps >= this.o.growthInterval) {
      this.goodSteps = 0;
      this.scale *= this.o.growthFactor;
    }
    return true;
  }
}
