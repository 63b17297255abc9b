/** Shape-only operations: reshape, transpose, squeeze/unsqueeze, expand, concat, split, slice, pad, gather, cast. */
import { defineOp, plain, ShapeError, type Attrs } from '../op.ts';
import { GraphError, sameShape, type DType, type Shape, type Tensor } from '../tensor.ts';
import { broadcastShapes, unbroadcast } from './reduce.ts';

const ints = (a: Attrs, k: string): number[] => [...((a[k] as readonly number[]) ?? [])];
const normAxis = (op: string, axis: number, rank: number, inputs: readonly Tensor[]): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(op, `axis ${axis} out of range for rank ${rank}`, inputs);
  return a;
};

defineOp('Reshape', {
  infer([x], a) {
    const shape = ints(a, 'shape');
    const n = shape.reduce((p, d) => p * d, 1);
    if (n !== x.size) throw new ShapeError('reshape', `cannot reshape ${x.size} elements to [${shape}]`, [x]);
    return [{ shape, dtype: x.dtype }];
  },
  emit: (n) => ({ opType: 'Reshape', inputs: [n.inputs[0], { ints: ints(n.attrs, 'shape') }] }),
  backward: (n, [g]) => [reshape(g!, n.inputs[0].shape)],
});

/** Reshape to a static shape; one dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new ShapeError('reshape', `more than one -1 in [${shape}]`, [x]);
  const full = shape.map((d) => (d === -1 ? x.size / known : d));
  if (free && !Number.isInteger(x.size / known)) throw new ShapeError('reshape', `cannot reshape ${x.size} elements to [${shape}]`, [x]);
  if (sameShape(full, x.shape)) return x;
  return x.graph.apply('Reshape', [x], { shape: full })[0];
}

defineOp('Transpose', {
  infer([x], a) {
    const perm = ints(a, 'perm');
    if (perm.length !== x.rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new ShapeError('transpose', `perm [${perm}] is not a permutation of rank ${x.rank}`, [x]);
    }
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  emit: plain('Transpose'),
  backward(n, [g]) {
    const perm = ints(n.attrs, 'perm');
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [transpose(g!, inv)];
  },
});

export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ? [...perm] : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.every((v, i) => v === i)) return x;
  return x.graph.apply('Transpose', [x], { perm: p })[0];
}

/** Swap the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const p = x.shape.map((_, i) => i);
  [p[x.rank - 2], p[x.rank - 1]] = [p[x.rank - 1], p[x.rank - 2]];
  return transpose(x, p);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  if (a < 0 || a > x.rank) throw new ShapeError('unsqueeze', `axis ${axis} out of range`, [x]);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normAxis('squeeze', axis, x.rank, [x]);
  if (x.shape[a] !== 1) throw new ShapeError('squeeze', `axis ${axis} has size ${x.shape[a]}, not 1`, [x]);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

defineOp('Expand', {
  infer([x], a) {
    const shape = ints(a, 'shape');
    const out = broadcastShapes('expand', x.shape, shape, [x]);
    if (!sameShape(out, shape)) throw new ShapeError('expand', `cannot expand to [${shape}]`, [x]);
    return [{ shape, dtype: x.dtype }];
  },
  emit: (n) => ({ opType: 'Expand', inputs: [n.inputs[0], { ints: ints(n.attrs, 'shape') }] }),
  backward: (n, [g]) => [unbroadcast(g!, n.inputs[0].shape)],
});

export function expand(x: Tensor, shape: Shape): Tensor {
  if (sameShape(x.shape, shape)) return x;
  return x.graph.apply('Expand', [x], { shape: [...shape] })[0];
}

defineOp('Concat', {
  infer(xs, a) {
    const axis = a.axis as number;
    const first = xs[0];
    let total = 0;
    for (const x of xs) {
      if (x.rank !== first.rank || x.dtype !== first.dtype || x.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new ShapeError('concat', `inputs differ outside axis ${axis}`, xs);
      }
      total += x.shape[axis];
    }
    const shape = [...first.shape];
    shape[axis] = total;
    return [{ shape, dtype: first.dtype }];
  },
  emit: plain('Concat'),
  backward(n, [g], needs) {
    const axis = n.attrs.axis as number;
    let start = 0;
    return n.inputs.map((x, i) => {
      const s = start;
      start += x.shape[axis];
      return needs[i] ? slice(g!, [s], [s + x.shape[axis]], [axis]) : undefined;
    });
  },
});

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new GraphError('concat: no inputs');
  if (xs.length === 1) return xs[0];
  const a = normAxis('concat', axis, xs[0].rank, xs);
  return xs[0].graph.apply('Concat', xs, { axis: a })[0];
}

/** Split along an axis into pieces of the given sizes (one ONNX Split node, several outputs). */
defineOp('Split', {
  infer([x], a) {
    const axis = a.axis as number;
    const sizes = ints(a, 'sizes');
    if (sizes.reduce((p, q) => p + q, 0) !== x.shape[axis]) {
      throw new ShapeError('split', `sizes [${sizes}] do not add up to ${x.shape[axis]}`, [x]);
    }
    return sizes.map((s) => {
      const shape = [...x.shape];
      shape[axis] = s;
      return { shape, dtype: x.dtype };
    });
  },
  emit: (n) => ({ opType: 'Split', inputs: [n.inputs[0], { ints: ints(n.attrs, 'sizes') }], attrs: { axis: n.attrs.axis } }),
  backward(n, grads) {
    const parts = grads.map((g, i) => g ?? zeros(n.graph, n.outputs[i].shape, n.outputs[i].dtype));
    return [concat(parts, n.attrs.axis as number)];
  },
});

