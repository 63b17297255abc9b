/** Recomputed attention is fused or tiled by size (chooseAttentionTiling), or as an option or scope says; both train alike. */
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import {
  chooseAttentionTiling,
  multiHeadAttention,
  TILED_ATTENTION_FROM_BYTES,
  withAttentionTiling,
  type AttentionTilingChoice,
} from '../../src/models/attention.ts';
import { unet2DConditionModel } from '../../src/models/unet.ts';
import { runGraph } from './run-graph.ts';
import { ADAPTERS, B, feeds, TINY, TOKENS, weights } from './tiny-unet.ts';

const scoreBytes = (batch: number, heads: number, n: number, m: number) => batch * heads * n * m * 4;
const ops = (roots: G.Tensor[]) => new Set(G.ancestors(roots).map((n) => n.op));

describe('recomputed attention, fused or tiled', () => {
  it('tiles from TILED_ATTENTION_FROM_BYTES of scores on: SD at 64x64 latents in query blocks over every key, keys split only when rows are too wide', () => {
    // SD 1.5 pair training (batch 2, 8 heads): 32x32 latents (1,024 tokens) and the cross-attention stay fused.
    expect(chooseAttentionTiling(1024, 1024, scoreBytes(2, 8, 1024, 1024))).toBeUndefined();
    expect(chooseAttentionTiling(4096, 77, scoreBytes(2, 8, 4096, 77))).toBeUndefined();
    expect(scoreBytes(2, 8, 4096, 4096)).toBeGreaterThanOrEqual(TILED_ATTENTION_FROM_BYTES);
    const sd64 = chooseAttentionTiling(4096, 4096, scoreBytes(2, 8, 4096, 4096))!;
    expect(sd64.keyBlock).toBe(4096);
    expect(sd64.queryBlock).toBeLessThan(4096);
    expect(scoreBytes(2, 8, sd64.queryBlock, sd64.keyBlock)).toBeLessThan(scoreBytes(2, 8, 4096, 4096) / 4);
    // 16,384 tokens: a block of every key would be too few rows, so the keys are split too.
    const huge = chooseAttentionTiling(16384, 16384, scoreBytes(2, 8, 16384, 16384))!;
    expect(huge.keyBlock).toBeLessThan(16384);
    expect(scoreBytes(2, 8, huge.queryBlock, huge.keyBlock)).toBeLessThanOrEqual(scoreBytes(2, 8, sd64.queryBlock, sd64.keyBlock));
  });

  it('follows the option, then the scope, then the size; tiled and fused give the same loss and gradients', async () => {
    const build = (tiling?: AttentionTilingChoice, scope?: AttentionTilingChoice) => {
      const g = new G.Graph();
      const [q, k, v] = [g.param('q', [2, 10, 16]), g.param('k', [2, 12, 16]), g.param('v', [2, 12, 16])];
      const make = () => multiHeadAttention(q, k, v, 4, undefined, { recomputeAttention: true, attentionTiling: tiling });
      const out = scope ? withAttentionTiling(scope, make) : make();
      const loss = G.sumAll(G.mul(out, out));
      const grads = G.grad(loss, [q, k, v]);
      return { g, loss, grads, ops: ops([loss, ...grads]) };
    };
    const blocks = { queryBlock: 3, keyBlock: 5 };
    // Tiny scores: 'auto' keeps the fused core.
    expect(build().ops.has('AttentionCore')).toBe(true);
    expect(build().ops.has('TiledAttention')).toBe(false);
    const tiled = build(blocks);
    expect(tiled.ops.has('TiledAttention')).toBe(true);
    expect(tiled.ops.has('AttentionCore')).toBe(false);
    expect(build(undefined, blocks).ops.has('TiledAttention')).toBe(true);
    expect(build('off', blocks).ops.has('TiledAttention')).toBe(false);
    // The scope ends with its build.
    expect(build().ops.has('TiledAttention')).toBe(false);

    const run = ({ g, loss, grads }: ReturnType<typeof build>) => runGraph(g, { loss, dq: grads[0], dk: grads[1], dv: grads[2] }, {});
    const [a, b] = [await run(tiled), await run(build('off'))];
    for (const key of ['loss', 'dq', 'dk', 'dv']) {
      const [x, y] = [a[key] as Float32Array, b[key] as Float32Array];
      expect(
        x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]) / (1 + Math.abs(y[i]))), 0),
        key,
      ).toBeLessThan(1e-5);
    }
  });

  it('a UNet trains alike tiled (self-attention in uneven blocks, cross-attention in one) and fused: loss and every gradient', async () => {
    const build = (tiling: AttentionTilingChoice) => {
      const g = new G.Graph({ paramMode: (name) => (name.includes('.lora_B.') || name.includes('to_q.weight') ? 'trainable' : 'frozen') });
      const inputs = { sample: g.input('sample', [B, 3, 4, 4]), timestep: g.input('timestep', [B]), encoderHiddenStates: g.input('ctx', [B, TOKENS, 16]) };
      const out = withAttentionTiling(tiling, () => unet2DConditionModel(g, TINY, inputs, { lora: ADAPTERS, recomputeAttention: true }));
      const loss = G.sumAll(G.mul(out, out));
      const params = g.trainableParams();
      return { g, loss, params, grads: G.grad(loss, params), ops: ops([loss]) };
    };
    // 16 tokens at the attention level: keys in blocks of 5, 5, 5 and 1; the 3 context tokens in one block.
    const [tiled, fused] = [build({ queryBlock: 3, keyBlock: 5 }), build('off')];
    expect(tiled.ops.has('TiledAttention') && !tiled.ops.has('AttentionCore')).toBe(true);
    expect(fused.ops.has('AttentionCore') && !fused.ops.has('TiledAttention')).toBe(true);
    const run = ({ g, loss, params, grads }: ReturnType<typeof build>) =>
      runGraph(
        g,
        { loss, ...Object.fromEntries(params.map((p, i) => [`grad:${p.node.name}`, grads[i]])) },
        { ...feeds, 'lora_gate.content': Float32Array.from([1, 1]), 'lora_gate.style': Float32Array.from([1, 1]) },
        weights(g),
      );
    const [a, b] = [await run(tiled), await run(fused)];
    expect(tiled.params.length).toBeGreaterThan(8);
    for (const key of Object.keys(b)) {
      const [x, y] = [a[key] as Float32Array, b[key] as Float32Array];
      const scale = Math.max(1e-6, ...y.map(Math.abs));
      expect(x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0) / scale, key).toBeLessThan(1e-4);
    }
  });
});
