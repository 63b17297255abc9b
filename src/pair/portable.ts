/**
 * Portable style files: a style's StyleLoRA in the layouts other tools load.
 *
 * - 'pairstyle' (ours, style-file.ts): `unet.<diffusers module>.lora_A.weight` [rank, in] /
 *   `.lora_B.weight` [out, rank], fp32, with the style's description in the metadata.
 * - 'diffusers': the same keys, which already are what diffusers' `load_lora_weights` reads for a
 *   UNet LoRA in the PEFT layout (`unet.` prefix, `lora_A` = down, `lora_B` = up), plus the
 *   `lora_adapter_metadata` JSON that diffusers' own `save_lora_weights` writes (`unet.r`,
 *   `unet.lora_alpha`, `unet.target_modules`; read back by newer diffusers, ignored by older ones,
 *   which then take r from the shapes and alpha = r). Our LoRA scale is folded into lora_B so that
 *   alpha = r (scale 1) is exact whichever way diffusers reads it.
 * - 'kohya': the layout of kohya-ss sd-scripts that AUTOMATIC1111 and ComfyUI load:
 *   `lora_unet_<module>.lora_down.weight` [rank, in] (= A), `.lora_up.weight` [out, rank] (= B),
 *   `.alpha` (scalar), fp16. The tools apply `multiplier * (alpha / rank) * up @ down`, rank being
 *   lora_down's first dimension, so alpha = rank * (our scale) reproduces our delta B·A·scale.
 *
 * Which module names in kohya keys: `<module>` is the UNet module path with dots as underscores, and
 * two variants are in circulation for SD 1.x:
 *   diffusers-named  lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q
 *   original-named   lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q
 * What we read (2025 snapshots, via the search tool):
 * - kohya-ss/sd-scripts networks/lora.py builds SD 1.x LoRA names from its diffusers-style UNet
 *   (its block regex matches `(up|down)_blocks_N_(attentions|resnets)_M_`), so SD 1.x files trained
 *   there are diffusers-named; its SDXL UNet (library/sdxl_original_unet.py) uses the original names.
 *   Its LoRAModule sets scale = alpha / lora_dim, alpha defaulting to the rank.
 * - ComfyUI comfy/lora.py, model_lora_keys_unet: maps `lora_unet_` + every `diffusion_model.*.weight`
 *   key of the loaded model (original names, dots -> underscores) AND `lora_unet_` + the diffusers
 *   names (through comfy.utils.unet_to_diffusers); load_lora reads `.lora_up.weight`,
 *   `.lora_down.weight` and `.alpha`. Both variants load.
 * - AUTOMATIC1111 extensions-builtin/Lora/networks.py, load_network: first converts diffusers-named
 *   keys to the CompVis module names (lora_convert.convert_diffusers_name_to_compvis), and when that
 *   finds no module, replaces `lora_unet` by `diffusion_model` and looks the original-named key up
 *   among the model's modules ("SDXL loras seem to already have correct compvis keys"). Both load.
 * We write the original-named variant: it is the checkpoint's own module path (ComfyUI's first map,
 * A1111's direct lookup, the form SDXL files use), derived from the single-file key map of
 * sd-single-file-keys.ts, not from a second table.
 */
import { originalKeyOf, ORIGINAL_UNET } from '../models/sd-single-file-keys.ts';
import type { UNet2DConditionConfig } from '../models/unet-config.ts';
import { SD_VAE_CONFIG } from '../models/vae.ts';
import { encodeSafetensors, f16ToF32, f32ToF16, type TensorInput } from '../formats/safetensors.ts';
import { loraShapes, type Style } from './style.ts';
import { encodeStyle } from './style-file.ts';

export const STYLE_FORMATS = ['pairstyle', 'kohya', 'diffusers'] as const;
export type StyleFormat = (typeof STYLE_FORMATS)[number];

export interface PortableOptions {
  /**
   * The scale our pipeline applies the StyleLoRA at (lora.ts LoraAdapter.scale). Pair training and
   * drawing use the default, 1; the exported files reproduce B·A·scale.
   */
  scale?: number;
}

export class PortableStyleError extends Error {
  override name = 'PortableStyleError';
}

const scaleOf = (opts: PortableOptions): number => {
  const s = opts.scale ?? 1;
  if (!Number.isFinite(s) || s <= 0) throw new PortableStyleError(`LoRA scale must be a positive number, got ${s}`);
  return s;
};

const f16 = (x: number): number => f16ToF32(f32ToF16(new Float32Array([x])))[0];

/**
 * The kohya module name of one of our modules ('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'
 * -> 'lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q'), through the single-file key map.
 */
