/** Floating-point operation counts of a graph's GEMM-like work (MatMul, Conv, ConvTranspose, AttentionCore), 2 per MAC. */
import { ancestors } from './autodiff.ts';
import type { Tensor } from './tensor.ts';

const prod = (a: readonly number[]) => a.reduce((p, q) => p * q, 1);

/** FLOPs of the matrix products and convolutions needed to compute `roots` (im2col copies excluded). */
export function countFlops(roots: readonly Tensor[]): number {
  let flops = 0;
  for (const n of ancestors(roots)) {
    const out = n.outputs[0];
    if (n.op === 'MatMul') {
      const k = n.inputs[0].shape[n.inputs[0].rank - 1];
      flops += 2 * prod(out.shape) * k;
    } else if (n.op === 'Conv' && !n.attrs.im2col) {
      const w = n.inputs[1].shape;
      flops += 2 * prod(out.shape) * w[1] * w[2] * w[3];
    } else if (n.op === 'AttentionCore') {
      // q kT then probabilities x v.
      const [q, kt] = n.inputs;
      const scores = prod(q.shape.slice(0, -1)) * kt.shape[kt.rank - 1];
      flops += 2 * scores * q.shape[q.rank - 1] + 2 * scores * out.shape[out.rank - 1];
    } else if (n.op === 'ConvTranspose') {
      const w = n.inputs[1].shape; // [C_in(of dY) = O, C_out = C, kh, kw]
      flops += 2 * prod(n.inputs[0].shape) * w[1] * w[2] * w[3];
    }
  }
  return flops;
}
