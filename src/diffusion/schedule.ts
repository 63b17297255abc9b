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

export interface ScheduleConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  /** Explicit betas (length numTrainTimesteps); overrides betaStart/betaEnd/betaSchedule. */
  trainedBetas?: number[];
  predictionType: PredictionType;
  /** Undefined: each sampler uses its diffusers class default (DDIM 'leading', Euler and DPM++ 'linspace'). */
  timestepSpacing?: TimestepSpacing;
  stepsOffset: number;
  /** DDIM: the step after the last uses abar = 1 (true) or abar[0] (false). */
  setAlphaToOne: boolean;
  /** DDIM: clamp the predicted x0 to [-clipSampleRange, clipSampleRange]. */
  clipSample: boolean;
  clipSampleRange: number;
  /** Euler, DPM++: the noise level after the last step, 0 or sigma(t=0). */
  finalSigmasType: 'zero' | 'sigma_min';
  /** DPM++(2M): first-order final step when fewer than 15 steps. */
  lowerOrderFinal: boolean;
}

/** diffusers' constructor defaults (DDPMScheduler / DDIMScheduler). */
export const DIFFUSERS_DEFAULTS: Readonly<ScheduleConfig> = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  predictionType: 'epsilon',
  stepsOffset: 0,
  setAlphaToOne: true,
  clipSample: true,
  clipSampleRange: 1,
  finalSigmasType: 'zero',
  lowerOrderFinal: true,
});

/** Stable Diffusion 1.x / 2.x-base / XL, as in their scheduler_config.json. */
export const STABLE_DIFFUSION_SCHEDULE: Partial<ScheduleConfig> = Object.freeze({
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  stepsOffset: 1,
  setAlphaToOne: false,
  clipSample: false,
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
  const n = c.numTrainTimesteps;
  if (c.trainedBetas) {
    if (c.trainedBetas.length !== n) throw new Error(`trained_betas has ${c.trainedBetas.length} values; num_train_timesteps is ${n}`);
    return c.trainedBetas.slice();
  }
  switch (c.betaSchedule) {
    case 'linear':
      return linspace(c.betaStart, c.betaEnd, n);
    case 'scaled_linear':
      return linspace(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), n).map((b) => b * b);
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new Error(`beta_schedule "${String(c.betaSchedule)}" is not supported; use linear, scaled_linear or squaredcos_cap_v2`);
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
    if (!Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 2)
      throw new Error(`num_train_timesteps must be an integer >= 2, got ${c.numTrainTimesteps}`);
    if (c.predictionType !== 'epsilon' && c.predictionType !== 'v_prediction') {
      throw new Error(`prediction_type "${String(c.predictionType)}" is not supported; use epsilon or v_prediction`);
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
    return this.config.numTrainTimesteps;
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
    if (this.config.predictionType === 'v_prediction') return this.velocity(x0, noise, timesteps);
    checkSameLength(x0, noise);
    return noise.slice();
  }

  /** `count` training timesteps drawn uniformly from [0, T). */
  randomTimesteps(count: number, rng: Rng): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = rng.int(this.numTrainTimesteps);
    return out;
  }

  /** diffusers scheduler_config.json fields for this schedule. */
  toSchedulerConfig(): Record<string, unknown> {
    const c = this.config;
    return {
      num_train_timesteps: c.numTrainTimesteps,
      beta_start: c.betaStart,
      beta_end: c.betaEnd,
      beta_schedule: c.betaSchedule,
      trained_betas: c.trainedBetas ?? null,
      prediction_type: c.predictionType,
      ...(c.timestepSpacing ? { timestep_spacing: c.timestepSpacing } : {}),
      steps_offset: c.stepsOffset,
      set_alpha_to_one: c.setAlphaToOne,
      clip_sample: c.clipSample,
      clip_sample_range: c.clipSampleRange,
      final_sigmas_type: c.finalSigmasType,
      lower_order_final: c.lowerOrderFinal,
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
