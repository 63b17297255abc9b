/**
 * Samplers that turn noise into a sample with a denoiser callback, following diffusers' schedulers:
 *   'ddim'    DDIMScheduler (eta 0 by default: deterministic)
 *   'euler'   EulerDiscreteScheduler (s_churn 0), with scale_model_input
 *   'dpmpp2m' DPMSolverMultistepScheduler, algorithm_type dpmsolver++, solver_order 2, midpoint
 * The sampler never calls a model: `denoise(x, t, i)` returns the model output (eps or v, per the
 * schedule's prediction_type) for model input x at model timestep t, so guidance composes outside.
 */
import { Rng } from '../graph/rng.ts';
import type { NoiseSchedule, PredictionType } from './schedule.ts';
import { ddimTimesteps, dpmTimesteps, eulerTimesteps } from './timesteps.ts';

export type SamplerName = 'ddim' | 'euler' | 'dpmpp2m';
export const SAMPLERS: readonly SamplerName[] = ['ddim', 'euler', 'dpmpp2m'];

/** Model output for input x at model timestep t (step index i). May return a reused buffer: it is read once. */
export type Denoiser = (x: Float32Array, t: number, i: number) => Promise<Float32Array>;

/** One sampler's state machine, as a diffusers scheduler after set_timesteps. */
export interface Stepper {
  /** Model timesteps, one per step, descending. */
  readonly timesteps: readonly number[];
  /** Scale of the initial noise (x_T = noise * initNoiseSigma). */
  readonly initNoiseSigma: number;
  /** The model input at step i (Euler divides by sqrt(sigma^2 + 1); the others pass x through). */
  scaleModelInput(x: Float32Array, i: number): Float32Array;
  /** x after step i, given the model output at step i. Steps must be taken in order. */
  step(modelOutput: Float32Array, i: number, x: Float32Array): Float32Array;
}

export interface StepperOptions {
  /** DDIM only: 0 = deterministic DDIM, 1 = DDPM-like ancestral noise. */
  eta?: number;
  /** DDIM with eta > 0: source of the per-step noise. */
  rng?: Rng;
}

/** Converts a model output to the predicted x0 and eps for x_t = a x0 + b eps. */
function predict(type: PredictionType, out: number, x: number, a: number, b: number): [x0: number, eps: number] {
  if (type === 'epsilon') return [(x - b * out) / a, out];
  return [a * x - b * out, a * out + b * x];
}

/** DDIMScheduler.step. Like diffusers, the previous timestep is t - T // steps whatever the spacing. */
export class DdimStepper implements Stepper {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  private readonly eta: number;
  private readonly rng: Rng | undefined;

  constructor(
    private readonly schedule: NoiseSchedule,
    steps: number,
    opts: StepperOptions = {},
  ) {
    this.timesteps = ddimTimesteps(steps, schedule.config);
    this.eta = opts.eta ?? 0;
    if (!(this.eta >= 0)) throw new Error(`eta must be >= 0, got ${this.eta}`);
    if (this.eta > 0 && !opts.rng) throw new Error('DDIM with eta > 0 needs an rng for its per-step noise');
    this.rng = opts.rng;
  }

  scaleModelInput(x: Float32Array): Float32Array {
    return x;
  }

  step(out: Float32Array, i: number, x: Float32Array): Float32Array {
    const s = this.schedule;
    const c = s.config;
    const t = this.timesteps[i]!;
    const prevT = t - Math.floor(c.num_train_timesteps / this.timesteps.length);
    const aT = s.alphaBar(t);
    const aPrev = prevT >= 0 ? s.alphaBar(prevT) : c.set_alpha_to_one ? 1 : s.alphaBar(0);
    const a = Math.sqrt(aT);
    const b = Math.sqrt(1 - aT);
    const variance = ((1 - aPrev) / (1 - aT)) * (1 - aT / aPrev);
    const std = this.eta * Math.sqrt(variance);
    const dirCoef = Math.sqrt(Math.max(0, 1 - aPrev - std * std));
    const x0Coef = Math.sqrt(aPrev);
    const r = c.clip_sample_range;
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      let [x0, eps] = predict(c.prediction_type, out[k]!, x[k]!, a, b);
      if (c.clip_sample) x0 = Math.min(r, Math.max(-r, x0));
      next[k] = x0Coef * x0 + dirCoef * eps + (std > 0 ? std * this.rng!.normal() : 0);
    }
    return next;
  }
}

