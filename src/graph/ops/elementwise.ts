/** Elementwise arithmetic with numpy broadcasting, and unary functions, each with its backward rule. */
import { defineOp, plain, ShapeError } from '../op.ts';
import type { Tensor } from '../tensor.ts';
import { broadcastShapes, unbroadcast } from './reduce.ts';

export type Operand = Tensor | number;

function binaryInfer(op: string) {
  return ([a, b]: readonly Tensor[]) => {
    if (a.dtype !== b.dtype) throw new ShapeError(op, `dtypes differ (${a.dtype} vs ${b.dtype})`, [a, b]);
    return [{ shape: broadcastShapes(op, a.shape, b.shape, [a, b]), dtype: a.dtype }];
  };
}

function pair(a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error('elementwise op needs at least one tensor');
  const like = (typeof a === 'number' ? b : a) as Tensor;
  const t = (v: Operand) => (typeof v === 'number' ? like.graph.scalar(v, like.dtype) : v);
  return [t(a), t(b)];
}

defineOp('Add', {
  infer: binaryInfer('add'),
  emit: plain('Add'),
  backward: (n, [g], needs) => n.inputs.map((x, i) => (needs[i] ? unbroadcast(g!, x.shape) : undefined)),
});
defineOp('Sub', {
  infer: binaryInfer('sub'),
  emit: plain('Sub'),
  backward: (n, [g], needs) => [needs[0] ? unbroadcast(g!, n.inputs[0].shape) : undefined, needs[1] ? unbroadcast(neg(g!), n.inputs[1].shape) : undefined],
});
defineOp('Mul', {
  infer: binaryInfer('mul'),
  emit: plain('Mul'),
  backward: (n, [g], needs) => {
    const [a, b] = n.inputs;
    return [needs[0] ? unbroadcast(mul(g!, b), a.shape) : undefined, needs[1] ? unbroadcast(mul(g!, a), b.shape) : undefined];
  },
});
defineOp('Div', {
  infer: binaryInfer('div'),
  emit: plain('Div'),
  backward: (n, [g], needs) => {
    const [a, b] = n.inputs;
    const y = n.outputs[0];
    return [needs[0] ? unbroadcast(div(g!, b), a.shape) : undefined, needs[1] ? unbroadcast(neg(div(mul(g!, y), b)), b.shape) : undefined];
  },
});
defineOp('Pow', {
  infer: binaryInfer('pow'),
  emit: plain('Pow'),
  backward: (n, [g], needs) => {
    const [a, b] = n.inputs;
    const y = n.outputs[0];
    return [
      needs[0] ? unbroadcast(mul(g!, mul(b, pow(a, sub(b, 1)))), a.shape) : undefined,
      needs[1] ? unbroadcast(mul(g!, mul(y, log(a))), b.shape) : undefined,
    ];
  },
});

export const add = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Add', [x, y])[0];
};
export const sub = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Sub', [x, y])[0];
};
export const mul = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Mul', [x, y])[0];
};
export const div = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Div', [x, y])[0];
};
export const pow = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Pow', [x, y])[0];
};

/** Unary ops: [name, ONNX op, backward as a function of (x, y, g)]. */
const unary: [string, (x: Tensor, y: Tensor, g: Tensor) => Tensor][] = [
  ['Neg', (_x, _y, g) => neg(g)],
  ['Sqrt', (_x, y, g) => div(g, mul(y, 2))],
  ['Exp', (_x, y, g) => mul(g, y)],
  ['Log', (x, _y, g) => div(g, x)],
  ['Reciprocal', (_x, y, g) => neg(mul(g, mul(y, y)))],
  ['Sigmoid', (_x, y, g) => mul(g, mul(y, sub(1, y)))],
  ['Tanh', (_x, y, g) => mul(g, sub(1, mul(y, y)))],
  ['Erf', (x, _y, g) => mul(g, mul(2 / Math.sqrt(Math.PI), exp(neg(mul(x, x)))))],
  ['Sin', (x, _y, g) => mul(g, cos(x))],
  ['Cos', (x, _y, g) => neg(mul(g, sin(x)))],
  ['Relu', (_x, y, g) => where(greater(y, 0), g, 0)],
];
for (const [name, grad] of unary) {
  defineOp(name, {
    infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
    emit: plain(name),
    backward: (n, [g]) => [grad(n.inputs[0], n.outputs[0], g!)],
  });
}
const un =
  (op: string) =>
  (x: Tensor): Tensor =>
    x.graph.apply(op, [x])[0];
export const neg = un('Neg');
export const sqrt = un('Sqrt');
export const exp = un('Exp');
export const log = un('Log');
export const reciprocal = un('Reciprocal');
export const sigmoid = un('Sigmoid');
export const tanh = un('Tanh');
export const erf = un('Erf');
export const sin = un('Sin');
export const cos = un('Cos');
export const relu = un('Relu');

export const square = (x: Tensor): Tensor => mul(x, x);
/** SiLU (swish): x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));

defineOp('Greater', {
  infer: ([a, b]) => [{ shape: broadcastShapes('greater', a.shape, b.shape, [a, b]), dtype: 'bool' }],
  emit: plain('Greater'),
});
export const greater = (a: Operand, b: Operand): Tensor => {
  const [x, y] = pair(a, b);
  return x.graph.apply('Greater', [x, y])[0];
};

defineOp('Where', {
  infer([c, a, b]) {
    if (c.dtype !== 'bool') throw new ShapeError('where', 'condition must be bool', [c, a, b]);
    if (a.dtype !== b.dtype) throw new ShapeError('where', `dtypes differ (${a.dtype} vs ${b.dtype})`, [c, a, b]);
    const ab = broadcastShapes('where', a.shape, b.shape, [c, a, b]);
    return [{ shape: broadcastShapes('where', c.shape, ab, [c, a, b]), dtype: a.dtype }];
  },
  emit: plain('Where'),
  backward: (n, [g], needs) => {
    const [c, a, b] = n.inputs;
    return [undefined, needs[1] ? unbroadcast(where(c, g!, 0), a.shape) : undefined, needs[2] ? unbroadcast(where(c, 0, g!), b.shape) : undefined];
  },
});
export const where = (cond: Tensor, a: Operand, b: Operand): Tensor => {
  const like = (typeof a === 'number' ? b : a) as Tensor;
  const t = (v: Operand) => (typeof v === 'number' ? like.graph.scalar(v, like.dtype) : v);
  return cond.graph.apply('Where', [cond, t(a), t(b)])[0];
};