export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const a = normAxis('split', axis, x.rank, [x]);
  return x.graph.apply('Split', [x], { axis: a, sizes: [...sizes] });
}

/** Slice with step 1 along the given axes. */
defineOp('Slice', {
  infer([x], a) {
    const shape = [...x.shape];
    const [starts, ends, axes] = [ints(a, 'starts'), ints(a, 'ends'), ints(a, 'axes')];
    axes.forEach((ax, i) => {
      if (starts[i] < 0 || ends[i] > x.shape[ax] || starts[i] >= ends[i]) {
        throw new ShapeError('slice', `range ${starts[i]}..${ends[i]} invalid for axis ${ax} of size ${x.shape[ax]}`, [x]);
      }
      shape[ax] = ends[i] - starts[i];
    });
    return [{ shape, dtype: x.dtype }];
  },
  emit: (n) => ({
    opType: 'Slice',
    inputs: [n.inputs[0], { ints: ints(n.attrs, 'starts') }, { ints: ints(n.attrs, 'ends') }, { ints: ints(n.attrs, 'axes') }],
  }),
  backward(n, [g]) {
    const x = n.inputs[0];
    const pads = new Array(2 * x.rank).fill(0);
    const [starts, ends, axes] = [ints(n.attrs, 'starts'), ints(n.attrs, 'ends'), ints(n.attrs, 'axes')];
    axes.forEach((ax, i) => {
      pads[ax] = starts[i];
      pads[x.rank + ax] = x.shape[ax] - ends[i];
    });
    return [pad(g!, pads)];
  },
});

export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Tensor {
  const ax = axes.map((a) => normAxis('slice', a, x.rank, [x]));
  if (ax.every((a, i) => starts[i] === 0 && ends[i] === x.shape[a])) return x;
  return x.graph.apply('Slice', [x], { starts: [...starts], ends: [...ends], axes: ax })[0];
}

