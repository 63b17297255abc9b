import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import { fromSchedulerConfig, NoiseSchedule, STABLE_DIFFUSION_SCHEDULE } from '../../src/diffusion/schedule.ts';
import { parseSchedulerConfig } from '../../src/diffusion/scheduler-config.ts';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('NoiseSchedule', () => {
  it('alphas_cumprod match diffusers (numpy float64 reference)', () => {
    const lin = new NoiseSchedule();
    expect(rel(lin.alphasCumprod[0]!, 0.9999)).toBeLessThan(1e-12);
    expect(rel(lin.alphasCumprod[499]!, 0.07858724288177824)).toBeLessThan(1e-9);
    expect(rel(lin.alphasCumprod[999]!, 4.035829765375676e-5)).toBeLessThan(1e-9);
    const sd = new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE);
    expect(rel(sd.alphasCumprod[0]!, 0.99915)).toBeLessThan(1e-12);
    expect(rel(sd.alphasCumprod[499]!, 0.27766965045646763)).toBeLessThan(1e-9);
    expect(rel(sd.alphasCumprod[999]!, 0.004660098513077238)).toBeLessThan(1e-9);
    const cos = new NoiseSchedule({ beta_schedule: 'squaredcos_cap_v2' });
    expect(rel(cos.alphasCumprod[0]!, 0.999958715775178)).toBeLessThan(1e-9);
    expect(rel(cos.alphasCumprod[499]!, 0.4938435904406382)).toBeLessThan(1e-9);
    expect(cos.betas[999]).toBe(0.999); // capped
  });

  it('addNoise and velocity per sample in a batch', () => {
    const s = new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE);
    const x0 = Float32Array.from([1, 2, 3, -1, -2, -3]);
    const eps = Float32Array.from([0.5, -0.5, 0.1, 0.2, 0.3, -0.4]);
    const ts = [10, 900];
    const xt = s.addNoise(x0, eps, ts);
    const v = s.velocity(x0, eps, ts);
    for (let i = 0; i < 6; i++) {
      const ab = s.alphaBar(ts[Math.floor(i / 3)]!);
      const a = Math.sqrt(ab);
      const b = Math.sqrt(1 - ab);
      expect(xt[i]).toBeCloseTo(a * x0[i]! + b * eps[i]!, 5);
      expect(v[i]).toBeCloseTo(a * eps[i]! - b * x0[i]!, 5);
      // v-parameterisation identities: x0 = a x_t - b v, eps = a v + b x_t
      expect(a * xt[i]! - b * v[i]!).toBeCloseTo(x0[i]!, 5);
      expect(a * v[i]! + b * xt[i]!).toBeCloseTo(eps[i]!, 5);
    }
    expect(Array.from(s.addNoise(x0, eps, 10))).toEqual(Array.from(s.addNoise(x0, eps, [10, 10])));
    expect(() => s.addNoise(x0, eps, [1, 2, 3, 4])).toThrow(/do not split/);
    expect(() => s.addNoise(x0, eps, [1000, 3])).toThrow(/timestep 1000/);
  });

  it('target follows prediction_type', () => {
    const x0 = Float32Array.from([1, -1]);
    const eps = Float32Array.from([0.3, 0.7]);
    expect(Array.from(new NoiseSchedule().target(x0, eps, 5))).toEqual(Array.from(eps));
    const v = new NoiseSchedule({ prediction_type: 'v_prediction' });
    expect(Array.from(v.target(x0, eps, 5))).toEqual(Array.from(v.velocity(x0, eps, 5)));
  });

  it('sigmaAt interpolates linearly, alphaBarAt agrees with it', () => {
    const s = new NoiseSchedule();
    expect(s.sigmaAt(10)).toBe(s.sigmas[10]);
    expect(s.sigmaAt(10.25)).toBeCloseTo(0.75 * s.sigmas[10]! + 0.25 * s.sigmas[11]!, 12);
    const sig = s.sigmaAt(500.5);
    expect(s.alphaBarAt(500.5)).toBeCloseTo(1 / (1 + sig * sig), 12);
    expect(s.alphaBarAt(500)).toBe(s.alphasCumprod[500]);
  });

  it('randomTimesteps are integers in [0, T)', () => {
    const t = new NoiseSchedule().randomTimesteps(1000, new Rng(1));
    expect(Math.min(...t)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...t)).toBeLessThan(1000);
    expect(new Set(t).size).toBeGreaterThan(400);
  });
});

describe('fromSchedulerConfig', () => {
  // Stable Diffusion v1-5 scheduler/scheduler_config.json
  const sd15 = {
    _class_name: 'PNDMScheduler',
    _diffusers_version: '0.6.0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    num_train_timesteps: 1000,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
    clip_sample: false,
  };

  it('reads diffusers field names; missing ones take diffusers defaults', () => {
    const s = fromSchedulerConfig(JSON.stringify(sd15));
    expect(s.config).toMatchObject(STABLE_DIFFUSION_SCHEDULE);
    expect(s.config.prediction_type).toBe('epsilon');
    expect(s.config.timestep_spacing).toBeUndefined();
    expect(Array.from(s.alphasCumprod)).toEqual(Array.from(new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE).alphasCumprod));
    const v = fromSchedulerConfig({ ...sd15, prediction_type: 'v_prediction', timestep_spacing: 'trailing' });
    expect(v.config.prediction_type).toBe('v_prediction');
    expect(v.config.timestep_spacing).toBe('trailing');
  });

  it('round-trips through toSchedulerConfig', () => {
    const s = new NoiseSchedule({ ...STABLE_DIFFUSION_SCHEDULE, timestep_spacing: 'leading', prediction_type: 'v_prediction' });
    expect(fromSchedulerConfig(s.toSchedulerConfig()).config).toEqual(s.config);
  });

  it('reports ignored options and refuses ones that change the noise levels', () => {
    const p = parseSchedulerConfig({ ...sd15, use_karras_sigmas: true, algorithm_type: 'dpmsolver++', lambda_min_clipped: null });
    expect(p.ignored).toEqual(['use_karras_sigmas=true']);
    expect(() => fromSchedulerConfig({ rescale_betas_zero_snr: true })).toThrow(/rescale_betas_zero_snr/);
    expect(() => fromSchedulerConfig({ prediction_type: 'sample' })).toThrow(/prediction_type/);
    expect(() => fromSchedulerConfig({ beta_schedule: 'sigmoid' })).toThrow(/beta_schedule/);
    expect(() => fromSchedulerConfig({ num_train_timesteps: '1000' })).toThrow(/num_train_timesteps/);
  });
});
