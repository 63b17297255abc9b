/**
 * A tiny SDXL-shaped model with random weights: the SDXL UNet layout (first level without attention,
 * per-level heads and transformer depth, linear projections, text_time added conditioning), CLIP text
 * encoder + a second one with projection whose penultimate states concatenate to the cross-attention
 * width, and the SD VAE classes; reduced widths throughout.
 */
import type { CLIPTextConfig } from '../../src/models/clip-text.ts';
import { stableDiffusionInventory } from '../../src/pipeline/stable-diffusion.ts';
import { writeDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import type { WritableDType } from '../../src/formats/safetensors.ts';
import type { UNet2DConditionConfig } from '../../src/models/unet.ts';
import { randomWeight } from './random-weights.ts';
import { TINY_SD_TEXT, TINY_SD_VAE } from './tiny-sd.ts';

export const TINY_SDXL_TEXT: CLIPTextConfig = { ...TINY_SD_TEXT, num_hidden_layers: 3 };
export const TINY_SDXL_TEXT_2: CLIPTextConfig = {
  ...TINY_SD_TEXT,
  hidden_size: 24,
  intermediate_size: 48,
  num_hidden_layers: 3,
  num_attention_heads: 3,
  hidden_act: 'gelu',
  projection_dim: 20,
};
export const TINY_SDXL_UNET: UNet2DConditionConfig = {
  sample_size: 4,
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [8, 16, 16],
  layers_per_block: 1,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  mid_block_type: 'UNetMidBlock2DCrossAttn',
  cross_attention_dim: 16 + 24,
  attention_head_dim: [1, 2, 4],
  num_attention_heads: null,
  transformer_layers_per_block: [1, 1, 2],
  norm_num_groups: 4,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
  use_linear_projection: true,
  act_fn: 'silu',
  addition_embed_type: 'text_time',
  addition_time_embed_dim: 4,
  projection_class_embeddings_input_dim: 20 + 6 * 4,
};
/** The SD VAE at tiny width, 2x down: 8 px images, 4x4 latents (SDXL uses the SD VAE with another scale). */
export const TINY_SDXL_VAE = { ...TINY_SD_VAE, scaling_factor: 0.13025 };

export function tinySdxlWeights(seed = 1): Map<string, Float32Array> {
  const inv = stableDiffusionInventory(TINY_SDXL_UNET, TINY_SDXL_TEXT, TINY_SDXL_VAE, TINY_SDXL_TEXT_2);
  return new Map([...inv].map(([k, s]) => [k, randomWeight(k, s, seed)]));
}

/** The tiny SDXL as a diffusers folder (text_encoder_2/, tokenizer_2/, force_zeros_for_empty_prompt). */
export function writeTinySdxlFolder(dir: string, tokenizers: { tokenizerDir: string; tokenizer2Dir: string }, dtype: WritableDType = 'F32'): Promise<void> {
  return writeDiffusersPipeline(dir, {
    unet: TINY_SDXL_UNET,
    text: TINY_SDXL_TEXT,
    text2: TINY_SDXL_TEXT_2,
    vae: TINY_SDXL_VAE,
    weights: tinySdxlWeights(),
    ...tokenizers,
    dtype,
  });
}
