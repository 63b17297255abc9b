/**
 * The attention core softmax(q k^T + mask) v as one node whose backward pass recomputes the attention
 * probabilities from q and k instead of keeping them (the memory half of flash attention). Kept, the
 * probabilities of every attention layer stay alive from the forward to the backward pass: [B, heads,
 * N, M] each, 11.4 GiB of SDXL's 1024 px training step. Recomputed, only the layer being
 * differentiated holds them, for one extra q k^T product and softmax per layer. Forward, the node is
 * written as the same ONNX MatMul, Add, Softmax, MatMul, whose intermediates onnxruntime frees at once.
 */
import { defineOp, ShapeError } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { add, mul, sub } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { softmax } from './nn.ts';
import { broadcastShapes, reduceMax, reduceSum, unbroadcast } from './reduce.ts';
import { transposeLast2 } from './shape.ts';

defineOp('AttentionCore', {
  infer(inputs) {
    const [q, kt, v, mask] = inputs;
    if (q.rank < 2 || kt.rank !== q.rank || v.rank !== q.rank) throw new ShapeError('attentionCore', 'q, k^T and v need the same rank >= 2', inputs);
    if (new Set(inputs.map((t) => t.dtype)).size !== 1) throw new ShapeError('attentionCore', 'dtypes differ', inputs);
    const [n, d] = q.shape.slice(-2);
    const [d2, m] = kt.shape.slice(-2);
    const [m2, dv] = v.shape.slice(-2);
    if (d !== d2 || m !== m2) throw new ShapeError('attentionCore', `q [.., ${n}, ${d}], k^T [.., ${d2}, ${m}] and v [.., ${m2}, ${dv}] do not chain`, inputs);
    const batch = broadcastShapes(
      'attentionCore',
      broadcastShapes('attentionCore', q.shape.slice(0, -2), kt.shape.slice(0, -2), inputs),
      v.shape.slice(0, -2),
      inputs,
    );
    if (mask) broadcastShapes('attentionCore', mask.shape, [...batch, n, m], inputs);
    return [{ shape: [...batch, n, dv], dtype: q.dtype }];
  },
  emit(node) {
    const [q, kt, v, mask] = node.inputs;
    const scores = mask
      ? [
          { opType: 'MatMul', inputs: [q, kt] },
          { opType: 'Add', inputs: [{ step: 0 }, mask] },
        ]
      : [{ opType: 'MatMul', inputs: [q, kt] }];
    return {
      opType: 'MatMul',
      inputs: [],
      steps: [
        ...scores,
        { opType: 'Softmax', inputs: [{ step: scores.length - 1 }], attrs: { axis: -1 } },
        { opType: 'MatMul', inputs: [{ step: scores.length }, v] },
      ],
    };
  },
  backward(node, [g], needs) {
    const [q, kt, v, mask] = node.inputs;
    // New nodes, made to run in the backward pass: q + 0 with the 0 read from this layer's incoming
    // gradient (max - max of its rows). Without that, onnxruntime's common-subexpression elimination
    // (at every optimisation level but 'disabled') merges MatMul(q, kT) and Softmax into the forward's,
    // which then keeps the probabilities alive until here, and nothing is saved. The 0 is exact for
    // finite gradients (max, unlike a sum, cannot overflow in fp16); a gradient with an Inf or NaN
    // makes dq, dk and dv non-finite anyway.
    const rowMax = reduceMax(g!, -1, true);
    const scores = matmul(add(q, sub(rowMax, rowMax)), kt);
    const p = softmax(mask ? add(scores, mask) : scores);
    const dp = matmul(g!, transposeLast2(v));
    const ds = mul(p, sub(dp, reduceSum(mul(dp, p), -1, true)));
    return [
      needs[0] ? unbroadcast(matmul(ds, transposeLast2(kt)), q.shape) : undefined,
      needs[1] ? unbroadcast(matmul(transposeLast2(q), ds), kt.shape) : undefined,
      needs[2] ? unbroadcast(matmul(transposeLast2(p), g!), v.shape) : undefined,
      undefined, // the mask is a constant
    ];
  },
});

/** softmax(q kT + mask) v over the last two axes (q [..., N, d], kT [..., d, M], v [..., M, dv]), probabilities recomputed in the backward pass. */
export function attentionCore(q: Tensor, kT: Tensor, v: Tensor, mask?: Tensor): Tensor {
  return q.graph.apply('AttentionCore', mask ? [q, kT, v, mask] : [q, kT, v])[0];
}
