/**
 * Key map between the original single-file Stable Diffusion checkpoints and the diffusers names
 * PairStyle's models use (prefixed 'unet.', 'text_encoder.', 'text_encoder_2.', 'vae.'):
 * - SD 1.x (CompVis/LDM): `model.diffusion_model.*`, `cond_stage_model.transformer.*`, `first_stage_model.*`;
 * - SDXL (Stability's sgm): `model.diffusion_model.*` (with `label_emb.0.*` for the text_time
 *   add_embedding), `conditioner.embedders.0.transformer.*` (CLIP ViT-L in transformers names),
 *   `conditioner.embedders.1.model.*` (OpenCLIP ViT-bigG in open_clip names), `first_stage_model.*`.
 * The layout is SDXL's when the configs have a second text encoder (`text2`).
 *
 * Two independent directions, checked against each other by the tests:
 * - `originalSlotOf(name)`: diffusers -> original, by walking the architecture in order (LDM numbers
 *   its UNet blocks sequentially: input_blocks.0 is conv_in, then per level `layers` resnet(+attention)
 *   blocks and a downsampler; output_blocks per level `layers + 1` blocks, the last carrying the upsampler).
 * - `diffusersPartsOf(key)`: original -> diffusers, by parsing the key arithmetically, as diffusers'
 *   convert_from_ckpt does (block = (n - 1) / (layers + 1), ...).
 * Most original tensors hold one diffusers parameter whole. Two kinds do not, both OpenCLIP's:
 * `attn.in_proj_weight` [3D, D] / `attn.in_proj_bias` [3D] hold q_proj, k_proj and v_proj as row
 * blocks [0, D), [D, 2D), [2D, 3D) (nn.MultiheadAttention's packed projection), and `text_projection`
 * [D, P] is the transpose of transformers' text_projection.weight [P, D] (open_clip computes x @ P,
 * nn.Linear x @ W^T). The map says so per key (`Placement`), and the loader and writer move the values.
 * The VAE's mid-block attention q/k/v/proj_out are 1x1 convs in the original ([C, C, 1, 1]) and
 * nn.Linear in diffusers ([C, C]): same values, another shape (see `originalShapeOf`).
 * Sources: diffusers loaders/single_file_utils.py (DIFFUSERS_TO_LDM_MAPPING, convert_open_clip_checkpoint),
 * Stability-AI/generative-models configs/inference/sd_xl_base.yaml and sgm/modules/encoders/modules.py,
 * kohya-ss sd-scripts library/sdxl_model_util.py.
 */
import type { Shape } from '../graph/index.ts';
import type { CLIPTextConfig } from './clip-text.ts';
import type { UNet2DConditionConfig } from './unet-config.ts';
import type { AutoencoderKLConfig } from './vae.ts';

export const ORIGINAL_UNET = 'model.diffusion_model.';
export const ORIGINAL_TEXT = 'cond_stage_model.transformer.';
export const ORIGINAL_VAE = 'first_stage_model.';
export const ORIGINAL_SDXL_TEXT = 'conditioner.embedders.0.transformer.';
export const ORIGINAL_SDXL_TEXT_2 = 'conditioner.embedders.1.model.';

export interface SingleFileConfigs {
  unet: UNet2DConditionConfig;
  vae: AutoencoderKLConfig;
  /** SDXL's second text encoder: selects the sgm layout (its hidden size splits the fused q/k/v). */
  text2?: CLIPTextConfig;
}

/**
 * Where a diffusers parameter's values lie in an original tensor: all of it (neither field), the rows
 * [start, end) of its first axis, or its transpose (2-D).
 */
export interface Placement {
  rows?: readonly [number, number];
  transpose?: boolean;
}
/** A diffusers parameter's original tensor and its place there. */
export interface OriginalSlot extends Placement {
  key: string;
}
/** One of the diffusers parameters an original tensor holds, and its place there. */
export interface DiffusersPart extends Placement {
  name: string;
}

