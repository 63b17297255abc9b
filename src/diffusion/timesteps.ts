/**
 * Inference timestep spacing, rule for rule as diffusers' set_timesteps does it
 * (numpy rounding is round-half-to-even; numpy arange/linspace arithmetic is mirrored).
 *
 * Defaults when the config has no timestep_spacing: DDIM 'leading', Euler and DPM++ 'linspace'.
 */
import { linspace, type ScheduleConfig, type TimestepSpacing } from './schedule.ts';

type SpacingConfig = Pick<ScheduleConfig, 'num_train_timesteps' | 'steps_offset' | 'timestep_spacing'>;

/** numpy's round: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy arange(start, stop, step) for float steps: length ceil((stop-start)/step), values start + i*delta. */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length: n }, (_, i) => start + i * delta);
}

function checkSteps(steps: number, T: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`steps must be an integer in [1, ${T}], got ${steps}`);
}

function unknownSpacing(s: never): never {
  throw new Error(`timestep_spacing "${String(s)}" is not supported; use leading, trailing or linspace`);
}

/** DDIMScheduler.set_timesteps: integers, descending. */
export function ddimTimesteps(steps: number, c: SpacingConfig): number[] {
  checkSteps(steps, c.num_train_timesteps);
  return spaced(steps, c, c.timestep_spacing ?? 'leading', roundHalfEven);
}

/** EulerDiscreteScheduler.set_timesteps: float32 values, fractional for 'linspace'. */
export function eulerTimesteps(steps: number, c: SpacingConfig): number[] {
  checkSteps(steps, c.num_train_timesteps);
  return spaced(steps, c, c.timestep_spacing ?? 'linspace', Math.fround);
}

/** The leading / trailing / linspace rules DDIM and Euler share; they differ in how linspace rounds. */
function spaced(steps: number, c: SpacingConfig, spacing: TimestepSpacing, roundLinspace: (x: number) => number): number[] {
  const T = c.num_train_timesteps;
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, steps)
        .map(roundLinspace)
        .reverse();
    case 'leading': {
      const ratio = Math.floor(T / steps);
      return Array.from({ length: steps }, (_, k) => (steps - 1 - k) * ratio + c.steps_offset);
    }
    case 'trailing':
      return arange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
    default:
      return unknownSpacing(spacing);
  }
}

/** DPMSolverMultistepScheduler.set_timesteps (lambda_min_clipped = -inf): integers, n+1 points with the last dropped. */
export function dpmTimesteps(steps: number, c: SpacingConfig): number[] {
  const T = c.num_train_timesteps;
  checkSteps(steps, T);
  const spacing: TimestepSpacing = c.timestep_spacing ?? 'linspace';
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, steps + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, steps);
    case 'leading': {
      const ratio = Math.floor(T / (steps + 1));
      return Array.from({ length: steps }, (_, k) => (steps - k) * ratio + c.steps_offset);
    }
    case 'trailing':
      return arange(T, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
    default:
      return unknownSpacing(spacing);
  }
}
