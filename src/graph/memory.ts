/**
 * A memory plan of a graph, without running it: the nodes that compute `roots` run one at a time in
 * graph order (the order emitOnnx writes and onnxruntime's sequential executor keeps); each output is
 * allocated when its node runs and freed after its last consumer, as onnxruntime's allocation planner
 * does. Reshape and StopGradient outputs alias their input; a fused AttentionCore holds its scores and
 * probabilities while it runs. The peak is of the intermediate tensors
 * ("activations", including everything the backward pass keeps alive); weights and inputs are counted
 * apart.
 *
 * It is a model of the graph, not of onnxruntime, whose real peak can be higher or lower: onnxruntime
 * fuses and reuses buffers in place (lower), but also adds tensors this graph does not have (layout
 * reorders around NCHWc convolutions, kernel workspaces), runs nodes in its own topological order,
 * and rounds allocations in its arena (higher). Measured on the CPU provider (npm run bench:memory,
 * a process per case), the plan was within a few percent for attention layers and for a large
 * style-guided draw, but under-predicted small draws by up to 2-3x and pair training at 128 px by
 * about 30%; bench:memory prints the current error as memory_plan_error=.
 */
import { ancestors } from './autodiff.ts';
import type { DType, Node, Tensor } from './tensor.ts';

const BYTES: Record<DType, number> = { float32: 4, float16: 2, float64: 8, int64: 8, int32: 4, bool: 1 };
const ALIASES = new Set(['Reshape', 'StopGradient']);

const out0 = (n: Node) => n.outputs[0];
/** Elements of an attention core's score matrix [..., N, M]. */
const attentionScores = (n: Node) => (out0(n).size / out0(n).shape[out0(n).rank - 1]) * n.inputs[1].shape[n.inputs[1].rank - 1];

export const tensorBytes = (t: Tensor): number => BYTES[t.dtype] * t.size;

export interface MemoryPlan {
  /** Parameters (frozen weights at their graph dtype, and fed or trainable ones). */
  weightBytes: number;
  /** Graph inputs other than parameters. */
  inputBytes: number;
  /** The most intermediate-tensor bytes alive at once. */
  peakActivationBytes: number;
  /** The op (and its output) running when the peak was reached. */
  peakAt: string;
  /** Bytes of attention probabilities alive at the peak (Softmax outputs, and a running attention core's). */
  attentionAtPeak: number;
}

export function planMemory(roots: readonly Tensor[]): MemoryPlan {
  const order = ancestors(roots);
  const keep = new Set(roots.map((t) => t.id));
  // The tensor whose buffer each output uses (itself, or what it aliases), and that buffer's last use.
  const owner = new Map<number, Tensor>();
  const lastUse = new Map<number, number>();
  let weightBytes = 0;
  let inputBytes = 0;
  for (const [step, n] of order.entries()) {
    for (const out of n.outputs) owner.set(out.id, ALIASES.has(n.op) ? owner.get(n.inputs[0].id)! : out);
    for (const i of n.inputs) lastUse.set(owner.get(i.id)!.id, step);
    if (n.op === 'param') weightBytes += tensorBytes(n.outputs[0]);
    else if (n.op === 'input') inputBytes += tensorBytes(n.outputs[0]);
  }
  // Buffers to free after each step: at their last use, or right away when nothing reads them.
  const freeAfter = new Map<number, number[]>();
  for (const [step, n] of order.entries()) {
    if (n.isLeaf) continue;
    for (const out of n.outputs) {
      if (owner.get(out.id) !== out || keep.has(out.id)) continue;
      const at = Math.max(step, lastUse.get(out.id) ?? step);
      freeAfter.set(at, [...(freeAfter.get(at) ?? []), out.id]);
    }
  }
  const live = new Map<number, { bytes: number; node: Node }>();
  let current = 0;
  let peak = 0;
  let peakAt = '';
  let attentionAtPeak = 0;
  for (const [step, n] of order.entries()) {
    if (n.isLeaf) continue;
    for (const out of n.outputs) {
      if (owner.get(out.id) !== out) continue;
      const bytes = tensorBytes(out);
      live.set(out.id, { bytes, node: n });
      current += bytes;
    }
    // A fused attention core holds its scores and probabilities while it runs.
    const transient = n.op === 'AttentionCore' ? 2 * BYTES[out0(n).dtype] * attentionScores(n) : 0;
    if (current + transient > peak) {
      peak = current + transient;
      peakAt = `${n.op} -> [${n.outputs[0].shape}]`;
      attentionAtPeak = transient / 2 + [...live.values()].reduce((a, l) => a + (l.node.op === 'Softmax' ? l.bytes : 0), 0);
    }
    for (const id of freeAfter.get(step) ?? []) {
      const l = live.get(id);
      if (!l) continue;
      current -= l.bytes;
      live.delete(id);
    }
  }
  return { weightBytes, inputBytes, peakActivationBytes: peak, peakAt, attentionAtPeak };
}
