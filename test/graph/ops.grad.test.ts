/** A finite-difference gradient test for every op of the engine, and two composite blocks. */
import { describe, it, expect } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { gradCheck } from './gradcheck.ts';

const F32 = { dtype: 'float32' as const };
const COMPOSITE = { dtype: 'float32' as const, eps: 3e-2, atol: 5e-4, rtol: 1e-2, vecTol: 5e-4, maxElements: 12 };
const positive = (i: number) => 0.5 + ((i * 37) % 11) / 10;

describe('gradients match central differences (float64 graphs: atol 1e-7, rtol 1e-6)', () => {
  const cases: [string, Parameters<typeof gradCheck>[0], Parameters<typeof gradCheck>[1]?][] = [
    ['matmul 2d', (g, d) => G.matmul(g.param('a', [3, 4], d), g.param('b', [4, 5], d))],
    ['matmul batched x shared weight', (g, d) => G.matmul(g.param('a', [2, 3, 4], d), g.param('b', [4, 5], d))],
    ['matmul broadcast batch', (g, d) => G.matmul(g.param('a', [2, 1, 3, 4], d), g.param('b', [1, 3, 4, 2], d))],
    ['linear (x W^T + b)', (g, d) => G.linear(g.param('x', [2, 3, 4], d), g.param('w', [5, 4], d), g.param('b', [5], d))],
    ['add broadcast', (g, d) => G.add(g.param('a', [2, 3, 4], d), g.param('b', [3, 1], d))],
    ['sub broadcast', (g, d) => G.sub(g.param('a', [4], d), g.param('b', [2, 3, 4], d))],
    ['mul broadcast', (g, d) => G.mul(g.param('a', [2, 1, 4], d), g.param('b', [3, 1], d))],
    ['div broadcast', (g, d) => G.div(g.param('a', [2, 3], d), g.param('b', [3], d)), { init: { b: positive } }],
    ['neg', (g, d) => G.neg(g.param('a', [2, 3], d))],
    ['pow (base and exponent)', (g, d) => G.pow(g.param('a', [2, 3], d), g.param('e', [3], d)), { init: { a: positive } }],
    ['pow by constant', (g, d) => G.pow(g.param('a', [5], d), 3)],
    ['sqrt', (g, d) => G.sqrt(g.param('a', [6], d)), { init: { a: positive } }],
    ['exp', (g, d) => G.exp(g.param('a', [6], d))],
    ['log', (g, d) => G.log(g.param('a', [6], d)), { init: { a: positive } }],
    ['reciprocal', (g, d) => G.reciprocal(g.param('a', [6], d)), { init: { a: positive } }],
    ['sigmoid', (g, d) => G.sigmoid(g.param('a', [6], d))],
    ['silu', (g, d) => G.silu(g.param('a', [6], d))],
    ['tanh', (g, d) => G.tanh(g.param('a', [6], d))],
    ['sin and cos', (g, d) => G.add(G.sin(g.param('a', [6], d)), G.cos(g.param('b', [6], d)))],
    ['relu (away from 0)', (g, d) => G.relu(g.param('a', [6], d)), { init: { a: (i) => (i % 2 ? 1 : -1) * positive(i) } }],
    ['reduceSum keepdims', (g, d) => G.reduceSum(g.param('a', [2, 3, 4], d), [0, 2], true)],
    ['reduceMean', (g, d) => G.reduceMean(g.param('a', [2, 3, 4], d), 1)],
    ['reshape', (g, d) => G.mul(G.reshape(g.param('a', [2, 6], d), [3, -1]), G.reshape(g.param('b', [12], d), [3, 4]))],
    ['transpose', (g, d) => G.matmul(G.transpose(g.param('a', [3, 2, 4], d), [1, 2, 0]), g.param('b', [3, 2], d))],
    ['squeeze / unsqueeze', (g, d) => G.add(G.squeeze(g.param('a', [3, 1], d), 1), G.unsqueeze(g.param('b', [3], d), 0))],
    ['expand', (g, d) => G.mul(G.expand(g.param('a', [3, 1], d), [2, 3, 4]), g.param('b', [2, 3, 4], d))],
    ['concat', (g, d) => G.mul(G.concat([g.param('a', [2, 2], d), g.param('b', [2, 3], d)], 1), g.param('c', [2, 5], d))],
    [
      'slices that meet, in three pieces (their gradients joined by Concat)',
      (g, d) => {
        const a = g.param('a', [2, 7], d);
        return G.mul(G.mul(G.slice(a, [0], [2], [1]), G.slice(a, [4], [6], [1])), G.slice(a, [2], [4], [1]));
      },
    ],
    [
      'slices that meet, not covering the axis, and one overlapping them',
      (g, d) => {
        const a = g.param('a', [3, 6], d);
        return G.add(G.mul(G.slice(a, [1], [3], [1]), G.slice(a, [3], [5], [1])), G.slice(a, [2], [4], [1]));
      },
    ],
    [
      'split (one part unused)',
      (g, d) => {
        const [p, , q] = G.split(g.param('a', [2, 7], d), 1, [2, 3, 2]);
        return G.mul(p, q);
      },
    ],
    ['slice', (g, d) => G.slice(g.param('a', [4, 5], d), [1, 2], [3, 5], [0, 1])],
    ['pad', (g, d) => G.mul(G.pad(g.param('a', [2, 3], d), [1, 0, 0, 2]), g.param('b', [3, 5], d))],
    [
      'gather (embedding, repeated rows)',
      (g, d) => G.gather(g.param('table', [5, 3], d), g.constant(BigInt64Array.from([0n, 3n, 3n, 1n, 4n, 3n]), [2, 3], 'int64')),
    ],
    ['where', (g, d) => G.where(g.constant(Uint8Array.from([1, 0, 1, 1, 0, 0]), [2, 3], 'bool'), g.param('a', [2, 3], d), g.param('b', [3], d))],
    ['softmax', (g, d) => G.softmax(g.param('a', [2, 3, 5], d))],
    ['layerNorm', (g, d) => G.layerNorm(g.param('x', [2, 3, 6], d), g.param('s', [6], d), g.param('b', [6], d))],
    ['groupNorm', (g, d) => G.groupNorm(g.param('x', [2, 4, 3, 3], d), g.param('s', [4], d), g.param('b', [4], d), 2)],
    ['mse', (g, d) => G.mse(g.param('a', [2, 5], d), g.param('b', [2, 5], d))],
    ['logSoftmax (max shift without gradient)', (g, d) => G.logSoftmax(G.mul(g.param('a', [3, 5], d), 4))],
    [
      'softmaxCrossEntropy (soft targets, row weights)',
      (g, d) =>
        G.softmaxCrossEntropy(
          g.param('a', [3, 4], d),
          g.constant(Float64Array.from([0.7, 0.1, 0.1, 0.1, 0, 1, 0, 0, 0.25, 0.25, 0.25, 0.25]), [3, 4], d),
          g.param('w', [3], d),
        ),
    ],
  ];
  for (const [name, build, opts] of cases) {
    it(name, async () => {
      const r = await gradCheck(build, opts);
      expect(r.checked).toBeGreaterThan(0);
    });
  }
  it('cast float64 -> float32 -> float64 (float32 tolerance)', async () => {
    await gradCheck((g, d) => G.cast(G.mul(G.cast(g.param('a', [5], d), 'float32'), 1), 'float64'), { atol: 1e-5, rtol: 1e-4, vecTol: 1e-4, eps: 1e-3 });
  });
});

