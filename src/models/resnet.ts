/** diffusers ResnetBlock2D (time_embedding_norm 'default', SiLU, output_scale_factor 1) and the 2x resamplers. */
import { add, pad, reshape, silu, upsampleNearest2x, type Tensor } from '../graph/index.ts';
import { conv2dLayer, groupNormLayer, linearLayer } from './layers.ts';
import { loraConv2d, type LoraOptions } from './lora.ts';

export interface ResnetOptions extends LoraOptions {
  groups: number;
  eps: number;
}

/**
 * x [B, Cin, H, W], temb [B, T] -> [B, outCh, H, W]:
 * h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb)); h = conv2(silu(norm2(h))); out = shortcut(x) + h,
 * the shortcut a 1x1 conv_shortcut when the channel count changes. Without temb (temb_channels=None,
 * as in the VAE) there is no time_emb_proj. Adapters with `convs` (opts.lora) adapt conv1 and conv2.
 */
export function resnetBlock2D(x: Tensor, temb: Tensor | undefined, name: string, outCh: number, opts: ResnetOptions): Tensor {
  let h = loraConv2d(silu(groupNormLayer(x, `${name}.norm1`, opts.groups, opts.eps)), `${name}.conv1`, outCh, 3, opts);
  if (temb) {
    const t = linearLayer(silu(temb), `${name}.time_emb_proj`, outCh);
    h = add(h, reshape(t, [x.shape[0], outCh, 1, 1]));
  }
  h = loraConv2d(silu(groupNormLayer(h, `${name}.norm2`, opts.groups, opts.eps)), `${name}.conv2`, outCh, 3, opts);
  const shortcut = x.shape[1] === outCh ? x : conv2dLayer(x, `${name}.conv_shortcut`, outCh, 1);
  return add(shortcut, h);
}

/**
 * Downsample2D with use_conv: a 3x3 stride-2 conv named `${name}.conv`. padding 1 (the UNet's) pads
 * symmetrically; padding 0 (the VAE encoder's) first pads one zero row/column at the bottom/right only
 * (F.pad(x, (0, 1, 0, 1))), then convolves without padding.
 */
export function downsample2D(x: Tensor, name: string, padding: 0 | 1 = 1): Tensor {
  if (padding === 1) return conv2dLayer(x, `${name}.conv`, x.shape[1], 3, { stride: 2, padding: 1 });
  return conv2dLayer(pad(x, [0, 0, 0, 0, 0, 0, 1, 1]), `${name}.conv`, x.shape[1], 3, { stride: 2, padding: 0 });
}

/** Upsample2D with use_conv: nearest 2x, then a 3x3 conv named `${name}.conv`. */
export function upsample2D(x: Tensor, name: string): Tensor {
  return conv2dLayer(upsampleNearest2x(x), `${name}.conv`, x.shape[1], 3);
}
