/**
 * A learned style: the StyleLoRA of Pair Customization (A and B of every attention projection of the
 * UNet) plus what it was trained from. Only StyleLoRA is kept; ContentLoRA is discarded after training.
 */
export interface LoraModuleWeights {
  /** UNet module, with the 'unet.' prefix: unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q */
  module: string;
  /** Down-projection [rank, in] (row-major); for a convolution [rank, in channels, k, k]. */
  A: Float32Array;
  /** Up-projection [out, rank] (a convolution's: [out, rank, 1, 1]). */
  B: Float32Array;
  /** Input width: a projection's input features, a convolution's in channels x k x k. */
  inDim: number;
  outDim: number;
  /** Kernel size k of an adapted convolution; absent for a linear projection. */
  kernel?: number;
}

export interface StyleInfo {
  name: string;
  baseModel: string;
  baseModelHash: string;
  rank: number;
  /** The token that names the style in prompts ("... in <s1> style"). */
  styleToken: string;
  contentToken: string;
  subject: string;
  contentPrompt: string;
  stylePrompt: string;
  steps: number;
  seconds: number;
  seed: number;
  created: string;
  /** How many pairs trained it, and what each showed (only when more than one). */
  pairs?: number;
  subjects?: string[];
}

export interface Style {
  info: StyleInfo;
  modules: LoraModuleWeights[];
}

/** A and B shapes of a module: [rank, in] / [out, rank], or a convolution's [rank, in, k, k] / [out, rank, 1, 1]. */
export function loraShapes(m: LoraModuleWeights, rank: number): { A: number[]; B: number[] } {
  const k = m.kernel;
  return k ? { A: [rank, m.inDim / (k * k), k, k], B: [m.outDim, rank, 1, 1] } : { A: [rank, m.inDim], B: [m.outDim, rank] };
}

/** True when the style adapts convolutions too (LoCon), so drawing graphs need conv adapters for it. */
export const adaptsConvs = (style: Style): boolean => style.modules.some((m) => m.kernel !== undefined);

/** The prompt suffix that applies a style: "<c> in <s1> style". */
export const styledPrompt = (prompt: string, styleToken: string): string => `${prompt} in ${styleToken} style`;

/** This style's weights as pipeline adapter parameters for adapter `adapter`. */
export function adapterParams(style: Style, adapter: string): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const m of style.modules) {
    out[`${m.module}.lora_A.${adapter}.weight`] = m.A;
    out[`${m.module}.lora_B.${adapter}.weight`] = m.B;
  }
  return out;
}

/** A style from adapter `adapter`'s trained weights (looked up by parameter name) on the given modules. */
export function collectStyle(
  model: { id: string; hash: string },
  modules: readonly { module: string; inDim: number; outDim: number; kernel?: number }[],
  adapter: string,
  weight: (name: string) => Float32Array,
  info: Omit<StyleInfo, 'baseModel' | 'baseModelHash' | 'created'>,
): Style {
  return {
    info: { ...info, baseModel: model.id, baseModelHash: model.hash, created: new Date().toISOString() },
    modules: modules.map((m) => ({
      ...m,
      A: weight(`${m.module}.lora_A.${adapter}.weight`).slice(),
      B: weight(`${m.module}.lora_B.${adapter}.weight`).slice(),
    })),
  };
}
