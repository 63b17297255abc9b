import { describe, expect, it } from 'vitest';
import { add, cast, Graph, mul, planMemory, reshape, sigmoid } from '../../src/graph/index.ts';
import { measurePeak } from '../../scripts/lib/measure-memory.ts';
import { buildCase } from '../../scripts/lib/memory-cases.ts';

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

  it('hands a freed buffer to the next output of its shape, and keeps it allocated until then', () => {
    const g = new Graph();
    const x = g.input('x', [1000]);
    const a = mul(x, 2); // buffer A, 4,000 bytes; free once b is made
    const b = add(a, 1); // buffer B; free once c is made
    const c = cast(b, 'float16'); // another shape (2-byte elements): a new buffer C, 2,000 bytes
    const e = cast(c, 'float32'); // takes B, the most recently freed float32 [1000]
    const f = add(e, 1); // takes A, which was held since a died
    const plan = planMemory([cast(f, 'float16')]); // a graph output: a buffer of its own
    // While c is made, A (held for f), B and C are allocated; a plan that gave A back when a died
    // would say 6,000 there and 8,000 at its peak.
    expect(plan.peakActivationBytes).toBe(10000);
    expect(plan.peakAt).toBe('Cast -> [1000]');
  });

  it('runs activations in place over an input that nothing else reads', () => {
    const g = new Graph();
    const h = mul(g.input('x', [1000]), 3); // 4,000 bytes
    const plan = planMemory([cast(sigmoid(h), 'float16')]); // the sigmoid writes over h; the output is 2,000
    expect(plan.peakActivationBytes).toBe(6000); // not h + sigmoid(h) = 8,000
  });

  it('agrees with the memory onnxruntime allocates when its arena is off (measured in a fresh process)', async () => {
    // Three outer products of 64 MiB, run one after the other; onnxruntime keeps the first one's
    // buffer for the third (same shape), so two are allocated while the second runs. A plan that
    // freed each buffer after its last reader would say one.
    const c = { kind: 'buffer-reuse', n: 4096 } as const;
    const product = 4096 * 4096 * 4;
    const plan = planMemory(Object.values(buildCase(c).outputs)).peakActivationBytes;
    const measured = (await measurePeak(c, 1, 1, { arena: false })).peakBytes;
    expect(measured).toBeGreaterThan(1.8 * product);
    expect(Math.abs(plan - measured) / measured).toBeLessThan(0.1);
  }, 240_000);
});
