import { describe, expect, it } from 'vitest';
import { randn } from '../../src/graph/rng.ts';
import { createStepper, EulerStepper, sample, SAMPLERS, type Denoiser, type SamplerName } from '../../src/diffusion/samplers.ts';
import { NoiseSchedule, STABLE_DIFFUSION_SCHEDULE, type ScheduleConfig } from '../../src/diffusion/schedule.ts';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/**
 * The exact denoiser for data x0 ~ N(mu, s^2) per dimension (s = 0: a point mass at mu):
 * E[x0 | x_t] = mu + a s^2 / (a^2 s^2 + b^2) (x_t - a mu), eps = (x_t - a E[x0|x_t]) / b, v = a eps - b x0.
 */
function gaussianDenoiser(schedule: NoiseSchedule, mu: Float32Array, s: number): Denoiser {
  const v = schedule.config.prediction_type === 'v_prediction';
  return async (x, t) => {
    const ab = schedule.alphaBarAt(t);
    const a = Math.sqrt(ab);
    const b = Math.sqrt(1 - ab);
    const gain = (a * s * s) / (a * a * s * s + b * b);
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const m = mu[k % mu.length]!;
      const x0 = m + gain * (x[k]! - a * m);
      const eps = (x[k]! - a * x0) / b;
      out[k] = v ? a * eps - b * x0 : eps;
    }
    return out;
  };
}

/**
 * Where the probability-flow ODE exactly takes the sampler's initial noise z. In EDM space
 * y = x / sqrt(abar), sigma = sqrt((1 - abar) / abar), the flow for Gaussian data is
 * y(sigma) - mu = (y0 - mu) sqrt(s^2 + sigma^2) / sqrt(s^2 + sigma0^2).
 */
function exactEndpoint(sampler: SamplerName, schedule: NoiseSchedule, steps: number, z: Float32Array, mu: Float32Array, s: number): Float32Array {
  const st = createStepper(sampler, schedule, steps);
  const sigma0 = schedule.sigmaAt(st.timesteps[0]!);
  // Euler starts in EDM space (x = z * initNoiseSigma); DDIM and DPM++ in VP space (y = x / sqrt(abar)).
  const y0 = sampler === 'euler' ? z.map((v) => v * st.initNoiseSigma) : z.map((v) => v * Math.sqrt(1 + sigma0 * sigma0));
  // DDIM with set_alpha_to_one false ends at abar[0], not at 0 noise, and returns VP x there.
  const ddimStopsEarly = sampler === 'ddim' && !schedule.config.set_alpha_to_one;
  const sigmaEnd = ddimStopsEarly ? schedule.sigmas[0]! : 0;
  const aEnd = ddimStopsEarly ? Math.sqrt(schedule.alphasCumprod[0]!) : 1;
  const r = Math.sqrt(s * s + sigmaEnd * sigmaEnd) / Math.sqrt(s * s + sigma0 * sigma0);
  return y0.map((y, k) => aEnd * (mu[k % mu.length]! + (y - mu[k % mu.length]!) * r));
}

const D = 32;
const mu = Float32Array.from({ length: D }, (_, k) => 0.8 * Math.sin(k + 1));
const z = randn(D, 11);

const configs: [string, Partial<ScheduleConfig>][] = [
  ['linear eps', { clip_sample: false }],
  ['SD eps', STABLE_DIFFUSION_SCHEDULE],
  ['SD v_prediction', { ...STABLE_DIFFUSION_SCHEDULE, prediction_type: 'v_prediction' }],
  ['cosine v_prediction', { beta_schedule: 'squaredcos_cap_v2', prediction_type: 'v_prediction', clip_sample: false }],
  ['SD trailing', { ...STABLE_DIFFUSION_SCHEDULE, timestep_spacing: 'trailing' }],
];

