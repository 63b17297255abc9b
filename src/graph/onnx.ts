/**
 * Emission of an expression graph as an ONNX ModelProto (opset 21) through onnx-proto's protobuf
 * definitions. Only the ancestors of the requested outputs are written (dead code is pruned).
 * Frozen parameters and constants become initializers; trainable and fed parameters and data become
 * graph inputs.
 */
import onnxProto from 'onnx-proto';
import { ancestors } from './autodiff.ts';
import { f32ToF16 } from './half.ts';
import { opDef, type AttrValue, type IntList } from './op.ts';
import { onnxDTypeCode } from './ops/shape.ts';
import { GraphError, type ConstData, type DType, type Tensor } from './tensor.ts';

const { onnx } = onnxProto;
export const OPSET = 21;
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta']);

export interface ValueInfo {
  name: string;
  shape: number[];
  dtype: DType;
}

export interface EmitOptions {
  /** Output name -> tensor. */
  outputs: Record<string, Tensor>;
  /** Values of frozen parameters, by name (fp32; converted to the parameter's dtype). */
  weights?: (name: string) => ConstData | undefined;
  name?: string;
}

export interface OnnxModel {
  bytes: Uint8Array;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Number of ONNX nodes written (for tests and reports). */
  nodeCount: number;
}

export function emitOnnx(opts: EmitOptions): OnnxModel {
  const outs = Object.entries(opts.outputs);
  if (outs.length === 0) throw new GraphError('emitOnnx: no outputs requested');
  const graph = outs[0][1].graph;
  const nodes = ancestors(outs.map(([, t]) => t));
  const names = new Map<number, string>();
  const protoNodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const inputs: ValueInfo[] = [];
  const intConsts = new Map<string, string>();

  const nameOf = (t: Tensor) => {
    const n = names.get(t.id);
    if (n === undefined) throw new GraphError(`emitOnnx: ${t} used before it was written`);
    return n;
  };
  const intList = (l: IntList) => {
    const key = l.ints.join(',');
    let name = intConsts.get(key);
    if (!name) {
      name = `ints_${intConsts.size}`;
      intConsts.set(key, name);
      initializers.push(tensorProto(name, [l.ints.length], 'int64', BigInt64Array.from(l.ints, (v) => BigInt(v))));
    }
    return name;
  };

  for (const n of nodes) {
    const out = n.outputs[0];
    if (n.op === 'input') {
      names.set(out.id, n.name!);
      inputs.push({ name: n.name!, shape: [...out.shape], dtype: out.dtype });
    } else if (n.op === 'param') {
      names.set(out.id, n.name!);
      if (graph.modeOf(out) === 'frozen') {
        const v = opts.weights?.(n.name!);
        if (!v) throw new GraphError(`emitOnnx: no value for frozen parameter '${n.name}'`);
        if (v.length !== out.size) throw new GraphError(`emitOnnx: parameter '${n.name}' has ${v.length} values, expected ${out.size} for [${out.shape}]`);
        initializers.push(tensorProto(n.name!, out.shape, out.dtype, v));
      } else {
        inputs.push({ name: n.name!, shape: [...out.shape], dtype: out.dtype });
      }
    } else if (n.op === 'const') {
      const name = `const_${n.id}`;
      names.set(out.id, name);
      initializers.push(tensorProto(name, out.shape, out.dtype, n.value!));
    } else {
      const e = opDef(n.op).emit(n);
      n.outputs.forEach((o) => names.set(o.id, `t${o.id}`));
      const outputNames = n.outputs.map((o) => `t${o.id}`);
      while (outputNames.length < (e.onnxOutputs ?? 0)) outputNames.push('');
      protoNodes.push({
        opType: e.opType,
        name: `${n.op}_${n.id}`,
        input: e.inputs.map((i) => (i === null ? '' : 'ints' in i ? intList(i) : nameOf(i as Tensor))),
        output: outputNames,
        attribute: Object.entries(e.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      });
    }
  }
  const outputs: ValueInfo[] = [];
  for (const [name, t] of outs) {
    protoNodes.push({ opType: 'Identity', name: `out_${name}`, input: [nameOf(t)], output: [name] });
    outputs.push({ name, shape: [...t.shape], dtype: t.dtype });
  }
  const model = onnx.ModelProto.create({
    irVersion: 10,
    producerName: 'pairstyle',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: opts.name ?? 'graph',
      node: protoNodes,
      initializer: initializers,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), inputs, outputs, nodeCount: protoNodes.length };
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: { tensorType: { elemType: onnxDTypeCode(v.dtype), shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
  };
}

function tensorProto(name: string, shape: readonly number[], dtype: DType, data: ConstData): onnxProto.onnx.ITensorProto {
  let raw: ConstData = data;
  if (dtype === 'float16' && data instanceof Float32Array) raw = f32ToF16(data);
  else if (dtype === 'float64' && !(data instanceof Float64Array)) raw = Float64Array.from(data as Float32Array);
  else if (dtype === 'float32' && !(data instanceof Float32Array)) raw = Float32Array.from(data as Float64Array);
  return {
    name,
    dims: [...shape],
    dataType: onnxDTypeCode(dtype),
    rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'boolean') return { name, type: T.INT, i: v ? 1 : 0 };
  if (typeof v === 'number') {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? { name, type: T.FLOAT, f: v } : { name, type: T.INT, i: v };
  }
  return { name, type: T.INTS, ints: [...v] };
}
