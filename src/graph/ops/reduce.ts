/** Reductions and the broadcasting rule (with its adjoint, `unbroadcast`). */
import { defineOp, ShapeError, type Attrs } from '../op.ts';
import { sameShape, type Shape, type Tensor } from '../tensor.ts';
import { expand, reshape } from './shape.ts';

/** numpy broadcasting of two static shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape, inputs: readonly Tensor[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(op, `shapes [${a}] and [${b}] do not broadcast`, inputs);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Sum a gradient over the axes along which `shape` was broadcast, returning a tensor of `shape`. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return reshape(axes.length ? reduceSum(g, axes, true) : g, shape);
}

const axesOf = (a: Attrs): number[] => [...(a.axes as readonly number[])];

function reducedShape(op: string, x: Tensor, axes: readonly number[], keepdims: boolean): number[] {
  for (const ax of axes) if (ax < 0 || ax >= x.rank) throw new ShapeError(op, `axis ${ax} out of range`, [x]);
  return keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
}

for (const [name, onnx] of [
  ['ReduceSum', 'ReduceSum'],
  ['ReduceMean', 'ReduceMean'],
] as const) {
  defineOp(name, {
    infer: ([x], a) => [{ shape: reducedShape(name, x, axesOf(a), a.keepdims as boolean), dtype: x.dtype }],
    emit: (n) => ({ opType: onnx, inputs: [n.inputs[0], { ints: axesOf(n.attrs) }], attrs: { keepdims: n.attrs.keepdims ? 1 : 0 } }),
    backward(n, [g]) {
      const x = n.inputs[0];
      const axes = axesOf(n.attrs);
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let gx = expand(reshape(g!, kept), x.shape);
      if (name === 'ReduceMean') {
        const count = axes.reduce((p, ax) => p * x.shape[ax], 1);
        gx = x.graph.apply('Mul', [gx, x.graph.scalar(1 / count, x.dtype)])[0];
      }
      return [gx];
    },
  });
}

function norm(x: Tensor, axes: number | readonly number[]): number[] {
  const list = typeof axes === 'number' ? [axes] : [...axes];
  return [...new Set(list.map((a) => (a < 0 ? a + x.rank : a)))].sort((p, q) => p - q);
}

export function reduceSum(x: Tensor, axes: number | readonly number[], keepdims = false): Tensor {
  return x.graph.apply('ReduceSum', [x], { axes: norm(x, axes), keepdims })[0];
}

export function reduceMean(x: Tensor, axes: number | readonly number[], keepdims = false): Tensor {
  return x.graph.apply('ReduceMean', [x], { axes: norm(x, axes), keepdims })[0];
}

defineOp('ReduceMax', {
  infer: ([x], a) => [{ shape: reducedShape('ReduceMax', x, axesOf(a), a.keepdims as boolean), dtype: x.dtype }],
  emit: (n) => ({ opType: 'ReduceMax', inputs: [n.inputs[0], { ints: axesOf(n.attrs) }], attrs: { keepdims: n.attrs.keepdims ? 1 : 0 } }),
  // No backward rule on purpose: the max is used as a constant shift (wrap it in stopGradient), e.g. in
  // logSoftmax, where the result does not depend on the shift.
});

/** Maximum over axes. Has no gradient: use it only under stopGradient (a grad through it throws). */
export function reduceMax(x: Tensor, axes: number | readonly number[], keepdims = false): Tensor {
  return x.graph.apply('ReduceMax', [x], { axes: norm(x, axes), keepdims })[0];
}

/** Sum (or mean) of every element, as a scalar. */
export function sumAll(x: Tensor): Tensor {
  return reduceSum(
    x,
    x.shape.map((_, i) => i),
  );
}
export function meanAll(x: Tensor): Tensor {
  return reduceMean(
    x,
    x.shape.map((_, i) => i),
  );
}