describe('samplers with an analytic denoiser', () => {
  for (const [name, cfg] of configs) {
    const schedule = new NoiseSchedule(cfg);
    for (const sampler of SAMPLERS) {
      it(`${sampler}, ${name}: a point mass at x* is recovered in 20 steps`, async () => {
        const x = await sample({ sampler, steps: 20, schedule, noise: z, denoise: gaussianDenoiser(schedule, mu, 0) });
        // Exact up to float32 rounding: x0 is predicted exactly at every step.
        expect(maxAbsDiff(x, exactEndpoint(sampler, schedule, 20, z, mu, 0))).toBeLessThan(1e-5);
        if (sampler === 'ddim' && !schedule.config.set_alpha_to_one) {
          // diffusers' DDIM stops at abar[0]: sqrt(1 - abar[0]) = 0.029 of the (unit) noise remains in SD.
          expect(maxAbsDiff(x, mu)).toBeLessThan(0.1);
        } else {
          expect(maxAbsDiff(x, mu)).toBeLessThan(1e-5);
        }
      });
    }
  }

  // Gaussian data N(mu, 0.5^2): the samplers discretise the ODE, so the error shrinks with steps.
  // Measured max errors (linear schedule) at 10/20/50 steps: DDIM .39/.21/.086, Euler .43/.22/.088,
  // DPM++(2M) .30/.072/.0007; with SD's schedule DPM++ is first-order limited (.05 at 50) by its
  // final first-order step from t=20 (sigma 0.14) to 0, exactly as diffusers does it.
  const tolerance50: Record<SamplerName, number> = { ddim: 0.12, euler: 0.12, dpmpp2m: 0.003 };
  for (const predictionType of ['epsilon', 'v_prediction'] as const) {
    const schedule = new NoiseSchedule({ clip_sample: false, prediction_type: predictionType });
    for (const sampler of SAMPLERS) {
      it(`${sampler}, ${predictionType}: Gaussian data lands on the exact ODE solution, converging with steps`, async () => {
        const denoise = gaussianDenoiser(schedule, mu, 0.5);
        const err: number[] = [];
        for (const steps of [10, 20, 50]) {
          const x = await sample({ sampler, steps, schedule, noise: z, denoise });
          err.push(maxAbsDiff(x, exactEndpoint(sampler, schedule, steps, z, mu, 0.5)));
        }
        expect(err[1]!).toBeLessThan(err[0]!);
        expect(err[2]!).toBeLessThan(err[1]!);
        expect(err[2]!).toBeLessThan(tolerance50[sampler]);
      });
    }
  }

  it('DDIM with many steps converges to the ODE solution (first order)', async () => {
    const schedule = new NoiseSchedule({ clip_sample: false });
    const x = await sample({ sampler: 'ddim', steps: 500, schedule, noise: z, denoise: gaussianDenoiser(schedule, mu, 0.5) });
    expect(maxAbsDiff(x, exactEndpoint('ddim', schedule, 500, z, mu, 0.5))).toBeLessThan(0.015);
  });
});

describe('samplers match diffusers full-loop reference values', () => {
  // diffusers tests/schedulers: model(x, t) = x * t / (t + 1) on dummy_sample_deter (the values k/768,
  // k < 768; the loops are elementwise, so order does not matter), 10 steps, |x| summed.
  const N = 768;
  const deter = Float32Array.from({ length: N }, (_, k) => k / N);
  const dummy: Denoiser = async (x, t) => x.map((v) => (v * t) / (t + 1));
  const absSum = (x: Float32Array) => x.reduce((s, v) => s + Math.abs(v), 0);
  const run = (sampler: SamplerName, cfg: Partial<ScheduleConfig>) =>
    sample({ sampler, steps: 10, schedule: new NoiseSchedule(cfg), noise: deter, denoise: dummy }).then(absSum);

  it('DDIM (test_scheduler_ddim.py)', async () => {
    expect(Math.abs((await run('ddim', {})) - 172.0067)).toBeLessThan(1e-2);
    expect(Math.abs((await run('ddim', { prediction_type: 'v_prediction' })) - 52.5302)).toBeLessThan(1e-2);
    expect(Math.abs((await run('ddim', { set_alpha_to_one: true, beta_start: 0.01 })) - 149.8295)).toBeLessThan(1e-2);
    expect(Math.abs((await run('ddim', { set_alpha_to_one: false, beta_start: 0.01 })) - 149.0784)).toBeLessThan(1e-2);
  });

  it('DPM-Solver++(2M) (test_scheduler_dpm_multi.py: final sigma_min, lower_order_final false)', async () => {
    const cfg: Partial<ScheduleConfig> = { final_sigmas_type: 'sigma_min', lower_order_final: false };
    expect(Math.abs((await run('dpmpp2m', cfg)) / N - 0.3301)).toBeLessThan(1e-3);
    expect(Math.abs((await run('dpmpp2m', { ...cfg, prediction_type: 'v_prediction' })) / N - 0.2251)).toBeLessThan(1e-3);
  });

  it('Euler (test_scheduler_euler.py, whose loop feeds the scaled sample back into step)', () => {
    for (const [predictionType, expected] of [
      ['epsilon', 10.0807],
      ['v_prediction', 0.0002],
    ] as const) {
      const st = new EulerStepper(new NoiseSchedule({ num_train_timesteps: 1100, prediction_type: predictionType }), 10);
      let x: Float32Array = deter.map((v) => v * st.initNoiseSigma);
      st.timesteps.forEach((t, i) => {
        x = st.scaleModelInput(x, i);
        x = st.step(
          x.map((v) => (v * t) / (t + 1)),
          i,
          x,
        );
      });
      expect(Math.abs(absSum(x) - expected)).toBeLessThan(1e-2);
    }
  });
});

