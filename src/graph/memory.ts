/**
 * A memory plan of a graph, without running it: a model of what onnxruntime's CPU session allocates
 * for the activations of one run, checked against measurements (npm run bench:memory).
 *
 * The nodes that compute `roots` run one at a time in graph order (the order emitOnnx writes, which
 * onnxruntime's sequential executor keeps). Each output gets a buffer the way onnxruntime's
 * allocation planner (allocation_planner.cc) hands them out:
 * - Reshape, StopGradient and TiledAttention (Identity) outputs alias their input;
 * - an op that may run in place (MayInplace in its kernel definition: the activations, Softmax,
 *   Cast) writes into its first input's buffer when that input has no reader left and the same shape;
 * - otherwise the output takes a freed buffer of exactly the same shape and element size if there is
 *   one (the most recently freed first), or a new buffer.
 * A buffer is released when the last tensor using it is done, unless it is handed on, so a reused
 * buffer stays allocated from its first tensor to its last: this is why onnxruntime keeps, say, the
 * first attention layer's score matrix allocated until the last layer of the same size has run,
 * although no tensor in it is alive in between. Graph outputs are never reused. Nodes that
 * onnxruntime runs as several kernels are expanded into them: a fused AttentionCore into MatMul, Add
 * (with a mask), Softmax, MatMul. (Group norm is built of Reshape, Standardize, Mul and Add nodes in
 * the graph itself: src/graph/ops/nn.ts.)
 *
 * The peak is of these buffers ("activations", including what the backward pass keeps alive and
 * the outputs); weights and inputs are counted apart. Not modelled: onnxruntime's own graph rewrites
 * (fusions, NCHWc layout reorders around convolutions), kernel workspaces, and how the CPU arena
 * places buffers in its regions, which can add to the plan or, through fusions, take from it.
 * bench:memory measures the resident memory a run adds (arena on, memory pattern off, as
 * GraphSession runs) beside this plan, and prints the largest miss as memory_plan_error=; with the
 * arena off, a run's resident memory follows the plan's buffers (test/graph/memory.test.ts).
 */
import { ancestors } from './autodiff.ts';
import type { DType, Node, Tensor } from './tensor.ts';

const BYTES: Record<DType, number> = { float32: 4, float16: 2, float64: 8, int64: 8, int32: 4, bool: 1 };
const ALIASES = new Set(['Reshape', 'StopGradient', 'TiledAttention']);
/** Ops whose onnxruntime CPU kernel may write its output over input 0 (KernelDefBuilder().MayInplace(0, 0)). */
const IN_PLACE = new Set(['Sigmoid', 'Tanh', 'Relu', 'Softmax', 'Cast']);

export const tensorBytes = (t: Tensor): number => BYTES[t.dtype] * t.size;

export interface MemoryPlan {
  /** Parameters (frozen weights at their graph dtype, and fed or trainable ones). */
  weightBytes: number;
  /** Graph inputs other than parameters. */
  inputBytes: number;
  /** The most activation-buffer bytes allocated at once. */
  peakActivationBytes: number;
  /** The op (and its output) running when the peak was reached. */
  peakAt: string;
  /** Bytes of attention probabilities alive at the peak (Softmax outputs, also inside an attention core). */
  attentionAtPeak: number;
}

/** One value the simulated session computes: a graph node's output or a kernel's intermediate. */
interface Value {
  shape: readonly number[];
  elemBytes: number;
  bytes: number;
  softmax: boolean;
}
/** One kernel run: its op, the values it reads (leaves are left out) and writes. */
interface Step {
  op: string;
  node: Node;
  reads: Value[];
  writes: Value[];
}

const sameShape = (a: Value, b: Value) => a.elemBytes === b.elemBytes && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** The kernels onnxruntime runs for the nodes of `order`, with the values they pass. */
function kernelSteps(order: readonly Node[]): Step[] {
  const valueByTensor = new Map<number, Value>();
  const value = (shape: readonly number[], dtype: DType, softmax = false): Value => {
    const elemBytes = BYTES[dtype];
    return { shape, elemBytes, bytes: elemBytes * shape.reduce((a, b) => a * b, 1), softmax };
  };
  const steps: Step[] = [];
  for (const n of order) {
    if (n.isLeaf) continue;
    const reads = n.inputs.filter((t) => !t.node.isLeaf).map((t) => valueByTensor.get(t.id)!);
    const outs = n.outputs.map((t) => value(t.shape, t.dtype, n.op === 'Softmax'));
    n.outputs.forEach((t, i) => valueByTensor.set(t.id, outs[i]));
    const inner = (v: Value, op: string, from: Value[]) => steps.push({ op, node: n, reads: from, writes: [v] });
    if (n.op === 'AttentionCore') {
      const [q, kt, v, mask] = n.inputs;
      const scoreShape = [...outs[0].shape.slice(0, -1), kt.shape[kt.rank - 1]];
      const readOf = (t: Tensor) => (t.node.isLeaf ? [] : [valueByTensor.get(t.id)!]);
      let scores = value(scoreShape, q.dtype);
      inner(scores, 'MatMul', [...readOf(q), ...readOf(kt)]);
      if (mask) {
        const masked = value(scoreShape, q.dtype);
        inner(masked, 'Add', [scores, ...readOf(mask)]);
        scores = masked;
      }
      const probs = value(scoreShape, q.dtype, true);
      inner(probs, 'Softmax', [scores]);
      steps.push({ op: 'MatMul', node: n, reads: [probs, ...readOf(v)], writes: outs });
    } else {
      steps.push({ op: ALIASES.has(n.op) ? 'alias' : n.op, node: n, reads, writes: outs });
    }
  }
  return steps;
}

