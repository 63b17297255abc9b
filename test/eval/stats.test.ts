import { describe, expect, it } from 'vitest';
import { bootstrap, meanInterval, separated, wilson } from '../../src/eval/stats.ts';

describe('intervals', () => {
  it('wilson matches the textbook value and stays inside [0, 1]', () => {
    const w = wilson(124, 200);
    expect(w.value).toBeCloseTo(0.62, 6);
    expect(w.low).toBeCloseTo(0.551, 3);
    expect(w.high).toBeCloseTo(0.6843, 3);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(10, 10).high).toBeCloseTo(1, 12);
  });
  it('meanInterval uses t quantiles', () => {
    const m = meanInterval([1, 2, 3, 4, 5]);
    expect(m.value).toBe(3);
    // sd = 1.5811, se = 0.7071, t(4) = 2.776
    expect(m.high - m.value).toBeCloseTo(2.776 * 0.70711, 3);
    expect(Number.isNaN(meanInterval([1]).low)).toBe(true);
  });
  it('bootstrap covers the mean of a sample and is deterministic for a seed', () => {
    const xs = Array.from({ length: 40 }, (_, i) => (i % 7) / 7);
    const b = bootstrap(xs, (s) => s.reduce((a, v) => a + v, 0) / s.length, { seed: 1 });
    const t = meanInterval(xs);
    expect(b.low).toBeLessThan(b.value);
    expect(b.high).toBeGreaterThan(b.value);
    expect(Math.abs(b.low - t.low)).toBeLessThan(0.03);
    expect(bootstrap(xs, (s) => s[0]!, { seed: 1 })).toEqual(bootstrap(xs, (s) => s[0]!, { seed: 1 }));
    expect(separated({ value: 1, low: 0.9, high: 1.1 }, { value: 0, low: -0.1, high: 0.1 })).toBe(true);
    expect(separated({ value: 1, low: 0, high: 1.1 }, { value: 0, low: -0.1, high: 0.1 })).toBe(false);
  });
});
