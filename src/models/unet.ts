/**
 * diffusers UNet2DConditionModel (the SD 1.x/2.x and SDXL layouts) traced into the expression graph. Parameters are
 * named `${prefix}${diffusers state_dict name}`, so checkpoints load by name.
 */
import { add, cast, concat, Graph, GraphError, reshape, silu, type Shape, type Tensor } from '../graph/index.ts';
import { conv2dLayer, groupNormLayer } from './layers.ts';
import type { AttentionOptions } from './attention.ts';
import { checkInjectionPoints, injectRows, injectsAt, type FeatureInjectionPoints } from './feature-injection.ts';
import type { LoraOptions } from './lora.ts';
import { downsample2D, resnetBlock2D, upsample2D } from './resnet.ts';
import { timestepEmbedding, timestepSinusoids } from './timestep-embedding.ts';
import { transformer2DModel } from './transformer-2d.ts';
import { pooledTextWidth, TIME_IDS, type UNet2DConditionConfig } from './unet-config.ts';

export * from './unet-config.ts';

export interface UNetInputs {
  /** Noisy latents [B, in_channels, H, W]. */
  sample: Tensor;
  /** Timesteps [B] (float32 or int64). */
  timestep: Tensor;
  /** Text-encoder states [B, M, cross_attention_dim]. */
  encoderHiddenStates: Tensor;
  /** For text_time UNets (SDXL): pooled text embeddings [B, P] and size ids [B, 6]. */
  added?: { textEmbeds: Tensor; timeIds: Tensor };
}

export interface UNetOptions extends LoraOptions, AttentionOptions {
  /** Parameter name prefix (default 'unet.'). */
  prefix?: string;
  /**
   * Feature injection across rows (src/models/feature-injection.ts): the graph gets the inputs
   * inject_source and inject_mix. Absent: no injection, the graph is the plain UNet's.
   */
  injection?: FeatureInjectionPoints;
}

const perBlock = (v: number | readonly number[], n: number, field: string): number[] => {
  const a = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (a.length !== n) throw new GraphError(`UNet config: ${field} has ${a.length} entries for ${n} blocks`);
  return a;
};

/** Returns the predicted noise (or v) [B, out_channels, H, W]. */
export function unet2DConditionModel(g: Graph, cfg: UNet2DConditionConfig, inputs: UNetInputs, opts: UNetOptions = {}): Tensor {
  const p = opts.prefix ?? 'unet.';
  const { sample, encoderHiddenStates: ctx } = inputs;
  if (sample.graph !== g || ctx.graph !== g || inputs.timestep.graph !== g) throw new GraphError('UNet: inputs belong to another graph');
  const nBlocks = cfg.block_out_channels.length;
  if (cfg.down_block_types.length !== nBlocks || cfg.up_block_types.length !== nBlocks) {
    throw new GraphError(`UNet config: ${nBlocks} block_out_channels but ${cfg.down_block_types.length} down and ${cfg.up_block_types.length} up block types`);
  }
  if ((cfg.mid_block_type ?? 'UNetMidBlock2DCrossAttn') !== 'UNetMidBlock2DCrossAttn')
    throw new GraphError(`UNet config: mid_block_type ${cfg.mid_block_type} is not supported`);
  if ((cfg.act_fn ?? 'silu') !== 'silu') throw new GraphError(`UNet config: act_fn ${cfg.act_fn} is not supported (only silu)`);
  if (sample.shape[1] !== cfg.in_channels) throw new GraphError(`UNet: sample has ${sample.shape[1]} channels, config says in_channels ${cfg.in_channels}`);
  if (ctx.shape[2] !== cfg.cross_attention_dim)
    throw new GraphError(`UNet: encoder_hidden_states width ${ctx.shape[2]}, config says cross_attention_dim ${cfg.cross_attention_dim}`);
  if (inputs.timestep.shape.join() !== String(sample.shape[0]))
    throw new GraphError(`UNet: timestep must be [${sample.shape[0]}], got [${inputs.timestep.shape}]`);
  const downs = 2 ** (nBlocks - 1);
  if (sample.shape[2] % downs || sample.shape[3] % downs)
    throw new GraphError(`UNet: sample ${sample.shape[2]}x${sample.shape[3]} is not divisible by ${downs}`);

  const channels = cfg.block_out_channels;
  const heads = perBlock(cfg.num_attention_heads ?? cfg.attention_head_dim, nBlocks, 'attention_head_dim');
  const layers = perBlock(cfg.layers_per_block, nBlocks, 'layers_per_block');
  const tLayers = perBlock(cfg.transformer_layers_per_block ?? 1, nBlocks, 'transformer_layers_per_block');
  const res = { groups: cfg.norm_num_groups, eps: cfg.norm_eps, lora: opts.lora };
  if (opts.injection) checkInjectionPoints(opts.injection, nBlocks);
  const attn = (x: Tensor, name: string, block: number, reversed = false, injectSelfAttention = false) => {
    const i = reversed ? nBlocks - 1 - block : block;
    return transformer2DModel(x, ctx, name, {
      injectSelfAttention,
      heads: heads[i],
      layers: tLayers[i],
      groups: cfg.norm_num_groups,
      useLinearProjection: cfg.use_linear_projection ?? false,
      lora: opts.lora,
      recomputeAttention: opts.recomputeAttention,
    });
  };

  // Time embedding.
  const tembDim = channels[0] * 4;
  let temb = timestepSinusoids(inputs.timestep, channels[0], { flipSinToCos: cfg.flip_sin_to_cos, freqShift: cfg.freq_shift });
  temb = timestepEmbedding(cast(temb, sample.dtype), `${p}time_embedding`, tembDim);
  if (cfg.addition_embed_type === 'text_time') temb = add(temb, textTimeEmbedding(cfg, inputs, `${p}add_embedding`, tembDim));
  else if (inputs.added) throw new GraphError('UNet: added conditioning (text_embeds, time_ids) given, but the config has no addition_embed_type');

  // Down path; every resnet/attention output and every downsampler output is a skip.
  let h = conv2dLayer(sample, `${p}conv_in`, channels[0], 3);
  const skips: Tensor[] = [h];
  for (let i = 0; i < nBlocks; i++) {
    const name = `${p}down_blocks.${i}`;
    const cross = cfg.down_block_types[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < layers[i]; j++) {
      h = resnetBlock2D(h, temb, `${name}.resnets.${j}`, channels[i], res);
      if (cross) h = attn(h, `${name}.attentions.${j}`, i);
      skips.push(h);
    }
    if (i < nBlocks - 1) {
      h = downsample2D(h, `${name}.downsamplers.0`);
      skips.push(h);
    }
  }

  // Mid block: resnet, transformer, resnet.
  const last = channels[nBlocks - 1];
  h = resnetBlock2D(h, temb, `${p}mid_block.resnets.0`, last, res);
  h = attn(h, `${p}mid_block.attentions.0`, nBlocks - 1);
  h = resnetBlock2D(h, temb, `${p}mid_block.resnets.1`, last, res);

  // Up path: layers+1 resnets per block, each taking the latest skip concatenated on channels.
  for (let i = 0; i < nBlocks; i++) {
    const name = `${p}up_blocks.${i}`;
    const level = nBlocks - 1 - i;
    const cross = cfg.up_block_types[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j < layers[level] + 1; j++) {
      h = concat([h, skips.pop()!], 1);
      h = resnetBlock2D(h, temb, `${name}.resnets.${j}`, channels[level], res);
      if (injectsAt(opts.injection, 'resnets', i, nBlocks)) h = injectRows(h);
      if (cross) h = attn(h, `${name}.attentions.${j}`, i, true, injectsAt(opts.injection, 'attention', i, nBlocks));
    }
    if (i < nBlocks - 1) h = upsample2D(h, `${name}.upsamplers.0`);
  }
  if (skips.length) throw new GraphError(`UNet: ${skips.length} skip connections left over (layers_per_block mismatch)`);

  h = silu(groupNormLayer(h, `${p}conv_norm_out`, cfg.norm_num_groups, cfg.norm_eps));
  return conv2dLayer(h, `${p}conv_out`, cfg.out_channels, 3);
}

