/** diffusers ResnetBlock2D (time_embedding_norm 'default', SiLU, output_scale_factor 1) and the 2x resamplers. */
import { add, reshape, silu, upsampleNearest2x, type Tensor } from '../graph/index.ts';
import { conv2dLayer, groupNormLayer, linearLayer } from './layers.ts';

export interface ResnetOptions {
  groups: number;
  eps: number;
}

/**
 * x [B, Cin, H, W], temb [B, T] -> [B, outCh, H, W]:
 * h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb)); h = conv2(silu(norm2(h))); out = shortcut(x) + h,
 * the shortcut a 1x1 conv_shortcut when the channel count changes.
 */
export function resnetBlock2D(x: Tensor, temb: Tensor, name: string, outCh: number, opts: ResnetOptions): Tensor {
  let h = conv2dLayer(silu(groupNormLayer(x, `${name}.norm1`, opts.groups, opts.eps)), `${name}.conv1`, outCh, 3);
  const t = linearLayer(silu(temb), `${name}.time_emb_proj`, outCh);
  h = add(h, reshape(t, [x.shape[0], outCh, 1, 1]));
  h = conv2dLayer(silu(groupNormLayer(h, `${name}.norm2`, opts.groups, opts.eps)), `${name}.conv2`, outCh, 3);
  const shortcut = x.shape[1] === outCh ? x : conv2dLayer(x, `${name}.conv_shortcut`, outCh, 1);
  return add(shortcut, h);
}

/** Downsample2D with use_conv (padding 1): a 3x3 stride-2 conv named `${name}.conv`. */
export function downsample2D(x: Tensor, name: string): Tensor {
  return conv2dLayer(x, `${name}.conv`, x.shape[1], 3, { stride: 2, padding: 1 });
}

/** Upsample2D with use_conv: nearest 2x, then a 3x3 conv named `${name}.conv`. */
export function upsample2D(x: Tensor, name: string): Tensor {
  return conv2dLayer(upsampleNearest2x(x), `${name}.conv`, x.shape[1], 3);
}
