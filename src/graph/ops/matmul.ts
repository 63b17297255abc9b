/** Matrix multiplication with numpy batch broadcasting, and its backward rule. */
import { defineOp, plain, ShapeError } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { broadcastShapes, unbroadcast } from './reduce.ts';
import { reshape, transposeLast2 } from './shape.ts';

defineOp('MatMul', {
  infer([a, b]) {
    if (a.rank < 2 || b.rank < 2) throw new ShapeError('matmul', 'both operands need rank >= 2', [a, b]);
    if (a.dtype !== b.dtype) throw new ShapeError('matmul', `dtypes differ (${a.dtype} vs ${b.dtype})`, [a, b]);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) throw new ShapeError('matmul', `inner dimensions differ (${k} vs ${k2})`, [a, b]);
    const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2), [a, b]);
    return [{ shape: [...batch, m, n], dtype: a.dtype }];
  },
  emit: plain('MatMul'),
  backward(node, [g], needs) {
    const [a, b] = node.inputs;
    let ga: Tensor | undefined;
    let gb: Tensor | undefined;
    if (needs[0]) ga = unbroadcast(matmul(g!, transposeLast2(b)), a.shape);
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // A shared weight: one large GEMM over all batch rows instead of a batched product and a sum.
        const k = a.shape[a.rank - 1];
        const n = b.shape[1];
        gb = matmul(transposeLast2(reshape(a, [-1, k])), reshape(g!, [-1, n]));
      } else {
        gb = unbroadcast(matmul(transposeLast2(a), g!), b.shape);
      }
    }
    return [ga, gb];
  },
});

export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.graph.apply('MatMul', [a, b])[0];
}
