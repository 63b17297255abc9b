/**
 * Exponential moving average of weights: shadow = d*shadow + (1-d)*param after each update().
 * The average of a parameter in a resident memory (resident.ts) is kept in that memory too, where
 * AdamW's SIMD kernel can update it in its own pass.
 */
import { allocLike } from './resident.ts';

/** Named Float32Arrays, either as a record or as a list of {name, data}. */
export type NamedArrays = Record<string, Float32Array> | { name: string; data: Float32Array }[];

export interface EMAOptions {
  /** Use d = min(decay, (1+n)/(10+n)), n = updates done so far, so early averages follow the weights. */
  warmup?: boolean;
}

/** Checkpointable EMA state: shadow weights and the number of updates applied. */
export interface EMAState {
  updates: number;
  shadow: Record<string, Float32Array>;
}

function entries(p: NamedArrays): [string, Float32Array][] {
  return Array.isArray(p) ? p.map((x) => [x.name, x.data]) : Object.entries(p);
}

export class EMA {
  /** Shadow (averaged) weights, keyed by parameter name. Starts as a copy of the parameters. */
  readonly shadow: Record<string, Float32Array> = {};
  private readonly params: [string, Float32Array][];
  private n = 0;
  readonly decay: number;
  private readonly warmup: boolean;

  constructor(params: NamedArrays, decay: number, opts: EMAOptions = {}) {
    this.decay = decay;
    this.warmup = opts.warmup ?? false;
    if (!(decay >= 0 && decay <= 1)) throw new Error(`EMA: decay must be in [0, 1], got ${decay}`);
    this.params = entries(params);
    for (const [name, data] of this.params) {
      if (name in this.shadow) throw new Error(`EMA: parameter "${name}" appears more than once`);
      const shadow = allocLike(data);
      shadow.set(data);
      this.shadow[name] = shadow;
    }
  }

  /** Number of update() calls so far. */
  get updates(): number {
    return this.n;
  }

  /** Decay that the next update() will use. */
  currentDecay(): number {
    return this.warmup ? Math.min(this.decay, (1 + this.n) / (10 + this.n)) : this.decay;
  }

  /** Fold the current parameter values into the average. */
  update(): void {
    const d = this.currentDecay();
    const c = 1 - d;
    for (const [name, p] of this.params) {
      const s = this.shadow[name]!;
      for (let i = 0, len = p.length; i < len; i++) s[i] = d * s[i]! + c * p[i]!;
    }
    this.n++;
  }

  /**
   * Counts an update as done and returns its decay, for an optimizer that folds the average into its own
   * pass over the weights (AdamW.step's `ema`); the caller then sets every shadow to d*shadow + (1-d)*param.
   */
  advance(): number {
    const d = this.currentDecay();
    this.n++;
    return d;
  }

  /** The averaged parameters: name -> the live array the average follows. */
  tracked(): ReadonlyMap<string, Float32Array> {
    return new Map(this.params);
  }

  /** Copy the averaged weights into `target` (same names and lengths), e.g. for evaluation/export. */
  copyTo(target: NamedArrays): void {
    for (const [name, data] of entries(target)) {
      const s = this.shadow[name];
      if (!s) throw new Error(`EMA.copyTo: no averaged weights for "${name}"`);
      if (s.length !== data.length) throw new Error(`EMA.copyTo: "${name}" has ${data.length} elements, average has ${s.length}`);
      data.set(s);
    }
  }

  /** Live references to the shadow weights plus the update count. */
  state(): EMAState {
    return { updates: this.n, shadow: { ...this.shadow } };
  }

  /** Restore state from state(); every parameter must be present with matching length. */
  loadState(state: EMAState): void {
    for (const [name, p] of this.params) {
      const src = state.shadow[name];
      if (!src) throw new Error(`EMA.loadState: missing averaged weights for "${name}"`);
      if (src.length !== p.length) throw new Error(`EMA.loadState: "${name}" has ${src.length} elements, parameter has ${p.length}`);
    }
    for (const [name] of this.params) this.shadow[name]!.set(state.shadow[name]!);
    this.n = state.updates;
  }
}
