/**
 * Structure guidance (src/diffusion/structure-guidance.ts): the Gaussian blur it uses, and the rewrite
 * of a sample's model output so that its predicted x0 takes the reference's low frequencies, for eps and
 * v prediction.
 */
import { describe, expect, it } from 'vitest';
import { randn } from '../../src/graph/rng.ts';
import { applyStructureGuidance, checkStructureGuidance, gaussianBlur, withChannelStats } from '../../src/diffusion/structure-guidance.ts';
import { NoiseSchedule, STABLE_DIFFUSION_SCHEDULE } from '../../src/diffusion/schedule.ts';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const shape = [2, 8, 8] as const;
const n = 2 * 8 * 8;

describe('gaussianBlur', () => {
  it('keeps a constant, spreads a point over its neighbours with weights summing to 1, and leaves each plane to itself', () => {
    const c = new Float32Array(2 * n).fill(0.7);
    expect(maxAbsDiff(gaussianBlur(c, shape, 1.5), c)).toBeLessThan(1e-6);
    const point = new Float32Array(n);
    point[3 * 8 + 4] = 1; // channel 0, row 3, column 4
    const b = gaussianBlur(point, shape, 1);
    const sum0 = b.subarray(0, 64).reduce((s, v) => s + v, 0);
    expect(sum0).toBeCloseTo(1, 5);
    expect(b[3 * 8 + 4]).toBeLessThan(0.5);
    expect(b[3 * 8 + 5]).toBeGreaterThan(0.05);
    expect(b[3 * 8 + 5]).toBeCloseTo(b[3 * 8 + 3], 6);
    expect(b[4 * 8 + 4]).toBeCloseTo(b[3 * 8 + 5], 6);
    expect(maxAbsDiff(b.subarray(64), new Float32Array(64))).toBe(0);
  });

  it('refuses values that are not whole latents', () => {
    expect(() => gaussianBlur(new Float32Array(n + 1), shape, 1)).toThrow(/whole latents/);
  });
});

describe('applyStructureGuidance', () => {
  for (const prediction of ['epsilon', 'v_prediction'] as const) {
    it(`${prediction}: the sample's predicted x0 takes weight x (blur(reference x0) - blur(its x0)); the reference is untouched`, () => {
      const schedule = new NoiseSchedule({ ...STABLE_DIFFUSION_SCHEDULE, prediction_type: prediction });
      const t = 501;
      const abar = schedule.alphaBarAt(t);
      const [a, b] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
      const x = randn(2 * n, 1);
      const out = randn(2 * n, 2);
      const x0Of = (o: Float32Array, j: number) =>
        Float32Array.from({ length: n }, (_, k) =>
          prediction === 'v_prediction' ? a * x[j * n + k] - b * o[j * n + k] : (x[j * n + k] - b * o[j * n + k]) / a,
        );
      const before = out.slice();
      const guidance = { weight: 0.6, sigma: 1 / 8, until: 1 };
      applyStructureGuidance({ schedule, latentShape: shape, x, out, t, pairs: [[0, 1]], guidance });
      const sigma = guidance.sigma * shape[2];
      const blurR = gaussianBlur(x0Of(before, 1), shape, sigma);
      const x0s = x0Of(before, 0);
      const blurS = gaussianBlur(x0s, shape, sigma);
      const expected = x0s.map((v, k) => v + 0.6 * (blurR[k] - blurS[k]));
      expect(maxAbsDiff(x0Of(out, 0), expected)).toBeLessThan(1e-4);
      expect(maxAbsDiff(x0Of(out, 0), x0s)).toBeGreaterThan(0.05);
      expect(maxAbsDiff(out.subarray(n), before.subarray(n))).toBe(0);
    });
  }

  it('weight 0, or a sample equal to its reference, leaves the output as it was', () => {
    const schedule = new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE);
    const x = randn(2 * n, 3);
    const out = randn(2 * n, 4);
    const before = out.slice();
    applyStructureGuidance({ schedule, latentShape: shape, x, out, t: 300, pairs: [[0, 1]], guidance: { weight: 0, sigma: 0.25, until: 1 } });
    expect(maxAbsDiff(out, before)).toBeLessThan(1e-5);
    const same = new Float32Array(2 * n);
    same.set(x.subarray(0, n), 0);
    same.set(x.subarray(0, n), n);
    const outSame = new Float32Array(2 * n);
    outSame.set(before.subarray(0, n), 0);
    outSame.set(before.subarray(0, n), n);
    const copy = outSame.slice();
    applyStructureGuidance({ schedule, latentShape: shape, x: same, out: outSame, t: 300, pairs: [[0, 1]], guidance: { weight: 1, sigma: 0.25, until: 1 } });
    expect(maxAbsDiff(outSame, copy)).toBeLessThan(1e-5);
  });

  it("match 'layout' leaves each channel's level and contrast to the sample: a reference that differs only by them changes nothing", () => {
    const schedule = new NoiseSchedule(STABLE_DIFFUSION_SCHEDULE);
    const t = 400;
    const abar = schedule.alphaBarAt(t);
    const [a, b] = [Math.sqrt(abar), Math.sqrt(1 - abar)];
    // The sample's x0 and the reference's: per channel c, x0_r = (1 + c) x0_s + 0.3 - c (the same layout, other levels and contrast).
    const x0s = randn(n, 5);
    const x0r = x0s.map((v, k) => (1 + Math.floor(k / 64)) * v + 0.3 - Math.floor(k / 64));
    const eps = randn(2 * n, 6);
    const x = new Float32Array(2 * n);
    for (let k = 0; k < n; k++) {
      x[k] = a * x0s[k] + b * eps[k];
      x[n + k] = a * x0r[k] + b * eps[n + k];
    }
    const run = (match: 'low-pass' | 'layout') => {
      const out = eps.slice();
      applyStructureGuidance({ schedule, latentShape: shape, x, out, t, pairs: [[0, 1]], guidance: { weight: 1, sigma: 1 / 4, until: 1, match } });
      return out;
    };
    expect(maxAbsDiff(run('layout'), eps)).toBeLessThan(1e-3);
    expect(maxAbsDiff(run('low-pass'), eps)).toBeGreaterThan(0.1);
    // withChannelStats itself: the reference's pattern at the other's mean and spread, per channel.
    const moved = withChannelStats(x0r, x0s, 2);
    expect(maxAbsDiff(moved, x0s)).toBeLessThan(1e-4);
  });

  it('checkStructureGuidance refuses numbers out of range with a clear message', () => {
    expect(() => checkStructureGuidance({ weight: 1.5, sigma: 0.1, until: 1 })).toThrow(/weight must be in \[0, 1\]/);
    expect(() => checkStructureGuidance({ weight: 1, sigma: 0, until: 1 })).toThrow(/sigma must be in \(0, 1\]/);
    expect(() => checkStructureGuidance({ weight: 1, sigma: 0.1, until: 0 })).toThrow(/until must be in \(0, 1\]/);
    expect(() => checkStructureGuidance({ weight: Number.NaN, sigma: 0.1, until: 1 })).toThrow(/weight/);
    expect(() => checkStructureGuidance({ weight: 1, sigma: 0.1, until: 1, match: 'edges' as 'layout' })).toThrow(/match must be/);
  });
});