const RESNET_TO_ORIGINAL: Record<string, string> = {
  norm1: 'in_layers.0',
  conv1: 'in_layers.2',
  time_emb_proj: 'emb_layers.1',
  norm2: 'out_layers.0',
  conv2: 'out_layers.3',
  conv_shortcut: 'skip_connection',
};
const RESNET_FROM_ORIGINAL = Object.fromEntries(Object.entries(RESNET_TO_ORIGINAL).map(([a, b]) => [b, a]));
const VAE_ATTN_TO_ORIGINAL: Record<string, string> = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' };
const VAE_ATTN_FROM_ORIGINAL = Object.fromEntries(Object.entries(VAE_ATTN_TO_ORIGINAL).map(([a, b]) => [b, a]));

/**
 * Keys a single-file checkpoint may hold that are no model weights: the DDPM schedule buffers of
 * LatentDiffusion, CLIP's position_ids buffer (int64; SDXL base 1.0 has it under conditioner.embedders.0),
 * the EMA copy (model_ema.*, used as the weights only in "ema-only" exports, where model.diffusion_model
 * already is the EMA), the VAE's training loss, OpenCLIP's contrastive logit_scale (a scalar SDXL base
 * 1.0 carries; kohya's converter keeps it aside only to write it back) and sgm's DiscreteDenoiser
 * `sigmas` buffer, which files saved from sgm's DiffusionEngine carry (SD 2.1 Turbo's does).
 */
export function isIgnoredOriginalKey(key: string): boolean {
  return (
    /^(betas|alphas_cumprod|alphas_cumprod_prev|sqrt_alphas_cumprod|sqrt_one_minus_alphas_cumprod|log_one_minus_alphas_cumprod|sqrt_recip_alphas_cumprod|sqrt_recipm1_alphas_cumprod|posterior_variance|posterior_log_variance_clipped|posterior_mean_coef1|posterior_mean_coef2|logvar|lvlb_weights)$/.test(
      key,
    ) ||
    key.startsWith('model_ema.') ||
    key.startsWith(`${ORIGINAL_VAE}loss.`) ||
    /^(cond_stage_model\.transformer|conditioner\.embedders\.0\.transformer)\.(text_model\.)?embeddings\.position_ids$/.test(key) ||
    key === `${ORIGINAL_SDXL_TEXT_2}logit_scale` ||
    key === 'denoiser.sigmas'
  );
}

const uniformLayers = (cfg: UNet2DConditionConfig): number => {
  const l = cfg.layers_per_block;
  if (typeof l === 'number') return l;
  if (l.every((v) => v === l[0])) return l[0];
  throw new Error(`single-file key map: layers_per_block [${l}] differs per block; only a uniform value is supported`);
};

/** The UNet's LDM block numbering, walked in architecture order: diffusers module prefix -> original. */
function unetBlockTable(cfg: UNet2DConditionConfig): Map<string, string> {
  const t = new Map<string, string>();
  const n = cfg.block_out_channels.length;
  const layers = uniformLayers(cfg);
  let input = 1;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < layers; j++, input++) {
      t.set(`down_blocks.${i}.resnets.${j}`, `input_blocks.${input}.0`);
      t.set(`down_blocks.${i}.attentions.${j}`, `input_blocks.${input}.1`);
    }
    if (i < n - 1) t.set(`down_blocks.${i}.downsamplers.0.conv`, `input_blocks.${input++}.0.op`);
  }
  let output = 0;
  for (let i = 0; i < n; i++) {
    const attn = cfg.up_block_types[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j < layers + 1; j++, output++) {
      t.set(`up_blocks.${i}.resnets.${j}`, `output_blocks.${output}.0`);
      t.set(`up_blocks.${i}.attentions.${j}`, `output_blocks.${output}.1`);
    }
    if (i < n - 1) t.set(`up_blocks.${i}.upsamplers.0.conv`, `output_blocks.${output - 1}.${attn ? 2 : 1}.conv`);
  }
  t.set('mid_block.resnets.0', 'middle_block.0');
  t.set('mid_block.attentions.0', 'middle_block.1');
  t.set('mid_block.resnets.1', 'middle_block.2');
  t.set('time_embedding.linear_1', 'time_embed.0');
  t.set('time_embedding.linear_2', 'time_embed.2');
  if (cfg.addition_embed_type === 'text_time') {
    // sgm builds the size-and-pooled-text MLP as label_emb = Sequential(Sequential(Linear, SiLU, Linear)).
    t.set('add_embedding.linear_1', 'label_emb.0.0');
    t.set('add_embedding.linear_2', 'label_emb.0.2');
  }
  t.set('conv_in', 'input_blocks.0.0');
  t.set('conv_norm_out', 'out.0');
  t.set('conv_out', 'out.2');
  return t;
}

