/**
 * Conversions between float32 and the 16-bit float formats used in checkpoints:
 * IEEE 754 binary16 ("F16") and bfloat16 ("BF16").
 *
 * float32 -> 16-bit rounds to nearest, ties to even; overflow gives ±Infinity,
 * tiny values become subnormals or ±0, NaN stays a (quiet) NaN with its sign.
 * 16-bit -> float32 is exact.
 */

/** Bits of one float32 (as an unsigned 32-bit integer) to binary16 bits. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // Infinity keeps a zero mantissa; NaN is made quiet and keeps its top payload bits.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  }
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00; // too large: Infinity
  if (e <= 0) {
    // Result is a binary16 subnormal (or zero): value = m * 2^-24.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const full = mant | 0x800000; // 24-bit significand with the implicit bit
    const shift = 14 - e; // 14..24
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1) === 1)) m++; // may carry into the smallest normal, which is correct
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // carry may reach Infinity, which is correct
  return h;
}

/** binary16 bits to float32 bits (exact). */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal: normalise the mantissa.
  let e = 113;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

let f16Table: Uint32Array | undefined;

/** Lazily built 65536-entry table of float32 bits for every binary16 value. */
function f16ToF32Table(): Uint32Array {
  if (!f16Table) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32Bits(h);
  }
  return f16Table;
}

function u32View(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** float32 -> binary16 bits, round to nearest even. */
export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = u32View(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  return out;
}

/** binary16 bits -> float32 (exact). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const table = f16ToF32Table();
  const out = new Float32Array(src.length);
  const bits = u32View(out);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]!]!;
  return out;
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = u32View(src);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = (x >>> 16) | 0x40; // NaN: truncate and force quiet bit so it cannot become Infinity
    } else {
      // Plain double arithmetic: x + 0x8000 stays below 2^32 for every non-NaN input.
      out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** bfloat16 bits -> float32 (exact). */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = u32View(out);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}
