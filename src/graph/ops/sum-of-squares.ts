/**
 * The sum of the squares of every element of several tensors, as one float32 scalar: what a training
 * step returns so that gradient clipping and the loss scaler's overflow check need no pass over the
 * gradients outside onnxruntime. One ReduceSumSquare per tensor and one variadic Sum; no gradient
 * (a grad through it throws).
 */
import { defineOp, ShapeError } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { cast } from './shape.ts';

defineOp('SumOfSquares', {
  infer: ([x]) => [{ shape: [], dtype: x.dtype }],
  // Opset 18+: no axes input and noop_with_empty_axes = 0 reduce over every axis.
  emit: (n) => ({ opType: 'ReduceSumSquare', inputs: [n.inputs[0]], attrs: { keepdims: 0 } }),
});

defineOp('SumAll', {
  infer: (xs) => {
    for (const x of xs) if (x.rank !== 0 || x.dtype !== xs[0].dtype) throw new ShapeError('SumAll', 'expects scalars of one dtype', xs);
    return [{ shape: [], dtype: xs[0].dtype }];
  },
  emit: (n) => ({ opType: 'Sum', inputs: n.inputs }),
});

/** Σ x² over every element of every tensor, in float32. */
export function sumOfSquares(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new ShapeError('SumOfSquares', 'no tensors', xs);
  const parts = xs.map((x) => x.graph.apply('SumOfSquares', [x.dtype === 'float32' ? x : cast(x, 'float32')])[0]);
  return parts.length === 1 ? parts[0] : parts[0].graph.apply('SumAll', parts)[0];
}
