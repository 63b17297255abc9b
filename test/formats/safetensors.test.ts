import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SafetensorsError,
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from '../../src/formats/safetensors.ts';

/** Build a safetensors file by hand: header object (serialised as given) + raw data bytes. */
function build(header: unknown, data: Uint8Array | number[] = [], pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) while (json.length % 8) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function u16le(...vals: number[]): Uint8Array {
  const b = new Uint8Array(vals.length * 2);
  const dv = new DataView(b.buffer);
  vals.forEach((v, i) => dv.setUint16(i * 2, v, true));
  return b;
}

function bitsF32(b: number): number {
  return new Float32Array(new Uint32Array([b]).buffer)[0]!;
}

function randomFloats(n: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 8;
  }
  return out;
}

describe('half-precision conversion', () => {
  it('f16 known bit patterns', () => {
    const vals = new Float32Array([1, -2, 65504, 2 ** -24, 0, -0, Infinity, -Infinity, 2 ** -14, 2 ** -14 - 2 ** -24, 0.1]);
    expect(Array.from(f32ToF16(vals))).toEqual([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x0400, 0x03ff, 0x2e66]);
  });

  it('f16 rounds to nearest even, overflows to Infinity, underflows to zero', () => {
    const cases: [number, number][] = [
      [1 + 2 ** -11, 0x3c00], // tie -> even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (up)
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above tie
      [65519, 0x7bff],
      [65520, 0x7c00], // tie between 65504 and 2^16 -> Infinity
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [2 ** -25, 0x0000], // tie between 0 and smallest subnormal -> 0
      [2 ** -25 * 1.5, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units -> 2
      [5 * 2 ** -25, 0x0002], // tie between 2 and 3 -> 2
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up into the smallest normal
      [1e-10, 0x0000],
      [-1e-10, 0x8000],
      [1.401298464324817e-45, 0x0000], // f32 subnormal
    ];
    const got = f32ToF16(new Float32Array(cases.map((c) => c[0])));
    cases.forEach(([x, bits], i) => expect([x, got[i]]).toEqual([x, bits]));
  });

  it('f16 NaN stays NaN', () => {
    const h = f32ToF16(new Float32Array([NaN, bitsF32(0x7f800001), bitsF32(0xffc00000)]));
    for (const b of h) expect(b & 0x7c00).toBe(0x7c00), expect(b & 0x3ff).not.toBe(0);
    expect(h[2]! & 0x8000).toBe(0x8000);
    expect(Array.from(f16ToF32(h)).every(Number.isNaN)).toBe(true);
  });

  it('f16 -> f32 -> f16 is the identity on all 65536 patterns', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16ToF32(all);
    const back = f32ToF16(f);
    for (let i = 0; i < 65536; i++) {
      const nanPattern = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (nanPattern) expect(Number.isNaN(f[i])).toBe(true);
      else if (back[i] !== i) throw new Error(`0x${i.toString(16)} -> ${f[i]} -> 0x${back[i]!.toString(16)}`);
    }
    expect(f[0x0001]).toBe(2 ** -24);
    expect(f[0x03ff]).toBe(2 ** -14 - 2 ** -24);
    expect(f[0x7bff]).toBe(65504);
    expect(f[0xfc00]).toBe(-Infinity);
    expect(Object.is(f[0x8000], -0)).toBe(true);
  });

  it('f32 -> f16 matches a brute-force nearest-even reference on random bit patterns', () => {
    // All finite non-negative f16 values in increasing order: index == bit pattern.
    const pos = f16ToF32(new Uint16Array(0x7c00).map((_, i) => i));
    let s = 12345;
    const bits = new Uint32Array(20000);
    for (let i = 0; i < bits.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      // Concentrate exponents around the f16 range (2^-26 .. 2^17).
      const exp = 101 + (s % 43);
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      bits[i] = ((s & 1) << 31) | (exp << 23) | (s >>> 9);
    }
    const x = new Float32Array(bits.buffer);
    const got = f32ToF16(x);
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]!);
      let want: number;
      if (a >= 65520) want = 0x7c00;
      else {
        let lo = 0;
        let hi = 0x7bff;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (pos[mid]! <= a) lo = mid;
          else hi = mid - 1;
        }
        want = lo;
        if (lo < 0x7bff) {
          const dLo = a - pos[lo]!;
          const dHi = pos[lo + 1]! - a;
          if (dHi < dLo || (dHi === dLo && (lo & 1) === 1)) want = lo + 1;
        }
      }
      want |= x[i]! < 0 ? 0x8000 : 0;
      if (got[i] !== want) throw new Error(`${x[i]}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
    }
  });

  it('bf16 known bits, rounding, inf and NaN', () => {
    const x = new Float32Array([
      1,
      -2,
      Math.PI,
      0,
      -0,
      Infinity,
      -Infinity,
      bitsF32(0x3f808000), // tie -> even (down to 0x3f80)
      bitsF32(0x3f818000), // tie -> even (up to 0x3f82)
      bitsF32(0x3f808001), // above tie -> up
      bitsF32(0x7f7fffff), // max f32 rounds to Infinity
      bitsF32(0x00000001), // f32 subnormal -> 0
      bitsF32(0x00018000), // bf16 subnormal tie -> even
    ]);
    expect(Array.from(f32ToBf16(x)).map((b) => b.toString(16))).toEqual(
      [0x3f80, 0xc000, 0x4049, 0, 0x8000, 0x7f80, 0xff80, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0, 0x0002].map((b) => b.toString(16)),
    );
    const nan = f32ToBf16(new Float32Array([NaN, bitsF32(0x7f800001), bitsF32(0xff800001)]));
    expect(Array.from(bf16ToF32(nan)).every(Number.isNaN)).toBe(true);
    expect(nan[2]! & 0x8000).toBe(0x8000);
    expect(Array.from(bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x4049, 0x0001])))).toEqual([1, -2, 3.140625, bitsF32(0x00010000)]);
  });
});

describe('encode/decode', () => {
  it('round-trips F32 exactly with metadata and shapes', () => {
    const a = randomFloats(24);
    const b = new Float32Array([1.5]);
    const bytes = encodeSafetensors(
      { 'layer.b': { shape: [], data: b }, 'layer.a': { shape: [2, 3, 4], data: a }, empty: { shape: [0, 5], data: new Float32Array(0) } },
      { metadata: { note: 'hi', step: '3' } },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ note: 'hi', step: '3' });
    expect(Object.keys(tensors).sort()).toEqual(['empty', 'layer.a', 'layer.b']);
    expect(tensors['layer.a']).toEqual({ dtype: 'F32', shape: [2, 3, 4], data: a });
    expect(tensors['layer.b']).toEqual({ dtype: 'F32', shape: [], data: b });
    expect(tensors.empty!.shape).toEqual([0, 5]);
    expect(tensors.empty!.data.length).toBe(0);
  });

  it('round-trips F16 and BF16 (exact for representable values, rounded otherwise)', () => {
    const x = randomFloats(100, 7);
    for (const dtype of ['F16', 'BF16'] as const) {
      const bytes = encodeSafetensors({ w: { shape: [10, 10], data: x } }, { dtype });
      expect(bytes.length).toBe(8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)) + 200);
      const t = decodeSafetensors(bytes).tensors.w!;
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([10, 10]);
      const rounded = dtype === 'F16' ? f16ToF32(f32ToF16(x)) : bf16ToF32(f32ToBf16(x));
      expect(t.data).toEqual(rounded);
      // Second round trip is exact.
      const again = decodeSafetensors(encodeSafetensors({ w: { shape: [10, 10], data: t.data } }, { dtype })).tensors.w!;
      expect(again.data).toEqual(t.data);
    }
  });

  it('is deterministic regardless of key insertion order', () => {
    const a = { shape: [2], data: new Float32Array([1, 2]) };
    const b = { shape: [1], data: new Float32Array([3]) };
    const x = encodeSafetensors({ a, b }, { metadata: { y: '1', x: '2' } });
    const y = encodeSafetensors({ b, a }, { metadata: { x: '2', y: '1' } });
    expect(Buffer.from(x).equals(Buffer.from(y))).toBe(true);
  });

  it('decodes a hand-built F16 file with known bit patterns', () => {
    const bytes = build(
      {
        __metadata__: { format: 'pt' },
        x: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      },
      u16le(0x3c00, 0xc000, 0x7bff, 0x0001),
    );
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.x!.dtype).toBe('F16');
    expect(tensors.x!.shape).toEqual([2, 2]);
    expect(Array.from(tensors.x!.data)).toEqual([1, -2, 65504, 2 ** -24]);
  });

  it('decodes hand-built BF16, F64, I64, I32, U8 tensors from an unaligned buffer', () => {
    const data = new Uint8Array(4 + 8 + 16 + 8 + 3);
    const dv = new DataView(data.buffer);
    dv.setUint16(0, 0x3f80, true);
    dv.setUint16(2, 0xc049, true);
    dv.setFloat64(4, 0.1, true);
    dv.setBigInt64(12, -5n, true);
    dv.setBigInt64(20, 1n << 40n, true);
    dv.setInt32(28, -7, true);
    dv.setInt32(32, 123456, true);
    data.set([0, 128, 255], 36);
    const file = build(
      {
        b: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] },
        d: { dtype: 'F64', shape: [1], data_offsets: [4, 12] },
        i: { dtype: 'I64', shape: [2], data_offsets: [12, 28] },
        j: { dtype: 'I32', shape: [2, 1], data_offsets: [28, 36] },
        u: { dtype: 'U8', shape: [3], data_offsets: [36, 39] },
      },
      data,
      false, // odd header length -> unaligned data
    );
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const { tensors } = decodeSafetensors(shifted.subarray(1));
    expect(Array.from(tensors.b!.data)).toEqual([1, -3.140625]);
    expect(tensors.d!.data[0]).toBe(Math.fround(0.1));
    expect(Array.from(tensors.i!.data)).toEqual([-5, 2 ** 40]);
    expect(Array.from(tensors.j!.data)).toEqual([-7, 123456]);
    expect(tensors.j!.shape).toEqual([2, 1]);
    expect(Array.from(tensors.u!.data)).toEqual([0, 128, 255]);
  });
});

describe('decode errors', () => {
  const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ['short prefix', new Uint8Array(5), /truncated file: 5 bytes/],
    ['header longer than file', build(ok, eight).subarray(0, 20), /truncated file: header declares/],
    [
      'huge header length',
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
        return b;
      })(),
      /exceeds/,
    ],
    [
      'bad JSON',
      (() => {
        const b = build({}, []);
        b.set(new TextEncoder().encode('{"x":'), 8);
        return b;
      })(),
      /bad header JSON/,
    ],
    ['non-object JSON', build([1, 2]), /bad header JSON: expected an object/],
    [
      'truncated data',
      build(ok, eight).subarray(0, build(ok, eight).length - 3),
      /tensor "x": data_offsets \[0, 8\] out of range: data section has only 5 bytes/,
    ],
    ['unknown dtype', build({ x: { dtype: 'F8_E9', shape: [2], data_offsets: [0, 2] } }, [0, 0]), /tensor "x": unknown dtype "F8_E9"/],
    [
      'shape/byte mismatch',
      build({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight),
      /tensor "x": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/,
    ],
    ['bad shape', build({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } }, eight), /tensor "x": shape \[-1\]/],
    ['end before begin', build({ x: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, eight), /tensor "x": data_offsets \[8, 4\] end before begin/],
    ['missing offsets', build({ x: { dtype: 'F32', shape: [2] } }, eight), /tensor "x": data_offsets missing/],
    [
      'overlap',
      build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight),
      /tensor "b": data \[4, 8\] overlaps tensor "a"/,
    ],
    ['gap', build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /tensor "a": data starts at 4 leaving a 4-byte gap/],
    ['trailing bytes', build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight), /4 trailing bytes/],
    ['metadata not strings', build({ __metadata__: { a: 1 } }), /"__metadata__" value for "a" is not a string/],
  ];
  for (const [what, bytes, re] of cases) {
    it(what, () => {
      expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => decodeSafetensors(bytes)).toThrow(re);
    });
  }

  it('encode rejects shape/data mismatch and bad names', () => {
    expect(() => encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor "w": shape \[2, 2\] has 4 elements but data has 3/);
    expect(() => encodeSafetensors({ __metadata__: { shape: [0], data: new Float32Array(0) } })).toThrow(/invalid tensor name/);
    expect(() => encodeSafetensors({}, { dtype: 'F64' as never })).toThrow(/cannot write dtype/);
  });
});

describe('files', () => {
  it('writes atomically, reads back, and reads only the header', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    try {
      const path = join(dir, 'm.safetensors');
      const w = randomFloats(12);
      await writeSafetensors(
        path,
        { w: { shape: [3, 4], data: w }, b: { shape: [2], data: new Float32Array([1, 2]) } },
        { dtype: 'BF16', metadata: { k: 'v' } },
      );
      expect(await readdir(dir)).toEqual(['m.safetensors']); // no temp file left
      const h = await readSafetensorsHeader(path);
      expect(h.metadata).toEqual({ k: 'v' });
      expect(h.tensors.w).toEqual({ dtype: 'BF16', shape: [3, 4], dataOffsets: [4, 28] });
      expect(h.tensors.b).toEqual({ dtype: 'BF16', shape: [2], dataOffsets: [0, 4] });
      expect(h.dataLength).toBe(28);
      const { tensors } = await readSafetensors(path);
      expect(tensors.w!.data).toEqual(bf16ToF32(f32ToBf16(w)));
      // Overwrite in place.
      await writeSafetensors(path, { z: { shape: [1], data: new Float32Array([9]) } });
      expect(Object.keys((await readSafetensors(path)).tensors)).toEqual(['z']);
      expect(await readdir(dir)).toEqual(['m.safetensors']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('errors from files name the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    try {
      const path = join(dir, 'bad.safetensors');
      const good = encodeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
      await writeFile(path, good.subarray(0, good.length - 2));
      await expect(readSafetensorsHeader(path)).rejects.toThrow(`${path}: tensor "w": data_offsets [0, 16] out of range`);
      await expect(readSafetensors(path)).rejects.toThrow(`${path}: tensor "w"`);
      await writeFile(path, new Uint8Array(3));
      await expect(readSafetensorsHeader(path)).rejects.toThrow(`${path}: truncated file: 3 bytes`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
