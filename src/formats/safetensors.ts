/**
 * Reader/writer for the safetensors format:
 *   u64 little-endian header length N | N bytes of JSON header | raw little-endian tensor data.
 * The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
 * to the data section) and may carry "__metadata__": {string: string}.
 *
 * Every tensor is exposed as a Float32Array. F32/F16/BF16 can be written; F64 and the integer
 * types are read-only and converted to float32 (I64/U64/I32/U32 lose precision beyond 2^24).
 */
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 } from './float16.ts';

export { f32ToF16, f16ToF32, f32ToBf16, bf16ToF32 };

/** Bytes per element of each supported dtype. */
const DTYPE_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

export type DType = keyof typeof DTYPE_SIZE;
/** Dtypes that encodeSafetensors can write. */
export type WritableDType = 'F32' | 'F16' | 'BF16';

export interface NamedTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array;
}

/** A tensor to write: its shape and float32 values (row-major). */
export interface TensorInput {
  shape: number[];
  data: Float32Array;
}

/** One header entry; dataOffsets are relative to the start of the data section. */
export interface TensorInfo {
  dtype: DType;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Record<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Absolute byte offset where the data section starts (8 + header length). */
  dataStart: number;
  /** Byte length of the data section. */
  dataLength: number;
}

export interface EncodeOptions {
  dtype?: WritableDType;
  metadata?: Record<string, string>;
}