export function planMemory(roots: readonly Tensor[]): MemoryPlan {
  const order = ancestors(roots);
  let weightBytes = 0;
  let inputBytes = 0;
  for (const n of order) {
    if (n.op === 'param') weightBytes += tensorBytes(n.outputs[0]);
    else if (n.op === 'input') inputBytes += tensorBytes(n.outputs[0]);
  }
  const steps = kernelSteps(order);
  const rootValues = new Set<Value>();
  // Use counts as onnxruntime keeps them: one per read, one for the value's own definition, one more
  // for a graph output (so it is never freed or reused).
  const uses = new Map<Value, number>();
  for (const s of steps) {
    for (const v of s.reads) uses.set(v, (uses.get(v) ?? 0) + 1);
    for (const v of s.writes) uses.set(v, (uses.get(v) ?? 0) + 1);
  }
  interface Buffer {
    bytes: number;
    from: number;
    to: number;
    uses: number;
    values: Value[];
  }
  const bufferOf = new Map<Value, Buffer>();
  const buffers: Buffer[] = [];
  let freelist: Buffer[] = [];
  const stepOfRoot = new Map<number, Value>();
  for (const s of steps) if (s.node.outputs.length) s.node.outputs.forEach((t, i) => s.writes[i] && stepOfRoot.set(t.id, s.writes[i]));
  for (const r of roots) {
    const v = stepOfRoot.get(r.id);
    if (v) {
      rootValues.add(v);
      uses.set(v, (uses.get(v) ?? 0) + 1);
    }
  }
  for (const [i, s] of steps.entries()) {
    for (const [k, v] of s.writes.entries()) {
      let b: Buffer | undefined;
      if (s.op === 'alias') b = bufferOf.get(s.reads[0]);
      else if (k === 0 && IN_PLACE.has(s.op) && s.reads[0] && !rootValues.has(v)) {
        const src = bufferOf.get(s.reads[0])!;
        const readsOfSrc = s.reads.filter((r) => bufferOf.get(r) === src).length;
        if (src.uses === readsOfSrc && readsOfSrc === 1 && sameShape(src.values[0], v) && !src.values.some((x) => rootValues.has(x))) b = src;
      }
      if (!b && !rootValues.has(v) && s.op !== 'alias') {
        const at = freelist.findIndex((f) => sameShape(f.values[0], v));
        if (at >= 0) [b] = freelist.splice(at, 1);
      }
      if (!b) {
        b = { bytes: v.bytes, from: i, to: Number.POSITIVE_INFINITY, uses: 0, values: [] };
        buffers.push(b);
      }
      b.values.push(v);
      b.uses += uses.get(v)!;
      b.to = Number.POSITIVE_INFINITY;
      bufferOf.set(v, b);
    }
    for (const v of [...s.reads, ...s.writes]) {
      const b = bufferOf.get(v)!;
      if (--b.uses === 0) {
        b.to = i;
        freelist = [b, ...freelist];
      }
    }
  }
  // Bytes allocated at each step: a buffer from its first value's step to its last release.
  const delta = new Float64Array(steps.length + 1);
  for (const b of buffers) {
    delta[b.from] += b.bytes;
    if (Number.isFinite(b.to)) delta[b.to + 1] -= b.bytes;
  }
  let current = 0;
  let peak = 0;
  let peakStep = -1;
  for (let i = 0; i < steps.length; i++) {
    current += delta[i];
    if (current > peak) {
      peak = current;
      peakStep = i;
    }
  }
  if (peakStep < 0) return { weightBytes, inputBytes, peakActivationBytes: 0, peakAt: '', attentionAtPeak: 0 };
  const s = steps[peakStep];
  // Probabilities alive at the peak: Softmax outputs made at or before it and read at or after it.
  const lastRead = new Map<Value, number>();
  steps.forEach((st, i) => {
    for (const v of st.reads) lastRead.set(v, i);
  });
  const attentionAtPeak = steps
    .slice(0, peakStep + 1)
    .flatMap((st) => st.writes)
    .filter((v) => v.softmax && (rootValues.has(v) || (lastRead.get(v) ?? -1) >= peakStep))
    .reduce((a, v) => a + v.bytes, 0);
  return {
    weightBytes,
    inputBytes,
    peakActivationBytes: peak,
    peakAt: `${s.node.op} -> [${s.node.outputs[0].shape}]`,
    attentionAtPeak,
  };
}
