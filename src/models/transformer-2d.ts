/**
 * diffusers Transformer2DModel (continuous input) and BasicTransformerBlock as used by SD 1.x/2.x/XL:
 * GroupNorm(eps 1e-6) -> proj_in -> blocks (self-attention, cross-attention, GEGLU feed-forward, each
 * pre-LayerNorm and residual) -> proj_out -> + input.
 */
import { add, geglu, reshape, transpose, type Tensor } from '../graph/index.ts';
import { attention, type AttentionOptions } from './attention.ts';
import { conv1x1OnTokens, groupNormLayer, layerNormLayer, linearLayer } from './layers.ts';
import type { LoraOptions } from './lora.ts';

export interface Transformer2DOptions extends LoraOptions, AttentionOptions {
  heads: number;
  /** Number of BasicTransformerBlocks (transformer_layers_per_block). */
  layers: number;
  /** GroupNorm groups (the UNet's norm_num_groups). */
  groups: number;
  /** true: proj_in/proj_out are nn.Linear (SD 2.x, XL); false: 1x1 nn.Conv2d (SD 1.x). */
  useLinearProjection: boolean;
  /** Inject the self-attention queries and keys across rows (src/models/feature-injection.ts). */
  injectSelfAttention?: boolean;
}

/** BasicTransformerBlock on tokens [B, N, dim], cross-attending to context [B, M, cross_dim]. */
export function basicTransformerBlock(
  x: Tensor,
  context: Tensor,
  name: string,
  heads: number,
  opts: LoraOptions & AttentionOptions & { injectSelfAttention?: boolean } = {},
): Tensor {
  const dim = x.shape[2];
  const { injectSelfAttention, ...common } = opts;
  let h = add(attention(layerNormLayer(x, `${name}.norm1`, 1e-5), undefined, `${name}.attn1`, heads, { ...common, injectQueryKey: injectSelfAttention }), x);
  h = add(attention(layerNormLayer(h, `${name}.norm2`, 1e-5), context, `${name}.attn2`, heads, common), h);
  const ff = geglu(linearLayer(layerNormLayer(h, `${name}.norm3`, 1e-5), `${name}.ff.net.0.proj`, 2 * 4 * dim));
  return add(linearLayer(ff, `${name}.ff.net.2`, dim), h);
}

/** Transformer2DModel on x [B, C, H, W] with context [B, M, cross_dim] -> [B, C, H, W]. */
export function transformer2DModel(x: Tensor, context: Tensor, name: string, opts: Transformer2DOptions): Tensor {
  const [b, c, hh, ww] = x.shape;
  const normed = groupNormLayer(x, `${name}.norm`, opts.groups, 1e-6);
  // Both projections act per pixel; on channels-last tokens a 1x1 conv is the same matrix product.
  const tokens = reshape(transpose(normed, [0, 2, 3, 1]), [b, hh * ww, c]);
  const project = (t: Tensor, proj: string) => (opts.useLinearProjection ? linearLayer(t, proj, c) : conv1x1OnTokens(t, proj, c));
  let h = project(tokens, `${name}.proj_in`);
  for (let i = 0; i < opts.layers; i++) h = basicTransformerBlock(h, context, `${name}.transformer_blocks.${i}`, opts.heads, opts);
  h = project(h, `${name}.proj_out`);
  return add(transpose(reshape(h, [b, hh, ww, c]), [0, 3, 1, 2]), x);
}
