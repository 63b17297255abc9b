import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import { rmse, ssim } from '../../src/eval/ssim.ts';

const picture = (seed: number, s = 16) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: 3 * s * s }, (_, i) => Math.sin(i / 7) * 0.6 + (rng.uniform() - 0.5) * 0.2);
};

describe('ssim', () => {
  it('is 1 for identical pictures, symmetric, and falls with noise', () => {
    const a = picture(1);
    expect(ssim(a, a, 16)).toBeCloseTo(1, 10);
    const rng = new Rng(9);
    const slightly = a.map((v) => v + (rng.uniform() - 0.5) * 0.1);
    const very = a.map((v) => v + (rng.uniform() - 0.5) * 1.5);
    const s1 = ssim(a, slightly, 16);
    const s2 = ssim(a, very, 16);
    expect(s1).toBeLessThan(1);
    expect(s2).toBeLessThan(s1);
    expect(ssim(slightly, a, 16)).toBeCloseTo(s1, 12);
    expect(ssim(a, picture(2), 16)).toBeLessThan(s1);
  });

  it('rejects mismatched or too small pictures', () => {
    expect(() => ssim(picture(1), picture(1, 8), 16)).toThrow(/differ in size/);
    expect(() => ssim(picture(1, 4), picture(1, 4), 4)).toThrow(/smaller than the 7x7 window/);
  });

  it('rmse', () => {
    expect(rmse(Float32Array.from([0, 0]), Float32Array.from([3, 4]))).toBeCloseTo(Math.sqrt(12.5), 10);
  });
});