describe('sample()', () => {
  const schedule = new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE);
  const denoise = gaussianDenoiser(schedule, mu, 0.5);

  it('calls the denoiser with the model timesteps and reports every step', async () => {
    const seen: [number, number][] = [];
    const progress: number[] = [];
    await sample({
      sampler: 'euler',
      steps: 8,
      schedule,
      noise: z,
      denoise: (x, t, i) => (seen.push([t, i]), denoise(x, t, i)),
      onStep: (i, total) => void progress.push(i / total),
    });
    const st = createStepper('euler', schedule, 8);
    expect(seen).toEqual(st.timesteps.map((t, i) => [t, i]));
    expect(progress).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => i / 8));
  });

  it('the same seed gives the same sample; eta > 0 adds seeded noise', async () => {
    const a = await sample({ sampler: 'dpmpp2m', steps: 6, schedule, size: D, seed: 5, denoise });
    const b = await sample({ sampler: 'dpmpp2m', steps: 6, schedule, size: D, seed: 5, denoise });
    const c = await sample({ sampler: 'dpmpp2m', steps: 6, schedule, size: D, seed: 6, denoise });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0.01);
    expect(Array.from(a)).toEqual(Array.from(await sample({ sampler: 'dpmpp2m', steps: 6, schedule, noise: randn(D, 5), denoise })));
    const e1 = await sample({ sampler: 'ddim', steps: 6, schedule, size: D, seed: 5, eta: 1, denoise });
    const e1again = await sample({ sampler: 'ddim', steps: 6, schedule, size: D, seed: 5, eta: 1, denoise });
    const e0 = await sample({ sampler: 'ddim', steps: 6, schedule, size: D, seed: 5, denoise });
    expect(Array.from(e1)).toEqual(Array.from(e1again));
    expect(maxAbsDiff(e1, e0)).toBeGreaterThan(0.01);
  });

  it('cancels between model calls', async () => {
    const ac = new AbortController();
    let calls = 0;
    const run = sample({
      sampler: 'ddim',
      steps: 20,
      schedule,
      noise: z,
      signal: ac.signal,
      denoise: (x, t, i) => (++calls, denoise(x, t, i)),
      onStep: (i) => (i === 2 ? ac.abort() : undefined),
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(3);

    let called = false;
    const pre = AbortSignal.abort(new Error('user cancelled'));
    await expect(
      sample({ sampler: 'euler', steps: 5, schedule, noise: z, signal: pre, denoise: (x, t, i) => ((called = true), denoise(x, t, i)) }),
    ).rejects.toThrow('user cancelled');
    expect(called).toBe(false);
  });

  it('explains bad input', async () => {
    await expect(sample({ sampler: 'euler', steps: 5, schedule, denoise })).rejects.toThrow(/noise.*size/);
    await expect(sample({ sampler: 'euler', steps: 5, schedule, noise: z, denoise: async () => new Float32Array(3) })).rejects.toThrow(/returned 3 values/);
    await expect(sample({ sampler: 'heun' as SamplerName, steps: 5, schedule, noise: z, denoise })).rejects.toThrow(/unknown sampler/);
  });
});
