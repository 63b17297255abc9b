/**
 * Structure guidance: a sample's coarse structure held to a reference trajectory's while it is denoised,
 * in the spirit of ILVR (Choi et al. 2021, "conditioning via iterative latent variable refinement"), which
 * replaces the low frequencies of each step's latent with those of a reference image's. Here the
 * reference is another trajectory of the same batch (stylize: the plain reconstruction of the picture),
 * and the low frequencies replaced are those of the predicted clean latent x0:
 *
 *   x0'_s = x0_s + weight * (blur(x0_r) - blur(x0_s))
 *
 * then the model output of the sample is rewritten to the one that predicts x0'_s at its current latent
 * (so the DDIM step stays consistent). Only the blur's low frequencies are pulled: outlines, texture and
 * fine shading (what a style changes most) pass. The blur is Gaussian over the latent's two spatial axes,
 * its width a share of the latent's width (the same share of the picture at any resolution and codec).
 */
import type { NoiseSchedule } from './schedule.ts';

export interface StructureGuidance {
  /** Share of the low frequencies replaced, in [0, 1] (1: the sample's blur is the reference's). */
  weight: number;
  /** The Gaussian's sigma as a share of the latent's width (e.g. 1/16: one latent pixel at width 16). */
  sigma: number;
  /** Share of the run's steps, from its first, during which it acts, in (0, 1]. */
  until: number;
  /**
   * 'low-pass' (default): the reference's blur as it is. 'layout': the reference's blur with, per
   * channel, the sample's own mean and spread (as AdaIN splits content from style): the low-frequency
   * layout is held while each channel's level and contrast (a palette, on the pixel codec) stay free.
   */
  match?: 'low-pass' | 'layout';
}

/** Checks a structure guidance's numbers (a clear error for each). */
export function checkStructureGuidance(g: StructureGuidance): void {
  if (!(g.weight >= 0 && g.weight <= 1)) throw new Error(`structure guidance: weight must be in [0, 1], got ${g.weight}`);
  if (!(g.sigma > 0 && g.sigma <= 1)) throw new Error(`structure guidance: sigma must be in (0, 1], got ${g.sigma}`);
  if (!(g.until > 0 && g.until <= 1)) throw new Error(`structure guidance: until must be in (0, 1], got ${g.until}`);
  if (g.match !== undefined && g.match !== 'low-pass' && g.match !== 'layout')
    throw new Error(`structure guidance: match must be 'low-pass' or 'layout', got ${String(g.match)}`);
}

/** `ref` ([C, H, W]) moved, per channel, to the mean and standard deviation of `like` (AdaIN). */
export function withChannelStats(ref: Float32Array, like: Float32Array, channels: number): Float32Array {
  const plane = ref.length / channels;
  const out = new Float32Array(ref.length);
  const stats = (x: Float32Array, c: number) => {
    let m = 0;
    for (let k = c * plane; k < (c + 1) * plane; k++) m += x[k];
    m /= plane;
    let v = 0;
    for (let k = c * plane; k < (c + 1) * plane; k++) v += (x[k] - m) ** 2;
    return [m, Math.sqrt(v / plane)];
  };
  for (let c = 0; c < channels; c++) {
    const [mr, sr] = stats(ref, c);
    const [ml, sl] = stats(like, c);
    const scale = sr > 1e-6 ? sl / sr : 1;
    for (let k = c * plane; k < (c + 1) * plane; k++) out[k] = (ref[k] - mr) * scale + ml;
  }
  return out;
}

/** A normalised 1-D Gaussian kernel of standard deviation `sigma` (in pixels), radius ceil(3 sigma). */
function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * Gaussian blur of `n` latents [n, C, H, W] over H and W (standard deviation `sigma` pixels; the edges
 * clamped, so a constant stays constant).
 */
export function gaussianBlur(x: Float32Array, shape: readonly [number, number, number], sigma: number): Float32Array {
  const [C, H, W] = shape;
  const plane = H * W;
  if (x.length % (C * plane) !== 0) throw new Error(`gaussianBlur: ${x.length} values are not whole latents of ${C}x${H}x${W}`);
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const tmp = new Float32Array(plane);
  const out = new Float32Array(x.length);
  for (let p = 0; p < x.length; p += plane) {
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r] * x[p + y * W + Math.min(W - 1, Math.max(0, xx + d))];
        tmp[y * W + xx] = s;
      }
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r] * tmp[Math.min(H - 1, Math.max(0, y + d)) * W + xx];
        out[p + y * W + xx] = s;
      }
  }
  return out;
}

/**
 * The pipeline's `adjustOutput` (GenerateRequest) for structure guidance over a run of `runSteps`
 * sampler steps from step `first`: during the first `guidance.until` share of them, each pair's sample
 * is held to its reference (applyStructureGuidance).
 */
export function structureGuidanceOutput(opts: {
  schedule: NoiseSchedule;
  latentShape: readonly [number, number, number];
  pairs: readonly (readonly [sample: number, reference: number])[];
  guidance: StructureGuidance;
  first: number;
  runSteps: number;
}): (x: Float32Array, out: Float32Array, t: number, i: number) => void {
  const { schedule, latentShape, pairs, guidance, first, runSteps } = opts;
  const guidedSteps = Math.ceil(guidance.until * runSteps);
  return (x, out, t, i) => {
    if (i - first < guidedSteps) applyStructureGuidance({ schedule, latentShape, x, out, t, pairs, guidance });
  };
}

/**
 * Applies structure guidance in place to the model outputs `out` of the latents `x` (trajectories side
 * by side, each `latentShape`) at model timestep `t`: each pair [sample, reference] of trajectory indices
 * gets the sample's output rewritten so that its predicted x0 takes the reference's low frequencies.
 */
export function applyStructureGuidance(opts: {
  schedule: NoiseSchedule;
  latentShape: readonly [number, number, number];
  x: Float32Array;
  out: Float32Array;
  t: number;
  pairs: readonly (readonly [sample: number, reference: number])[];
  guidance: StructureGuidance;
}): void {
  const { schedule, latentShape, x, out, t, pairs, guidance } = opts;
  const n = latentShape[0] * latentShape[1] * latentShape[2];
  const abar = schedule.alphaBarAt(t);
  const [a, b] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
  const v = schedule.config.prediction_type === 'v_prediction';
  const x0Of = (j: number) => {
    const x0 = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const [xt, o] = [x[j * n + k], out[j * n + k]];
      x0[k] = v ? a * xt - b * o : (xt - b * o) / a;
    }
    return x0;
  };
  const sigma = guidance.sigma * latentShape[2];
  for (const [s, r] of pairs) {
    const x0s = x0Of(s);
    const blurS = gaussianBlur(x0s, latentShape, sigma);
    const blurRef = gaussianBlur(x0Of(r), latentShape, sigma);
    const blurR = guidance.match === 'layout' ? withChannelStats(blurRef, blurS, latentShape[0]) : blurRef;
    for (let k = 0; k < n; k++) {
      const x0 = x0s[k] + guidance.weight * (blurR[k] - blurS[k]);
      const xt = x[s * n + k];
      // The output that predicts x0 at xt: eps = (xt - a x0) / b; v = (a xt - x0) / b.
      out[s * n + k] = v ? (a * xt - x0) / b : (xt - a * x0) / b;
    }
  }
}