/** Any problem with the structure or content of a safetensors file. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Header size limit used by the reference implementation (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Reverse byte order of each `size`-byte element in place (only used on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Read the u64 header length from the first 8 bytes; `where` prefixes error messages. */
function headerLength(prefix: Uint8Array, totalBytes: number, where: string): number {
  if (totalBytes < 8) {
    throw new SafetensorsError(`${where}truncated file: ${totalBytes} bytes, fewer than the 8-byte header-length prefix`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${where}header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const len = Number(n);
  if (8 + len > totalBytes) {
    throw new SafetensorsError(`${where}truncated file: header declares ${len} bytes but only ${totalBytes - 8} follow the prefix`);
  }
  return len;
}

/** Parse and fully validate the JSON header against a data section of `dataLength` bytes. */
function parseHeader(json: Uint8Array, dataStart: number, dataLength: number, where: string): SafetensorsHeader {
  let text: string;
  let raw: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
    raw = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${where}bad header JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(`${where}bad header JSON: expected an object at the top level`);
  }
  const metadata: Record<string, string> = {};
  const tensors: Record<string, TensorInfo> = {};
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new SafetensorsError(`${where}bad header: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsError(`${where}bad header: "__metadata__" value for ${shown(k)} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    tensors[name] = parseEntry(name, entry, dataLength, where);
  }
  checkLayout(tensors, dataLength, where);
  return { tensors, metadata, dataStart, dataLength };
}

/** A value from a header quoted in a message: JSON, cut short (headers come from strangers). */
function shown(v: unknown, max = 60): string {
  const s = v === undefined ? 'missing' : (JSON.stringify(v) ?? String(v));
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function parseEntry(name: string, entry: unknown, dataLength: number, where: string): TensorInfo {
  const t = `${where}tensor ${shown(name, 120)}: `;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new SafetensorsError(`${t}header entry is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isDType(dtype)) {
    throw new SafetensorsError(`${t}unknown dtype ${shown(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${t}shape ${shown(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new SafetensorsError(`${t}data_offsets ${shown(offsets)} is not a [begin, end] pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsError(`${t}data_offsets [${begin}, ${end}] end before begin`);
  if (end > dataLength) {
    throw new SafetensorsError(`${t}data_offsets [${begin}, ${end}] out of range: data section has only ${dataLength} bytes (truncated file?)`);
  }
  const expected = numel(shape as number[]) * DTYPE_SIZE[dtype];
  if (end - begin !== expected) {
    throw new SafetensorsError(`${t}shape ${shown(shape)} of ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`);
  }
  return { dtype, shape: (shape as number[]).slice(), dataOffsets: [begin, end] };
}

/** Tensors must tile the data section exactly: no overlaps, gaps or trailing bytes. */
function checkLayout(tensors: Record<string, TensorInfo>, dataLength: number, where: string): void {
  const order = Object.entries(tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  let prev = '';
  for (const [name, info] of order) {
    const [begin, end] = info.dataOffsets;
    if (begin < pos) {
      throw new SafetensorsError(`${where}tensor ${shown(name, 120)}: data [${begin}, ${end}] overlaps tensor ${shown(prev, 120)} (which ends at ${pos})`);
    }
    if (begin > pos) {
      throw new SafetensorsError(
        `${where}tensor ${shown(name, 120)}: data starts at ${begin} leaving a ${begin - pos}-byte gap after ${prev ? `tensor ${shown(prev, 120)}` : 'the header'}`,
      );
    }
    pos = end;
    prev = name;
  }
  if (pos !== dataLength) {
    throw new SafetensorsError(`${where}${dataLength - pos} trailing bytes after the last tensor's data`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Convert one tensor's raw little-endian bytes (any alignment) to float32. */
function toFloat32(dtype: DType, raw: Uint8Array): Float32Array {
  const bytes = new Uint8Array(raw); // aligned private copy (Buffer#slice would return a view)
  if (!LITTLE_ENDIAN) swapBytes(bytes, DTYPE_SIZE[dtype]);
  const buf = bytes.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F16':
      return f16ToF32(new Uint16Array(buf));
    case 'BF16':
      return bf16ToF32(new Uint16Array(buf));
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'I64':
      return Float32Array.from(new BigInt64Array(buf), Number);
    case 'U64':
      return Float32Array.from(new BigUint64Array(buf), Number);
    case 'I32':
      return Float32Array.from(new Int32Array(buf));
    case 'U32':
      return Float32Array.from(new Uint32Array(buf));
    case 'I16':
      return Float32Array.from(new Int16Array(buf));
    case 'U16':
      return Float32Array.from(new Uint16Array(buf));
    case 'I8':
      return Float32Array.from(new Int8Array(buf));
    case 'U8':
      return Float32Array.from(bytes);
    case 'BOOL':
      return Float32Array.from(bytes, (b) => (b ? 1 : 0));
  }
}

/** Parse and validate only the header of an in-memory file. */
export function decodeSafetensorsHeader(bytes: Uint8Array, where = ''): SafetensorsHeader {
  const n = headerLength(bytes, bytes.length, where);
  return parseHeader(bytes.subarray(8, 8 + n), 8 + n, bytes.length - 8 - n, where);
}

/** Decode a whole safetensors file held in memory. Throws SafetensorsError on malformed input. */
export function decodeSafetensors(bytes: Uint8Array, where = ''): { tensors: Record<string, NamedTensor>; metadata: Record<string, string> } {
  const header = decodeSafetensorsHeader(bytes, where);
  const tensors: Record<string, NamedTensor> = {};
  for (const [name, info] of Object.entries(header.tensors)) {
    const [begin, end] = info.dataOffsets;
    const raw = bytes.subarray(header.dataStart + begin, header.dataStart + end);
    tensors[name] = { dtype: info.dtype, shape: info.shape, data: toFloat32(info.dtype, raw) };
  }
  return { tensors, metadata: header.metadata };
}

// ---------------------------------------------------------------------------------------------
// Encoding

function toBytes(data: Float32Array, dtype: WritableDType): Uint8Array {
  const typed = dtype === 'F32' ? data : dtype === 'F16' ? f32ToF16(data) : f32ToBf16(data);
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, DTYPE_SIZE[dtype]);
  return copy;
}

/**
 * Encode tensors as a safetensors file. Keys are sorted and data laid out in that order, so the
 * output is deterministic. All tensors are stored in `opts.dtype` (default F32).
 */
export function encodeSafetensors(tensors: Record<string, TensorInput>, opts: EncodeOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new SafetensorsError(`cannot write dtype ${JSON.stringify(dtype)}; writable dtypes are F32, F16, BF16`);
  }
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length > 0) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(opts.metadata).sort()) {
      const v = opts.metadata[k];
      if (typeof v !== 'string') throw new SafetensorsError(`metadata value for "${k}" must be a string`);
      meta[k] = v;
    }
    header[METADATA_KEY] = meta;
  }
  const names = Object.keys(tensors).sort();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY || name === '') throw new SafetensorsError(`invalid tensor name ${JSON.stringify(name)}`);
    const { shape, data } = tensors[name]!;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (!(data instanceof Float32Array)) throw new SafetensorsError(`tensor "${name}": data must be a Float32Array`);
    if (numel(shape) !== data.length) {
      throw new SafetensorsError(`tensor "${name}": shape [${shape.join(', ')}] has ${numel(shape)} elements but data has ${data.length}`);
    }
    const bytes = toBytes(data, dtype);
    header[name] = { dtype, shape: shape.slice(), data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded); // pad with spaces
  let pos = 8 + padded;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files

/**
 * Read and validate only the header of a file (cheap even for multi-GB checkpoints): names,
 * dtypes, shapes, offsets and metadata.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await open(path, 'r');
  try {
    return (await readHeaderFrom(fh, `${path}: `)).header;
  } finally {
    await fh.close();
  }
}

/** Reads the length prefix and the JSON header of an open file; returns both raw parts and the parsed header. */
async function readHeaderFrom(fh: FileHandle, where: string): Promise<{ prefix: Uint8Array; json: Uint8Array; header: SafetensorsHeader }> {
  const size = (await fh.stat()).size;
  const prefix = new Uint8Array(8);
  await fh.read(prefix, 0, Math.min(8, size), 0);
  const n = headerLength(prefix, size, where);
  const json = new Uint8Array(n);
  const { bytesRead } = await fh.read(json, 0, n, 8);
  if (bytesRead !== n) throw new SafetensorsError(`${where}truncated file: could only read ${bytesRead} of ${n} header bytes`);
  return { prefix, json, header: parseHeader(json, 8 + n, size - 8 - n, where) };
}

/** Something that digests bytes (node:crypto's Hash). */
export interface ByteSink {
  update(bytes: Uint8Array): unknown;
}

export interface IterateOptions {
  /** Which tensors to decode and yield (default: all). The others are read only if `hash` is given. */
  select?: (name: string, info: TensorInfo) => boolean;
  /** Receives every byte of the file in order (the header, then each tensor's data): hash = file hash. */
  hash?: ByteSink;
}

/**
 * Reads a file tensor by tensor in data order, never holding more than one tensor's raw bytes: works
 * for multi-GB checkpoints (fs.readFile stops at 2 GiB). Yields the selected tensors as float32.
 */
export async function* iterateSafetensors(path: string, opts: IterateOptions = {}): AsyncGenerator<NamedTensor & { name: string }> {
  const where = `${path}: `;
  const fh = await open(path, 'r');
  try {
    const { prefix, json, header } = await readHeaderFrom(fh, where);
    opts.hash?.update(prefix);
    opts.hash?.update(json);
    const order = Object.entries(header.tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
    for (const [name, info] of order) {
      const wanted = opts.select ? opts.select(name, info) : true;
      if (!wanted && !opts.hash) continue;
      const [begin, end] = info.dataOffsets;
      const raw = new Uint8Array(end - begin);
      for (let done = 0; done < raw.length; ) {
        const r = await fh.read(raw, done, Math.min(raw.length - done, 1 << 30), header.dataStart + begin + done);
        if (r.bytesRead === 0) throw new SafetensorsError(`${where}tensor "${name}": file ended while reading its data`);
        done += r.bytesRead;
      }
      opts.hash?.update(raw);
      if (!wanted) continue;
      // A fresh little-endian F32 buffer is used as it is; everything else is converted.
      const data = info.dtype === 'F32' && LITTLE_ENDIAN ? new Float32Array(raw.buffer) : toFloat32(info.dtype, raw);
      yield { name, dtype: info.dtype, shape: info.shape, data };
    }
  } finally {
    await fh.close();
  }
}

/** Read and decode a whole file; errors name the path. */
export async function readSafetensors(path: string): Promise<{ tensors: Record<string, NamedTensor>; metadata: Record<string, string> }> {
  const fh = await open(path, 'r');
  let bytes: Uint8Array;
  try {
    bytes = await fh.readFile();
  } finally {
    await fh.close();
  }
  return decodeSafetensors(bytes, `${path}: `);
}

/** The temp file a write of `path` goes through: `.NAME.PID.RANDOM.tmp` beside it. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** True while process `pid` runs on this machine (EPERM: it runs, as another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files that writes killed before their rename left in `dir` (those of processes that
 * no longer run), of every file or only of `name`. Returns how many. A temp file of a live writer stays.
 */
export async function removeStaleTemps(dir: string, name?: string): Promise<number> {
  const files = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const f of files) {
    const m = TEMP_FILE.exec(f);
    if (!m || (name !== undefined && m[1] !== name) || Number(m[2]) === process.pid || processAlive(Number(m[2]))) continue;
    if (
      await unlink(join(dir, f)).then(
        () => true,
        () => false,
      )
    )
      removed++;
  }
  return removed;
}

/**
 * Writes `bytes` to a new temp file beside `path` and fsyncs it; returns the temp file's path (to be
 * renamed over `path`). On any failure (a full disk) the temp file is removed and the error thrown.
 */
export async function writeTempFile(path: string, bytes: Uint8Array): Promise<string> {
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return tmp;
}

/** fsyncs a directory after renames in it (best effort: not supported everywhere, e.g. Windows). */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // The rename itself already happened.
  }
}

/**
 * Write bytes to `path` atomically: write a temp file in the same directory, fsync it, rename it
 * over `path`, then fsync the directory (best effort). Readers never see a partial file; temp files
 * of earlier writes of `path` that were killed are removed first.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await removeStaleTemps(dirname(path), basename(path));
  const tmp = await writeTempFile(path, bytes);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDirectory(dirname(path));
}

/** Encode and write a safetensors file atomically (see writeFileAtomic). */
export async function writeSafetensors(path: string, tensors: Record<string, TensorInput>, opts: EncodeOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, opts));
}
