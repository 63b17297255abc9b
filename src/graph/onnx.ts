/**
 * Emission of an expression graph as an ONNX ModelProto (opset 21) through onnx-proto's protobuf
 * definitions. Only the ancestors of the requested outputs are written (dead code is pruned).
 * Frozen parameters and constants become initializers; trainable and fed parameters and data become
 * graph inputs.
 *
 * Protobuf caps a serialized model at 2 GB (SD 1.5's UNet is 3.4 GB in fp32). When the initializers
 * add up to more than `externalDataThreshold` bytes, every initializer of 1 KiB or more is emitted as
 * ONNX external data (TensorProto data_location EXTERNAL, location/offset/length): its bytes are
 * returned beside the model in `externalData`, to be written as one file next to the model file
 * (GraphSession.create does that in a temporary folder and loads the model from its path).
 */
import onnxProto from 'onnx-proto';
import { ancestors } from './autodiff.ts';
import { f32ToF16 } from '../formats/float16.ts';
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
  /**
   * Total initializer bytes above which large initializers go to external data. Default
   * DEFAULT_EXTERNAL_DATA_THRESHOLD (1.5 GiB); 0 always uses external data (for tests), Infinity never.
   */
  externalDataThreshold?: number;
}

/** 1.5 GiB: comfortably under protobuf's 2 GB limit for the rest of the model. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 1.5 * 2 ** 30;
/** Initializers smaller than this stay inside the model even in external-data mode (onnx's own default). */
const EXTERNAL_MIN_BYTES = 1024;
/** Offsets of external tensors are aligned to this (a page: lets onnxruntime map them directly). */
const EXTERNAL_ALIGN = 4096;

/** Initializer bytes stored outside the model file. */
export interface ExternalData {
  /** The file name the model refers to, relative to the model file's folder. */
  location: string;
  /** Pieces to write at their byte offsets in that file (gaps are alignment padding). */
  pieces: { offset: number; bytes: Uint8Array }[];
  /** Total file length in bytes. */
  length: number;
}

export interface OnnxModel {
  bytes: Uint8Array;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Number of ONNX nodes written (for tests and reports). */
  nodeCount: number;
  /** Present when initializers were emitted as external data: `bytes` alone is not a complete model. */
  externalData?: ExternalData;
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

  // A requested output computed by a node here is written by that node under the output's name (an
  // Identity node per output would copy every gradient of a training step once more).
  const outputNames = new Map<number, string>();
  for (const [name, t] of outs) if (!t.node.isLeaf && !outputNames.has(t.id)) outputNames.set(t.id, name);
  const valueName = (t: Tensor) => outputNames.get(t.id) ?? `t${t.id}`;

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
      initializers.push(
        tensorProto(
          name,
          [l.ints.length],
          'int64',
          BigInt64Array.from(l.ints, (v) => BigInt(v)),
        ),
      );
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
      if (e.steps) {
        // Several ONNX nodes: step k writes t<id>_<k>, the last one the graph node's output.
        const stepName = (k: number) => (k === e.steps!.length - 1 ? valueName(out) : `t${out.id}_${k}`);
        e.steps.forEach((st, k) =>
          protoNodes.push({
            opType: st.opType,
            name: `${n.op}_${n.id}_${k}`,
            input: st.inputs.map((i) => ('step' in i ? stepName(i.step) : 'ints' in i ? intList(i) : nameOf(i as Tensor))),
            output: [stepName(k)],
            attribute: Object.entries(st.attrs ?? {}).map(([a, v]) => attribute(a, v)),
          }),
        );
        names.set(out.id, valueName(out));
        continue;
      }
      n.outputs.forEach((o) => names.set(o.id, valueName(o)));
      const nodeOutputs = n.outputs.map(valueName);
      while (nodeOutputs.length < (e.onnxOutputs ?? 0)) nodeOutputs.push('');
      protoNodes.push({
        opType: e.opType,
        name: `${n.op}_${n.id}`,
        input: e.inputs.map((i) => (i === null ? '' : 'ints' in i ? intList(i) : nameOf(i as Tensor))),
        output: nodeOutputs,
        attribute: Object.entries(e.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      });
    }
  }
  const outputs: ValueInfo[] = [];
  for (const [name, t] of outs) {
    if (inputs.some((v) => v.name === name) || initializers.some((i) => i.name === name)) {
      throw new GraphError(`emitOnnx: output '${name}' has the name of an input or initializer; rename the output`);
    }
    if (nameOf(t) !== name) protoNodes.push({ opType: 'Identity', name: `out_${name}`, input: [nameOf(t)], output: [name] });
    outputs.push({ name, shape: [...t.shape], dtype: t.dtype });
  }
  const externalData = moveToExternalData(
    initializers,
    opts.externalDataThreshold ?? DEFAULT_EXTERNAL_DATA_THRESHOLD,
    `${(opts.name ?? 'graph').replace(/[^\w.-]/g, '_')}.weights`,
  );
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
  const bytes = onnx.ModelProto.encode(model).finish();
  return { bytes, inputs, outputs, nodeCount: protoNodes.length, ...(externalData ? { externalData } : {}) };
}

/**
 * If the initializers' raw bytes exceed `threshold`, moves those of EXTERNAL_MIN_BYTES or more out of
 * the protos (in place) into one external file laid out in order, each piece aligned; else does nothing.
 */
function moveToExternalData(initializers: onnxProto.onnx.ITensorProto[], threshold: number, location: string): ExternalData | undefined {
  const total = initializers.reduce((a, t) => a + (t.rawData?.byteLength ?? 0), 0);
  if (total <= threshold) return undefined;
  const pieces: ExternalData['pieces'] = [];
  let offset = 0;
  for (const t of initializers) {
    const raw = t.rawData;
    if (!raw || raw.byteLength < EXTERNAL_MIN_BYTES) continue;
    offset = Math.ceil(offset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    pieces.push({ offset, bytes: raw });
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.byteLength) },
    ];
    delete t.rawData;
    offset += raw.byteLength;
  }
  return { location, pieces, length: offset };
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
