/**
 * Reads a diffusers scheduler_config.json (DDPM, DDIM, PNDM, Euler, DPM-Solver++ all share the
 * field names) into a ScheduleConfig, which keeps those names: each field is checked, none renamed.
 * Missing fields are left out, so diffusers' constructor defaults apply. `fromSchedulerConfig` in
 * schedule.ts builds the NoiseSchedule.
 */
import type { ScheduleConfig } from './schedule.ts';

export interface ParsedSchedulerConfig {
  config: Partial<ScheduleConfig>;
  /** Options present in the file that this code does not implement and therefore ignores ("use_karras_sigmas=true"). */
  ignored: string[];
}

/** Sampler-shaping options we do not implement: ignored (and reported) when they differ from these values. */
const IGNORED_UNLESS: Record<string, unknown> = {
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  use_lu_lambdas: false,
  thresholding: false,
  interpolation_type: 'linear',
  timestep_type: 'discrete',
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  solver_order: 2,
  euler_at_final: false,
  lambda_min_clipped: null, // -inf serialises as null or "-Infinity"
};

/** Options that change the trained noise levels themselves: refusing is safer than ignoring. */
const REFUSED_IF_TRUE = ['rescale_betas_zero_snr', 'use_flow_sigmas', 'use_dynamic_shifting'];

function field<T>(json: Record<string, unknown>, key: string, kind: 'number' | 'string' | 'boolean'): T | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== kind) throw new Error(`scheduler config: "${key}" should be a ${kind}, got ${JSON.stringify(v)}`);
  return v as T;
}

function oneOf<T extends string>(key: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`scheduler config: "${key}" is "${v}"; supported: ${allowed.join(', ')}`);
  return v as T;
}

/** Validates a scheduler_config.json object (or its text) and keeps the ScheduleConfig fields it sets. */
export function parseSchedulerConfig(json: string | Record<string, unknown>): ParsedSchedulerConfig {
  const j = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('scheduler config: expected a JSON object');
  const o = j as Record<string, unknown>;
  for (const key of REFUSED_IF_TRUE) {
    if (o[key] === true) throw new Error(`scheduler config: "${key}": true is not supported by this code`);
  }
  const ignored: string[] = [];
  for (const [key, def] of Object.entries(IGNORED_UNLESS)) {
    const v = o[key];
    if (v === undefined || v === def || (key === 'lambda_min_clipped' && (v === null || v === '-Infinity' || v === -Infinity))) continue;
    ignored.push(`${key}=${JSON.stringify(v)}`);
  }
  const trained = o.trained_betas;
  if (trained !== undefined && trained !== null && !(Array.isArray(trained) && trained.every((b) => typeof b === 'number'))) {
    throw new Error('scheduler config: "trained_betas" should be a list of numbers or null');
  }
  const c: Partial<ScheduleConfig> = {
    num_train_timesteps: field(o, 'num_train_timesteps', 'number'),
    beta_start: field(o, 'beta_start', 'number'),
    beta_end: field(o, 'beta_end', 'number'),
    beta_schedule: oneOf('beta_schedule', field(o, 'beta_schedule', 'string'), ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const),
    trained_betas: Array.isArray(trained) ? (trained as number[]) : undefined,
    prediction_type: oneOf('prediction_type', field(o, 'prediction_type', 'string'), ['epsilon', 'v_prediction'] as const),
    timestep_spacing: oneOf('timestep_spacing', field(o, 'timestep_spacing', 'string'), ['leading', 'trailing', 'linspace'] as const),
    steps_offset: field(o, 'steps_offset', 'number'),
    set_alpha_to_one: field(o, 'set_alpha_to_one', 'boolean'),
    clip_sample: field(o, 'clip_sample', 'boolean'),
    clip_sample_range: field(o, 'clip_sample_range', 'number'),
    final_sigmas_type: oneOf('final_sigmas_type', field(o, 'final_sigmas_type', 'string'), ['zero', 'sigma_min'] as const),
    lower_order_final: field(o, 'lower_order_final', 'boolean'),
  };
  for (const k of Object.keys(c) as (keyof ScheduleConfig)[]) if (c[k] === undefined) delete c[k];
  return { config: c, ignored };
}
