/**
 * LoRA adapters on a linear projection, PEFT naming, with a per-sample gate:
 *   y = W x (+ b) + sum_a scale_a * gate_a[b] * B_a (A_a x)
 * and, for adapters with `convs`, on 3x3 convolutions (LoCon, PEFT's Conv2d LoRA): A a k x k conv
 * [rank, in, k, k] with the base conv's stride and padding, B a 1x1 conv [out, rank, 1, 1].
 * Adapter `a` on module `m` declares `${m}.lora_A.${a}.weight` [rank, in] and `${m}.lora_B.${a}.weight`
 * [out, rank], in the model's dtype, but float32 in a float16 model (cast where used, so optimizers keep
 * float32 master weights and gradients come back in float32). Its gate is the graph input `lora_gate.${a}` (float32 [batch]), shared by every module,
 * so one batched run can have an adapter on for some samples and off (gate 0) for others. Whether A
 * and B train is the Graph's paramMode's business, not this module's.
 */
import { add, cast, conv2d, GraphError, linear, mul, reshape, sameShape, stopGradient, sub, type Tensor } from '../graph/index.ts';
import { conv2dLayer, linearLayer } from './layers.ts';

export interface LoraAdapter {
  /** Adapter name as in PEFT ('default', 'content', 'style', ...). */
  name: string;
  rank: number;
  /** Multiplies the adapter's contribution (PEFT: lora_alpha / r). Default 1. */
  scale?: number;
  /** The per-sample gate [batch]; default: the graph input `lora_gate.${name}`. */
  gate?: Tensor;
  /**
   * Per-sample 0/1 mask [batch] of the samples whose loss trains this adapter's B. Samples with 0 still
   * run through the adapter, but send it no gradient (Pair Customization's style branch uses ContentLoRA
   * without updating it). Default: every sample trains it.
   */
  trainRows?: Tensor;
  /** Also adapt the UNet resnets' 3x3 convolutions (conv1, conv2), where the finest detail lives. */
  convs?: boolean;
}

export interface LoraOptions {
  lora?: readonly LoraAdapter[];
}

export const loraGateName = (adapter: string): string => `lora_gate.${adapter}`;

/** The adapter's gate tensor [batch]: given, or the graph input `lora_gate.${name}` (declared once). */
export function loraGate(x: Tensor, adapter: LoraAdapter): Tensor {
  const batch = x.shape[0];
  const g = x.graph;
  const name = loraGateName(adapter.name);
  const gate = adapter.gate ?? g.inputs.get(name) ?? g.input(name, [batch], 'float32');
  if (!sameShape(gate.shape, [batch])) {
    throw new GraphError(`LoRA '${adapter.name}': gate is [${gate.shape}], but the batch is ${batch}; give one gate value per sample`);
  }
  return gate;
}

/** nn.Linear `name` (weight [out, in], optional bias) plus the LoRA adapters of `opts`. */
export function loraLinear(x: Tensor, name: string, outDim: number, bias: boolean, opts: LoraOptions = {}): Tensor {
  let y = linearLayer(x, name, outDim, bias);
  const g = x.graph;
  const inDim = x.shape[x.rank - 1];
  for (const a of opts.lora ?? []) {
    if (!Number.isInteger(a.rank) || a.rank < 1) throw new GraphError(`LoRA '${a.name}': rank must be a positive integer, got ${a.rank}`);
    // Master weights at least float32: in a float16 model they are cast where used.
    const master = x.dtype === 'float16' ? 'float32' : x.dtype;
    const A = cast(g.param(`${name}.lora_A.${a.name}.weight`, [a.rank, inDim], master), x.dtype);
    const B = cast(g.param(`${name}.lora_B.${a.name}.weight`, [outDim, a.rank], master), x.dtype);
    const gate = cast(loraGate(x, a), x.dtype);
    const scaled = (a.scale ?? 1) === 1 ? gate : mul(gate, a.scale!);
    const rowShape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
    const down = linear(x, A);
    if (a.trainRows) {
      // Same values, two paths: rows that train B see B, the others a gradient-stopped copy.
      const train = cast(a.trainRows, x.dtype);
      const withGrad = mul(linear(down, B), reshape(mul(scaled, train), rowShape));
      const noGrad = mul(linear(down, stopGradient(B)), reshape(mul(scaled, sub(1, train)), rowShape));
      y = add(y, add(withGrad, noGrad));
    } else {
      y = add(y, mul(linear(down, B), reshape(scaled, rowShape)));
    }
  }
  return y;
}

/**
 * nn.Conv2d `name` (square kernel, 'same' padding) plus the LoRA adapters of `opts` that adapt
 * convolutions (`convs`): A [rank, in, k, k] as a convolution, then B [out, rank, 1, 1].
 */
export function loraConv2d(x: Tensor, name: string, outCh: number, kernel: number, opts: LoraOptions = {}): Tensor {
  let y = conv2dLayer(x, name, outCh, kernel);
  const g = x.graph;
  const inCh = x.shape[1];
  for (const a of opts.lora ?? []) {
    if (!a.convs) continue;
    if (!Number.isInteger(a.rank) || a.rank < 1) throw new GraphError(`LoRA '${a.name}': rank must be a positive integer, got ${a.rank}`);
    const master = x.dtype === 'float16' ? 'float32' : x.dtype;
    const A = cast(g.param(`${name}.lora_A.${a.name}.weight`, [a.rank, inCh, kernel, kernel], master), x.dtype);
    const B = cast(g.param(`${name}.lora_B.${a.name}.weight`, [outCh, a.rank, 1, 1], master), x.dtype);
    const gate = cast(loraGate(x, a), x.dtype);
    const scaled = (a.scale ?? 1) === 1 ? gate : mul(gate, a.scale!);
    const rowShape = [x.shape[0], 1, 1, 1];
    const down = conv2d(x, A, undefined, { stride: 1, padding: kernel >> 1 });
    if (a.trainRows) {
      const train = cast(a.trainRows, x.dtype);
      const withGrad = mul(conv2d(down, B, undefined, { stride: 1, padding: 0 }), reshape(mul(scaled, train), rowShape));
      const noGrad = mul(conv2d(down, stopGradient(B), undefined, { stride: 1, padding: 0 }), reshape(mul(scaled, sub(1, train)), rowShape));
      y = add(y, add(withGrad, noGrad));
    } else {
      y = add(y, mul(conv2d(down, B, undefined, { stride: 1, padding: 0 }), reshape(scaled, rowShape)));
    }
  }
  return y;
}
