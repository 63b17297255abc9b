import { describe, expect, it } from 'vitest';
import { Rng, randn } from '../../src/graph/rng.ts';

describe('Rng / randn', () => {
  it('the same seed gives the same numbers, another seed different ones', () => {
    expect(Array.from(randn(64, 42))).toEqual(Array.from(randn(64, 42)));
    expect(Array.from(randn(64, 42))).not.toEqual(Array.from(randn(64, 43)));
    expect(Array.from(randn(64, 2 ** 40))).not.toEqual(Array.from(randn(64, 0))); // high bits count
    expect(Array.from(randn(10, 5))).toEqual(Array.from(randn(20, 5).subarray(0, 10))); // a prefix
  });

  it('is pinned: a seed keeps its stream across releases', () => {
    const r = new Rng(1);
    const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    // Regenerate only if the generator is changed on purpose: every seeded image changes with it.
    expect(first).toEqual(PINNED_SEED_1);
  });

  it('has rough N(0, 1) moments', () => {
    const x = randn(20000, 7);
    let m = 0;
    for (const v of x) m += v;
    m /= x.length;
    let v2 = 0;
    let v3 = 0;
    let v4 = 0;
    let within1 = 0;
    for (const v of x) {
      const d = v - m;
      v2 += d * d;
      v3 += d * d * d;
      v4 += d * d * d * d;
      if (Math.abs(v) < 1) within1++;
    }
    v2 /= x.length;
    expect(Math.abs(m)).toBeLessThan(0.03); // se 0.007
    expect(Math.abs(v2 - 1)).toBeLessThan(0.05); // se 0.01
    expect(Math.abs(v3 / x.length)).toBeLessThan(0.1); // skew 0
    expect(Math.abs(v4 / x.length / (v2 * v2) - 3)).toBeLessThan(0.2); // kurtosis 3
    expect(within1 / x.length).toBeCloseTo(0.6827, 1);
  });

  it('uniform and int stay in range and cover it', () => {
    const r = new Rng(3);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 5000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      counts[r.int(10)]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(400);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new Rng(1.5)).toThrow(/safe integer/);
  });
});

const PINNED_SEED_1 = [3992455551, 1823939436, 3225243468];