describe('gradients of float32-only kernels (float32 graphs, 4th-order differences: atol 2e-4, rtol 2e-3, vector 1e-3)', () => {
  it('erf', () => gradCheck((g, d) => G.erf(g.param('a', [8], d)), { ...F32, eps: 3e-3 }));
  it('gelu (erf form)', () => gradCheck((g, d) => G.gelu(g.param('a', [8], d)), { ...F32, eps: 3e-3 }));
  it('gelu (tanh form)', () => gradCheck((g, d) => G.gelu(g.param('a', [8], d), 'tanh'), { ...F32, eps: 3e-3 }));
  it('geglu', () => gradCheck((g, d) => G.geglu(g.param('a', [2, 8], d)), { ...F32, eps: 3e-3 }));
  it('conv2d 3x3, stride 1, padding 1, bias', () =>
    gradCheck((g, d) => G.conv2d(g.param('x', [2, 3, 5, 5], d), g.param('w', [4, 3, 3, 3], d), g.param('b', [4], d), { padding: 1 }), F32));
  it('conv2d 3x3, stride 2, padding 1 (even input)', () =>
    gradCheck((g, d) => G.conv2d(g.param('x', [1, 2, 6, 6], d), g.param('w', [3, 2, 3, 3], d), undefined, { stride: 2, padding: 1 }), F32));
  it('conv2d 3x3, stride 2, padding 0 (odd input)', () =>
    gradCheck((g, d) => G.conv2d(g.param('x', [1, 2, 7, 7], d), g.param('w', [2, 2, 3, 3], d), undefined, { stride: 2 }), F32));
  it('conv2d 1x1 shortcut', () => gradCheck((g, d) => G.conv2d(g.param('x', [2, 3, 4, 4], d), g.param('w', [5, 3, 1, 1], d), g.param('b', [5], d)), F32));
  it('nearest 2x upsample', () => gradCheck((g, d) => G.upsampleNearest2x(g.param('x', [1, 2, 3, 3], d)), F32));
  it('2x2 average pool', () => gradCheck((g, d) => G.avgPool2x(g.param('x', [1, 2, 4, 4], d)), F32));
});

