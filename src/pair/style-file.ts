/**
 * Style files: StyleLoRA as safetensors in diffusers' LoRA layout for the same base model
 * (`unet.<module>.lora_A.weight` [rank, in], `unet.<module>.lora_B.weight` [out, rank], fp32) with the
 * style's description in the safetensors metadata. Loading checks the base model and the shapes.
 */
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../train/safetensors.ts';
import type { TextToImageModel } from '../models/text-to-image.ts';
import { loraShapes, type LoraModuleWeights, type Style, type StyleInfo } from './style.ts';

export class StyleFileError extends Error {
  override name = 'StyleFileError';
}

const META_KEY = 'pairstyle.style';

function tensorsOf(style: Style) {
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const m of style.modules) {
    const shapes = loraShapes(m, style.info.rank);
    tensors[`${m.module}.lora_A.weight`] = { shape: shapes.A, data: m.A };
    tensors[`${m.module}.lora_B.weight`] = { shape: shapes.B, data: m.B };
  }
  return tensors;
}

function metadataOf(style: Style): Record<string, string> {
  return {
    format: 'pt',
    [META_KEY]: JSON.stringify(style.info),
    // Read by diffusers/PEFT tooling: the adapter's rank and scale (alpha = rank -> scale 1).
    'lora.rank': String(style.info.rank),
    'lora.alpha': String(style.info.rank),
    base_model: style.info.baseModel,
    base_model_hash: style.info.baseModelHash,
  };
}

export function encodeStyle(style: Style): Uint8Array {
  return encodeSafetensors(tensorsOf(style), { dtype: 'F32', metadata: metadataOf(style) });
}

export async function writeStyleFile(path: string, style: Style): Promise<void> {
  await writeSafetensors(path, tensorsOf(style), { dtype: 'F32', metadata: metadataOf(style) });
}

function styleFrom(tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string>, where: string): Style {
  const raw = metadata[META_KEY];
  if (!raw) throw new StyleFileError(`${where}: not a PairStyle style file (no '${META_KEY}' metadata)`);
  let info: StyleInfo;
  try {
    info = JSON.parse(raw) as StyleInfo;
  } catch {
    throw new StyleFileError(`${where}: the style metadata is not valid JSON`);
  }
  const modules: LoraModuleWeights[] = [];
  for (const [key, a] of Object.entries(tensors)) {
    const m = /^(.*)\.lora_A\.weight$/.exec(key);
    if (!m) continue;
    const b = tensors[`${m[1]}.lora_B.weight`];
    if (!b) throw new StyleFileError(`${where}: ${key} has no matching lora_B`);
    if (a.shape[0] !== info.rank || b.shape[1] !== info.rank) throw new StyleFileError(`${where}: ${m[1]} does not have rank ${info.rank}`);
    if (a.shape.length === 4) {
      // A convolution's adapter (LoCon): A [rank, in, k, k], B [out, rank, 1, 1].
      const k = a.shape[2];
      if (a.shape[3] !== k || b.shape.length !== 4 || b.shape[2] !== 1 || b.shape[3] !== 1) throw new StyleFileError(`${where}: ${m[1]} is not a square-kernel convolution adapter`);
      modules.push({ module: m[1], A: a.data, B: b.data, inDim: a.shape[1] * k * k, outDim: b.shape[0], kernel: k });
    } else modules.push({ module: m[1], A: a.data, B: b.data, inDim: a.shape[1], outDim: b.shape[0] });
  }
  if (modules.length === 0) throw new StyleFileError(`${where}: no LoRA weights in the file`);
  return { info, modules };
}

export function decodeStyle(bytes: Uint8Array, where = 'style file'): Style {
  const { tensors, metadata } = decodeSafetensors(bytes, where);
  return styleFrom(tensors, metadata, where);
}

export async function readStyleFile(path: string): Promise<Style> {
  const { tensors, metadata } = await readSafetensors(path);
  return styleFrom(tensors, metadata, path);
}

/** Refuses a style trained on another base model (its weights would be meaningless there). */
export function checkStyleFitsModel(style: Style, model: TextToImageModel): void {
  if (style.info.baseModel !== model.id || style.info.baseModelHash !== model.hash) {
    throw new StyleFileError(
      `style '${style.info.name}' was trained on ${style.info.baseModel} (${style.info.baseModelHash}), not on the loaded ${model.id} (${model.hash}); train it again on this model`,
    );
  }
}
