/**
 * The forms of a convolution's weight gradient (GraphOptions.convWeightGrad): 'tap-gemms', the default,
 * one GEMM per kernel tap over the whole batch; 'per-sample', im2col by a one-hot convolution and one
 * GEMM per sample; 'batch-conv', one convolution over the whole batch with the batch axis as channels.
 * Run by onnxruntime on the same values, each must give the loss and the gradients of 'per-sample', to
 * float32 rounding. (The default form and 'per-sample' are also checked against central differences in
 * ops.grad.test.ts: the default there for stride 1, 'per-sample' for stride 2.)
 */
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { rng } from './gradcheck.ts';

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  stride?: number;
  padding?: number;
  /** A second convolution after SiLU, so the first one's input gradient flows through both. */
  chained?: boolean;
}

const CASES: ConvCase[] = [
  { name: '3x3, padding 1, bias, batch 4', x: [4, 5, 8, 8], w: [6, 5, 3, 3], bias: true, padding: 1 },
  { name: '3x3, padding 1, non-square 6x9, chained', x: [3, 4, 6, 9], w: [5, 4, 3, 3], bias: true, padding: 1, chained: true },
  { name: '3x3, no padding (valid)', x: [2, 3, 7, 7], w: [4, 3, 3, 3] },
  { name: '5x5, padding 1 (output smaller than input)', x: [2, 3, 9, 9], w: [2, 3, 5, 5], padding: 1 },
  { name: '5x5, padding 2', x: [3, 2, 6, 6], w: [3, 2, 5, 5], bias: true, padding: 2 },
  { name: '1x1 shortcut', x: [4, 6, 5, 5], w: [3, 6, 1, 1], bias: true },
  { name: '3x3, stride 2, padding 1', x: [2, 3, 8, 8], w: [4, 3, 3, 3], stride: 2, padding: 1 },
  { name: '3x3, stride 2, padding 1, odd 7x9', x: [3, 2, 7, 9], w: [3, 2, 3, 3], bias: true, stride: 2, padding: 1 },
  { name: '3x3, stride 2, no padding, chained', x: [2, 3, 9, 9], w: [4, 3, 3, 3], stride: 2, chained: true },
];

function build(g: G.Graph, c: ConvCase): G.Tensor {
  const x = g.param('x', c.x);
  const w = g.param('w', c.w);
  const b = c.bias ? g.param('b', [c.w[0]]) : undefined;
  let y = G.conv2d(x, w, b, { stride: c.stride ?? 1, padding: c.padding ?? 0 });
  if (c.chained) y = G.conv2d(G.silu(y), g.param('w2', [2, c.w[0], 3, 3]), undefined, { padding: 1 });
  // A loss that weighs every output element differently, so that no gradient entry is trivially shared.
  const r = g.constant(
    Float32Array.from({ length: y.size }, (_, i) => Math.sin(0.37 * i + 0.1)),
    y.shape,
    'float32',
  );
  return G.sumAll(G.mul(y, r));
}

async function lossAndGradients(form: G.ConvWeightGradForm, c: ConvCase, values: Record<string, Float32Array>): Promise<Record<string, Float32Array>> {
  const g = new G.Graph({ convWeightGrad: form });
  const loss = build(g, c);
  const params = g.trainableParams();
  const grads = G.grad(loss, params);
  const outputs: Record<string, G.Tensor> = { loss };
  params.forEach((p, i) => (outputs[`grad:${p.node.name}`] = grads[i]));
  const session = await G.GraphSession.create(G.emitOnnx({ outputs }), { threads: 1 });
  try {
    const out = await session.run(values);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v as Float32Array]));
  } finally {
    await session.release();
  }
}

const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

for (const form of ['tap-gemms', 'tap-gemms-batch-last', 'batch-conv'] as const) {
  describe(`convolution weight gradient: ${form} against per-sample`, () => {
    for (const c of CASES) {
      it(`${c.name}: the same loss and gradients`, async () => {
        const rand = rng(7);
        const shapes: Record<string, number[]> = { x: c.x, w: c.w, ...(c.bias ? { b: [c.w[0]] } : {}), ...(c.chained ? { w2: [2, c.w[0], 3, 3] } : {}) };
        const values = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, rand)]));
        const other = await lossAndGradients(form, c, values);
        const perSample = await lossAndGradients('per-sample', c, values);
        expect(Object.keys(other).sort()).toEqual(Object.keys(perSample).sort());
        expect(Math.abs(other.loss[0] - perSample.loss[0])).toBeLessThanOrEqual(1e-5 * Math.abs(perSample.loss[0]));
        for (const k of Object.keys(perSample).filter((n) => n.startsWith('grad:'))) {
          const [a, b] = [other[k], perSample[k]];
          const diff = norm(a.map((v, i) => v - b[i]));
          expect(norm(b), k).toBeGreaterThan(0);
          // float32 sums taken in another order: relative differences of a few 1e-7.
          expect(diff / norm(b), k).toBeLessThan(2e-6);
          for (let i = 0; i < a.length; i++)
            expect(Math.abs(a[i] - b[i]), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * (Math.abs(b[i]) + norm(b) / Math.sqrt(b.length)));
        }
      });
    }
  });
}

