import { describe, expect, it } from 'vitest';
import { ddimTimesteps, dpmTimesteps, eulerTimesteps, roundHalfEven } from '../../src/diffusion/timesteps.ts';

const T = 1000;
const range = (start: number, step: number, n: number) => Array.from({ length: n }, (_, k) => start + k * step);

// Expected values follow diffusers' set_timesteps (checked against numpy for the rounding cases).
describe('timestep spacing (diffusers rules)', () => {
  it('numpy rounding: halves to even', () => {
    expect([0.5, 1.5, 2.5, 166.5, 832.5, 937.5, -3.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 166, 832, 938, -4, 2, 3]);
  });

  it('DDIM leading (its default) with steps_offset 1', () => {
    expect(ddimTimesteps(50, { num_train_timesteps: T, steps_offset: 1 })).toEqual(range(981, -20, 50)); // 981, 961, ..., 1
    expect(ddimTimesteps(5, { num_train_timesteps: T, steps_offset: 1 })).toEqual([801, 601, 401, 201, 1]); // diffusers test
    expect(ddimTimesteps(10, { num_train_timesteps: T, steps_offset: 0 })).toEqual(range(900, -100, 10));
  });

  it('DDIM trailing and linspace', () => {
    expect(ddimTimesteps(10, { num_train_timesteps: T, steps_offset: 1, timestep_spacing: 'trailing' })).toEqual(range(999, -100, 10));
    expect(ddimTimesteps(16, { num_train_timesteps: T, steps_offset: 0, timestep_spacing: 'trailing' })).toEqual([
      999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61,
    ]);
    expect(ddimTimesteps(7, { num_train_timesteps: T, steps_offset: 0, timestep_spacing: 'linspace' })).toEqual([999, 832, 666, 500, 333, 166, 0]);
  });

  it('Euler linspace (its default) is fractional float32; leading adds the offset', () => {
    expect(eulerTimesteps(10, { num_train_timesteps: T, steps_offset: 1 })).toEqual(range(999, -111, 10));
    expect(eulerTimesteps(25, { num_train_timesteps: T, steps_offset: 1 }).slice(0, 4)).toEqual([999, 957.375, 915.75, 874.125]);
    // SDXL: leading, steps_offset 1
    expect(eulerTimesteps(30, { num_train_timesteps: T, steps_offset: 1, timestep_spacing: 'leading' })).toEqual(range(958, -33, 30));
  });

  it('DPM-Solver++ linspace (its default) and leading use steps + 1 points', () => {
    expect(dpmTimesteps(20, { num_train_timesteps: T, steps_offset: 1 })).toEqual([
      999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50,
    ]);
    expect(dpmTimesteps(20, { num_train_timesteps: T, steps_offset: 1, timestep_spacing: 'leading' })).toEqual(range(941, -47, 20));
    expect(dpmTimesteps(4, { num_train_timesteps: T, steps_offset: 0, timestep_spacing: 'trailing' })).toEqual([999, 749, 499, 249]);
  });

  it('rejects step counts out of range', () => {
    expect(() => ddimTimesteps(0, { num_train_timesteps: T, steps_offset: 0 })).toThrow(/steps must be/);
    expect(() => eulerTimesteps(1001, { num_train_timesteps: T, steps_offset: 0 })).toThrow(/steps must be/);
  });
});
