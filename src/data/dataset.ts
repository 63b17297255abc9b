/**
 * The emoji32 dataset file (data/emoji32.bin): encoder, loader, caption sampler.
 *
 * Layout (all integers little-endian), version 1:
 *
 *   offset  size  field
 *   0       4     magic "PSDS"
 *   4       2     version (u16) = 1
 *   6       2     header size in bytes (u16) = 32
 *   8       4     count N (u32)
 *   12      2     H (u16)
 *   14      2     W (u16)
 *   16      2     C (u16) = 3 (RGB)
 *   18      2     reserved = 0
 *   20      4     pixel offset (u32) = header size
 *   24      4     index offset (u32) = pixel offset + N*H*W*C
 *   28      4     index length in bytes (u32)
 *   32      N*H*W*C  pixels: uint8, sample-major, each sample HWC (row-major
 *                 RGB, flattened on white)
 *   ...     index length  JSON index, UTF-8:
 *                 { "sets":  [{ "id", "license", "style", "manner" }, ...],
 *                   "items": [[setIndex, name, subject, [keyword, ...]], ...] }
 *                 items[i] describes pixels[i*H*W*C ..< (i+1)*H*W*C].
 *
 * Samples are ordered by set (PRETRAIN_SETS order) then icon name, so the file
 * is byte-identical across runs. "manner" is absent from files written before the v2 sets (it is then
 * read from the set's definition).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { getSetDef, isSetId, type SetId } from './emoji-sets.ts';

export const MAGIC = 'PSDS';
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 32;

export interface DatasetItem {
  set: SetId;
  /** iconify icon name within the set, e.g. "dog-face". */
  name: string;
  /** Canonical caption, e.g. "dog face". */
  subject: string;
  /** Alternative captions / keywords, most specific first. */
  keywords: string[];
}

export interface SetMeta {
  id: SetId;
  license: string;
  style: string;
  /** Words describing the set's manner ("glossy 3d emoji"). */
  manner: string;
}

export interface Dataset {
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count * height * width * channels bytes, sample-major HWC. */
  pixels: Uint8Array;
  items: DatasetItem[];
  sets: SetMeta[];
}

/** Serialise a dataset to the documented binary layout. */
export function encodeDataset(ds: Omit<Dataset, 'sets'> & { sets?: SetMeta[] }): Uint8Array {
  const { count, height, width, channels, pixels, items } = ds;
  const sample = height * width * channels;
  if (items.length !== count) throw new Error(`items (${items.length}) != count (${count})`);
  if (pixels.length !== count * sample) {
    throw new Error(`pixels length ${pixels.length} != ${count}*${sample}`);
  }
  const setIds: SetId[] = [];
  for (const it of items) if (!setIds.includes(it.set)) setIds.push(it.set);
  const sets: SetMeta[] =
    ds.sets ??
    setIds.map((id) => {
      const d = getSetDef(id);
      return { id, license: d.license, style: d.style, manner: d.manner };
    });
  const setIndex = new Map(sets.map((s, i) => [s.id, i] as const));
  const index = {
    sets,
    items: items.map((it) => {
      const si = setIndex.get(it.set);
      if (si === undefined) throw new Error(`set ${it.set} missing from sets`);
      return [si, it.name, it.subject, it.keywords];
    }),
  };
  const json = new TextEncoder().encode(JSON.stringify(index));
  const pixelOffset = HEADER_SIZE;
  const indexOffset = pixelOffset + pixels.length;
  if (indexOffset + json.length > 0xffffffff) throw new Error('dataset too large for v1 layout');
  const out = new Uint8Array(indexOffset + json.length);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  dv.setUint16(4, FORMAT_VERSION, true);
  dv.setUint16(6, HEADER_SIZE, true);
  dv.setUint32(8, count, true);
  dv.setUint16(12, height, true);
  dv.setUint16(14, width, true);
  dv.setUint16(16, channels, true);
  dv.setUint16(18, 0, true);
  dv.setUint32(20, pixelOffset, true);
  dv.setUint32(24, indexOffset, true);
  dv.setUint32(28, json.length, true);
  out.set(pixels, pixelOffset);
  out.set(json, indexOffset);
  return out;
}

