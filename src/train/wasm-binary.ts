/**
 * A small writer of WebAssembly binary modules: one imported memory and functions whose bodies are
 * byte sequences, with the few instructions the optimizer's kernel uses (i32 loop control, 128-bit
 * SIMD loads and stores, float32 lanes). Node 20 runs WebAssembly SIMD; the project has no
 * WebAssembly toolchain, so its kernels are written with this (see adamw-simd.ts).
 * Encoding: https://webassembly.github.io/spec/core/binary/ (and the fixed-width SIMD opcodes).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`uleb: ${n}`);
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new RangeError(`sleb: ${n}`);
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
/** memarg: log2 of the alignment, then the static offset. */
const memarg = (alignLog2: number, offset: number) => [...uleb(alignLog2), ...uleb(offset)];

/** The instructions used, each as its bytes. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  /** v128.load with a byte offset added to the address on the stack (16-byte aligned by default). */
  v128Load: (offset = 0, alignLog2 = 4) => simd(0x00, ...memarg(alignLog2, offset)),
  v128Store: (offset = 0, alignLog2 = 4) => simd(0x0b, ...memarg(alignLog2, offset)),
  f32x4Splat: simd(0x13),
  f32x4Sqrt: simd(0xe3),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
} as const;

export interface WasmFunction {
  /** Exported under this name. */
  name: string;
  params: ValType[];
  /** Locals after the parameters (indices continue from params.length). */
  locals: ValType[];
  /** The body's instructions, without the final `end`. */
  body: number[];
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
};
const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];

/**
 * A module that imports its memory as env.memory (at least `minPages` pages of 64 KiB) and exports the
 * functions, none of which returns a value.
 */
export function wasmModule(minPages: number, functions: WasmFunction[]): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0]);
  const imports = [[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(minPages)]];
  const exports = functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const code = [...locals, ...f.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

/** The part of the WebAssembly JavaScript API that the kernels use (the project's TypeScript libraries leave it out). */
export interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

/** Node's WebAssembly object. */
export const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