describe('convolution weight gradient: the default form', () => {
  const opsOf = (g: G.Graph) => g.nodes.map((n) => n.op);
  it('forms a stride-1 weight gradient as one GEMM per tap over the whole batch: no im2col convolution, no sum over samples', () => {
    const g = new G.Graph();
    expect(g.convWeightGrad).toBe('tap-gemms');
    const x = g.input('x', [4, 5, 8, 8]);
    const w = g.param('w', [6, 5, 3, 3]);
    const [gw] = G.grad(G.sumAll(G.conv2d(x, w, undefined, { padding: 1 })), [w]);
    expect(gw.shape).toEqual([6, 5, 3, 3]);
    const ops = opsOf(g);
    expect(ops.filter((op) => op === 'Conv')).toHaveLength(1);
    expect(ops.filter((op) => op === 'MatMul')).toHaveLength(9);
    // The loss's own sum only.
    expect(ops.filter((op) => op === 'ReduceSum')).toHaveLength(1);
  });
  it("'tap-gemms-batch-last' lays X and dY out [C, H, W, N] and sums the bias over dY's rows in that layout", () => {
    const g = new G.Graph({ convWeightGrad: 'tap-gemms-batch-last' });
    const w = g.param('w', [6, 5, 3, 3]);
    const b = g.param('b', [6]);
    const [gw, gb] = G.grad(G.sumAll(G.conv2d(g.input('x', [4, 5, 8, 8]), w, b, { padding: 1 })), [w, b]);
    expect([gw.shape, gb.shape]).toEqual([[6, 5, 3, 3], [6]]);
    const transposes = g.nodes.filter((n) => n.op === 'Transpose').map((n) => n.attrs.perm);
    // X and dY batch-last; the input gradient's kernel O<->C.
    expect(transposes).toEqual(expect.arrayContaining([[1, 2, 3, 0]]));
    expect(transposes.filter((p) => String(p) === '1,2,3,0')).toHaveLength(2);
    expect(g.nodes.filter((n) => n.op === 'MatMul' && n.inputs[0].shape.join() === '6,256')).toHaveLength(9);
    // The loss's sum and the bias's sum over contiguous rows; no sum over [N, H, W].
    const sums = g.nodes.filter((n) => n.op === 'ReduceSum').map((n) => String(n.attrs.axes));
    expect(sums.sort()).toEqual(['0,1,2,3', '1']);
  });
  it("'batch-conv' forms a weight gradient, any stride, as one convolution over the batch: no GEMM, no sum over samples", () => {
    for (const stride of [1, 2]) {
      const g = new G.Graph({ convWeightGrad: 'batch-conv' });
      const w = g.param('w', [6, 5, 3, 3]);
      const [gw] = G.grad(G.sumAll(G.conv2d(g.input('x', [4, 5, 8, 8]), w, undefined, { stride, padding: 1 })), [w]);
      expect(gw.shape).toEqual([6, 5, 3, 3]);
      const ops = opsOf(g);
      expect(ops.filter((op) => op === 'Conv')).toHaveLength(2);
      expect(ops.filter((op) => op === 'MatMul')).toHaveLength(0);
      expect(ops.filter((op) => op === 'ReduceSum')).toHaveLength(1);
    }
    // A 1x1 kernel: its one tap is one GEMM.
    const g = new G.Graph({ convWeightGrad: 'batch-conv' });
    const w = g.param('w', [6, 5, 1, 1]);
    G.grad(G.sumAll(G.conv2d(g.input('x', [4, 5, 8, 8]), w)), [w]);
    expect(opsOf(g).filter((op) => op === 'Conv')).toHaveLength(1);
    expect(opsOf(g).filter((op) => op === 'MatMul')).toHaveLength(1);
  });
  it("keeps 'per-sample' when asked, and for strides above 1", () => {
    for (const [form, stride] of [
      ['per-sample', 1],
      ['tap-gemms', 2],
    ] as const) {
      const g = new G.Graph({ convWeightGrad: form });
      const w = g.param('w', [6, 5, 3, 3]);
      G.grad(G.sumAll(G.conv2d(g.input('x', [4, 5, 8, 8]), w, undefined, { stride, padding: 1 })), [w]);
      const ops = opsOf(g);
      expect(ops.filter((op) => op === 'Conv')).toHaveLength(2);
      expect(ops.filter((op) => op === 'MatMul')).toHaveLength(1);
      // The loss's sum and the sum over samples.
      expect(ops.filter((op) => op === 'ReduceSum')).toHaveLength(2);
    }
  });
});
