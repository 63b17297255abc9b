/** UNet2DConditionModel configuration, with diffusers' config.json field names, and the shipped configs. */

import { CheckpointError } from './checkpoint-error.ts';

export type DownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';

export interface UNet2DConditionConfig {
  sample_size: number;
  in_channels: number;
  out_channels: number;
  block_out_channels: readonly number[];
  /** Resnets per down block (up blocks have one more); a number or one per block. */
  layers_per_block: number | readonly number[];
  down_block_types: readonly DownBlockType[];
  up_block_types: readonly UpBlockType[];
  mid_block_type?: 'UNetMidBlock2DCrossAttn';
  cross_attention_dim: number;
  /**
   * In diffusers' UNet2DConditionModel this field is, for historical reasons, the number of attention
   * HEADS per block (head width = channels / heads), unless num_attention_heads is set. SD 1.5: 8.
   */
  attention_head_dim: number | readonly number[];
  num_attention_heads?: number | readonly number[] | null;
  transformer_layers_per_block?: number | readonly number[];
  norm_num_groups: number;
  norm_eps: number;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  /** false (SD 1.x): proj_in/proj_out are 1x1 convs; true (SD 2.x, XL): nn.Linear. */
  use_linear_projection?: boolean;
  act_fn?: 'silu';
  /**
   * SDXL's added conditioning: 'text_time' adds to the time embedding an MLP (add_embedding) of the
   * pooled text embedding [B, P] concatenated with sinusoids (addition_time_embed_dim wide, one per
   * value) of the six size ids [original h, w, crop top, left, target h, w]; its input width is
   * projection_class_embeddings_input_dim = P + 6 * addition_time_embed_dim (SDXL base: 1280 + 1536).
   */
  addition_embed_type?: 'text_time' | null;
  addition_time_embed_dim?: number | null;
  projection_class_embeddings_input_dim?: number | null;
}

/** Number of size ids in SDXL's text_time conditioning: original (h, w), crop (top, left), target (h, w). */
export const TIME_IDS = 6;

/** The width of the pooled text embedding a text_time UNet expects, or 0 for UNets without added conditioning. */
export function pooledTextWidth(cfg: UNet2DConditionConfig): number {
  if (cfg.addition_embed_type !== 'text_time') return 0;
  return (cfg.projection_class_embeddings_input_dim ?? 0) - TIME_IDS * (cfg.addition_time_embed_dim ?? 0);
}

/** runwayml/stable-diffusion-v1-5, unet/config.json (fields that change the architecture). */
export const SD15_UNET_CONFIG: UNet2DConditionConfig = {
  sample_size: 64,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [320, 640, 1280, 1280],
  layers_per_block: 2,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 768,
  attention_head_dim: 8,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: false,
  act_fn: 'silu',
};

/**
 * stabilityai/stable-diffusion-xl-base-1.0, unet/config.json: three levels (the first without
 * attention), 5/10/20 heads of width 64, 1/2/10 transformer blocks per attention (10 in the mid block),
 * linear projections, 2048-wide cross-attention (CLIP ViT-L 768 + OpenCLIP ViT-bigG 1280 states), and
 * text_time added conditioning. 2.57 G parameters.
 */
export const SDXL_UNET_CONFIG: UNet2DConditionConfig = {
  sample_size: 128,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [320, 640, 1280],
  layers_per_block: 2,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 2048,
  attention_head_dim: [5, 10, 20],
  num_attention_heads: null,
  transformer_layers_per_block: [1, 2, 10],
  norm_num_groups: 32,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: true,
  act_fn: 'silu',
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 256,
  projection_class_embeddings_input_dim: 2816,
};

/**
 * The embedded emoji model: 16x16x12 latents (32x32 RGB, space-to-depth 2x), conditioned on the
 * 128-wide EMOJI_MINI text encoder. Full-resolution level without attention; attention (4 heads) at
 * 8x8 and 4x4. 4.23 M parameters, ~0.27 GFLOP per sample forward (2 x MACs of convs and matmuls).
 */
export const EMOJI_MINI_UNET_CONFIG: UNet2DConditionConfig = {
  sample_size: 16,
  in_channels: 12,
  out_channels: 12,
  block_out_channels: [32, 64, 128],
  layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 128,
  attention_head_dim: 4,
  norm_num_groups: 16,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: false,
  act_fn: 'silu',
};

/** unet/config.json -> UNet2DConditionConfig, refusing the variants these models do not implement. */
export function unetConfigFromJson(j: Record<string, unknown>, where = 'unet/config.json'): UNet2DConditionConfig {
  const unsupported: string[] = [];
  const must = (field: string, ok: (v: unknown) => boolean, what: string) => {
    if (field in j && !ok(j[field])) unsupported.push(`${field}=${JSON.stringify(j[field])} (supported: ${what})`);
  };
  const nullish = (v: unknown) => v === null || v === undefined;
  must('class_embed_type', nullish, 'null');
  must('addition_embed_type', (v) => nullish(v) || v === 'text_time', 'null or "text_time"');
  must('encoder_hid_dim', nullish, 'null');
  must('resnet_time_scale_shift', (v) => v === 'default', '"default"');
  must('time_embedding_type', (v) => v === 'positional', '"positional"');
  must('center_input_sample', (v) => v === false, 'false');
  must('only_cross_attention', (v) => v === false, 'false');
  must('dual_cross_attention', (v) => v === false, 'false');
  must('downsample_padding', (v) => v === 1, '1');
  must('mid_block_scale_factor', (v) => v === 1, '1');
  must('act_fn', (v) => v === 'silu', '"silu"');
  must('mid_block_type', (v) => v === 'UNetMidBlock2DCrossAttn' || v === null, '"UNetMidBlock2DCrossAttn"');
  must('conv_in_kernel', (v) => v === 3, '3');
  must('conv_out_kernel', (v) => v === 3, '3');
  if (unsupported.length) throw new CheckpointError(`${where}: this UNet variant is not supported:\n  ${unsupported.join('\n  ')}`);
  const pick = <K extends keyof UNet2DConditionConfig>(k: K, fallback?: UNet2DConditionConfig[K]) => {
    const v = (j[k] ?? fallback) as UNet2DConditionConfig[K];
    if (v === undefined) throw new CheckpointError(`${where}: no "${k}"`);
    return v;
  };
  return {
    sample_size: pick('sample_size'),
    in_channels: pick('in_channels', 4),
    out_channels: pick('out_channels', 4),
    block_out_channels: pick('block_out_channels'),
    layers_per_block: pick('layers_per_block', 2),
    down_block_types: pick('down_block_types'),
    up_block_types: pick('up_block_types'),
    mid_block_type: 'UNetMidBlock2DCrossAttn',
    cross_attention_dim: pick('cross_attention_dim'),
    attention_head_dim: pick('attention_head_dim', 8),
    num_attention_heads: (j.num_attention_heads ?? null) as UNet2DConditionConfig['num_attention_heads'],
    transformer_layers_per_block: pick('transformer_layers_per_block', 1),
    norm_num_groups: pick('norm_num_groups', 32),
    norm_eps: pick('norm_eps', 1e-5),
    flip_sin_to_cos: pick('flip_sin_to_cos', true),
    freq_shift: pick('freq_shift', 0),
    use_linear_projection: pick('use_linear_projection', false),
    act_fn: 'silu',
    ...(j.addition_embed_type === 'text_time'
      ? {
          addition_embed_type: 'text_time' as const,
          addition_time_embed_dim: pick('addition_time_embed_dim'),
          projection_class_embeddings_input_dim: pick('projection_class_embeddings_input_dim'),
        }
      : {}),
  };
}
