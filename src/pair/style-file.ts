/**
 * Style files: StyleLoRA as safetensors in diffusers' LoRA layout for the same base model
 * (`unet.<module>.lora_A.weight` [rank, in], `unet.<module>.lora_B.weight` [out, rank], fp32) with the
 * style's description in the safetensors metadata and a checksum of both (`pairstyle.sha256`, as the
 * bot's store keeps one per style).
 *
 * Loading checks everything a damaged or forged file could get wrong before any weight is used: the
 * checksum (when the file has one: files written before it have none), the description, float dtypes,
 * finite values, matching A/B pairs and ranks, a rank no larger than the projection. style-fit.ts then
 * checks a style against the model it will run on. Every problem is a StyleFileError naming the style.
 * (No model code here: the bot's own process reads style names through this module's neighbours.)
 */
import { createHash } from 'node:crypto';
import { decodeSafetensors, encodeSafetensors, writeSafetensors, type NamedTensor } from '../formats/safetensors.ts';
import { readFile } from 'node:fs/promises';
import { loraShapes, type LoraModuleWeights, type Style, type StyleInfo } from './style.ts';
import { printable, UserError } from '../errors/user-error.ts';

export class StyleFileError extends UserError {
  override name = 'StyleFileError';
}

const META_KEY = 'pairstyle.style';
const CHECKSUM_KEY = 'pairstyle.sha256';
/** The dtypes a style's weights may have (ours are F32; half-precision copies read as well). */
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** sha256 of the description and every tensor (name, shape, float32 values) in name order. */
function checksumOf(infoJson: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): string {
  const h = createHash('sha256').update(infoJson);
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    h.update(`\n${name}[${t.shape.join(',')}]`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

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
  const info = JSON.stringify(style.info);
  return {
    format: 'pt',
    [META_KEY]: info,
    [CHECKSUM_KEY]: checksumOf(info, tensorsOf(style)),
    // Read by diffusers/PEFT tooling: the adapter's rank and scale (alpha = rank -> scale 1).
    'lora.rank': String(style.info.rank),
    'lora.alpha': String(style.info.rank),
    base_model: style.info.baseModel,
    base_model_hash: style.info.baseModelHash,
  };
}

/** The style's tensors and metadata as a safetensors file in memory. */
export function encodeStyle(style: Style): Uint8Array {
  return encodeSafetensors(tensorsOf(style), { dtype: 'F32', metadata: metadataOf(style) });
}

export async function writeStyleFile(path: string, style: Style): Promise<void> {
  await writeSafetensors(path, tensorsOf(style), { dtype: 'F32', metadata: metadataOf(style) });
}

/** The description, checked for what loading and drawing rely on; `created` and the rest are informational. */
function infoFrom(raw: string | undefined, where: string): StyleInfo {
  if (!raw) throw new StyleFileError(`${where}: not a PairStyle style file (no '${META_KEY}' metadata)`);
  let info: unknown;
  try {
    info = JSON.parse(raw);
  } catch {
    throw new StyleFileError(`${where}: the style metadata is not valid JSON`);
  }
  if (!info || typeof info !== 'object' || Array.isArray(info)) throw new StyleFileError(`${where}: the style metadata is not an object`);
  const i = info as Record<string, unknown>;
  for (const key of ['name', 'baseModel', 'baseModelHash', 'styleToken'] as const) {
    if (typeof i[key] !== 'string' || !i[key]) throw new StyleFileError(`${where}: the style metadata has no '${key}'`);
  }
  if (i.rank === undefined) throw new StyleFileError(`${where}: the style metadata has no 'rank'`);
  if (!Number.isSafeInteger(i.rank) || (i.rank as number) < 1)
    throw new StyleFileError(`${where}: the style metadata gives rank ${printable(JSON.stringify(i.rank))}, not a positive whole number`);
  return info as StyleInfo;
}

function styleFrom(tensors: Record<string, NamedTensor>, metadata: Record<string, string>, where: string): Style {
  const info = infoFrom(metadata[META_KEY], where);
  for (const [key, t] of Object.entries(tensors)) {
    if (!FLOAT_DTYPES.has(t.dtype)) throw new StyleFileError(`${where}: ${key} holds ${t.dtype} values, not float weights (F32, F16 or BF16)`);
    if (t.shape.length !== 2 && t.shape.length !== 4)
      throw new StyleFileError(`${where}: ${key} has shape [${t.shape.join(', ')}], not a LoRA matrix or convolution kernel`);
  }
  const sum = metadata[CHECKSUM_KEY];
  if (sum !== undefined && sum !== checksumOf(metadata[META_KEY], tensors)) {
    throw new StyleFileError(`${where} is damaged (its data does not match its checksum): train it again`);
  }
  for (const [key, t] of Object.entries(tensors)) {
    for (const v of t.data)
      if (!Number.isFinite(v))
        throw new StyleFileError(`${where}: ${key} holds values that are not finite (NaN or infinity): the file is damaged; train it again`);
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
      if (a.shape[3] !== k || b.shape.length !== 4 || b.shape[2] !== 1 || b.shape[3] !== 1)
        throw new StyleFileError(`${where}: ${m[1]} is not a square-kernel convolution adapter`);
      if (info.rank > Math.min(a.shape[1] * k * k, b.shape[0]))
        throw new StyleFileError(`${where}: rank ${info.rank} is larger than ${m[1]} itself: not a LoRA of it`);
      modules.push({ module: m[1], A: a.data, B: b.data, inDim: a.shape[1] * k * k, outDim: b.shape[0], kernel: k });
      continue;
    }
    const [inDim, outDim] = [a.shape[1], b.shape[0]];
    if (info.rank > Math.min(inDim, outDim))
      throw new StyleFileError(`${where}: rank ${info.rank} is larger than ${m[1]} itself (${inDim} in, ${outDim} out): not a LoRA of it`);
    modules.push({ module: m[1], A: a.data, B: b.data, inDim, outDim });
  }
  for (const key of Object.keys(tensors)) {
    const m = /^(.*)\.lora_B\.weight$/.exec(key);
    if (m && !tensors[`${m[1]}.lora_A.weight`]) throw new StyleFileError(`${where}: ${key} has no matching lora_A`);
  }
  if (modules.length === 0) throw new StyleFileError(`${where}: no LoRA weights in the file`);
  return { info, modules };
}

/** A style from a file's bytes, checked (StyleFileError / SafetensorsError prefixed with `where`). */
export function decodeStyle(bytes: Uint8Array, where = 'style file'): Style {
  const { tensors, metadata } = decodeSafetensors(bytes, `${where}: `);
  return styleFrom(tensors, metadata, where);
}

export async function readStyleFile(path: string, where = path): Promise<Style> {
  return decodeStyle(await readFile(path), where);
}
