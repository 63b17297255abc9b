/**
 * Training noise schedule, as diffusers' DDPMScheduler defines it: betas, alphas_cumprod,
 * the forward process x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, and the training targets.
 * The same object carries the inference settings (timestep spacing, offsets, clipping) that a
 * diffusers scheduler_config.json stores, so samplers read everything from here.
 *
 * Arithmetic is float64 (diffusers: float32 torch tensors); values agree to ~1e-7.
 */
import type { Rng } from '../graph/rng.ts';
import { parseSchedulerConfig } from './scheduler-config.ts';

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** The schedule's settings, with diffusers' scheduler_config.json field names (as the model configs keep theirs). */
export interface ScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit betas (length num_train_timesteps); overrides beta_start/beta_end/beta_schedule. */
  trained_betas?: number[];
  prediction_type: PredictionType;
  /** Undefined: each sampler uses its diffusers class default (DDIM 'leading', Euler and DPM++ 'linspace'). */
  timestep_spacing?: TimestepSpacing;
  steps_offset: number;
  /** DDIM: the step after the last uses abar = 1 (true) or abar[0] (false). */
  set_alpha_to_one: boolean;
  /** DDIM: clamp the predicted x0 to [-clip_sample_range, clip_sample_range]. */
  clip_sample: boolean;
  clip_sample_range: number;
  /** Euler, DPM++: the noise level after the last step, 0 or sigma(t=0). */
  final_sigmas_type: 'zero' | 'sigma_min';
  /** DPM++(2M): first-order final step when fewer than 15 steps. */
  lower_order_final: boolean;
}

/** diffusers' constructor defaults (DDPMScheduler / DDIMScheduler). */
export const DIFFUSERS_DEFAULTS: Readonly<ScheduleConfig> = Object.freeze({
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  prediction_type: 'epsilon',
  steps_offset: 0,
  set_alpha_to_one: true,
  clip_sample: true,
  clip_sample_range: 1,
  final_sigmas_type: 'zero',
  lower_order_final: true,
});

/** Stable Diffusion 1.x / 2.x-base / XL, as in their scheduler_config.json. */
export const STABLE_DIFFUSION_SCHEDULE: Partial<ScheduleConfig> = Object.freeze({
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
});

/** Glide cosine schedule (betas_for_alpha_bar, max_beta 0.999). */
function cosineBetas(n: number): number[] {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999));
  return out;
}

/** numpy/torch linspace: start + k * (stop - start) / (num - 1), last point exactly stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let k = 0; k < num; k++) out.push(k === num - 1 ? stop : start + k * step);
  return out;
}

function makeBetas(c: ScheduleConfig): number[] {
  const n = c.num_train_timesteps;
  if (c.trained_betas) {
    if (c.trained_betas.length !== n) throw new Error(`trained_betas has ${c.trained_betas.length} values; num_train_timesteps is ${n}`);
    return c.trained_betas.slice();
  }
  switch (c.beta_schedule) {
    case 'linear':
      return linspace(c.beta_start, c.beta_end, n);
    case 'scaled_linear':
      return linspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => b * b);
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new Error(`beta_schedule "${String(c.beta_schedule)}" is not supported; use linear, scaled_linear or squaredcos_cap_v2`);
  }
}

/** Per-sample coefficient lookup: one timestep for all, or one per batch item (x has B*N values). */
function perSample(x: ArrayLike<number>, timesteps: number | ArrayLike<number>, f: (t: number) => number): (i: number) => number {
  if (typeof timesteps === 'number') {
    const v = f(timesteps);
    return () => v;
  }
  const B = timesteps.length;
  if (B === 0 || x.length % B !== 0) throw new Error(`${x.length} values do not split into ${B} samples (one timestep per sample)`);
  const n = x.length / B;
  const coef = Array.from(timesteps, f);
  return (i) => coef[Math.floor(i / n)]!;
}

export class NoiseSchedule {
  readonly config: Readonly<ScheduleConfig>;
  readonly betas: Float64Array;
  /** abar_t = prod_{s<=t} (1 - beta_s), t = 0..T-1. */
  readonly alphasCumprod: Float64Array;
  /** EDM noise levels sigma_t = sqrt((1 - abar_t) / abar_t) (Euler / DPM++ space). */
  readonly sigmas: Float64Array;