/** Constant zero padding; pads as ONNX orders them: [begin_0..begin_n, end_0..end_n]. */
defineOp('Pad', {
  infer([x], a) {
    const pads = ints(a, 'pads');
    if (pads.length !== 2 * x.rank || pads.some((p) => p < 0)) throw new ShapeError('pad', `pads [${pads}] invalid`, [x]);
    return [{ shape: x.shape.map((d, i) => d + pads[i] + pads[i + x.rank]), dtype: x.dtype }];
  },
  emit: (n) => ({ opType: 'Pad', inputs: [n.inputs[0], { ints: ints(n.attrs, 'pads') }], attrs: { mode: 'constant' } }),
  backward(n, [g]) {
    const x = n.inputs[0];
    const pads = ints(n.attrs, 'pads');
    const axes = x.shape.map((_, i) => i);
    return [
      slice(
        g!,
        axes.map((i) => pads[i]),
        axes.map((i) => pads[i] + x.shape[i]),
        axes,
      ),
    ];
  },
});

export function pad(x: Tensor, pads: readonly number[]): Tensor {
  if (pads.every((p) => p === 0)) return x;
  return x.graph.apply('Pad', [x], { pads: [...pads] })[0];
}

/** Embedding lookup: rows of `data` [V, ...] picked by int64 `indices`. */
defineOp('Gather', {
  infer([data, idx]) {
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new ShapeError('gather', 'indices must be int64 or int32', [data, idx]);
    return [{ shape: [...idx.shape, ...data.shape.slice(1)], dtype: data.dtype }];
  },
  emit: (n) => ({ opType: 'Gather', inputs: n.inputs, attrs: { axis: 0 } }),
  backward(n, [g], needs) {
    const [data, idx] = n.inputs;
    if (!needs[0]) return [undefined, undefined];
    // Scatter-add the output gradient rows back into a zero table (duplicates accumulate).
    const idx64 = idx.dtype === 'int64' ? idx : cast(idx, 'int64');
    const rows = reshape(idx64, [...idx.shape, 1]);
    return [scatterAddRows(zeros(n.graph, data.shape, data.dtype), rows, g!), undefined];
  },
});

export function gather(data: Tensor, indices: Tensor): Tensor {
  return data.graph.apply('Gather', [data, indices])[0];
}

defineOp('ScatterAddRows', {
  infer([data, idx, upd]) {
    if (!sameShape(upd.shape, [...idx.shape.slice(0, -1), ...data.shape.slice(1)])) {
      throw new ShapeError('scatterAddRows', 'updates do not match indices and data', [data, idx, upd]);
    }
    return [{ shape: data.shape, dtype: data.dtype }];
  },
  emit: (n) => ({ opType: 'ScatterND', inputs: n.inputs, attrs: { reduction: 'add' } }),
});

function scatterAddRows(data: Tensor, rows: Tensor, updates: Tensor): Tensor {
  return data.graph.apply('ScatterAddRows', [data, rows, updates])[0];
}

const ONNX_DTYPE_CODE: Record<DType, number> = { float32: 1, float16: 10, float64: 11, int64: 7, int32: 6, bool: 9 };
export const onnxDTypeCode = (d: DType): number => ONNX_DTYPE_CODE[d];

defineOp('Cast', {
  infer([x], a) {
    return [{ shape: x.shape, dtype: a.to as DType }];
  },
  emit: (n) => ({ opType: 'Cast', inputs: n.inputs, attrs: { to: ONNX_DTYPE_CODE[n.attrs.to as DType] } }),
  backward: (n, [g]) => [isFloat(n.inputs[0].dtype) ? cast(g!, n.inputs[0].dtype) : undefined],
});

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.apply('Cast', [x], { to })[0];
}

export const isFloat = (d: DType): boolean => d === 'float32' || d === 'float16' || d === 'float64';

/** A zero tensor of a static shape (a broadcast scalar; free in memory until used). */
export function zeros(graph: Tensor['graph'], shape: Shape, dtype: DType): Tensor {
  return expand(graph.scalar(0, dtype), shape);
}

/** The identity in the forward pass; no gradient flows back through it. */
defineOp('StopGradient', {
  infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
  emit: (n) => ({ opType: 'Identity', inputs: n.inputs }),
  backward: () => [undefined],
});

export function stopGradient(x: Tensor): Tensor {
  return x.graph.apply('StopGradient', [x])[0];
}
