/**
 * Multi-head attention. `multiHeadAttention` is the bare softmax(q k^T / sqrt(d)) v over heads;
 * `attention` is diffusers' Attention module (to_q, to_k, to_v without bias, to_out.0 with bias),
 * with LoRA adapters on all four projections.
 */
import { add, attentionCore, matmul, mul, reshape, softmax, transpose, type Tensor } from '../graph/index.ts';
import { loraLinear, type LoraOptions } from './lora.ts';

export interface AttentionOptions {
  /**
   * Recompute the attention probabilities in the backward pass instead of keeping them (attentionCore):
   * for training at large token counts, where they dominate activation memory.
   */
  recomputeAttention?: boolean;
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
  if (opts.recomputeAttention) out = attentionCore(qh, kt, vh, mask);
  else {
    const scores = matmul(qh, kt);
    out = matmul(softmax(mask ? add(scores, mask) : scores), vh);
  }
  return reshape(transpose(out, [0, 2, 1, 3]), [b, n, c]);
}

/**
 * diffusers Attention: x [B, N, query_dim]; context [B, M, cross_dim] for cross-attention, or
 * undefined for self-attention. inner_dim = heads * dim_head = query_dim here (as in every SD block).
 */
export function attention(x: Tensor, context: Tensor | undefined, name: string, heads: number, opts: LoraOptions & AttentionOptions = {}): Tensor {
  const ctx = context ?? x;
  const dim = x.shape[2];
  const q = loraLinear(x, `${name}.to_q`, dim, false, opts);
  const k = loraLinear(ctx, `${name}.to_k`, dim, false, opts);
  const v = loraLinear(ctx, `${name}.to_v`, dim, false, opts);
  return loraLinear(multiHeadAttention(q, k, v, heads, undefined, opts), `${name}.to_out.0`, dim, true, opts);
}
