/**
 * diffusers AutoencoderKL (the Stable Diffusion VAE) traced into the expression graph, and an
 * ImageCodec that runs its encoder and decoder on onnxruntime. Parameters are named
 * `${prefix}${diffusers state_dict name}` (prefix default 'vae.'), as in `vae/diffusion_pytorch_model.safetensors`:
 *   encoder.conv_in, encoder.down_blocks.i.{resnets.j, downsamplers.0.conv}, encoder.mid_block.{resnets.0,
 *   attentions.0.{group_norm, to_q, to_k, to_v, to_out.0}, resnets.1}, encoder.conv_norm_out, encoder.conv_out,
 *   quant_conv, post_quant_conv, and the decoder's mirror (up_blocks with layers_per_block + 1 resnets).
 * All group norms and resnets here use eps 1e-6 (diffusers hard-codes it for the VAE).
 */
import { add, Graph, GraphError, mul, reshape, silu, slice, transpose, emitOnnx, GraphSession, type Shape, type Tensor } from '../graph/index.ts';
import { Rng } from '../graph/rng.ts';
import { multiHeadAttention } from './attention.ts';
import { conv2dLayer, groupNormLayer, linearLayer } from './layers.ts';
import { downsample2D, resnetBlock2D, upsample2D } from './resnet.ts';
import type { ImageCodec } from './image-codec.ts';
import { CheckpointError } from './checkpoint-error.ts';

/** AutoencoderKL configuration, with diffusers' vae/config.json field names. */
export interface AutoencoderKLConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: readonly 'DownEncoderBlock2D'[];
  up_block_types: readonly 'UpDecoderBlock2D'[];
  block_out_channels: readonly number[];
  layers_per_block: number;
  act_fn?: 'silu';
  latent_channels: number;
  norm_num_groups: number;
  /** Image size the model was trained at (informational). */
  sample_size: number;
  /** Latents are multiplied by this after encoding and divided by it before decoding. */
  scaling_factor: number;
  /** Subtracted before scaling (SD3/Flux VAEs); null or absent: 0. */
  shift_factor?: number | null;
  mid_block_add_attention?: boolean;
  use_quant_conv?: boolean;
  use_post_quant_conv?: boolean;
}

/** The VAE of runwayml/stable-diffusion-v1-5 (vae/config.json; also SD 2.x's). */
export const SD_VAE_CONFIG: AutoencoderKLConfig = {
  in_channels: 3,
  out_channels: 3,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  act_fn: 'silu',
  latent_channels: 4,
  norm_num_groups: 32,
  sample_size: 512,
  scaling_factor: 0.18215,
};

const VAE_EPS = 1e-6;

export interface VaeOptions {
  /** Parameter name prefix (default 'vae.'). */
  prefix?: string;
}

function checkConfig(cfg: AutoencoderKLConfig): void {
  const n = cfg.block_out_channels.length;
  if (cfg.down_block_types.length !== n || cfg.up_block_types.length !== n) {
    throw new GraphError(`VAE config: ${n} block_out_channels but ${cfg.down_block_types.length} down and ${cfg.up_block_types.length} up block types`);
  }
  for (const t of cfg.down_block_types) if (t !== 'DownEncoderBlock2D') throw new GraphError(`VAE config: down block type ${t} is not supported`);
  for (const t of cfg.up_block_types) if (t !== 'UpDecoderBlock2D') throw new GraphError(`VAE config: up block type ${t} is not supported`);
  if ((cfg.act_fn ?? 'silu') !== 'silu') throw new GraphError(`VAE config: act_fn ${cfg.act_fn} is not supported (only silu)`);
}

/** How many times the encoder halves the image: 2^(blocks - 1) (8 for SD). */
export const vaeDownscale = (cfg: AutoencoderKLConfig): number => 2 ** (cfg.block_out_channels.length - 1);

/**
 * diffusers Attention as built by UNetMidBlock2D for the VAE (_from_deprecated_attn_block): one head
 * of width C, group_norm (eps 1e-6), biased to_q/to_k/to_v/to_out.0, residual connection.
 */
export function vaeMidAttention(x: Tensor, name: string, groups: number): Tensor {
  const [b, c, h, w] = x.shape;
  const normed = groupNormLayer(x, `${name}.group_norm`, groups, VAE_EPS);
  const tokens = reshape(transpose(normed, [0, 2, 3, 1]), [b, h * w, c]);
  const q = linearLayer(tokens, `${name}.to_q`, c);
  const k = linearLayer(tokens, `${name}.to_k`, c);
  const v = linearLayer(tokens, `${name}.to_v`, c);
  const o = linearLayer(multiHeadAttention(q, k, v, 1), `${name}.to_out.0`, c);
  return add(transpose(reshape(o, [b, h, w, c]), [0, 3, 1, 2]), x);
}

