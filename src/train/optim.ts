/**
 * AdamW (PyTorch semantics), gradient-norm clipping and learning-rate schedules.
 * Parameters are Float32Arrays updated in place; state is float32 like PyTorch's. One step is one pass
 * over each parameter that also applies the gradient's scale (loss-scale inverse x clipping factor)
 * and, when given, folds the new weights into an EMA: no separate passes over gradients or weights.
 * Parameters that live in a resident memory (resident.ts) get their moments and a gradient buffer there
 * too, and are updated by its WebAssembly SIMD kernel (float32); the others by the JavaScript kernels
 * below (float64 arithmetic, float32 storage).
 */
import type { EMA } from './ema.ts';
import { allocLike, ResidentMemory } from './resident.ts';

/** A named trainable parameter, updated in place. */
export interface Param {
  name: string;
  data: Float32Array;
}

export interface ParamGroup {
  params: Param[];
  lr: number;
  /** Decoupled weight decay (default 0.01, PyTorch's AdamW default). */
  weightDecay?: number;
  /** [beta1, beta2], default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to sqrt(v_hat), default 1e-8. */
  eps?: number;
}

export interface StepOptions {
  /** Multiplies every group's lr (schedules). */
  lrScale?: number;
  /** Multiplies every gradient before use (1 / loss scale, x the clipping factor). Default 1. */
  gradScale?: number;
  /** An average of exactly these parameters, updated with the new weights in the same pass. */
  ema?: EMA;
}

/** Checkpointable optimizer state: first/second moments per parameter and the step count. */
export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

interface Slot {
  name: string;
  p: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** The resident memory that holds p, m, v and `g`, the gradient buffer of this parameter (see gradientBuffers). */
  resident?: { memory: ResidentMemory; g: Float32Array };
}

interface Group {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  slots: Slot[];
}

/**
 * AdamW with bias correction and decoupled weight decay, matching torch.optim.AdamW
 * (amsgrad=false, maximize=false). Per step t, for each element:
 *   p -= lr*wd*p
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * Group `lr` values may be changed between steps (e.g. `opt.groups[0].lr = 1e-4`).
 */
export class AdamW {
  /** Hyperparameters per group; lr/weightDecay/betas/eps are read on each step. */
  readonly groups: Group[];
  private t = 0;
  private readonly byName = new Map<string, Slot>();
  private readonly averaged = new WeakMap<EMA, boolean>();

  constructor(groups: ParamGroup[]) {
    this.groups = groups.map((g, gi) => {
      const [beta1, beta2] = g.betas ?? [0.9, 0.999];
      const group: Group = { lr: g.lr, weightDecay: g.weightDecay ?? 0.01, beta1, beta2, eps: g.eps ?? 1e-8, slots: [] };
      checkHyper(group, gi);
      for (const { name, data } of g.params) {
        if (this.byName.has(name)) throw new Error(`AdamW: parameter "${name}" appears more than once`);
        if (!(data instanceof Float32Array)) throw new Error(`AdamW: parameter "${name}" must be a Float32Array`);
        const slot: Slot = { name, p: data, m: allocLike(data), v: allocLike(data) };
        const memory = ResidentMemory.of(data);
        const g = memory?.holds(slot.m, slot.v) ? memory.alloc(data.length) : undefined;
        if (memory && g) slot.resident = { memory, g };
        this.byName.set(name, slot);
        group.slots.push(slot);
      }
      return group;
    });
  }

  /** Number of steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * One update. `grads` must hold a gradient of matching length for every parameter (extra
   * entries are ignored). `lrScale` multiplies every group's lr (for schedules). The gradient used is
   * `grads[name] x gradScale` (unscaling and clipping without a pass of their own). With `ema`, which must
   * average exactly this optimizer's parameters (see `averages`), the average takes the new weights in
   * the same pass, as `ema.update()` after the step would.
   */
  step(grads: Record<string, Float32Array>, opts: StepOptions = {}): void {
    const lrScale = opts.lrScale ?? 1;
    const gradScale = opts.gradScale ?? 1;
    if (!Number.isFinite(gradScale)) throw new Error(`AdamW.step: invalid gradScale ${gradScale}`);
    const ema = opts.ema;
    if (ema && !this.averages(ema)) throw new Error('AdamW.step: the EMA does not average exactly the parameters of this optimizer');
    // Validate everything before touching any parameter, so a bad call leaves state intact.
    for (const slot of this.byName.values()) {
      const g = grads[slot.name];
      if (!g) throw new Error(`AdamW.step: missing gradient for parameter "${slot.name}"`);
      if (g.length !== slot.p.length) {
        throw new Error(`AdamW.step: gradient for "${slot.name}" has ${g.length} elements, parameter has ${slot.p.length}`);
      }
    }
    const t = ++this.t;
    const emaDecay = ema ? ema.advance() : 0;
    for (const group of this.groups) {
      const { beta1: b1, beta2: b2, eps } = group;
      const lr = group.lr * lrScale;
      const decay = 1 - lr * group.weightDecay;
      const stepSize = lr / (1 - b1 ** t);
      const invBc2Sqrt = 1 / Math.sqrt(1 - b2 ** t);
      // p -= stepSize * m / (sqrt(v) * invBc2Sqrt + eps), with invBc2Sqrt folded into the constants.
      const k = { gradScale, beta1: b1, beta2: b2, lrWeightDecay: lr * group.weightDecay, stepSize: stepSize / invBc2Sqrt, eps: eps / invBc2Sqrt };
      for (const { name, p, m, v, resident } of group.slots) {
        const g = grads[name]!;
        const s = ema?.shadow[name];
        if (resident && (!s || resident.memory.holds(s))) {
          if (g !== resident.g) resident.g.set(g);
          resident.memory.adamw(p, resident.g, m, v, k, s, emaDecay);
        } else if (s) adamwEmaKernel(p, g, m, v, s, gradScale, b1, b2, decay, k.stepSize, k.eps, emaDecay);
        else adamwKernel(p, g, m, v, gradScale, b1, b2, decay, k.stepSize, k.eps);
      }
    }
  }