  constructor(config: Partial<ScheduleConfig> = {}) {
    const c: ScheduleConfig = { ...DIFFUSERS_DEFAULTS, ...config };
    if (!Number.isInteger(c.num_train_timesteps) || c.num_train_timesteps < 2)
      throw new Error(`num_train_timesteps must be an integer >= 2, got ${c.num_train_timesteps}`);
    if (c.prediction_type !== 'epsilon' && c.prediction_type !== 'v_prediction') {
      throw new Error(`prediction_type "${String(c.prediction_type)}" is not supported; use epsilon or v_prediction`);
    }
    this.config = Object.freeze(c);
    const betas = makeBetas(c);
    this.betas = Float64Array.from(betas);
    this.alphasCumprod = new Float64Array(betas.length);
    this.sigmas = new Float64Array(betas.length);
    let prod = 1;
    for (let t = 0; t < betas.length; t++) {
      const b = betas[t]!;
      if (!(b > 0 && b < 1)) throw new Error(`beta[${t}] = ${b} is outside (0, 1)`);
      prod *= 1 - b;
      this.alphasCumprod[t] = prod;
      this.sigmas[t] = Math.sqrt((1 - prod) / prod);
    }
  }

  get numTrainTimesteps(): number {
    return this.config.num_train_timesteps;
  }

  /** abar at an integer training timestep. */
  alphaBar(t: number): number {
    const v = this.alphasCumprod[t];
    if (v === undefined || !Number.isInteger(t)) throw new Error(`timestep ${t} is not an integer in [0, ${this.numTrainTimesteps - 1}]`);
    return v;
  }

  /** sigma at any t in [0, T-1], linearly interpolated between integer timesteps (np.interp, as Euler does). */
  sigmaAt(t: number): number {
    const T = this.numTrainTimesteps;
    if (!(t >= 0 && t <= T - 1)) throw new Error(`timestep ${t} is outside [0, ${T - 1}]`);
    const lo = Math.floor(t);
    if (lo === t) return this.sigmas[lo]!;
    const w = t - lo;
    return (1 - w) * this.sigmas[lo]! + w * this.sigmas[lo + 1]!;
  }

  /** abar at any t: exact at integers, 1 / (1 + sigmaAt(t)^2) between them. */
  alphaBarAt(t: number): number {
    if (Number.isInteger(t)) return this.alphaBar(t);
    const s = this.sigmaAt(t);
    return 1 / (1 + s * s);
  }

  /** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; x0 is [B*N] with timesteps [B] (or one t for all). */
  addNoise(x0: Float32Array, noise: Float32Array, timesteps: number | ArrayLike<number>): Float32Array {
    checkSameLength(x0, noise);
    const a = perSample(x0, timesteps, (t) => Math.sqrt(this.alphaBar(t)));
    const b = perSample(x0, timesteps, (t) => Math.sqrt(1 - this.alphaBar(t)));
    const out = new Float32Array(x0.length);
    for (let i = 0; i < x0.length; i++) out[i] = a(i) * x0[i]! + b(i) * noise[i]!;
    return out;
  }

  /** v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (diffusers get_velocity). */
  velocity(x0: Float32Array, noise: Float32Array, timesteps: number | ArrayLike<number>): Float32Array {
    checkSameLength(x0, noise);
    const a = perSample(x0, timesteps, (t) => Math.sqrt(this.alphaBar(t)));
    const b = perSample(x0, timesteps, (t) => Math.sqrt(1 - this.alphaBar(t)));
    const out = new Float32Array(x0.length);
    for (let i = 0; i < x0.length; i++) out[i] = a(i) * noise[i]! - b(i) * x0[i]!;
    return out;
  }

  /** The regression target for this schedule's prediction_type: the noise, or the velocity. */
  target(x0: Float32Array, noise: Float32Array, timesteps: number | ArrayLike<number>): Float32Array {
    if (this.config.prediction_type === 'v_prediction') return this.velocity(x0, noise, timesteps);
    checkSameLength(x0, noise);
    return noise.slice();
  }

  /** `count` training timesteps drawn uniformly from [0, T). */
  randomTimesteps(count: number, rng: Rng): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = rng.int(this.numTrainTimesteps);
    return out;
  }

  /** diffusers scheduler_config.json fields for this schedule (in the order the files on disk have). */
  toSchedulerConfig(): Record<string, unknown> {
    const c = this.config;
    return {
      num_train_timesteps: c.num_train_timesteps,
      beta_start: c.beta_start,
      beta_end: c.beta_end,
      beta_schedule: c.beta_schedule,
      trained_betas: c.trained_betas ?? null,
      prediction_type: c.prediction_type,
      ...(c.timestep_spacing ? { timestep_spacing: c.timestep_spacing } : {}),
      steps_offset: c.steps_offset,
      set_alpha_to_one: c.set_alpha_to_one,
      clip_sample: c.clip_sample,
      clip_sample_range: c.clip_sample_range,
      final_sigmas_type: c.final_sigmas_type,
      lower_order_final: c.lower_order_final,
    };
  }
}

function checkSameLength(a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`x0 has ${a.length} values but noise has ${b.length}`);
}

/** A NoiseSchedule from a diffusers scheduler_config.json (object or text); see parseSchedulerConfig for what is ignored. */
export function fromSchedulerConfig(json: string | Record<string, unknown>): NoiseSchedule {
  return new NoiseSchedule(parseSchedulerConfig(json).config);
}
