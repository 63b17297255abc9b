/** Neural-network ops: softmax, log-softmax, cross-entropy, layer/group norm, GELU, conv2d, nearest upsampling, linear, MSE. */
import { defineOp, plain, ShapeError } from '../op.ts';
import { sameShape, type Tensor } from '../tensor.ts';
import { add, div, erf, exp, log, mul, neg, sub, tanh } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { meanAll, reduceMax, reduceMean, reduceSum, sumAll } from './reduce.ts';
import { cast, concat, expand, pad, reshape, slice, stopGradient, transpose, transposeLast2 } from './shape.ts';

defineOp('Softmax', {
  infer: ([x], a) => {
    if ((a.axis as number) !== x.rank - 1) throw new ShapeError('softmax', 'only the last axis is supported', [x]);
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit: plain('Softmax'),
  backward(n, [g]) {
    const y = n.outputs[0];
    return [mul(y, sub(g!, reduceSum(mul(g!, y), -1, true)))];
  },
});

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  return x.graph.apply('Softmax', [x], { axis: x.rank - 1 })[0];
}

/**
 * log(softmax(x)) over the last axis, stable: x - m - log(sum(exp(x - m))) with m the row maximum as a
 * gradient-free constant (the result does not depend on m, so its gradient is exact).
 */
export function logSoftmax(x: Tensor): Tensor {
  const z = sub(x, stopGradient(reduceMax(x, -1, true)));
  return sub(z, log(reduceSum(exp(z), -1, true)));
}

/**
 * Softmax cross-entropy of logits [B, K] against target distributions [B, K] (one-hot, or smoothed
 * labels), averaged over the batch; `weights` [B] optionally weighs the rows (then the sum is divided
 * by B all the same, so a weight 0 drops a padding row).
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, weights?: Tensor): Tensor {
  if (!sameShape(logits.shape, targets.shape) || logits.rank !== 2)
    throw new ShapeError('softmaxCrossEntropy', 'logits and targets must both be [B, K]', [logits, targets]);
  let perRow = neg(reduceSum(mul(targets, logSoftmax(logits)), -1));
  if (weights) perRow = mul(perRow, weights);
  return div(sumAll(perRow), logits.shape[0]);
}

defineOp('LayerNorm', {
  infer([x, s, b], a) {
    const d = x.shape[x.rank - 1];
    if (!sameShape(s.shape, [d]) || !sameShape(b.shape, [d])) throw new ShapeError('layerNorm', `scale and bias must be [${d}]`, [x, s, b]);
    void a;
    const stat = [...x.shape.slice(0, -1), 1];
    // onnxruntime's LayerNormalization returns its statistics in float32 whatever the input type.
    return [
      { shape: x.shape, dtype: x.dtype },
      { shape: stat, dtype: 'float32' },
      { shape: stat, dtype: 'float32' },
    ];
  },
  emit: (n) => ({
    opType: 'LayerNormalization',
    inputs: n.inputs,
    attrs: { axis: -1, epsilon: n.attrs.epsilon, stash_type: 1 },
  }),
  backward(n, [g], needs) {
    const [x, scale] = n.inputs;
    const mean = cast(n.outputs[1], x.dtype);
    const invStd = cast(n.outputs[2], x.dtype);
    const xh = mul(sub(x, mean), invStd);
    const lead = x.shape.slice(0, -1).map((_, i) => i);
    return [
      needs[0] ? standardizedGrad(mul(g!, scale), xh, invStd) : undefined,
      needs[1] ? reduceSum(mul(g!, xh), lead) : undefined,
      needs[2] ? reduceSum(g!, lead) : undefined,
    ];
  },
});

/**
 * The gradient of x through xh = (x - mean) * invStd over the last axis, given the gradient `gxh` of xh:
 * invStd * (gxh - mean(gxh) - xh * mean(gxh * xh)).
 */
function standardizedGrad(gxh: Tensor, xh: Tensor, invStd: Tensor): Tensor {
  return mul(invStd, sub(sub(gxh, reduceMean(gxh, -1, true)), mul(xh, reduceMean(mul(gxh, xh), -1, true))));
}

/** Layer normalization over the last axis with affine scale and bias. */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
  return x.graph.apply('LayerNorm', [x, scale, bias], { epsilon })[0];
}

/**
 * x standardized over its last axis, (x - mean) / sqrt(var + epsilon), with the mean and 1 / std as
 * outputs: onnxruntime's LayerNormalization with a scale of ones (`ones`, [last axis]) and no bias. Its
 * backward pass uses the outputs, so nothing is recomputed.
 */