export function kohyaModuleName(module: string, unet: UNet2DConditionConfig): string {
  if (!module.startsWith('unet.')) throw new PortableStyleError(`${module}: only UNet modules have kohya names here`);
  let key: string;
  try {
    key = originalKeyOf(`${module}.weight`, { unet, vae: SD_VAE_CONFIG });
  } catch (e) {
    throw new PortableStyleError(`${module}: ${(e as Error).message}`);
  }
  if (!key.startsWith(ORIGINAL_UNET) || !key.endsWith('.weight')) throw new PortableStyleError(`${module}: unexpected original key ${key}`);
  return `lora_unet_${key.slice(ORIGINAL_UNET.length, -'.weight'.length).replace(/\./g, '_')}`;
}

/** The kohya tensors (float32 values; written as fp16): lora_down = A, lora_up = B (times a residual), alpha. */
export function kohyaTensors(style: Style, unet: UNet2DConditionConfig, opts: PortableOptions = {}): Record<string, TensorInput> {
  const rank = style.info.rank;
  // alpha / rank must equal our scale; alpha is stored in fp16 too, so any rounding of it is made up in lora_up.
  const alpha = f16(rank * scaleOf(opts));
  const residual = (rank * scaleOf(opts)) / alpha;
  const out: Record<string, TensorInput> = {};
  for (const m of style.modules) {
    const name = kohyaModuleName(m.module, unet);
    if (out[`${name}.alpha`]) throw new PortableStyleError(`${m.module}: two modules map to ${name}`);
    out[`${name}.lora_down.weight`] = { shape: loraShapes(m, rank).A, data: m.A };
    out[`${name}.lora_up.weight`] = { shape: loraShapes(m, rank).B, data: residual === 1 ? m.B : m.B.map((v) => v * residual) };
    out[`${name}.alpha`] = { shape: [], data: new Float32Array([alpha]) };
  }
  return out;
}

/** The kohya metadata: the ss_* fields A1111's LoRA page shows, and our style description. */
function kohyaMetadata(style: Style, alpha: number): Record<string, string> {
  return {
    format: 'pt',
    ss_network_module: 'networks.lora',
    ss_network_dim: String(style.info.rank),
    ss_network_alpha: String(alpha),
    ss_output_name: style.info.name,
    ss_training_comment: `PairStyle StyleLoRA '${style.info.name}' trained on ${style.info.baseModel}; prompt with "in ${style.info.styleToken} style"`,
    'pairstyle.style': JSON.stringify(style.info),
  };
}

export function encodeKohya(style: Style, unet: UNet2DConditionConfig, opts: PortableOptions = {}): Uint8Array {
  const tensors = kohyaTensors(style, unet, opts);
  return encodeSafetensors(tensors, { dtype: 'F16', metadata: kohyaMetadata(style, f16(style.info.rank * scaleOf(opts))) });
}

/** diffusers/PEFT: our keys, lora_B times the scale (alpha = r), with diffusers' lora_adapter_metadata. */
export function encodeDiffusers(style: Style, opts: PortableOptions = {}): Uint8Array {
  const scale = scaleOf(opts);
  const rank = style.info.rank;
  const tensors: Record<string, TensorInput> = {};
  for (const m of style.modules) {
    if (!m.module.startsWith('unet.')) throw new PortableStyleError(`${m.module}: expected a 'unet.' module`);
    tensors[`${m.module}.lora_A.weight`] = { shape: loraShapes(m, rank).A, data: m.A };
    tensors[`${m.module}.lora_B.weight`] = { shape: loraShapes(m, rank).B, data: scale === 1 ? m.B : m.B.map((v) => v * scale) };
  }
  const adapter = {
    'unet.r': rank,
    'unet.lora_alpha': rank,
    'unet.target_modules': style.modules.map((m) => m.module.slice('unet.'.length)).sort(),
  };
  return encodeSafetensors(tensors, {
    dtype: 'F32',
    metadata: {
      format: 'pt',
      lora_adapter_metadata: JSON.stringify(adapter),
      'pairstyle.style': JSON.stringify(style.info),
      base_model: style.info.baseModel,
      base_model_hash: style.info.baseModelHash,
    },
  });
}

/** A style file in `format`; 'kohya' needs the base model's UNet config (for the original module names). */
export function encodeStyleAs(style: Style, format: StyleFormat, unet?: UNet2DConditionConfig, opts: PortableOptions = {}): Uint8Array {
  switch (format) {
    case 'pairstyle':
      return encodeStyle(style);
    case 'diffusers':
      return encodeDiffusers(style, opts);
    case 'kohya':
      if (!unet) throw new PortableStyleError('the kohya layout needs the base model UNet config');
      return encodeKohya(style, unet, opts);
    default:
      throw new PortableStyleError(`unknown style format '${format as string}' (one of ${STYLE_FORMATS.join(', ')})`);
  }
}