  /** True when `ema` averages exactly this optimizer's parameters (the same arrays under the same names). */
  averages(ema: EMA): boolean {
    let cached = this.averaged.get(ema);
    if (cached === undefined) {
      const tracked = ema.tracked();
      cached = tracked.size === this.byName.size && [...this.byName.values()].every((s) => tracked.get(s.name) === s.p);
      this.averaged.set(ema, cached);
    }
    return cached;
  }

  /**
   * The gradient buffers of the parameters that live in a resident memory, by name: a step that writes
   * its gradients there (the Trainer has onnxruntime do so) hands them to step() without a copy.
   */
  gradientBuffers(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const s of this.byName.values()) if (s.resident) out[s.name] = s.resident.g;
    return out;
  }

  /** Live references to the moment buffers plus the step count (copy them to keep a snapshot). */
  state(): AdamWState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const s of this.byName.values()) {
      m[s.name] = s.m;
      v[s.name] = s.v;
    }
    return { step: this.t, m, v };
  }

  /** Restore state saved by state(); every parameter must be present with matching length. */
  loadState(state: AdamWState): void {
    if (!Number.isSafeInteger(state.step) || state.step < 0) throw new Error(`AdamW.loadState: invalid step ${state.step}`);
    for (const s of this.byName.values()) {
      for (const [kind, src] of [
        ['m', state.m[s.name]],
        ['v', state.v[s.name]],
      ] as const) {
        if (!src) throw new Error(`AdamW.loadState: missing ${kind} for parameter "${s.name}"`);
        if (src.length !== s.p.length) {
          throw new Error(`AdamW.loadState: ${kind} for "${s.name}" has ${src.length} elements, parameter has ${s.p.length}`);
        }
      }
    }
    for (const s of this.byName.values()) {
      s.m.set(state.m[s.name]!);
      s.v.set(state.v[s.name]!);
    }
    this.t = state.step;
  }
}

function checkHyper(g: Group, i: number): void {
  const bad = (what: string) => new Error(`AdamW: group ${i}: invalid ${what}`);
  if (!(g.lr >= 0)) throw bad(`lr ${g.lr}`);
  if (!(g.weightDecay >= 0)) throw bad(`weightDecay ${g.weightDecay}`);
  if (!(g.beta1 >= 0 && g.beta1 < 1)) throw bad(`beta1 ${g.beta1}`);
  if (!(g.beta2 >= 0 && g.beta2 < 1)) throw bad(`beta2 ${g.beta2}`);
  if (!(g.eps >= 0)) throw bad(`eps ${g.eps}`);
}

/**
 * Scale gradients in place so their global L2 norm is at most maxNorm (torch clip_grad_norm_:
 * coef = maxNorm / (norm + 1e-6), applied when < 1). Returns the norm before clipping, which is
 * NaN/Infinity if any gradient is non-finite (gradients are then left untouched).
 */
export function clipGradNorm(grads: Record<string, Float32Array> | Iterable<Float32Array>, maxNorm: number): number {
  const list = Symbol.iterator in grads ? [...(grads as Iterable<Float32Array>)] : Object.values(grads);
  let sumSq = 0;
  for (const g of list) {
    for (let i = 0, n = g.length; i < n; i++) sumSq += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(sumSq);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const g of list) {
      for (let i = 0, n = g.length; i < n; i++) g[i] = g[i]! * coef;
    }
  }
  return norm;
}

/**
 * Linear warm-up then cosine decay, as a multiplier for the base lr (pass as lrScale).
 * Step s (0-based): s < warmup -> (s+1)/warmup; then cosine from 1 down to minRatio at `total`;
 * minRatio after that.
 */
export function warmupCosine(step: number, o: { warmup: number; total: number; minRatio?: number }): number {
  const minRatio = o.minRatio ?? 0;
  if (step < o.warmup) return (step + 1) / o.warmup;
  const span = Math.max(1, o.total - o.warmup);
  const progress = Math.min(1, Math.max(0, (step - o.warmup) / span));
  return minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Linear warm-up ((s+1)/warmup) then a constant multiplier of 1. */
export function warmupConstant(step: number, o: { warmup: number }): number {
  return step < o.warmup ? (step + 1) / o.warmup : 1;
}

/** The per-element AdamW update: one pass over the parameter, its gradient (times `gs`) and both moments. */
function adamwKernel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  gs: number,
  b1: number,
  b2: number,
  decay: number,
  stepSize: number,
  eps: number,
): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0, n = p.length; i < n; i++) {
    const gi = g[i] * gs;
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) + eps);
  }
}

/** adamwKernel, then the EMA of the stored (float32) new weight: s = d*s + (1-d)*p, in the same pass. */
function adamwEmaKernel(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  s: Float32Array,
  gs: number,
  b1: number,
  b2: number,
  decay: number,
  stepSize: number,
  eps: number,
  d: number,
): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const cd = 1 - d;
  for (let i = 0, n = p.length; i < n; i++) {
    const gi = g[i] * gs;
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const pi = Math.fround(p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) + eps));
    p[i] = pi;
    s[i] = d * s[i] + cd * pi;
  }
}