/** SDXL's aug_emb: add_embedding(concat(text_embeds, sinusoids of each size id)), in the sample's dtype. */
function textTimeEmbedding(cfg: UNet2DConditionConfig, inputs: UNetInputs, name: string, tembDim: number): Tensor {
  const b = inputs.sample.shape[0];
  const pooled = pooledTextWidth(cfg);
  const dim = cfg.addition_time_embed_dim ?? 0;
  if (!inputs.added) throw new GraphError('UNet: this UNet (addition_embed_type text_time) needs text_embeds and time_ids');
  const { textEmbeds, timeIds } = inputs.added;
  if (pooled <= 0 || dim <= 0)
    throw new GraphError(`UNet config: text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim > ${TIME_IDS} x it`);
  if (textEmbeds.shape.join() !== `${b},${pooled}`) throw new GraphError(`UNet: text_embeds must be [${b}, ${pooled}], got [${textEmbeds.shape}]`);
  if (timeIds.shape.join() !== `${b},${TIME_IDS}`) throw new GraphError(`UNet: time_ids must be [${b}, ${TIME_IDS}], got [${timeIds.shape}]`);
  const sizes = timestepSinusoids(reshape(timeIds, [b * TIME_IDS]), dim, { flipSinToCos: cfg.flip_sin_to_cos, freqShift: cfg.freq_shift });
  const x = concat([cast(textEmbeds, 'float32'), reshape(sizes, [b, TIME_IDS * dim])], 1);
  return timestepEmbedding(cast(x, inputs.sample.dtype), name, tembDim);
}

/**
 * Every parameter of the model (name -> shape), in declaration order, for a config and LoRA adapters:
 * traced symbolically at batch 1, nothing is run.
 */
export function unetParamShapes(cfg: UNet2DConditionConfig, opts: UNetOptions = {}): Map<string, Shape> {
  const g = new Graph();
  const s = cfg.sample_size;
  unet2DConditionModel(
    g,
    cfg,
    {
      sample: g.input('sample', [1, cfg.in_channels, s, s]),
      timestep: g.input('timestep', [1]),
      encoderHiddenStates: g.input('encoder_hidden_states', [1, 1, cfg.cross_attention_dim]),
      added:
        cfg.addition_embed_type === 'text_time'
          ? { textEmbeds: g.input('text_embeds', [1, pooledTextWidth(cfg)]), timeIds: g.input('time_ids', [1, TIME_IDS]) }
          : undefined,
    },
    opts,
  );
  return new Map([...g.params].map(([name, t]) => [name, t.shape]));
}
