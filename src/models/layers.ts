/**
 * torch.nn layers as named parameters: each takes the module's full name (e.g. 'unet.conv_in') and
 * declares `${name}.weight` / `${name}.bias` with PyTorch's shapes, in the dtype of its input.
 */
import { conv2d, groupNorm, layerNorm, linear, reshape, type Tensor } from '../graph/index.ts';

/** nn.Linear on the last axis: weight [out, in], bias [out]. */
export function linearLayer(x: Tensor, name: string, outDim: number, bias = true): Tensor {
  const g = x.graph;
  const w = g.param(`${name}.weight`, [outDim, x.shape[x.rank - 1]], x.dtype);
  return linear(x, w, bias ? g.param(`${name}.bias`, [outDim], x.dtype) : undefined);
}

/** nn.Conv2d with a square kernel: weight [out, in, k, k], bias [out]; padding defaults to k/2 ('same'). */
export function conv2dLayer(x: Tensor, name: string, outCh: number, kernel: number, opts: { stride?: number; padding?: number } = {}): Tensor {
  const g = x.graph;
  const w = g.param(`${name}.weight`, [outCh, x.shape[1], kernel, kernel], x.dtype);
  const b = g.param(`${name}.bias`, [outCh], x.dtype);
  return conv2d(x, w, b, { stride: opts.stride ?? 1, padding: opts.padding ?? kernel >> 1 });
}

/**
 * A 1x1 nn.Conv2d (weight [out, in, 1, 1]) applied to channels-last tokens [B, N, in]: the same map as
 * the convolution, computed as one matrix product.
 */
export function conv1x1OnTokens(x: Tensor, name: string, outDim: number): Tensor {
  const g = x.graph;
  const inDim = x.shape[x.rank - 1];
  const w = g.param(`${name}.weight`, [outDim, inDim, 1, 1], x.dtype);
  return linear(x, reshape(w, [outDim, inDim]), g.param(`${name}.bias`, [outDim], x.dtype));
}

/** nn.GroupNorm(groups, C, eps) with affine weight [C] and bias [C]. */
export function groupNormLayer(x: Tensor, name: string, groups: number, eps: number): Tensor {
  const c = x.shape[1];
  return groupNorm(x, x.graph.param(`${name}.weight`, [c], x.dtype), x.graph.param(`${name}.bias`, [c], x.dtype), groups, eps);
}

/** nn.LayerNorm over the last axis with affine weight and bias. */
export function layerNormLayer(x: Tensor, name: string, eps: number): Tensor {
  const d = x.shape[x.rank - 1];
  return layerNorm(x, x.graph.param(`${name}.weight`, [d], x.dtype), x.graph.param(`${name}.bias`, [d], x.dtype), eps);
}