const tables = new WeakMap<UNet2DConditionConfig, Map<string, string>>();

/** The original tensor that holds a diffusers parameter (prefixed), and where in it. */
export function originalSlotOf(name: string, cfgs: SingleFileConfigs): OriginalSlot {
  if (name.startsWith('text_encoder.')) return { key: (cfgs.text2 ? ORIGINAL_SDXL_TEXT : ORIGINAL_TEXT) + name.slice('text_encoder.'.length) };
  if (name.startsWith('text_encoder_2.')) {
    if (!cfgs.text2) throw new Error(`single-file key map: ${name} needs the configs of a second text encoder (text2)`);
    const slot = openClipSlot(name.slice('text_encoder_2.'.length), cfgs.text2);
    if (!slot) throw new Error(`single-file key map: no original key for ${name}`);
    return { ...slot, key: ORIGINAL_SDXL_TEXT_2 + slot.key };
  }
  if (name.startsWith('unet.')) {
    const k = name.slice('unet.'.length);
    let table = tables.get(cfgs.unet);
    if (!table) tables.set(cfgs.unet, (table = unetBlockTable(cfgs.unet)));
    // Longest module prefix that the table knows.
    const parts = k.split('.');
    for (let cut = parts.length - 1; cut > 0; cut--) {
      const mod = parts.slice(0, cut).join('.');
      const orig = table.get(mod);
      if (orig === undefined) continue;
      let rest = parts.slice(cut).join('.');
      if (/\.resnets\.\d+$/.test(mod)) {
        const [layer, ...tail] = rest.split('.');
        rest = [RESNET_TO_ORIGINAL[layer] ?? layer, ...tail].join('.');
      }
      return { key: `${ORIGINAL_UNET}${orig}.${rest}` };
    }
    throw new Error(`single-file key map: no original key for ${name}`);
  }
  if (name.startsWith('vae.')) return { key: ORIGINAL_VAE + vaeOriginal(name.slice('vae.'.length), cfgs.vae) };
  throw new Error(`single-file key map: ${name} is not a unet., text_encoder., text_encoder_2. or vae. name`);
}

/** The original key of a diffusers parameter (for a fused q/k/v projection, the fused tensor's). */
export const originalKeyOf = (name: string, cfgs: SingleFileConfigs): string => originalSlotOf(name, cfgs).key;

/** OpenCLIP's names for the parts of a transformers CLIP encoder layer (open_clip ResidualAttentionBlock). */
const OPEN_CLIP_LAYER: [diffusers: string, original: string][] = [
  ['layer_norm1', 'ln_1'],
  ['layer_norm2', 'ln_2'],
  ['self_attn.out_proj', 'attn.out_proj'],
  ['mlp.fc1', 'mlp.c_fc'],
  ['mlp.fc2', 'mlp.c_proj'],
];
const OPEN_CLIP_WHOLE: [diffusers: string, original: string][] = [
  ['text_model.embeddings.token_embedding.weight', 'token_embedding.weight'],
  ['text_model.embeddings.position_embedding.weight', 'positional_embedding'],
  ['text_model.final_layer_norm.weight', 'ln_final.weight'],
  ['text_model.final_layer_norm.bias', 'ln_final.bias'],
];
const QKV = ['q_proj', 'k_proj', 'v_proj'] as const;

