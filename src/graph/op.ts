/**
 * Operation definitions: each op states how its output shapes follow from its inputs (checked when
 * the expression is built), how it is written as ONNX, and its backward rule next to it.
 */
import type { DType, Node, Shape, Tensor } from './tensor.ts';

export type AttrValue = number | string | boolean | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface OutSpec {
  shape: Shape;
  dtype: DType;
}

/** An int64 list that the emitter writes as a constant initializer (ONNX takes axes, shapes, pads as inputs). */
export interface IntList {
  ints: readonly number[];
}

export interface Emitted {
  opType: string;
  inputs: readonly (Tensor | IntList | null)[];
  attrs?: Attrs;
  /** ONNX outputs of the node; extra ones beyond the graph node's are left unnamed. */
  onnxOutputs?: number;
  /**
   * A node written as several ONNX nodes (opType and inputs above are then unused): each step's one
   * output feeds later steps as { step: k }; the last step's output is the graph node's.
   */
  steps?: readonly EmittedStep[];
}

export interface EmittedStep {
  opType: string;
  inputs: readonly (Tensor | IntList | { step: number })[];
  attrs?: Attrs;
}

export interface OpDef {
  infer(inputs: readonly Tensor[], attrs: Attrs): OutSpec[];
  emit(node: Node): Emitted;
  /**
   * Reverse-mode rule: given gradients of the outputs (undefined where none flows), return gradients
   * of the inputs. `needs[i]` tells whether input i needs one; return undefined where not needed.
   */
  backward?(node: Node, grads: readonly (Tensor | undefined)[], needs: readonly boolean[]): (Tensor | undefined)[];
}

const registry = new Map<string, OpDef>();

export function defineOp(name: string, def: OpDef): void {
  if (registry.has(name)) throw new Error(`op ${name} defined twice`);
  registry.set(name, def);
}

export function opDef(name: string): OpDef {
  const d = registry.get(name);
  if (!d) throw new Error(`unknown op '${name}' (is src/graph/index.ts imported?)`);
  return d;
}

/** Default emission: the same ONNX op with the node's attributes. */
export function plain(opType: string): (node: Node) => Emitted {
  return (node) => ({ opType, inputs: node.inputs, attrs: node.attrs });
}

export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(op: string, message: string, inputs: readonly Tensor[]) {
    super(`${op}: ${message} (inputs: ${inputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join(', ')})`);
  }
}
