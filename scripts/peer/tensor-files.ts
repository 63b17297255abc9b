/**
 * The files the two engines of bench:peer exchange (weights, inputs, each engine's check), as F32
 * safetensors written and read one tensor at a time: SD 1.5's weights are 3.4 GB and the full-weight
 * step's gradients and updated parameters twice that, more than one buffer (and readSafetensors, which
 * stops at 2 GiB) can hold, and more than the memory the benchmark should spend on them.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

/** Writes `names` as one F32 safetensors file, asking `value` for one tensor at a time. */
export function writeF32Tensors(
  path: string,
  names: readonly string[],
  shape: (name: string) => readonly number[],
  value: (name: string) => Float32Array,
): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const n of names) {
    const bytes = 4 * shape(n).reduce((a, b) => a * b, 1);
    header[n] = { dtype: 'F32', shape: [...shape(n)], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const n of names) {
      const v = value(n);
      const expected = (header[n] as { data_offsets: [number, number] }).data_offsets;
      if (4 * v.length !== expected[1] - expected[0]) throw new Error(`${path}: ${n} has ${v.length} values, its shape ${(expected[1] - expected[0]) / 4}`);
      writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}

interface Entry {
  fd: number;
  path: string;
  shape: number[];
  /** Absolute byte offsets of the data. */
  begin: number;
  end: number;
}

/** The F32 tensors of one or more safetensors files, by name; each read from its file when asked for. */
export class TensorFiles {
  private readonly entries = new Map<string, Entry>();
  private readonly fds: number[] = [];

  private constructor() {}

  static open(paths: readonly string[]): TensorFiles {
    const files = new TensorFiles();
    try {
      for (const path of paths) files.add(path);
    } catch (e) {
      files.close();
      throw e;
    }
    return files;
  }

  private add(path: string): void {
    const fd = openSync(path, 'r');
    this.fds.push(fd);
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(8);
    if (size < 8 || readSync(fd, prefix, 0, 8, 0) !== 8) throw new Error(`${path}: not a safetensors file (shorter than its header length)`);
    const length = Number(prefix.readBigUInt64LE(0));
    if (8 + length > size) throw new Error(`${path}: header length ${length} runs past the file's ${size} bytes`);
    const json = Buffer.alloc(length);
    readSync(fd, json, 0, length, 8);
    const header = JSON.parse(json.toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (info.dtype !== 'F32') throw new Error(`${path}: ${name} is ${info.dtype}; the peer benchmark exchanges F32 only`);
      const [begin, end] = info.data_offsets.map((o) => 8 + length + o);
      if (end > size || end - begin !== 4 * info.shape.reduce((a, b) => a * b, 1))
        throw new Error(`${path}: ${name}'s data does not match its shape or the file`);
      if (this.entries.has(name)) throw new Error(`${path}: ${name} is also in ${this.entries.get(name)!.path}`);
      this.entries.set(name, { fd, path, shape: info.shape, begin, end });
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  shape(name: string): number[] {
    return this.entry(name).shape;
  }

  read(name: string): Float32Array {
    const e = this.entry(name);
    const out = new Float32Array((e.end - e.begin) / 4);
    const bytes = new Uint8Array(out.buffer);
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(e.fd, bytes, done, Math.min(bytes.length - done, 1 << 30), e.begin + done);
      if (n === 0) throw new Error(`${e.path}: ${name} is cut short`);
      done += n;
    }
    return out;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new Error(`no tensor ${name} in ${[...new Set([...this.entries.values()].map((v) => v.path))].join(', ') || 'the files'}`);
    return e;
  }
}
