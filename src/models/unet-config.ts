/** UNet2DConditionModel configuration, with diffusers' config.json field names, and the shipped configs. */

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
