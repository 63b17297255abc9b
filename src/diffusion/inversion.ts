/**
 * Deterministic DDIM inversion: a clean latent x0 run "backwards" through the DDIM schedule to the
 * latent at a given step, so that DDIM (eta 0) sampling from there, with the same model output,
 * returns to about x0. It is DDIM's update with the roles of the two noise levels swapped: at step i
 * the model is asked at the step's timestep t_i with the latent of the lower level t_i - T/N (the
 * usual approximation, as diffusers' DDIMInverseScheduler does), and the latent moves up to t_i.
 *
 * `refine` fixed-point iterations per step then ask the model again at the new latent and redo the
 * update with that output, solving "the DDIM step from x_t lands on x_low" for x_t more exactly (the
 * iterative inversion of the Pair Customization code and of exact-inversion methods); each costs one
 * more model call per step.
 *
 * Like the samplers it never calls a model: `denoise(x, t, i)` returns the model output (eps or v, per
 * the schedule's prediction type) for the latent x at model timestep t.
 */
import type { Denoiser } from './samplers.ts';
import type { NoiseSchedule } from './schedule.ts';
import { ddimTimesteps } from './timesteps.ts';

export interface InvertOptions {
  schedule: NoiseSchedule;
  /** The DDIM sampler's step count (its timesteps are the ones inverted). */
  steps: number;
  /** Invert up to this step index of the DDIM schedule: 0 reaches its first (noisiest) timestep; steps - 1 only its last. */
  toStep: number;
  /** The clean latent (several latents side by side are fine: the update is element-wise). */
  x0: Float32Array;
  denoise: Denoiser;
  /** Fixed-point iterations per step (default 0: plain DDIM inversion). */
  refine?: number;
  signal?: AbortSignal;
  /** After each inversion step: `done` of `total` steps. */
  onStep?: (done: number, total: number) => void | Promise<void>;
}

/** The latent at the DDIM schedule's step `toStep` (its model timestep is ddimTimesteps(steps)[toStep]). */
export async function ddimInvert(opts: InvertOptions): Promise<Float32Array> {
  const { schedule: s, steps, toStep } = opts;
  const c = s.config;
  const timesteps = ddimTimesteps(steps, c);
  if (!Number.isInteger(toStep) || toStep < 0 || toStep >= steps) throw new Error(`ddimInvert: toStep must be an integer in [0, ${steps - 1}], got ${toStep}`);
  const stride = Math.floor(c.num_train_timesteps / steps);
  const v = c.prediction_type === 'v_prediction';
  const r = c.clip_sample_range;
  let x = opts.x0.slice();
  const total = steps - toStep;
  for (let i = steps - 1; i >= toStep; i--) {
    opts.signal?.throwIfAborted();
    const t = timesteps[i]!;
    const lower = t - stride;
    const aLow = lower >= 0 ? s.alphaBar(lower) : c.set_alpha_to_one ? 1 : s.alphaBar(0);
    const aHigh = s.alphaBar(t);
    const [at, bt] = [Math.sqrt(aHigh), Math.sqrt(1 - aHigh)];
    const [aL, bL] = [Math.sqrt(aLow), Math.sqrt(1 - aLow)];
    // The model is asked at t, first with the lower latent x, then (refine) with the estimate of x_t.
    let at_t = x;
    for (let it = 0; it <= (opts.refine ?? 0); it++) {
      const out = await opts.denoise(at_t, t, i);
      if (out.length !== x.length) throw new Error(`denoiser returned ${out.length} values for an input of ${x.length}`);
      opts.signal?.throwIfAborted();
      const next = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) {
        // The model's eps estimate for its input read as a latent at t (v-prediction: eps = a_t v + b_t input).
        const eps = v ? at * out[k]! + bt * at_t[k]! : out[k]!;
        let x0 = (x[k]! - bL * eps) / aL;
        if (c.clip_sample) x0 = Math.min(r, Math.max(-r, x0));
        next[k] = at * x0 + bt * eps;
      }
      at_t = next;
    }
    x = at_t;
    await opts.onStep?.(steps - i, total);
  }
  return x;
}