/** Euler/DPM++ noise levels at the step timesteps, plus the final one (0, or sigma at t=0). */
function stepSigmas(schedule: NoiseSchedule, timesteps: readonly number[]): number[] {
  const last = schedule.config.final_sigmas_type === 'sigma_min' ? schedule.sigmas[0]! : 0;
  return [...timesteps.map((t) => schedule.sigmaAt(t)), last].map(Math.fround);
}

/** EulerDiscreteScheduler.step with s_churn = 0, in sigma space: x = x0 + sigma * eps. */
export class EulerStepper implements Stepper {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  readonly sigmas: readonly number[];

  constructor(
    private readonly schedule: NoiseSchedule,
    steps: number,
  ) {
    const c = schedule.config;
    this.timesteps = eulerTimesteps(steps, c);
    this.sigmas = stepSigmas(schedule, this.timesteps);
    const max = Math.max(...this.sigmas);
    const spacing = c.timestep_spacing ?? 'linspace';
    this.initNoiseSigma = spacing === 'linspace' || spacing === 'trailing' ? max : Math.sqrt(max * max + 1);
  }

  scaleModelInput(x: Float32Array, i: number): Float32Array {
    const sigma = this.sigmas[i]!;
    const inv = 1 / Math.sqrt(sigma * sigma + 1);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = x[k]! * inv;
    return out;
  }

  step(out: Float32Array, i: number, x: Float32Array): Float32Array {
    const sigma = this.sigmas[i]!;
    const dt = this.sigmas[i + 1]! - sigma;
    const v = this.schedule.config.prediction_type === 'v_prediction';
    const vOut = -sigma / Math.sqrt(sigma * sigma + 1);
    const vX = 1 / (sigma * sigma + 1);
    const next = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const x0 = v ? out[k]! * vOut + x[k]! * vX : x[k]! - sigma * out[k]!;
      next[k] = x[k]! + ((x[k]! - x0) / sigma) * dt;
    }
    return next;
  }
}

/** DPMSolverMultistepScheduler (dpmsolver++, order 2, midpoint) in VP space: x = alpha x0 + sigma eps. */
export class DpmSolverPP2MStepper implements Stepper {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma = 1;
  readonly sigmas: readonly number[];
  private prevX0: Float32Array | null = null;

  constructor(
    private readonly schedule: NoiseSchedule,
    steps: number,
  ) {
    this.timesteps = dpmTimesteps(steps, schedule.config);
    this.sigmas = stepSigmas(schedule, this.timesteps);
  }

  scaleModelInput(x: Float32Array): Float32Array {
    return x;
  }

  /** alpha_t, sigma_t (VP) and lambda = log(alpha/sigma) at step index j. */
  private coefs(j: number): { alpha: number; sigma: number; lambda: number } {
    const s = this.sigmas[j]!;
    const alpha = 1 / Math.sqrt(s * s + 1);
    const sigma = s * alpha;
    return { alpha, sigma, lambda: Math.log(alpha) - Math.log(sigma) };
  }

  step(out: Float32Array, i: number, x: Float32Array): Float32Array {
    const c = this.schedule.config;
    const n = this.timesteps.length;
    const s0 = this.coefs(i);
    const t = this.coefs(i + 1);
    const x0 = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) x0[k] = predict(c.prediction_type, out[k]!, x[k]!, s0.alpha, s0.sigma)[0];