/** UNetMidBlock2D without time embedding: resnet, (attention), resnet. */
function midBlock(x: Tensor, name: string, cfg: AutoencoderKLConfig): Tensor {
  const c = x.shape[1];
  const res = { groups: cfg.norm_num_groups, eps: VAE_EPS };
  let h = resnetBlock2D(x, undefined, `${name}.resnets.0`, c, res);
  if (cfg.mid_block_add_attention ?? true) h = vaeMidAttention(h, `${name}.attentions.0`, cfg.norm_num_groups);
  return resnetBlock2D(h, undefined, `${name}.resnets.1`, c, res);
}

/**
 * Encoder + quant_conv: images [B, in_channels, H, W] (in [-1, 1]) -> moments [B, 2*latent, H/f, W/f],
 * the mean in the first `latent_channels` channels and the log-variance in the rest.
 */
export function vaeEncoder(images: Tensor, cfg: AutoencoderKLConfig, opts: VaeOptions = {}): Tensor {
  checkConfig(cfg);
  const p = `${opts.prefix ?? 'vae.'}encoder`;
  const f = vaeDownscale(cfg);
  if (images.shape[1] !== cfg.in_channels)
    throw new GraphError(`VAE encoder: images have ${images.shape[1]} channels, config says in_channels ${cfg.in_channels}`);
  if (images.shape[2] % f || images.shape[3] % f) throw new GraphError(`VAE encoder: image ${images.shape[2]}x${images.shape[3]} is not divisible by ${f}`);
  const ch = cfg.block_out_channels;
  const res = { groups: cfg.norm_num_groups, eps: VAE_EPS };
  let h = conv2dLayer(images, `${p}.conv_in`, ch[0], 3);
  for (let i = 0; i < ch.length; i++) {
    for (let j = 0; j < cfg.layers_per_block; j++) h = resnetBlock2D(h, undefined, `${p}.down_blocks.${i}.resnets.${j}`, ch[i], res);
    if (i < ch.length - 1) h = downsample2D(h, `${p}.down_blocks.${i}.downsamplers.0`, 0);
  }
  h = midBlock(h, `${p}.mid_block`, cfg);
  h = silu(groupNormLayer(h, `${p}.conv_norm_out`, cfg.norm_num_groups, VAE_EPS));
  h = conv2dLayer(h, `${p}.conv_out`, 2 * cfg.latent_channels, 3);
  return (cfg.use_quant_conv ?? true) ? conv2dLayer(h, `${opts.prefix ?? 'vae.'}quant_conv`, 2 * cfg.latent_channels, 1) : h;
}

/** post_quant_conv + decoder: latents [B, latent, h, w] (unscaled) -> images [B, out_channels, h*f, w*f]. */
export function vaeDecoder(latents: Tensor, cfg: AutoencoderKLConfig, opts: VaeOptions = {}): Tensor {
  checkConfig(cfg);
  const prefix = opts.prefix ?? 'vae.';
  const p = `${prefix}decoder`;
  if (latents.shape[1] !== cfg.latent_channels)
    throw new GraphError(`VAE decoder: latents have ${latents.shape[1]} channels, config says latent_channels ${cfg.latent_channels}`);
  const rev = [...cfg.block_out_channels].reverse();
  const res = { groups: cfg.norm_num_groups, eps: VAE_EPS };
  let h = (cfg.use_post_quant_conv ?? true) ? conv2dLayer(latents, `${prefix}post_quant_conv`, cfg.latent_channels, 1) : latents;
  h = conv2dLayer(h, `${p}.conv_in`, rev[0], 3);
  h = midBlock(h, `${p}.mid_block`, cfg);
  for (let i = 0; i < rev.length; i++) {
    for (let j = 0; j < cfg.layers_per_block + 1; j++) h = resnetBlock2D(h, undefined, `${p}.up_blocks.${i}.resnets.${j}`, rev[i], res);
    if (i < rev.length - 1) h = upsample2D(h, `${p}.up_blocks.${i}.upsamplers.0`);
  }
  h = silu(groupNormLayer(h, `${p}.conv_norm_out`, cfg.norm_num_groups, VAE_EPS));
  return conv2dLayer(h, `${p}.conv_out`, cfg.out_channels, 3);
}

/** The latent distribution's mean and log-variance (each [B, latent, h, w]) from the encoder's moments. */
export function splitMoments(moments: Tensor): { mean: Tensor; logvar: Tensor } {
  const c = moments.shape[1] / 2;
  return { mean: slice(moments, [0], [c], [1]), logvar: slice(moments, [c], [2 * c], [1]) };
}

/** Every parameter (name -> shape) of encoder and decoder, traced symbolically at the smallest image size. */
export function vaeParamShapes(cfg: AutoencoderKLConfig, opts: VaeOptions = {}): Map<string, Shape> {
  const g = new Graph();
  const f = vaeDownscale(cfg);
  vaeEncoder(g.input('images', [1, cfg.in_channels, f, f]), cfg, opts);
  vaeDecoder(g.input('latents', [1, cfg.latent_channels, 1, 1]), cfg, opts);
  return new Map([...g.params].map(([name, t]) => [name, t.shape]));
}

export interface VaeCodecOptions extends VaeOptions {
  threads?: number;
  device?: 'cpu' | 'cuda';
}

