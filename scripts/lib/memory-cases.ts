/**
 * The graphs whose memory bench:memory and bench:attention measure and predict, by a plain description
 * (so a child process can rebuild exactly the graph its parent planned):
 * - pair-training: trainPair's loss and LoRA-B gradients (pairTrainingLoss, batch 2, content and style
 *   adapters), recompute of attention as trainPair decides it for the size, tiled as `tiling` says
 *   (default 'auto', as the product builds it; src/models/attention.ts);
 * - draw: a style-guided draw's UNet call (5 rows: styled and unstyled, CFG), the style LoRA fed;
 * - attention: `layers` residual attention layers over x [batch, heads, tokens, dim] (q = x * w, k = v
 *   = x; batch 1 and dim 64 unless given), their loss and the gradients of the w's, with the fused core
 *   (probabilities recomputed), kept, or tiled (src/graph/ops/tiled-attention.ts) when `tiling` is given.
 * - buffer-reuse: three outer products u vᵀ, each summed at once: [n, n], then [n/2, 2n] (as many
 *   bytes, another shape), then [n, n] again. onnxruntime hands the third the first one's buffer, so
 *   it keeps that buffer allocated while the second runs (two n x n buffers at the peak, not one).
 * UNet cases use the emoji-mini architecture (or SD 1.5's) at `px` pixels, all in float32.
 */
import * as G from '../../src/graph/index.ts';
import { modelUnet, type ModelShapes } from '../../src/pipeline/conditioning.ts';
import { withAttentionTiling, type AttentionTilingChoice } from '../../src/models/attention.ts';
import { EMOJI_MINI_UNET_CONFIG, SD15_UNET_CONFIG, type UNet2DConditionConfig } from '../../src/models/unet-config.ts';
import { pairParamMode, pairTrainingLoss } from '../../src/pair/train.ts';

export type MemoryCase =
  | { kind: 'pair-training' | 'draw'; arch: 'emoji-mini' | 'sd15'; px: number; rank: number; tiling?: AttentionTilingChoice }
  | { kind: 'attention'; layers: number; tokens: number; heads: number; recompute: boolean; batch?: number; dim?: number; tiling?: G.AttentionTiling }
  | { kind: 'buffer-reuse'; n: number };

const ARCHS: Record<'emoji-mini' | 'sd15', { unet: UNet2DConditionConfig; contextLength: number; latent: (px: number) => [number, number, number] }> = {
  'emoji-mini': { unet: EMOJI_MINI_UNET_CONFIG, contextLength: 16, latent: (px) => [12, px / 2, px / 2] },
  sd15: { unet: SD15_UNET_CONFIG, contextLength: 77, latent: (px) => [4, px / 8, px / 8] },
};

export function modelShapes(arch: 'emoji-mini' | 'sd15', px: number): ModelShapes {
  const a = ARCHS[arch];
  return { unet: a.unet, contextLength: a.contextLength, imageSize: px, codec: { latentShape: a.latent(px) } };
}

export function describeCase(c: MemoryCase): string {
  if (c.kind === 'buffer-reuse') return `buffer reuse, outer products ${c.n}x${c.n}, ${c.n / 2}x${2 * c.n}, ${c.n}x${c.n}`;
  if (c.kind === 'attention') {
    const form = c.tiling ? `tiled ${c.tiling.queryBlock}x${c.tiling.keyBlock}` : c.recompute ? 'fused (recomputed)' : 'kept';
    return `attention ${c.layers} layers ${c.batch ?? 1}x${c.heads}x${c.tokens}x${c.tokens} (d ${c.dim ?? 64}), ${form}`;
  }
  const tiling = c.tiling === undefined ? '' : `, attention tiling ${typeof c.tiling === 'string' ? c.tiling : `${c.tiling.queryBlock}x${c.tiling.keyBlock}`}`;
  return `${c.arch} ${c.px} px ${c.kind === 'draw' ? 'draw (5 rows)' : `pair training (rank ${c.rank})`}${tiling}`;
}

/** The case's graph and the tensors a session computes (loss and gradients, or the UNet output). */
export function buildCase(c: MemoryCase): { graph: G.Graph; outputs: Record<string, G.Tensor> } {
  if (c.kind === 'buffer-reuse') {
    const graph = new G.Graph();
    // Each product reads the previous sum, so the three run in this order whatever the scheduler.
    let previous: G.Tensor | undefined;
    const outer = (i: number, rows: number, cols: number) => {
      const v = graph.input(`v${i}`, [1, cols]);
      previous = G.slice(G.add(graph.input(`u${i}`, [rows, 1]), previous ? G.mul(v, previous) : v), [0, 0], [1, 1], [0, 1]);
      return previous;
    };
    return { graph, outputs: { first: outer(0, c.n, c.n), second: outer(1, c.n / 2, 2 * c.n), third: outer(2, c.n, c.n) } };
  }
  if (c.kind === 'attention') {
    const graph = new G.Graph();
    const dim = c.dim ?? 64;
    const x = graph.input('x', [c.batch ?? 1, c.heads, c.tokens, dim]);
    let h = x;
    for (let i = 0; i < c.layers; i++) {
      const q = G.mul(h, graph.param(`w${i}`, [dim]));
      const kt = G.transposeLast2(h);
      const core = c.tiling
        ? G.tiledAttention(q, kt, h, undefined, c.tiling)
        : c.recompute
          ? G.attentionCore(q, kt, h)
          : G.matmul(G.softmax(G.matmul(q, kt)), h);
      h = G.add(h, core);
    }
    const loss = G.sumAll(G.mul(h, h));
    return { graph, outputs: gradientOutputs(graph, loss) };
  }
  const model = modelShapes(c.arch, c.px);
  if (c.kind === 'pair-training') {
    const graph = new G.Graph({ paramMode: pairParamMode(false) });
    return {
      graph,
      outputs: gradientOutputs(
        graph,
        withAttentionTiling(c.tiling ?? 'auto', () => pairTrainingLoss(graph, model, c.rank)),
      ),
    };
  }
  const graph = new G.Graph({ paramMode: (n) => (n.includes('.lora_') ? 'fed' : 'frozen') });
  return { graph, outputs: { out: modelUnet(graph, model, 5, { lora: [{ name: 'style', rank: c.rank }] }) } };
}

function gradientOutputs(graph: G.Graph, loss: G.Tensor): Record<string, G.Tensor> {
  const params = graph.trainableParams();
  return Object.fromEntries([['loss', loss], ...G.grad(loss, params).map((t, i) => [`grad/${params[i].node.name}`, t])]);
}
