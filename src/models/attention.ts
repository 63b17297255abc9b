/**
 * Multi-head attention. `multiHeadAttention` is the bare softmax(q k^T / sqrt(d)) v over heads;
 * `attention` is diffusers' Attention module (to_q, to_k, to_v without bias, to_out.0 with bias),
 * with LoRA adapters on all four projections.
 */
import {
  add,
  attentionCore,
  matmul,
  mul,
  reshape,
  softmax,
  tensorBytes,
  tiledAttention,
  transpose,
  type AttentionTiling,
  type Tensor,
} from '../graph/index.ts';
import { injectRows } from './feature-injection.ts';
import { loraLinear, type LoraOptions } from './lora.ts';

/** Whether recomputed attention is tiled: by size ('auto', chooseAttentionTiling), never ('off'), or in these blocks. */
export type AttentionTilingChoice = 'auto' | 'off' | AttentionTiling;

export interface AttentionOptions {
  /**
   * Recompute the attention probabilities in the backward pass instead of keeping them (attentionCore,
   * or tiledAttention when the score matrix is large, see attentionTiling): for training at large token
   * counts, where they dominate activation memory.
   */
  recomputeAttention?: boolean;
  /** With recomputeAttention: tiled or not. Default: withAttentionTiling's scope, else 'auto'. */
  attentionTiling?: AttentionTilingChoice;
}

/**
 * The choice rule, measured on this repository's 2-core CPU machine under load (npm run
 * bench:attention; figures and commands in the README). At its peak the fused core holds about three
 * of one layer's whole score matrices [B, heads, N, M] (the probabilities, g v^T and the score
 * gradient: 103 MiB measured for one 32 MiB matrix); the tiled form holds a few blocks, for more,
 * smaller kernels. Measured on either side of the threshold:
 * - 64 MiB of scores per layer (SD 1.5 at 32x32 latents: 1,024 tokens, batch 2, 8 heads): two layers
 *   took 1.18x the time tiled (2.68 vs 2.28 s) for 90 vs 268 MiB, while the whole step's activations
 *   are planned at 2.1 GiB: the memory saved is small beside the step, the time is not. Fused.
 * - 512 MiB (emoji-mini at 256 px: 4,096 tokens, 4 heads): the whole pair-training step added 0.46x
 *   the memory tiled, in 0.98x the time. 1 GiB (SD 1.5 at 64x64 latents): two layers held 556 MiB
 *   against 4,236 MiB fused; the whole step is planned at 5.13 against 7.54 GiB. Tiled.
 * TILED_ATTENTION_FROM_BYTES lies between them; sizes in between were not measured. Blocks: every
 * key at once (a plain Softmax per block, no rescaling, the fastest tiled form measured: 1.18x
 * against 1.34x with the keys split at 1,024 tokens) in as many query rows as keep a block under
 * TILE_BYTES, at least MIN_QUERY_BLOCK rows; only when even that is over TILE_BYTES are the keys split
 * too (the online softmax), in square blocks of about TILE_BYTES.
 */
export const TILED_ATTENTION_FROM_BYTES = 256 * 2 ** 20;
const TILE_BYTES = 128 * 2 ** 20;
const MIN_QUERY_BLOCK = 256;

/** The tiling `chooseAttentionTiling` picks for scores [.., n, m] of `scoreBytes` in all, or undefined (fused). */
export function chooseAttentionTiling(n: number, m: number, scoreBytes: number): AttentionTiling | undefined {
  if (scoreBytes < TILED_ATTENTION_FROM_BYTES) return undefined;
  const rowBytes = scoreBytes / n;
  const queryBlock = Math.min(n, Math.floor(TILE_BYTES / rowBytes));
  if (queryBlock >= MIN_QUERY_BLOCK || queryBlock === n) return { queryBlock, keyBlock: m };
  const side = Math.max(1, Math.floor(Math.sqrt((TILE_BYTES / rowBytes) * m)));
  return { queryBlock: Math.min(n, side), keyBlock: Math.min(m, side) };
}

let scopedTiling: AttentionTilingChoice | undefined;

/**
 * Builds with `choice` as the default tiling of recomputed attention (tests and benchmarks: the same
 * model code, e.g. pairTrainingLoss, tiled or not), then restores the previous default.
 */
export function withAttentionTiling<T>(choice: AttentionTilingChoice, build: () => T): T {
  const previous = scopedTiling;
  scopedTiling = choice;
  try {
    return build();
  } finally {
    scopedTiling = previous;
  }
}

/** Recomputed attention core of q [B, H, N, d], kT [B, H, d, M], v [B, H, M, d]: fused or tiled, as chosen. */
function recomputedAttention(q: Tensor, kt: Tensor, v: Tensor, mask: Tensor | undefined, choice: AttentionTilingChoice): Tensor {
  const [n, m] = [q.shape[q.rank - 2], kt.shape[kt.rank - 1]];
  const scoreBytes = (tensorBytes(q) / q.shape[q.rank - 1]) * m;
  const tiling = choice === 'off' ? undefined : choice === 'auto' ? chooseAttentionTiling(n, m, scoreBytes) : choice;
  return tiling ? tiledAttention(q, kt, v, mask, tiling) : attentionCore(q, kt, v, mask);
}

/**
 * q [B, N, C], k and v [B, M, C] -> [B, N, C], C split into `heads` heads. `mask` (broadcastable to
 * [B, heads, N, M]) is added to the scores before the softmax.
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, mask?: Tensor, opts: AttentionOptions = {}): Tensor {
  const [b, n, c] = q.shape;
  const m = k.shape[1];
  const d = c / heads;
  if (!Number.isInteger(d)) throw new Error(`attention: ${c} channels do not split into ${heads} heads`);
  const qh = transpose(reshape(mul(q, 1 / Math.sqrt(d)), [b, n, heads, d]), [0, 2, 1, 3]);
  const kt = transpose(reshape(k, [b, m, heads, d]), [0, 2, 3, 1]);
  const vh = transpose(reshape(v, [b, m, heads, d]), [0, 2, 1, 3]);
  let out: Tensor;
  if (opts.recomputeAttention) out = recomputedAttention(qh, kt, vh, mask, opts.attentionTiling ?? scopedTiling ?? 'auto');
  else {
    const scores = matmul(qh, kt);
    out = matmul(softmax(mask ? add(scores, mask) : scores), vh);
  }
  return reshape(transpose(out, [0, 2, 1, 3]), [b, n, c]);
}

/**
 * diffusers Attention: x [B, N, query_dim]; context [B, M, cross_dim] for cross-attention, or
 * undefined for self-attention. inner_dim = heads * dim_head = query_dim here (as in every SD block).
 * With `injectQueryKey` the queries and keys are injected across rows (src/models/feature-injection.ts).
 */
export function attention(
  x: Tensor,
  context: Tensor | undefined,
  name: string,
  heads: number,
  opts: LoraOptions & AttentionOptions & { injectQueryKey?: boolean } = {},
): Tensor {
  const ctx = context ?? x;
  const dim = x.shape[2];
  const injected = (t: Tensor) => (opts.injectQueryKey ? injectRows(t) : t);
  const q = injected(loraLinear(x, `${name}.to_q`, dim, false, opts));
  const k = injected(loraLinear(ctx, `${name}.to_k`, dim, false, opts));
  const v = loraLinear(ctx, `${name}.to_v`, dim, false, opts);
  return loraLinear(multiHeadAttention(q, k, v, heads, undefined, opts), `${name}.to_out.0`, dim, true, opts);
}