/** CLIPTextModelWithProjection name (unprefixed) -> open_clip key (unprefixed) and place. */
function openClipSlot(k: string, cfg: CLIPTextConfig): OriginalSlot | undefined {
  const whole = OPEN_CLIP_WHOLE.find(([d]) => d === k);
  if (whole) return { key: whole[1] };
  if (k === 'text_projection.weight') return { key: 'text_projection', transpose: true };
  const m = k.match(/^text_model\.encoder\.layers\.(\d+)\.(.*)\.(weight|bias)$/);
  if (!m) return undefined;
  const [, layer, module, kind] = m;
  const qkv = QKV.findIndex((p) => module === `self_attn.${p}`);
  const d = cfg.hidden_size;
  if (qkv >= 0) return { key: `transformer.resblocks.${layer}.attn.in_proj_${kind}`, rows: [qkv * d, (qkv + 1) * d] };
  const renamed = OPEN_CLIP_LAYER.find(([dm]) => dm === module);
  return renamed ? { key: `transformer.resblocks.${layer}.${renamed[1]}.${kind}` } : undefined;
}

/** open_clip key (unprefixed) -> the CLIPTextModelWithProjection parameters (unprefixed) it holds. */
function openClipParts(k: string, cfg: CLIPTextConfig): DiffusersPart[] | undefined {
  const whole = OPEN_CLIP_WHOLE.find(([, o]) => o === k);
  if (whole) return [{ name: whole[0] }];
  if (k === 'text_projection') return [{ name: 'text_projection.weight', transpose: true }];
  const fused = k.match(/^transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$/);
  const d = cfg.hidden_size;
  if (fused) return QKV.map((p, i) => ({ name: `text_model.encoder.layers.${fused[1]}.self_attn.${p}.${fused[2]}`, rows: [i * d, (i + 1) * d] as const }));
  const m = k.match(/^transformer\.resblocks\.(\d+)\.(.*)\.(weight|bias)$/);
  const renamed = m && OPEN_CLIP_LAYER.find(([, om]) => om === m[2]);
  return renamed ? [{ name: `text_model.encoder.layers.${m[1]}.${renamed[0]}.${m[3]}` }] : undefined;
}

