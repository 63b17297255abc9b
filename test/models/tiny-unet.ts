/** A UNet small enough for finite differences (two levels, one cross-attention block each way) and its inputs. */
import type { Graph, Tensor } from '../../src/graph/index.ts';
import type { LoraAdapter } from '../../src/models/lora.ts';
import { unet2DConditionModel, type UNet2DConditionConfig } from '../../src/models/unet.ts';
import { randomArray, randomWeight } from './random-weights.ts';

export const TINY: UNet2DConditionConfig = {
  sample_size: 4,
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [8, 16],
  layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 16,
  attention_head_dim: 2,
  norm_num_groups: 4,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
};
export const B = 2;
export const TOKENS = 3;
export const ADAPTERS = [
  { name: 'content', rank: 2, scale: 1 },
  { name: 'style', rank: 3, scale: 0.5 },
];

export function tinyUnet(g: Graph, lora: readonly LoraAdapter[], inputs?: { sample: Tensor; timestep: Tensor; ctx: Tensor }): Tensor {
  const x = inputs ?? {
    sample: g.input('sample', [B, 3, 4, 4]),
    timestep: g.input('timestep', [B]),
    ctx: g.input('ctx', [B, TOKENS, 16]),
  };
  return unet2DConditionModel(g, TINY, { sample: x.sample, timestep: x.timestep, encoderHiddenStates: x.ctx }, { lora });
}

export const feeds = {
  sample: randomArray(B * 48, 11),
  timestep: Float32Array.from([3, 700]),
  ctx: randomArray(B * TOKENS * 16, 12),
};
/** LoRA B values: random (as after some training) or zero (as initialised). */
export const weights =
  (g: Graph, zeroB = false) =>
  (name: string) =>
    zeroB && name.includes('.lora_B.') ? new Float32Array(g.params.get(name)!.size) : randomWeight(name, g.params.get(name)!.shape);
