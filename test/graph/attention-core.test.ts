/** The fused attention core: same values and gradients as MatMul-Softmax-MatMul, probabilities recomputed, less memory kept. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { gradCheck } from './gradcheck.ts';
import { runGraph } from '../models/run-graph.ts';

const unfused = (q: G.Tensor, kt: G.Tensor, v: G.Tensor, mask?: G.Tensor) => {
  const s = G.matmul(q, kt);
  return G.matmul(G.softmax(mask ? G.add(s, mask) : s), v);
};

describe('attentionCore', () => {
  it('gradients match central differences (float64), with and without a mask, v of another width', async () => {
    await gradCheck((g, d) => G.attentionCore(g.param('q', [2, 3, 5, 4], d), g.param('kt', [2, 3, 4, 6], d), g.param('v', [2, 3, 6, 3], d)));
    await gradCheck((g, d) =>
      G.attentionCore(
        g.param('q', [1, 2, 4, 4], d),
        g.param('kt', [1, 2, 4, 4], d),
        g.param('v', [1, 2, 4, 4], d),
        g.constant(
          Float64Array.from({ length: 16 }, (_, i) => (i % 4 > i >> 2 ? -1e9 : 0)),
          [4, 4],
          d,
        ),
      ),
    );
  });

  it('gives the unfused values and gradients, keeps no [N, M] tensor from forward to backward', async () => {
    const build = (fused: boolean) => {
      const g = new G.Graph();
      const [q, kt, v] = [g.param('q', [2, 4, 64, 8]), g.param('kt', [2, 4, 8, 64]), g.param('v', [2, 4, 64, 8])];
      // Three layers in a row: kept, all three layers' probabilities wait for the backward pass.
      let out = q;
      for (let i = 0; i < 3; i++) out = fused ? G.attentionCore(out, kt, v) : unfused(out, kt, v);
      const loss = G.sumAll(G.mul(out, out));
      return { g, loss, grads: G.grad(loss, [q, kt, v]) };
    };
    const [a, b] = [build(true), build(false)];
    const values = await Promise.all([a, b].map(({ g, loss, grads }) => runGraph(g, { loss, dq: grads[0], dk: grads[1], dv: grads[2] }, {})));
    for (const k of ['loss', 'dq', 'dk', 'dv']) {
      const [x, y] = [values[0][k] as Float32Array, values[1][k] as Float32Array];
      expect(x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]) / (1 + Math.abs(y[i]))), 0)).toBeLessThan(1e-5);
    }
    // Kept: each layer's probabilities [2, 4, 64, 64] (128 KiB) live into the backward pass; fused: only
    // the layer being differentiated holds its recomputed ones.
    const probs = 2 * 4 * 64 * 64 * 4;
    const [fused, kept] = [G.planMemory([a.loss, ...a.grads]), G.planMemory([b.loss, ...b.grads])];
    expect(kept.attentionAtPeak).toBe(3 * probs);
    expect(fused.attentionAtPeak).toBe(probs);
    expect(fused.peakActivationBytes).toBeLessThan(kept.peakActivationBytes - probs);
    expect(G.countFlops([a.loss])).toBe(G.countFlops([b.loss]));
  });

  it('is written as MatMul, (Add,) Softmax, MatMul', () => {
    const g = new G.Graph({ paramMode: () => 'frozen' });
    const out = G.attentionCore(g.input('q', [1, 4, 2]), g.input('kt', [1, 2, 4]), g.input('v', [1, 4, 2]), g.input('mask', [4, 4]));
    expect(G.emitOnnx({ outputs: { out } }).nodeCount).toBe(4); // the last MatMul writes the output itself
  });

  it("survives onnxruntime's optimisers: the optimised training graph still computes q kT again in the backward pass", async () => {
    const layers = 3;
    const g = new G.Graph();
    let h = g.input('x', [1, 2, 16, 8]);
    for (let i = 0; i < layers; i++) h = G.add(h, G.attentionCore(G.mul(h, g.param(`w${i}`, [8])), G.transposeLast2(h), h));
    const loss = G.sumAll(G.mul(h, h));
    const outputs = Object.fromEntries([['loss', loss], ...G.grad(loss, g.trainableParams()).map((t, i) => [`g${i}`, t])]);
    const dir = mkdtempSync(join(tmpdir(), 'pairstyle-attn-opt-'));
    // Matrix products (MatMul, or FusedMatMul with a transpose folded in) after onnxruntime's optimisers.
    const products = async (level: 'disabled' | 'basic' | 'all') => {
      const path = join(dir, `${level}.onnx`);
      const session = await ort.InferenceSession.create(G.emitOnnx({ outputs }).bytes, { graphOptimizationLevel: level, optimizedModelFilePath: path });
      await session.release();
      return onnxProto.onnx.ModelProto.decode(readFileSync(path)).graph!.node!.filter((n) => n.opType === 'MatMul' || n.opType === 'FusedMatMul').length;
    };
    try {
      // Common-subexpression elimination runs from 'basic' on; GraphSession uses 'all'. Merged into the
      // forward's, the recomputed scores would keep the forward's [N, M] scores alive until the backward.
      const plain = await products('disabled');
      // Forward q kT and p v; backward q kT again, dp and dq, and dkT and dv except in the first layer (x has no gradient).
      expect(plain).toBe(2 * layers + 3 * layers + 2 * (layers - 1));
      for (const level of ['basic', 'all'] as const) expect(await products(level), `matrix products after '${level}' optimisation`).toBe(plain);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
