import { describe, expect, it } from 'vitest';
import { EMA } from '../../src/train/ema.ts';

describe('EMA', () => {
  it('averages with a fixed decay', () => {
    const w = new Float32Array([0, 10]);
    const ema = new EMA({ w }, 0.9);
    expect(Array.from(ema.shadow.w!)).toEqual([0, 10]); // starts as a copy
    w.set([1, 0]);
    ema.update();
    let ref = [0.9 * 0 + 0.1 * 1, 0.9 * 10 + 0.1 * 0];
    expect(Array.from(ema.shadow.w!)).toEqual(ref.map(Math.fround));
    w.set([2, 2]);
    ema.update();
    ref = ref.map((s) => 0.9 * Math.fround(s) + 0.1 * 2);
    expect(Array.from(ema.shadow.w!)).toEqual(ref.map(Math.fround));
    expect(ema.updates).toBe(2);
    expect(w[0]).toBe(2); // parameters untouched
  });

  it('warm-up uses min(decay, (1+n)/(10+n))', () => {
    const w = new Float32Array([0]);
    const ema = new EMA([{ name: 'w', data: w }], 0.5, { warmup: true });
    const decays: number[] = [];
    let ref = 0;
    for (let n = 0; n < 12; n++) {
      const d = ema.currentDecay();
      decays.push(d);
      w[0] = n + 1;
      ema.update();
      ref = Math.fround(d * ref + (1 - d) * (n + 1));
    }
    expect(decays[0]).toBeCloseTo(0.1, 15);
    expect(decays[1]).toBeCloseTo(2 / 11, 15);
    expect(decays.slice(8)).toEqual([0.5, 0.5, 0.5, 0.5]); // (1+n)/(10+n) >= 0.5 from n = 8
    expect(ema.shadow.w![0]).toBeCloseTo(ref, 5);
  });

  it('copyTo writes the average into targets; state round-trips', () => {
    const w = new Float32Array([1, 2, 3]);
    const ema = new EMA({ w }, 0.5);
    w.fill(3);
    ema.update(); // [2, 2.5, 3]
    const target = new Float32Array(3);
    ema.copyTo({ w: target });
    expect(Array.from(target)).toEqual([2, 2.5, 3]);
    expect(() => ema.copyTo({ x: target })).toThrow(/no averaged weights for "x"/);
    expect(() => ema.copyTo([{ name: 'w', data: new Float32Array(2) }])).toThrow(/"w" has 2 elements/);

    const saved = ema.state();
    const other = new EMA({ w: new Float32Array(3) }, 0.5);
    other.loadState({ updates: saved.updates, shadow: { w: saved.shadow.w!.slice() } });
    expect(other.updates).toBe(1);
    expect(Array.from(other.shadow.w!)).toEqual([2, 2.5, 3]);
    expect(() => other.loadState({ updates: 0, shadow: {} })).toThrow(/missing averaged weights for "w"/);
    expect(() => new EMA({ w }, 1.5)).toThrow(/decay/);
  });
});
