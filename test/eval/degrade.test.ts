import { describe, expect, it } from 'vitest';
import { withPixelNoise } from '../../src/eval/degrade.ts';
import { Rng } from '../../src/graph/rng.ts';

describe('withPixelNoise', () => {
  const grey = new Float32Array(20_000).fill(0);

  it('adds Gaussian noise of the given standard deviation, the same for the same seed', () => {
    const a = withPixelNoise(grey, 0.2, new Rng(3));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(sd).toBeGreaterThan(0.19);
    expect(sd).toBeLessThan(0.21);
    expect(withPixelNoise(grey, 0.2, new Rng(3))).toEqual(a);
    expect(withPixelNoise(grey, 0.2, new Rng(4))).not.toEqual(a);
    expect(grey.every((v) => v === 0)).toBe(true);
  });

  it('stays in [-1, 1], and sigma 0 copies', () => {
    const white = new Float32Array(1000).fill(1);
    const w = withPixelNoise(white, 0.5, new Rng(1));
    expect(Math.max(...w)).toBe(1);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-1);
    expect(w.some((v) => v < 1)).toBe(true);
    const img = Float32Array.from({ length: 12 }, (_, i) => i / 12 - 0.5);
    const copy = withPixelNoise(img, 0, new Rng(1));
    expect(copy).toEqual(img);
    expect(copy).not.toBe(img);
    for (const bad of [-0.1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => withPixelNoise(img, bad, new Rng(1))).toThrow(/sigma must be/);
  });
});
