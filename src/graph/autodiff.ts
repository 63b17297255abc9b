/**
 * Reverse-mode automatic differentiation over the expression graph.
 *
 * Node ids are a topological order (a node is always built after its inputs), so one backward sweep
 * over the loss's ancestors in descending id order suffices. Only nodes that both lead to the loss and
 * depend on a requested tensor get a backward rule applied, and each rule is told which of its inputs
 * need a gradient: a frozen weight never gets a weight-gradient node, and branches that do not reach a
 * requested gradient are never built. New nodes go through the graph's hash-consing, so the backward
 * pass shares subexpressions with the forward pass and with itself.
 */
import { opDef } from './op.ts';
import { add } from './ops/elementwise.ts';
import { concat, expand, pad, zeros } from './ops/shape.ts';
import { GraphError, type Node, type Tensor } from './tensor.ts';

/** Ancestors of the given tensors (including their own nodes), in topological order. */
export function ancestors(roots: readonly Tensor[]): Node[] {
  const seen = new Set<Node>();
  const stack = roots.map((t) => t.node);
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const i of n.inputs) stack.push(i.node);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}

/** Gradients of a scalar `loss` with respect to each tensor of `wrt` (zeros where it does not depend on it). */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.size !== 1) throw new GraphError(`grad: the loss must be a scalar, got [${loss.shape}]`);
  if (!loss.dtype.startsWith('float')) throw new GraphError(`grad: the loss must be floating point, got ${loss.dtype}`);
  const order = ancestors([loss]);
  const targets = new Set(wrt.map((t) => t.node));
  const depends = new Set<Node>();
  for (const n of order) {
    if (targets.has(n) || n.inputs.some((i) => depends.has(i.node))) depends.add(n);
  }

  const grads = new Map<number, Tensor>();
  const accumulate = (t: Tensor, g: Tensor) => {
    const prev = grads.get(t.id);
    grads.set(t.id, prev ? addGradients(prev, g) : g);
  };
  accumulate(loss, expand(loss.graph.scalar(1, loss.dtype), loss.shape));

  for (let k = order.length - 1; k >= 0; k--) {
    const n = order[k];
    if (n.isLeaf || !depends.has(n)) continue;
    const outGrads = n.outputs.map((o) => grads.get(o.id));
    if (outGrads.every((g) => g === undefined)) continue;
    const needs = n.inputs.map((i) => depends.has(i.node));
    const def = opDef(n.op);
    if (!def.backward) throw new GraphError(`grad: op ${n.op} has no backward rule (reached from the loss through ${n.label})`);
    const inGrads = def.backward(n, outGrads, needs);
    n.inputs.forEach((input, i) => {
      const g = inGrads[i];
      if (!needs[i] || !g) return;
      if (g.shape.join() !== input.shape.join()) {
        throw new GraphError(`grad: backward of ${n.op} gave [${g.shape}] for input [${input.shape}]`);
      }
      accumulate(input, g);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? zeros(t.graph, t.shape, t.dtype));
}

/** A tensor that is `value` zero-padded along one axis only: `value` fills [start, end) of that axis. */
function paddedPiece(t: Tensor): { value: Tensor; axis: number; start: number; end: number } | undefined {
  if (t.node.op !== 'Pad') return undefined;
  const pads = t.node.attrs.pads as number[];
  const axes = t.shape.map((_, i) => i).filter((i) => pads[i] !== 0 || pads[i + t.rank] !== 0);
  if (axes.length !== 1) return undefined;
  const axis = axes[0];
  return { value: t.node.inputs[0], axis, start: pads[axis], end: t.shape[axis] - pads[axis + t.rank] };
}

/**
 * The sum of two gradients of one tensor. Where both are zero-padded pieces of one axis that meet
 * (the gradients of a tensor split by slices: GEGLU's two halves, a fused projection's parts), the
 * pieces are joined by one Concat (padded once if they do not cover the axis) instead of two Pads the
 * size of the whole and an Add.
 */
function addGradients(a: Tensor, b: Tensor): Tensor {
  const [p, q] = [paddedPiece(a), paddedPiece(b)];
  if (p && q && p.axis === q.axis) {
    const [lo, hi] = p.start < q.start ? [p, q] : [q, p];
    if (lo.end === hi.start) {
      const pads = new Array<number>(2 * a.rank).fill(0);
      pads[lo.axis] = lo.start;
      pads[lo.axis + a.rank] = a.shape[lo.axis] - hi.end;
      return pad(concat([lo.value, hi.value], lo.axis), pads);
    }
  }
  return add(a, b);
}