/** diffusers-style attention: q from x, k/v from context, heads split, softmax(q k^T / sqrt(d)) v, out projection. */
function attention(g: G.Graph, d: G.DType, prefix: string, x: G.Tensor, ctx: G.Tensor, heads: number): G.Tensor {
  const [b, n, c] = x.shape;
  const dc = ctx.shape[2];
  const p = (name: string, shape: number[]) => g.param(`${prefix}.${name}`, shape, d);
  const split = (t: G.Tensor, len: number) => G.transpose(G.reshape(t, [b, len, heads, c / heads]), [0, 2, 1, 3]);
  const q = split(G.linear(x, p('to_q.weight', [c, c])), n);
  const k = split(G.linear(ctx, p('to_k.weight', [c, dc])), ctx.shape[1]);
  const v = split(G.linear(ctx, p('to_v.weight', [c, dc])), ctx.shape[1]);
  const att = G.softmax(G.mul(G.matmul(q, G.transposeLast2(k)), 1 / Math.sqrt(c / heads)));
  const o = G.reshape(G.transpose(G.matmul(att, v), [0, 2, 1, 3]), [b, n, c]);
  return G.linear(o, p('to_out.0.weight', [c, c]), p('to_out.0.bias', [c]));
}

describe('composite blocks (float32 graphs, 4th-order differences with step 3e-2: atol 5e-4, rtol 1e-2, vector 2e-3)', () => {
  it('transformer block: self-attention, cross-attention, GEGLU feed-forward, layer norms', async () => {
    const r = await gradCheck(
      (g, d) => {
        const c = 8;
        const x = g.param('x', [2, 4, c], d);
        const ctx = g.param('context', [2, 3, 6], d);
        const ln = (name: string, t: G.Tensor) => G.layerNorm(t, g.param(`${name}.weight`, [c], d), g.param(`${name}.bias`, [c], d));
        let h = G.add(x, attention(g, d, 'attn1', ln('norm1', x), ln('norm1', x), 2));
        h = G.add(h, attention(g, d, 'attn2', ln('norm2', h), ctx, 2));
        const ff = G.geglu(G.linear(ln('norm3', h), g.param('ff.proj.weight', [4 * c, c], d), g.param('ff.proj.bias', [4 * c], d)));
        return G.add(h, G.linear(ff, g.param('ff.out.weight', [c, 2 * c], d)));
      },
      { ...COMPOSITE, init: { 'norm1.weight': () => 1, 'norm2.weight': () => 1, 'norm3.weight': () => 1 } },
    );
    expect(r.checked).toBeGreaterThan(100);
  });

  it('conv residual block: group norm, SiLU, conv, time embedding, nearest upsample, 1x1 shortcut', async () => {
    const r = await gradCheck((g, d) => {
      const x = G.upsampleNearest2x(g.param('x', [2, 4, 3, 3], d));
      const temb = g.param('temb', [2, 5], d);
      let h = G.silu(G.groupNorm(x, g.param('norm1.weight', [4], d), g.param('norm1.bias', [4], d), 2));
      h = G.conv2d(h, g.param('conv1.weight', [6, 4, 3, 3], d), g.param('conv1.bias', [6], d), { padding: 1 });
      const t = G.linear(G.silu(temb), g.param('time_emb_proj.weight', [6, 5], d), g.param('time_emb_proj.bias', [6], d));
      h = G.add(h, G.reshape(t, [2, 6, 1, 1]));
      h = G.silu(G.groupNorm(h, g.param('norm2.weight', [6], d), g.param('norm2.bias', [6], d), 3));
      h = G.conv2d(h, g.param('conv2.weight', [6, 6, 3, 3], d), g.param('conv2.bias', [6], d), { padding: 1 });
      return G.add(G.conv2d(x, g.param('conv_shortcut.weight', [6, 4, 1, 1], d)), h);
    }, COMPOSITE);
    expect(r.checked).toBeGreaterThan(100);
  });
});