/**
 * The VAE as a model's image codec. encode() returns (mean - shift) * scaling_factor of the latent
 * distribution (deterministic); encodeSample() a seeded draw mean + std * eps instead (what diffusers'
 * `latent_dist.sample()` does, logvar clamped to [-30, 20]). decode() divides by scaling_factor, adds the
 * shift, and decodes. One onnxruntime session per direction and batch size, made on first use.
 */
export class VaeCodec implements ImageCodec {
  readonly latentShape: readonly [number, number, number];
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  private readonly prefix: string;

  constructor(
    readonly config: AutoencoderKLConfig,
    readonly imageSize: number,
    private readonly weight: (name: string) => Float32Array | undefined,
    private readonly opts: VaeCodecOptions = {},
  ) {
    const f = vaeDownscale(config);
    if (imageSize % f) throw new GraphError(`VAE codec: image size ${imageSize} is not divisible by ${f}`);
    this.latentShape = [config.latent_channels, imageSize / f, imageSize / f];
    this.prefix = opts.prefix ?? 'vae.';
  }

  private session(kind: 'encode' | 'decode', batch: number): Promise<GraphSession> {
    const key = `${kind}:${batch}`;
    let s = this.sessions.get(key);
    if (!s) {
      const cfg = this.config;
      const g = new Graph({ paramMode: () => 'frozen' });
      const [c, h, w] = this.latentShape;
      const shift = cfg.shift_factor ?? 0;
      let outputs: Record<string, Tensor>;
      if (kind === 'encode') {
        const { mean, logvar } = splitMoments(
          vaeEncoder(g.input('images', [batch, cfg.in_channels, this.imageSize, this.imageSize]), cfg, { prefix: this.prefix }),
        );
        outputs = { latents: mul(shift ? add(mean, -shift) : mean, cfg.scaling_factor), logvar };
      } else {
        const z = mul(g.input('latents', [batch, c, h, w]), 1 / cfg.scaling_factor);
        outputs = { images: vaeDecoder(shift ? add(z, shift) : z, cfg, { prefix: this.prefix }) };
      }
      s = GraphSession.create(emitOnnx({ outputs, weights: this.weight, name: `vae_${kind}` }), { threads: this.opts.threads, device: this.opts.device });
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  /** Images [B, 3, H, W] in [-1, 1] -> scaled latent means [B, ...latentShape]. */
  async encode(images: Float32Array, batch: number): Promise<Float32Array> {
    const out = await (await this.session('encode', batch)).run({ images });
    return out.latents as Float32Array;
  }

  /** A seeded sample of the latent distribution, scaled like encode(). */
  async encodeSample(images: Float32Array, batch: number, seed: number): Promise<Float32Array> {
    const out = await (await this.session('encode', batch)).run({ images });
    const latents = out.latents as Float32Array;
    const logvar = out.logvar as Float32Array;
    const eps = new Float32Array(latents.length);
    new Rng(seed).fillNormal(eps);
    const s = this.config.scaling_factor;
    for (let i = 0; i < latents.length; i++) latents[i] += s * Math.exp(0.5 * Math.min(20, Math.max(-30, logvar[i]))) * eps[i];
    return latents;
  }

  /** Scaled latents [B, ...latentShape] -> images [B, 3, H, W] (about [-1, 1]; not clamped). */
  async decode(latents: Float32Array, batch: number): Promise<Float32Array> {
    const out = await (await this.session('decode', batch)).run({ latents });
    return out.images as Float32Array;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/** vae/config.json -> AutoencoderKLConfig (diffusers defaults where a field is absent). */
export function vaeConfigFromJson(j: Record<string, unknown>, where = 'vae/config.json'): AutoencoderKLConfig {
  const boc = j.block_out_channels as number[] | undefined;
  if (!Array.isArray(boc)) throw new CheckpointError(`${where}: no "block_out_channels"`);
  const n = boc.length;
  return {
    in_channels: (j.in_channels as number) ?? 3,
    out_channels: (j.out_channels as number) ?? 3,
    down_block_types: (j.down_block_types as AutoencoderKLConfig['down_block_types']) ?? new Array(n).fill('DownEncoderBlock2D'),
    up_block_types: (j.up_block_types as AutoencoderKLConfig['up_block_types']) ?? new Array(n).fill('UpDecoderBlock2D'),
    block_out_channels: boc,
    layers_per_block: (j.layers_per_block as number) ?? 1,
    act_fn: 'silu',
    latent_channels: (j.latent_channels as number) ?? 4,
    norm_num_groups: (j.norm_num_groups as number) ?? 32,
    sample_size: (j.sample_size as number) ?? 32,
    scaling_factor: (j.scaling_factor as number) ?? 0.18215,
    shift_factor: (j.shift_factor as number | null) ?? null,
    mid_block_add_attention: (j.mid_block_add_attention as boolean) ?? true,
    use_quant_conv: (j.use_quant_conv as boolean) ?? true,
    use_post_quant_conv: (j.use_post_quant_conv as boolean) ?? true,
  };
}