defineOp('Standardize', {
  infer([x, ones]) {
    const d = x.shape[x.rank - 1];
    if (!sameShape(ones.shape, [d])) throw new ShapeError('standardize', `ones must be [${d}]`, [x, ones]);
    const stat = [...x.shape.slice(0, -1), 1];
    // onnxruntime's LayerNormalization returns its statistics in float32 whatever the input type.
    return [
      { shape: x.shape, dtype: x.dtype },
      { shape: stat, dtype: 'float32' },
      { shape: stat, dtype: 'float32' },
    ];
  },
  emit: (n) => ({
    opType: 'LayerNormalization',
    inputs: n.inputs,
    attrs: { axis: -1, epsilon: n.attrs.epsilon, stash_type: 1 },
  }),
  backward(n, [g], needs) {
    const x = n.inputs[0];
    return [needs[0] ? standardizedGrad(g!, n.outputs[0], cast(n.outputs[2], x.dtype)) : undefined, undefined];
  },
});

/**
 * Group normalization of [N, C, ...] over channel groups, per-channel affine (PyTorch/diffusers
 * GroupNorm): x as [N, groups, rest] standardized (Standardize: onnxruntime's LayerNormalization), then
 * scale and bias per channel. Not ONNX's GroupNormalization: onnxruntime has no CPU kernel for it and
 * runs the body of its ONNX function (float copies of x, seven passes the size of x), and its backward
 * pass would have to recompute the statistics that LayerNormalization returns.
 */
export function groupNorm(x: Tensor, scale: Tensor, bias: Tensor, groups: number, epsilon = 1e-5): Tensor {
  const c = x.shape[1];
  if (x.rank < 3 || c % groups) throw new ShapeError('groupNorm', `${c} channels do not split into ${groups} groups`, [x, scale, bias]);
  if (!sameShape(scale.shape, [c]) || !sameShape(bias.shape, [c])) throw new ShapeError('groupNorm', `scale and bias must be [${c}]`, [x, scale, bias]);
  const grouped = reshape(x, [x.shape[0], groups, -1]);
  // The scale of ones: a broadcast scalar (shared by hash-consing; onnxruntime folds it into a constant).
  const ones = expand(x.graph.scalar(1, x.dtype), [grouped.shape[2]]);
  const [xh] = x.graph.apply('Standardize', [grouped, ones], { epsilon });
  const perChannel = [c, ...x.shape.slice(2).map(() => 1)];
  return add(mul(reshape(xh, x.shape), reshape(scale, perChannel)), reshape(bias, perChannel));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
defineOp('Gelu', {
  infer: ([x]) => [{ shape: x.shape, dtype: x.dtype }],
  emit: plain('Gelu'),
  backward(n, [g]) {
    const x = n.inputs[0];
    if (n.attrs.approximate === 'tanh') {
      const x2 = mul(x, x);
      const t = tanh(mul(SQRT_2_OVER_PI, add(x, mul(0.044715, mul(x2, x)))));
      const dt = mul(mul(sub(1, mul(t, t)), SQRT_2_OVER_PI), add(1, mul(3 * 0.044715, x2)));
      return [mul(g!, add(mul(0.5, add(1, t)), mul(mul(0.5, x), dt)))];
    }
    const cdf = mul(0.5, add(1, erf(mul(x, Math.SQRT1_2))));
    const pdf = mul(1 / Math.sqrt(2 * Math.PI), exp(mul(-0.5, mul(x, x))));
    return [mul(g!, add(cdf, mul(x, pdf)))];
  },
});

/** GELU, exact (erf) or with the tanh approximation. */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return x.graph.apply('Gelu', [x], { approximate })[0];
}

/** GEGLU feed-forward gate: the projection's two halves h, gate -> h * gelu(gate). */
export function geglu(x: Tensor): Tensor {
  const d = x.shape[x.rank - 1] / 2;
  const h = slice(x, [0], [d], [-1]);
  const gate = slice(x, [d], [2 * d], [-1]);
  return mul(h, gelu(gate));
}