describe('reduceMax and logSoftmax', () => {
  it('reduceMax picks row maxima; logSoftmax stays finite for huge logits; a gradient through a bare max is refused', async () => {
    const g = new G.Graph();
    const a = g.param('a', [2, 3]);
    const m = G.reduceMax(a, -1);
    const ls = G.logSoftmax(a);
    const s = await G.GraphSession.create(G.emitOnnx({ outputs: { m, ls } }));
    const out = await s.run({ a: Float32Array.from([1, 5, 2, 1000, 999, -1000]) });
    expect(Array.from(out.m as Float32Array)).toEqual([5, 1000]);
    const ls1 = Array.from((out.ls as Float32Array).subarray(3));
    expect(ls1.every(Number.isFinite)).toBe(true);
    expect(ls1[0]).toBeCloseTo(-Math.log(1 + Math.exp(-1)), 5);
    expect(() => G.grad(G.sumAll(G.reduceMax(a, -1)), [a])).toThrow(/ReduceMax has no backward rule/);
  });
});

describe('stopGradient', () => {
  it('passes values and blocks gradients', async () => {
    const g = new G.Graph();
    const a = g.param('a', [3]);
    const b = g.param('b', [3]);
    const y = G.sumAll(G.mul(G.mul(a, G.stopGradient(b)), b));
    const [ga, gb] = G.grad(y, [a, b]);
    const s = await G.GraphSession.create(G.emitOnnx({ outputs: { y, ga, gb } }));
    const out = await s.run({ a: Float32Array.from([1, 2, 3]), b: Float32Array.from([4, 5, 6]) });
    expect(Array.from(out.y as Float32Array)).toEqual([1 * 16 + 2 * 25 + 3 * 36]);
    expect(Array.from(out.ga as Float32Array)).toEqual([16, 25, 36]);
    // d/db of a*sg(b)*b counts only the second factor: a*b.
    expect(Array.from(out.gb as Float32Array)).toEqual([4, 10, 18]);
  });
});

describe('the backward graph', () => {
  const opsOf = (outputs: Record<string, G.Tensor>) => {
    const counts = new Map<string, number>();
    for (const n of G.ancestors(Object.values(outputs))) counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
    return counts;
  };

  it("joins the gradients of GEGLU's two halves with one Concat (no Pad, no Add)", () => {
    const g = new G.Graph();
    const loss = G.sumAll(G.geglu(g.param('a', [2, 8])));
    const ops = opsOf({ grad: G.grad(loss, g.trainableParams())[0] });
    expect([ops.get('Concat'), ops.get('Pad'), ops.get('Add')]).toEqual([1, undefined, 2]); // both Adds are gelu's own backward
  });

  it('of group norm uses the statistics of its forward pass (one Standardize node, no reduction but the backward formula)', () => {
    const g = new G.Graph();
    const loss = G.sumAll(G.mul(G.groupNorm(g.param('x', [2, 4, 3, 3]), g.param('s', [4]), g.param('b', [4]), 2), g.param('w', [2, 4, 3, 3])));
    const ops = opsOf({ loss, ...Object.fromEntries(G.grad(loss, g.trainableParams()).map((t, i) => [`g${i}`, t])) });
    expect(ops.get('Standardize')).toBe(1);
    expect([ops.get('ReduceMean'), ops.get('Sqrt'), ops.get('GroupNorm')]).toEqual([2, undefined, undefined]);
  });
});