/** Parse a dataset file's bytes. Pixels are a view into `bytes` (no copy). */
export function decodeDataset(bytes: Uint8Array): Dataset {
  if (bytes.length < HEADER_SIZE) throw new Error('dataset truncated (header)');
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new Error(`bad magic ${JSON.stringify(magic)}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== FORMAT_VERSION) throw new Error(`unsupported dataset version ${version}`);
  const count = dv.getUint32(8, true);
  const height = dv.getUint16(12, true);
  const width = dv.getUint16(14, true);
  const channels = dv.getUint16(16, true);
  const pixelOffset = dv.getUint32(20, true);
  const indexOffset = dv.getUint32(24, true);
  const indexLength = dv.getUint32(28, true);
  const pixelBytes = count * height * width * channels;
  if (indexOffset !== pixelOffset + pixelBytes || indexOffset + indexLength > bytes.length) {
    throw new Error('dataset truncated or inconsistent offsets');
  }
  const index = JSON.parse(new TextDecoder().decode(bytes.subarray(indexOffset, indexOffset + indexLength))) as {
    sets: (Omit<SetMeta, 'manner'> & { manner?: string })[];
    items: [number, string, string, string[]][];
  };
  for (const s of index.sets) if (!isSetId(s.id)) throw new Error(`unknown set ${JSON.stringify(s.id)}`);
  const sets: SetMeta[] = index.sets.map((s) => ({ ...s, manner: s.manner ?? getSetDef(s.id).manner }));
  if (index.items.length !== count) throw new Error(`index has ${index.items.length} items, header ${count}`);
  const items: DatasetItem[] = index.items.map(([si, name, subject, keywords]) => {
    const set = sets[si]?.id;
    if (set === undefined) throw new Error(`bad set index ${si}`);
    return { set, name, subject, keywords };
  });
  return {
    count,
    height,
    width,
    channels,
    pixels: bytes.subarray(pixelOffset, pixelOffset + pixelBytes),
    items,
    sets,
  };
}

export function writeDataset(path: string, ds: Omit<Dataset, 'sets'> & { sets?: SetMeta[] }): number {
  const bytes = encodeDataset(ds);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return bytes.length;
}

/** Load data/emoji32.bin (or any file in the same layout). */
export function loadDataset(path: string): Dataset {
  const buf = readFileSync(path);
  return decodeDataset(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
}

/** Pixels of sample i (a view, HWC). */
export function samplePixels(ds: Dataset, i: number): Uint8Array {
  const n = ds.height * ds.width * ds.channels;
  return ds.pixels.subarray(i * n, (i + 1) * n);
}

// ---------------------------------------------------------------------------
// captions

/** Uniform [0, 1) generator. */
export type Rng = () => number;

/** Small deterministic PRNG (mulberry32). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CaptionOptions {
  /** Probability of naming the set: " in <set> style" (default 0.3). */
  styleProb?: number;
  /** Probability of describing the manner instead: ", <manner>" (default 0.35). */
  mannerProb?: number;
  /** Probability of using a keyword instead of the subject (default 0.15). */
  keywordProb?: number;
}

/** captionFor's and captionDistribution's probabilities where the options give none. */
const CAPTION_DEFAULTS: Required<CaptionOptions> = { styleProb: 0.3, mannerProb: 0.35, keywordProb: 0.15 };

/**
 * Training caption for an item: the subject, or (with keywordProb) one of its
 * keywords, followed on ~styleProb of the calls by " in <set> style" and on
 * ~mannerProb by ", <manner>", e.g. "dog face", "puppy in noto style",
 * "cat, thin line icon". Always consumes exactly 3 rng draws.
 */
export function captionFor(item: DatasetItem, rng: Rng, opts: CaptionOptions = {}): string {
  const { styleProb, mannerProb, keywordProb } = { ...CAPTION_DEFAULTS, ...opts };
  const useKeyword = rng() < keywordProb;
  const pick = rng();
  const suffix = rng();
  let text = item.subject;
  if (useKeyword && item.keywords.length > 0) {
    text = item.keywords[Math.min(item.keywords.length - 1, Math.floor(pick * item.keywords.length))]!;
  }
  const set = getSetDef(item.set);
  if (suffix < styleProb) return `${text} in ${set.style}`;
  if (suffix < styleProb + mannerProb) return `${text}, ${set.manner}`;
  return text;
}

/**
 * Every caption captionFor can give an item, with its probability (the same options and defaults;
 * a caption reached two ways is listed twice). The probabilities sum to 1. For trainers that draw
 * captions without running captionFor (scripts/gpu-pretrain).
 */
export function captionDistribution(item: DatasetItem, opts: CaptionOptions = {}): { caption: string; probability: number }[] {
  const o = { ...CAPTION_DEFAULTS, ...opts };
  const { styleProb, mannerProb } = o;
  const keywordProb = item.keywords.length > 0 ? o.keywordProb : 0;
  const set = getSetDef(item.set);
  const texts: [string, number][] = [[item.subject, 1 - keywordProb], ...item.keywords.map((k): [string, number] => [k, keywordProb / item.keywords.length])];
  return texts.flatMap(([text, p]) => [
    { caption: `${text} in ${set.style}`, probability: p * styleProb },
    { caption: `${text}, ${set.manner}`, probability: p * mannerProb },
    { caption: text, probability: p * (1 - styleProb - mannerProb) },
  ]);
}

/**
 * Draws item indices so that `emojiShare` of the draws come from the emoji sets and the rest from the
 * icon collections, uniformly within each group (all of one group when the other is empty). The
 * returned function maps a uniform [0, 1) number to an item index.
 */
export function itemSampler(ds: Pick<Dataset, 'items'>, emojiShare: number): (u: number) => number {
  const weights = itemWeights(ds, emojiShare);
  const cumulative = new Float64Array(ds.items.length);
  let total = 0;
  weights.forEach((w, i) => {
    total += w;
    cumulative[i] = total;
  });
  return (u) => {
    const x = u * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/**
 * Each item's probability of being drawn: `emojiShare` over the emoji sets' items, the rest over the
 * icon collections' (all on one group when the other is empty), uniform within each group.
 */
export function itemWeights(ds: Pick<Dataset, 'items'>, emojiShare: number): Float64Array {
  if (!(emojiShare >= 0 && emojiShare <= 1)) throw new Error(`emoji share ${emojiShare} is not in [0, 1]`);
  const isEmoji = ds.items.map((it) => getSetDef(it.set).kind === 'emoji');
  const emoji = isEmoji.filter(Boolean).length;
  const icons = ds.items.length - emoji;
  const share = emoji === 0 ? 0 : icons === 0 ? 1 : emojiShare;
  return Float64Array.from(isEmoji, (e) => (e ? share / emoji : (1 - share) / icons));
}