function convOut(size: number, k: number, stride: number, pad: number, dilation = 1): number {
  return Math.floor((size + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
}

defineOp('Conv', {
  infer(ins, a) {
    const [x, w, b] = ins;
    if (x.rank !== 4 || w.rank !== 4) throw new ShapeError('conv2d', 'input and weight must be rank 4 (NCHW, OIHW)', ins);
    if (x.shape[1] !== w.shape[1]) throw new ShapeError('conv2d', `input has ${x.shape[1]} channels, weight expects ${w.shape[1]}`, ins);
    if (b && !sameShape(b.shape, [w.shape[0]])) throw new ShapeError('conv2d', `bias must be [${w.shape[0]}]`, ins);
    const [s, p, d] = [a.stride as number, a.pad as number, (a.dilation as number) ?? 1];
    const h = convOut(x.shape[2], w.shape[2], s, p, d);
    const wd = convOut(x.shape[3], w.shape[3], s, p, d);
    if (h < 1 || wd < 1) throw new ShapeError('conv2d', 'kernel larger than padded input', ins);
    return [{ shape: [x.shape[0], w.shape[0], h, wd], dtype: x.dtype }];
  },
  emit: (n) => {
    const [s, p, d] = [n.attrs.stride as number, n.attrs.pad as number, (n.attrs.dilation as number) ?? 1];
    return { opType: 'Conv', inputs: n.inputs, attrs: { strides: [s, s], pads: [p, p, p, p], dilations: [d, d] } };
  },
  backward(n, [g], needs) {
    const [x, w] = n.inputs;
    const [s, p] = [n.attrs.stride as number, n.attrs.pad as number];
    if (((n.attrs.dilation as number) ?? 1) !== 1) throw new Error('conv2d backward: dilation > 1 is not supported');
    return [
      needs[0] ? convInputGrad(g!, x, w, s, p) : undefined,
      needs[1] ? convWeightGrad(g!, x, w, s, p) : undefined,
      needs[2] ? convBiasGrad(g!, s, needs[1]) : undefined,
    ];
  },
});

/**
 * dX of a convolution. Stride 1: a convolution of dY with the weight transposed (O<->C) and flipped,
 * padded k-1-p (onnxruntime's Conv is faster than its ConvTranspose). Otherwise ConvTranspose(dY, W)
 * with output_padding chosen so the result has X's size.
 */
function convInputGrad(g: Tensor, x: Tensor, w: Tensor, s: number, p: number): Tensor {
  const [kh, kw] = [w.shape[2], w.shape[3]];
  if (s === 1 && kh === kw && kh - 1 - p >= 0) {
    const wt = reverseTaps(transpose(w, [1, 0, 2, 3]));
    return x.graph.apply('Conv', [g, wt], { stride: 1, pad: kh - 1 - p })[0];
  }
  const [, , ho, wo] = g.shape;
  const outPad = [x.shape[2] - (s * (ho - 1) + kh - 2 * p), x.shape[3] - (s * (wo - 1) + kw - 2 * p)];
  return x.graph.apply('ConvTranspose', [g, w], { stride: s, pad: p, outPad })[0];
}

/** dW[o,c,i,j] = sum over n,y,x of dY[n,o,y,x] * Xpad[n,c,s*y+i,s*x+j], in the graph's chosen form. */
function convWeightGrad(g: Tensor, x: Tensor, w: Tensor, s: number, p: number): Tensor {
  const form = x.graph.convWeightGrad;
  // A 1x1 stride-1 kernel has one tap: one GEMM over the batch, in every form but 'per-sample'.
  const pointwise = s === 1 && w.shape[2] === 1 && w.shape[3] === 1;
  if (form === 'batch-conv' && !pointwise) return convWeightGradByConv(g, x, w, s, p);
  return s === 1 && form !== 'per-sample' ? convWeightGradByTaps(g, x, w, p) : convWeightGradPerSample(g, x, w, s, p);
}

/**
 * Any stride, kernels above 1x1: dW as one convolution over the whole batch, the batch axis as its channels. X laid out
 * channels-first [C, N, H, W] is the input (C images of N channels), dY laid out [O, N, Ho, Wo] the
 * kernel (dilated by the stride), padding p: out[c, o, i, j] = sum over n,y,x of
 * Xpad[n, c, i + s*y, j + s*x] * dY[n, o, y, x] = dW[o, c, i, j]. The result [C, O, ., .] (for a stride
 * above 1 it can be larger than the kernel; its first kh x kw taps are dW) is transposed to OIHW.
 */
function convWeightGradByConv(g: Tensor, x: Tensor, w: Tensor, s: number, p: number): Tensor {
  const [kh, kw] = [w.shape[2], w.shape[3]];
  const xc = transpose(x, [1, 0, 2, 3]);
  const gc = transpose(g, [1, 0, 2, 3]);
  const full = x.graph.apply('Conv', [xc, gc], { stride: 1, pad: p, dilation: s })[0];
  return transpose(slice(full, [0, 0], [kh, kw], [2, 3]), [1, 0, 2, 3]);
}

/**
 * Stride 1: tap (i, j) of dW is one GEMM over the whole batch, dY [O, N*Ho*Wo] x window(i, j)^T, where
 * window(i, j) [C, N*Ho*Wo] is X channels-first, zero-padded, shifted by (i, j); the k*k results [O, C]
 * are stacked into OIHW. Each GEMM sums over N*Ho*Wo rows at once (a per-sample GEMM sums over Ho*Wo,
 * 16 rows at 4x4), and a window that lies inside X is X itself or a slice of it, never padded.
 */
function convWeightGradByTaps(g: Tensor, x: Tensor, w: Tensor, p: number): Tensor {
  if (x.graph.convWeightGrad === 'tap-gemms-batch-last') return convWeightGradByTapsBatchLast(g, x, w, p);
  const [o, c, kh, kw] = w.shape;
  const [nb, , ho, wo] = g.shape;
  const [h, wd] = [x.shape[2], x.shape[3]];
  const rows = nb * ho * wo;
  const xc = transpose(x, [1, 0, 2, 3]);
  const gy = reshape(transpose(g, [1, 0, 2, 3]), [o, rows]);
  const taps: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const inside = i >= p && j >= p && i - p + ho <= h && j - p + wo <= wd;
      const window = inside
        ? slice(xc, [i - p, j - p], [i - p + ho, j - p + wo], [2, 3])
        : slice(pad(xc, [0, 0, p, p, 0, 0, p, p]), [i, j], [i + ho, j + wo], [2, 3]);
      taps.push(reshape(matmul(gy, transposeLast2(reshape(window, [c, rows]))), [o, c, 1]));
    }
  }
  return reshape(concat(taps, 2), [o, c, kh, kw]);
}

