/**
 * The expression graph: symbolic tensors with static shapes, built by ordinary TypeScript calls.
 *
 * Every tensor is an output of a Node. Leaves are nodes with kind 'input' (data fed per run),
 * 'param' (a named weight; frozen -> ONNX initializer, trainable/fed -> graph input) or 'const'.
 * Operation nodes are hash-consed: building the same op on the same inputs with the same attributes
 * returns the existing node, so common subexpressions (in forward and backward alike) are shared.
 */
import { f32ToF16 } from '../formats/float16.ts';
import { opDef, type Attrs, type OutSpec } from './op.ts';

export type DType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool';
export type Shape = readonly number[];

/** How a named parameter is bound when the graph is emitted. */
export type ParamMode = 'trainable' | 'frozen' | 'fed';

export type ConstData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export class GraphError extends Error {
  override name = 'GraphError';
}

export class Tensor {
  constructor(
    readonly node: Node,
    readonly index: number,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly id: number,
  ) {}
  get graph(): Graph {
    return this.node.graph;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  toString(): string {
    return `${this.node.label}:${this.dtype}[${this.shape.join(',')}]`;
  }
}

export type LeafKind = 'input' | 'param' | 'const';

export class Node {
  readonly outputs: Tensor[] = [];
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    /** For leaves: the user-visible name (inputs, params). */
    readonly name?: string,
    /** For consts: the values. */
    readonly value?: ConstData,
  ) {}
  get isLeaf(): boolean {
    return this.op === 'input' || this.op === 'param' || this.op === 'const';
  }
  get label(): string {
    return this.name ?? `${this.op}#${this.id}`;
  }
}

/**
 * How the backward pass forms a convolution's weight gradient (src/graph/ops/nn.ts):
 * 'tap-gemms' (default): for stride 1, one GEMM per kernel tap over the whole batch, input and output
 * gradient laid out channels-first; other strides as 'per-sample'.
 * 'tap-gemms-batch-last' (pretraining's): the same GEMMs with X and dY laid out [C, H, W, N], so that the
 * windows' copies move runs of W*N values, and the bias gradient summed along dY's rows in that layout.
 * 'per-sample': the windows of the input by a one-hot convolution (im2col), one GEMM per sample, summed
 * over the batch (the form before 'tap-gemms'; kept for comparison, npm run bench:pretrain-step).
 * 'batch-conv': any stride, one convolution over the whole batch with the batch axis as its channels:
 * X channels-first [C, N, H, W] convolved with dY channels-first [O, N, Ho, Wo] as the kernel (1x1
 * stride-1 kernels as in 'tap-gemms': their one tap is one GEMM).
 */
export type ConvWeightGradForm = 'tap-gemms' | 'tap-gemms-batch-last' | 'per-sample' | 'batch-conv';

export interface GraphOptions {
  /** Decides, per parameter name, how it is bound. Default: every parameter is trainable. */
  paramMode?: (name: string) => ParamMode;
  /** Default 'tap-gemms'. */
  convWeightGrad?: ConvWeightGradForm;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly params = new Map<string, Tensor>();
  readonly inputs = new Map<string, Tensor>();
  private readonly memo = new Map<string, Node>();
  private nextTensorId = 0;
  private readonly paramMode: (name: string) => ParamMode;
  readonly convWeightGrad: ConvWeightGradForm;

  constructor(options: GraphOptions = {}) {
    this.paramMode = options.paramMode ?? (() => 'trainable');
    this.convWeightGrad = options.convWeightGrad ?? 'tap-gemms';
  }

  /** Data fed on every run (images, tokens, timesteps, ...). */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
    if (this.inputs.has(name) || this.params.has(name)) throw new GraphError(`input '${name}': the name is already used`);
    const t = this.leaf('input', shape, dtype, name);
    this.inputs.set(name, t);
    return t;
  }

  /** A named weight. Declaring the same name twice with the same shape returns the same tensor. */
  param(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
    const existing = this.params.get(name);
    if (existing) {
      if (!sameShape(existing.shape, shape) || existing.dtype !== dtype) {
        throw new GraphError(`param '${name}': declared as ${existing.dtype}[${existing.shape}] and again as ${dtype}[${shape}]`);
      }
      return existing;
    }
    if (this.inputs.has(name)) throw new GraphError(`param '${name}': the name is already used by an input`);
    const t = this.leaf('param', shape, dtype, name);
    this.params.set(name, t);
    return t;
  }

  modeOf(param: Tensor): ParamMode {
    if (param.node.op !== 'param') throw new GraphError(`${param} is not a parameter`);
    return this.paramMode(param.node.name!);
  }

  /** The parameters whose mode is 'trainable', in declaration order. */
  trainableParams(): Tensor[] {
    return [...this.params.values()].filter((p) => this.modeOf(p) === 'trainable');
  }

  /** A constant tensor. Small constants are shared by value. */
  constant(value: ConstData, shape: Shape, dtype: DType): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (value.length !== n) throw new GraphError(`constant: ${value.length} values for shape [${shape}]`);
    const key = n <= 64 ? `const|${dtype}|${shape.join(',')}|${Array.from(value as ArrayLike<number | bigint>, String).join(',')}` : undefined;
    if (key) {
      const hit = this.memo.get(key);
      if (hit) return hit.outputs[0];
    }
    const t = this.leaf('const', shape, dtype, undefined, value);
    if (key) this.memo.set(key, t.node);
    return t;
  }

  scalar(v: number, dtype: DType = 'float32'): Tensor {
    return this.constant(typedArrayFor(dtype, [v]), [], dtype);
  }

  /** Builds (or finds) an operation node; shapes are checked by the op's definition. */
  apply(op: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor[] {
    for (const t of inputs) {
      if (t.graph !== this) throw new GraphError(`${op}: input ${t} belongs to another graph`);
    }
    const key = `${op}|${stableJson(attrs)}|${inputs.map((t) => t.id).join(',')}`;
    const hit = this.memo.get(key);
    if (hit) return hit.outputs;
    const def = opDef(op);
    const specs: OutSpec[] = def.infer(inputs, attrs);
    const node = new Node(this, this.nodes.length, op, inputs, attrs);
    this.nodes.push(node);
    for (const s of specs) node.outputs.push(new Tensor(node, node.outputs.length, s.shape, s.dtype, this.nextTensorId++));
    this.memo.set(key, node);
    return node.outputs;
  }

  private leaf(kind: LeafKind, shape: Shape, dtype: DType, name?: string, value?: ConstData): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GraphError(`${kind} '${name ?? 'const'}': bad dimension in shape [${shape}]`);
    }
    const node = new Node(this, this.nodes.length, kind, [], {}, name, value);
    this.nodes.push(node);
    node.outputs.push(new Tensor(node, 0, [...shape], dtype, this.nextTensorId++));
    return node.outputs[0];
  }
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function typedArrayFor(dtype: DType, values: number[]): ConstData {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
      return Uint8Array.from(values);
    case 'float16':
      // Bit patterns, rounded to nearest even (a number out of range becomes ±Infinity).
      return f32ToF16(Float32Array.from(values));
  }
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${k}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return String(v);
}