function vaeOriginal(k: string, cfg: AutoencoderKLConfig): string {
  const n = cfg.block_out_channels.length;
  const resnet = (s: string) => s.replace(/^conv_shortcut\./, 'nin_shortcut.');
  let m: RegExpMatchArray | null;
  if ((m = k.match(/^(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.*)$/))) return `${m[1]}.mid.block_${Number(m[2]) + 1}.${resnet(m[3])}`;
  if ((m = k.match(/^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/)))
    return `${m[1]}.mid.attn_1.${VAE_ATTN_TO_ORIGINAL[m[2]]}.${m[3]}`;
  if ((m = k.match(/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/))) return `encoder.down.${m[1]}.block.${m[2]}.${resnet(m[3])}`;
  if ((m = k.match(/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$/))) return `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
  if ((m = k.match(/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$/))) return `decoder.up.${n - 1 - Number(m[1])}.block.${m[2]}.${resnet(m[3])}`;
  if ((m = k.match(/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$/))) return `decoder.up.${n - 1 - Number(m[1])}.upsample.conv.${m[2]}`;
  if ((m = k.match(/^(encoder|decoder)\.conv_norm_out\.(.*)$/))) return `${m[1]}.norm_out.${m[2]}`;
  return k; // conv_in, conv_out, quant_conv, post_quant_conv keep their names
}

/** True for the VAE attention weights stored as 1x1 convs in the original layout. */
export const isVaeAttentionWeight = (name: string): boolean =>
  /^vae\.(encoder|decoder)\.mid_block\.attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name);

/** The shape a diffusers parameter held whole has in the original checkpoint. */
export function originalShapeOf(name: string, shape: Shape): number[] {
  return isVaeAttentionWeight(name) ? [...shape, 1, 1] : [...shape];
}

/** The shape of the original tensor that holds `parts` (from the diffusers parameters' shapes). */
export function originalTensorShape(parts: readonly DiffusersPart[], shapeOf: (name: string) => Shape): number[] {
  const [first] = parts;
  const shape = shapeOf(first.name);
  if (first.rows) return [Math.max(...parts.map((p) => p.rows![1])), ...shape.slice(1)];
  return first.transpose ? [...shape].reverse() : originalShapeOf(first.name, shape);
}

/**
 * Original single-file key -> the diffusers parameters (prefixed) it holds, parsed arithmetically;
 * undefined when the key is not of the UNet, text encoders or VAE of the configs' layout (callers
 * report it as unexpected).
 */
export function diffusersPartsOf(key: string, cfgs: SingleFileConfigs): DiffusersPart[] | undefined {
  const textPrefix = cfgs.text2 ? ORIGINAL_SDXL_TEXT : ORIGINAL_TEXT;
  if (key.startsWith(textPrefix)) {
    const k = key.slice(textPrefix.length);
    // Checkpoints saved with transformers < 4.? lack the text_model. level.
    return [{ name: `text_encoder.${k.startsWith('text_model.') ? k : `text_model.${k}`}` }];
  }
  if (cfgs.text2 && key.startsWith(ORIGINAL_SDXL_TEXT_2)) {
    return openClipParts(key.slice(ORIGINAL_SDXL_TEXT_2.length), cfgs.text2)?.map((p) => ({ ...p, name: `text_encoder_2.${p.name}` }));
  }
  if (key.startsWith(ORIGINAL_VAE)) {
    const k = vaeDiffusers(key.slice(ORIGINAL_VAE.length), cfgs.vae);
    return k === undefined ? undefined : [{ name: `vae.${k}` }];
  }
  if (key.startsWith(ORIGINAL_UNET)) {
    const k = unetDiffusers(key.slice(ORIGINAL_UNET.length), cfgs.unet);
    return k === undefined ? undefined : [{ name: `unet.${k}` }];
  }
  return undefined;
}

/** The diffusers parameter an original key holds whole; undefined for fused or transposed tensors and for keys of other models. */
export function diffusersKeyOf(key: string, cfgs: SingleFileConfigs): string | undefined {
  const parts = diffusersPartsOf(key, cfgs);
  return parts?.length === 1 && !parts[0].rows && !parts[0].transpose ? parts[0].name : undefined;
}

function unetDiffusers(k: string, cfg: UNet2DConditionConfig): string | undefined {
  const layers = uniformLayers(cfg);
  const n = cfg.block_out_channels.length;
  const resnet = (rest: string) => {
    const m = rest.match(/^(in_layers\.0|in_layers\.2|emb_layers\.1|out_layers\.0|out_layers\.3|skip_connection)\.(weight|bias)$/);
    return m ? `${RESNET_FROM_ORIGINAL[m[1]]}.${m[2]}` : undefined;
  };
  let m: RegExpMatchArray | null;
  const simple: Record<string, string> = {
    'time_embed.0': 'time_embedding.linear_1',
    'time_embed.2': 'time_embedding.linear_2',
    'input_blocks.0.0': 'conv_in',
    'out.0': 'conv_norm_out',
    'out.2': 'conv_out',
  };
  if ((m = k.match(/^(time_embed\.[02]|input_blocks\.0\.0|out\.[02])\.(weight|bias)$/))) return `${simple[m[1]]}.${m[2]}`;
  if ((m = k.match(/^label_emb\.0\.([02])\.(weight|bias)$/)))
    return cfg.addition_embed_type === 'text_time' ? `add_embedding.linear_${m[1] === '0' ? 1 : 2}.${m[2]}` : undefined;
  if ((m = k.match(/^input_blocks\.(\d+)\.(\d)\.(.*)$/))) {
    const id = Number(m[1]) - 1;
    const [block, inBlock] = [Math.floor(id / (layers + 1)), id % (layers + 1)];
    if (block >= n) return undefined;
    if (inBlock === layers) return m[2] === '0' && /^op\.(weight|bias)$/.test(m[3]) ? `down_blocks.${block}.downsamplers.0.conv.${m[3].slice(3)}` : undefined;
    if (m[2] === '0') {
      const r = resnet(m[3]);
      return r ? `down_blocks.${block}.resnets.${inBlock}.${r}` : undefined;
    }
    return m[2] === '1' && cfg.down_block_types[block] === 'CrossAttnDownBlock2D' ? `down_blocks.${block}.attentions.${inBlock}.${m[3]}` : undefined;
  }
  if ((m = k.match(/^middle_block\.(\d)\.(.*)$/))) {
    if (m[1] === '1') return `mid_block.attentions.0.${m[2]}`;
    const r = resnet(m[2]);
    return r && (m[1] === '0' || m[1] === '2') ? `mid_block.resnets.${m[1] === '0' ? 0 : 1}.${r}` : undefined;
  }
  if ((m = k.match(/^output_blocks\.(\d+)\.(\d)\.(.*)$/))) {
    const id = Number(m[1]);
    const [block, inBlock] = [Math.floor(id / (layers + 1)), id % (layers + 1)];
    if (block >= n) return undefined;
    const attn = cfg.up_block_types[block] === 'CrossAttnUpBlock2D';
    const upsampler = `${attn ? 2 : 1}`;
    if (m[2] === '0') {
      const r = resnet(m[3]);
      return r ? `up_blocks.${block}.resnets.${inBlock}.${r}` : undefined;
    }
    if (m[2] === upsampler && inBlock === layers && block < n - 1 && /^conv\.(weight|bias)$/.test(m[3])) return `up_blocks.${block}.upsamplers.0.${m[3]}`;
    if (m[2] === '1' && attn) return `up_blocks.${block}.attentions.${inBlock}.${m[3]}`;
    return undefined;
  }
  return undefined;
}

function vaeDiffusers(k: string, cfg: AutoencoderKLConfig): string | undefined {
  const n = cfg.block_out_channels.length;
  const resnet = (s: string) => s.replace(/^nin_shortcut\./, 'conv_shortcut.');
  let m: RegExpMatchArray | null;
  if ((m = k.match(/^(encoder|decoder)\.mid\.block_([12])\.(.*)$/))) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${resnet(m[3])}`;
  if ((m = k.match(/^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/)))
    return `${m[1]}.mid_block.attentions.0.${VAE_ATTN_FROM_ORIGINAL[m[2]]}.${m[3]}`;
  if ((m = k.match(/^encoder\.down\.(\d+)\.block\.(\d+)\.(.*)$/))) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${resnet(m[3])}`;
  if ((m = k.match(/^encoder\.down\.(\d+)\.downsample\.conv\.(.*)$/))) return `encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`;
  if ((m = k.match(/^decoder\.up\.(\d+)\.block\.(\d+)\.(.*)$/))) return `decoder.up_blocks.${n - 1 - Number(m[1])}.resnets.${m[2]}.${resnet(m[3])}`;
  if ((m = k.match(/^decoder\.up\.(\d+)\.upsample\.conv\.(.*)$/))) return `decoder.up_blocks.${n - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}`;
  if ((m = k.match(/^(encoder|decoder)\.norm_out\.(.*)$/))) return `${m[1]}.conv_norm_out.${m[2]}`;
  if (/^(encoder|decoder)\.(conv_in|conv_out)\.|^(quant_conv|post_quant_conv)\./.test(k)) return k;
  return undefined;
}