/** X or dY channels-first with the batch innermost: [C, H, W, N] (a 2-D transpose of [N, C*H*W]). */
function batchLast(t: Tensor): Tensor {
  return transpose(t, [1, 2, 3, 0]);
}

/** dY in batchLast's layout as rows of one output channel each: [O, Ho*Wo*N]. */
function batchLastRows(g: Tensor): Tensor {
  return reshape(batchLast(g), [g.shape[1], -1]);
}

/**
 * 'tap-gemms-batch-last': the GEMMs per tap of 'tap-gemms', with X and dY laid out [C, H, W, N]
 * (batchLast) instead of [C, N, H, W]: a window's rows are then runs of W*N contiguous values, where
 * [C, N, H, W] has runs of W (4 at 4x4), so the windows' Pad and Slices copy long runs.
 */
function convWeightGradByTapsBatchLast(g: Tensor, x: Tensor, w: Tensor, p: number): Tensor {
  const [o, c, kh, kw] = w.shape;
  const [, , ho, wo] = g.shape;
  const [h, wd] = [x.shape[2], x.shape[3]];
  const xc = batchLast(x);
  const gy = batchLastRows(g);
  const taps: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const inside = i >= p && j >= p && i - p + ho <= h && j - p + wo <= wd;
      const window = inside
        ? slice(xc, [i - p, j - p], [i - p + ho, j - p + wo], [1, 2])
        : slice(pad(xc, [0, p, p, 0, 0, p, p, 0]), [i, j], [i + ho, j + wo], [1, 2]);
      taps.push(reshape(matmul(gy, transposeLast2(reshape(window, [c, -1]))), [o, c, 1]));
    }
  }
  return reshape(concat(taps, 2), [o, c, kh, kw]);
}

/**
 * A convolution's bias gradient, the sum of dY over batch and space: with 'tap-gemms-batch-last' and a
 * weight gradient by taps, the sums of the rows of dY in their layout (the same transposed dY, summed
 * along contiguous rows), else a ReduceSum over [N, H, W].
 */
function convBiasGrad(g: Tensor, s: number, weightGradToo: boolean): Tensor {
  return weightGradToo && s === 1 && g.graph.convWeightGrad === 'tap-gemms-batch-last' ? reduceSum(batchLastRows(g), [1]) : reduceSum(g, [0, 2, 3]);
}

/**
 * Any stride: the kernel-tap windows of X come from one convolution of X (one channel per image row of
 * the batch) with a constant one-hot kernel per tap (im2col as a Conv): cols [N, C*k*k, Ho*Wo]. Then per
 * sample a GEMM dY [O, Ho*Wo] x cols^T -> [O, C*k*k], summed over the batch, is dW in OIHW order.
 */