    const lowerOrderFinal = i === n - 1 && ((c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const firstOrder = this.prevX0 === null || i === 0 || lowerOrderFinal;
    const next = new Float32Array(x.length);
    if (t.sigma === 0) {
      next.set(x0); // sigma_next = 0: the update reduces to x0 (alpha = 1)
    } else {
      const h = t.lambda - s0.lambda;
      const ratio = t.sigma / s0.sigma;
      const d0Coef = -t.alpha * (Math.exp(-h) - 1);
      if (firstOrder) {
        for (let k = 0; k < x.length; k++) next[k] = ratio * x[k]! + d0Coef * x0[k]!;
      } else {
        const r0 = (s0.lambda - this.coefs(i - 1).lambda) / h;
        const prev = this.prevX0!;
        for (let k = 0; k < x.length; k++) {
          const d1 = (x0[k]! - prev[k]!) / r0;
          next[k] = ratio * x[k]! + d0Coef * x0[k]! + 0.5 * d0Coef * d1;
        }
      }
    }
    this.prevX0 = x0;
    return next;
  }
}

/** The stepper for a sampler name; `steps` inference steps on `schedule`. */
export function createStepper(sampler: SamplerName, schedule: NoiseSchedule, steps: number, opts: StepperOptions = {}): Stepper {
  switch (sampler) {
    case 'ddim':
      return new DdimStepper(schedule, steps, opts);
    case 'euler':
      return new EulerStepper(schedule, steps);
    case 'dpmpp2m':
      return new DpmSolverPP2MStepper(schedule, steps);
    default:
      throw new Error(`unknown sampler "${String(sampler)}"; use one of ${SAMPLERS.join(', ')}`);
  }
}

export interface SampleOptions {
  sampler: SamplerName;
  steps: number;
  schedule: NoiseSchedule;
  denoise: Denoiser;
  /** Unit-variance initial noise (the sampler scales it by initNoiseSigma). Or give `size` and `seed`. */
  noise?: Float32Array;
  /**
   * Start at step `step` from latents `x` at that step's noise level (e.g. an inverted image), instead
   * of from noise at step 0; `noise`, `size` and the initial noise scale are then unused.
   */
  start?: { x: Float32Array; step: number };
  /** Number of values to draw when `noise` is not given. */
  size?: number;
  /** Seed of the initial noise (when `noise` is not given) and of DDIM's eta noise. Default 0. */
  seed?: number;
  /** DDIM only, default 0. */
  eta?: number;
  /** Cancels between model calls: sample() rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after step i (0-based) of `total` with the current x (do not modify it). */
  onStep?: (i: number, total: number, x: Float32Array) => void | Promise<void>;
}

/**
 * Runs a sampler from noise to the end of its schedule and returns the final sample: x0 for Euler
 * and DPM++ (final sigma 0) and for DDIM with set_alpha_to_one; with set_alpha_to_one false DDIM
 * stops at abar[0] exactly as diffusers does (SD: sqrt(1 - abar[0]) = 0.029 of noise left).
 */
export async function sample(opts: SampleOptions): Promise<Float32Array> {
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  const stepper = createStepper(opts.sampler, opts.schedule, opts.steps, { eta: opts.eta, rng });
  const total = stepper.timesteps.length;
  const first = opts.start?.step ?? 0;
  if (!Number.isInteger(first) || first < 0 || first >= total) throw new Error(`sample: start step must be an integer in [0, ${total - 1}], got ${first}`);
  let x: Float32Array;
  if (opts.start) x = opts.start.x.slice();
  else {
    let noise = opts.noise;
    if (!noise) {
      if (opts.size === undefined) throw new Error('sample: give either `noise` or `size` (with `seed`)');
      noise = rng.fillNormal(new Float32Array(opts.size));
    }
    const scale = stepper.initNoiseSigma;
    x = noise.map((v) => v * scale);
  }
  for (let i = first; i < total; i++) {
    opts.signal?.throwIfAborted();
    const out = await opts.denoise(stepper.scaleModelInput(x, i), stepper.timesteps[i]!, i);
    if (out.length !== x.length) throw new Error(`denoiser returned ${out.length} values for an input of ${x.length}`);
    opts.signal?.throwIfAborted();
    x = stepper.step(out, i, x);
    await opts.onStep?.(i, total, x);
  }
  return x;
}
