import { describe, expect, it } from 'vitest';
import { add, cast, Graph, mul, planMemory, reshape } from '../../src/graph/index.ts';

describe('planMemory', () => {
  it('keeps each intermediate alive from its node to its last consumer; reshapes alias their input', () => {
    const g = new Graph();
    const x = g.input('x', [1000]);
    const y1 = mul(x, 2); // 4,000 bytes, read again by y3
    const y2 = add(reshape(y1, [10, 100]), 1); // the reshape is y1's buffer
    const y3 = mul(y2, reshape(y1, [10, 100]));
    const plan = planMemory([y3]);
    expect(plan.inputBytes).toBe(4000);
    expect(plan.peakActivationBytes).toBe(12000); // y1, y2 and y3 at once
    expect(plan.peakAt).toBe('Mul -> [10,100]');
  });

  it('frees what is no longer read: a chain holds two buffers at a time; float16 halves them', () => {
    for (const [dtype, bytes] of [
      ['float32', 4],
      ['float16', 2],
    ] as const) {
      const g = new Graph();
      let h = cast(g.input('x', [256]), dtype); // 256 x bytes
      for (let i = 0; i < 10; i++) h = add(h, 1);
      const plan = planMemory([h]);
      expect(plan.peakActivationBytes).toBe(2 * 256 * bytes);
    }
  });

  it('counts parameters as weights at their dtype, apart from activations', () => {
    const g = new Graph();
    const w = cast(g.param('w', [64]), 'float16');
    const plan = planMemory([mul(w, cast(g.input('x', [64]), 'float16'))]);
    expect(plan.weightBytes).toBe(256);
    expect(plan.inputBytes).toBe(256);
  });
});
