/** Tiled attention: the plain form's values and gradients, block by block, never the whole score matrix. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { measurePeak } from '../../scripts/lib/measure-memory.ts';
import { gradCheck } from './gradcheck.ts';
import { runGraph } from '../models/run-graph.ts';

const plain = (q: G.Tensor, kt: G.Tensor, v: G.Tensor, mask?: G.Tensor) => {
  const s = G.matmul(q, kt);
  return G.matmul(G.softmax(mask ? G.add(s, mask) : s), v);
};
/** 7 query rows, 9 keys: even, uneven (3 + 3 + 1, 4 + 4 + 1), single-row and whole-axis blocks. */
const TILINGS: G.AttentionTiling[] = [
  { queryBlock: 3, keyBlock: 4 },
  { queryBlock: 7, keyBlock: 2 },
  { queryBlock: 2, keyBlock: 9 },
  { queryBlock: 1, keyBlock: 5 },
];
const causal = (n: number, m: number) => Float64Array.from({ length: n * m }, (_, i) => (i % m > Math.floor(i / m) + 1 ? -1e9 : 0));

describe('tiledAttention', () => {
  it('gradients match central differences (float64) for even and uneven blocks, with a mask, with broadcast batch', async () => {
    for (const tiling of TILINGS) {
      await gradCheck((g, d) =>
        G.tiledAttention(g.param('q', [2, 3, 7, 4], d), g.param('kt', [2, 3, 4, 9], d), g.param('v', [2, 3, 9, 3], d), undefined, tiling),
      );
      await gradCheck((g, d) =>
        G.tiledAttention(
          g.param('q', [1, 2, 7, 4], d),
          g.param('kt', [1, 2, 4, 9], d),
          g.param('v', [1, 2, 9, 4], d),
          g.constant(causal(7, 9), [7, 9], d),
          tiling,
        ),
      );
    }
    // q shared over the batch of k and v (unbroadcast in the backward rule).
    await gradCheck((g, d) =>
      G.tiledAttention(g.param('q', [1, 2, 7, 4], d), g.param('kt', [3, 2, 4, 9], d), g.param('v', [3, 2, 9, 2], d), undefined, TILINGS[0]),
    );
  });

  it('gives the plain form values and gradients through three layers (float32), for every tiling', async () => {
    const build = (tiling?: G.AttentionTiling) => {
      const g = new G.Graph();
      const [q, kt, v] = [g.param('q', [2, 4, 7, 8]), g.param('kt', [2, 4, 8, 9]), g.param('v', [2, 4, 9, 8])];
      const mask = g.constant(Float32Array.from(causal(7, 9)), [7, 9], 'float32');
      let out = q;
      for (let i = 0; i < 3; i++) out = tiling ? G.tiledAttention(out, kt, v, mask, tiling) : plain(out, kt, v, mask);
      const loss = G.sumAll(G.mul(out, out));
      return { g, loss, grads: G.grad(loss, [q, kt, v]) };
    };
    const run = ({ g, loss, grads }: ReturnType<typeof build>) => runGraph(g, { loss, dq: grads[0], dk: grads[1], dv: grads[2] }, {});
    const expected = await run(build());
    for (const tiling of TILINGS) {
      const got = await run(build(tiling));
      for (const k of ['loss', 'dq', 'dk', 'dv']) {
        const [x, y] = [got[k] as Float32Array, expected[k] as Float32Array];
        const err = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]) / (1 + Math.abs(y[i]))), 0);
        expect(err, `${k} at ${tiling.queryBlock}x${tiling.keyBlock}`).toBeLessThan(2e-5);
      }
    }
  });

  it('never builds a tensor as large as the score matrix, forward or backward', () => {
    const [n, m] = [64, 96];
    const g = new G.Graph();
    const [q, kt, v] = [g.param('q', [2, 4, n, 8]), g.param('kt', [2, 4, 8, m]), g.param('v', [2, 4, m, 8])];
    const out = G.tiledAttention(q, kt, v, undefined, { queryBlock: 16, keyBlock: 32 });
    const loss = G.sumAll(G.mul(out, out));
    const roots = [loss, ...G.grad(loss, [q, kt, v])];
    const largest = Math.max(...G.ancestors(roots).flatMap((node) => node.outputs.map((t) => t.size)));
    expect(largest).toBe(2 * 4 * m * 8); // k^T, v and their gradients; a score block is 2 * 4 * 16 * 32
    const fused = G.attentionCore(q, kt, v);
    const fusedLoss = G.sumAll(G.mul(fused, fused));
    const [tiled, whole] = [G.planMemory(roots), G.planMemory([fusedLoss, ...G.grad(fusedLoss, [q, kt, v])])];
    expect(tiled.attentionAtPeak).toBe(0);
    expect(tiled.peakActivationBytes).toBeLessThan(whole.peakActivationBytes);
  });

  it('holds one block at a time in whatever order onnxruntime runs the nodes (measured in fresh processes, arena off)', async () => {
    // Two layers of 8 heads over 2,048 tokens: a score matrix is 128 MiB, a block of 256 x 512 16 MiB.
    // onnxruntime runs a depth-first order from the outputs, not the written one; without each block
    // sequenced after the one before, that order computed every block's p, or every g v^T, before the
    // rest of its block: 324 MiB measured here, 2.5 score matrices (fused: 3 or more).
    const c = { kind: 'attention', layers: 2, tokens: 2048, heads: 8, recompute: true } as const;
    const scores = 8 * 2048 * 2048 * 4;
    const fused = (await measurePeak(c, 1, 1, { arena: false, runs: 1 })).peakBytes;
    const tiled = (await measurePeak({ ...c, tiling: { queryBlock: 256, keyBlock: 512 } }, 1, 1, { arena: false, runs: 1 })).peakBytes;
    expect(fused).toBeGreaterThan(2 * scores);
    expect(tiled).toBeLessThan(scores);
  }, 240_000);

  it("survives onnxruntime's optimisers: the backward pass still recomputes the score blocks", async () => {
    const g = new G.Graph();
    let h = g.input('x', [1, 2, 12, 8]);
    const layers = 2;
    for (let i = 0; i < layers; i++)
      h = G.add(h, G.tiledAttention(G.mul(h, g.param(`w${i}`, [8])), G.transposeLast2(h), h, undefined, { queryBlock: 4, keyBlock: 6 }));
    const loss = G.sumAll(G.mul(h, h));
    const outputs = Object.fromEntries([['loss', loss], ...G.grad(loss, g.trainableParams()).map((t, i) => [`g${i}`, t])]);
    const dir = mkdtempSync(join(tmpdir(), 'pairstyle-tiled-opt-'));
    const products = async (level: 'disabled' | 'basic' | 'all') => {
      const path = join(dir, `${level}.onnx`);
      const session = await ort.InferenceSession.create(G.emitOnnx({ outputs }).bytes, { graphOptimizationLevel: level, optimizedModelFilePath: path });
      await session.release();
      return onnxProto.onnx.ModelProto.decode(readFileSync(path)).graph!.node!.filter((n) => n.opType === 'MatMul' || n.opType === 'FusedMatMul').length;
    };
    try {
      const blocks = 3 * 2;
      const plainCount = await products('disabled');
      // Per block: forward q kT and p v; backward q kT again, g v^T and ds k, and p^T g and q^T ds (dv,
      // dkT) except in the first layer, whose k and v are x (no gradient).
      expect(plainCount).toBe(layers * blocks * (2 + 3) + (layers - 1) * blocks * 2);
      for (const level of ['basic', 'all'] as const) expect(await products(level), `matrix products after '${level}' optimisation`).toBe(plainCount);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses blocks that are not positive integers, and operands that do not chain', () => {
    const g = new G.Graph();
    const [q, kt, v] = [g.input('q', [1, 4, 2]), g.input('kt', [1, 2, 4]), g.input('v', [1, 4, 2])];
    expect(() => G.tiledAttention(q, kt, v, undefined, { queryBlock: 0, keyBlock: 2 })).toThrow(/queryBlock must be a positive integer/);
    expect(() => G.tiledAttention(q, kt, v, undefined, { queryBlock: 2, keyBlock: 1.5 })).toThrow(/keyBlock must be a positive integer/);
    expect(() => G.tiledAttention(q, q, v, undefined, { queryBlock: 2, keyBlock: 2 })).toThrow(/do not chain/);
  });
});