function convWeightGradPerSample(g: Tensor, x: Tensor, w: Tensor, s: number, p: number): Tensor {
  const [o, c, kh, kw] = w.shape;
  const [nb, , ho, wo] = g.shape;
  const taps = kh * kw;
  const onehot = new Float32Array(taps * taps);
  for (let t = 0; t < taps; t++) onehot[t * taps + t] = 1;
  const kernel = x.graph.constant(x.dtype === 'float64' ? Float64Array.from(onehot) : onehot, [taps, 1, kh, kw], x.dtype);
  const rows = reshape(x, [nb * c, 1, x.shape[2], x.shape[3]]);
  const windows = x.graph.apply('Conv', [rows, kernel], { stride: s, pad: p, im2col: true })[0];
  const cols = reshape(windows, [nb, c * taps, ho * wo]);
  const gy = reshape(g, [nb, o, ho * wo]);
  return reshape(reduceSum(matmul(gy, transposeLast2(cols)), 0), [o, c, kh, kw]);
}

/**
 * Reverses the two spatial axes of an OIHW kernel (its k*k taps in reverse order): the product of its
 * [O*I, k*k] rows with the k*k reversal matrix, exact (each entry is 1 * one tap plus zeros) and cheaper
 * in onnxruntime than a Slice with negative steps (its profile of the pretraining step, one thread: 0.1
 * ms against 0.5-1 ms for a 128x128x3x3 kernel).
 */
function reverseTaps(x: Tensor): Tensor {
  const taps = x.shape[2] * x.shape[3];
  const reversal = new Float64Array(taps * taps);
  for (let t = 0; t < taps; t++) reversal[t * taps + taps - 1 - t] = 1;
  const r = x.graph.constant(x.dtype === 'float64' ? reversal : new Float32Array(reversal), [taps, taps], x.dtype);
  return reshape(matmul(reshape(x, [-1, taps]), r), x.shape);
}

defineOp('ConvTranspose', {
  infer([g, w], a) {
    const [s, p] = [a.stride as number, a.pad as number];
    const op = a.outPad as readonly number[];
    const h = s * (g.shape[2] - 1) + op[0] + w.shape[2] - 2 * p;
    const wd = s * (g.shape[3] - 1) + op[1] + w.shape[3] - 2 * p;
    return [{ shape: [g.shape[0], w.shape[1], h, wd], dtype: g.dtype }];
  },
  emit: (n) => {
    const [s, p] = [n.attrs.stride as number, n.attrs.pad as number];
    return { opType: 'ConvTranspose', inputs: n.inputs, attrs: { strides: [s, s], pads: [p, p, p, p], output_padding: n.attrs.outPad } };
  },
});

/** 2-D convolution (NCHW input, OIHW weight), square stride and symmetric padding. */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor, opts: { stride?: number; padding?: number } = {}): Tensor {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return x.graph.apply('Conv', inputs, { stride: opts.stride ?? 1, pad: opts.padding ?? 0 })[0];
}

defineOp('Upsample2x', {
  infer([x]) {
    if (x.rank !== 4) throw new ShapeError('upsampleNearest2x', 'input must be NCHW', [x]);
    return [{ shape: [x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]], dtype: x.dtype }];
  },
  emit: (n) => ({
    opType: 'Resize',
    inputs: [n.inputs[0], null, null, { ints: n.outputs[0].shape }],
    attrs: { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' },
  }),
  // Each input pixel feeds a 2x2 block: its gradient is the block sum = 4 * average.
  backward: (n, [g]) => [mul(4, n.graph.apply('AvgPool2x', [g!])[0])],
});
defineOp('AvgPool2x', {
  infer: ([x]) => [{ shape: [x.shape[0], x.shape[1], x.shape[2] / 2, x.shape[3] / 2], dtype: x.dtype }],
  emit: (n) => ({ opType: 'AveragePool', inputs: n.inputs, attrs: { kernel_shape: [2, 2], strides: [2, 2] } }),
  backward: (_n, [g]) => [mul(0.25, upsampleNearest2x(g!))],
});

export function upsampleNearest2x(x: Tensor): Tensor {
  return x.graph.apply('Upsample2x', [x])[0];
}

/** 2x2 average pooling with stride 2. */
export function avgPool2x(x: Tensor): Tensor {
  if (x.shape[2] % 2 || x.shape[3] % 2) throw new ShapeError('avgPool2x', 'height and width must be even', [x]);
  return x.graph.apply('AvgPool2x', [x])[0];
}

/** PyTorch nn.Linear: x @ W^T + b with W [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, transpose(weight, [1, 0]));
  return bias ? add(y, bias) : y;
}

/** Mean squared error over all elements. */
export function mse(a: Tensor, b: Tensor): Tensor {
  if (!sameShape(a.shape, b.shape)) throw new ShapeError('mse', 'shapes differ', [a, b]);
  const d = sub(a, b);
  return meanAll(mul(d, d));
}
