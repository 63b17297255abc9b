/**
 * The AdamW update (and AdamW + EMA) as a WebAssembly module with 128-bit SIMD: four float32 lanes per
 * instruction, one pass over the arrays, every array read and written once. Its memory is imported
 * (env.memory); resident.ts owns it. The arithmetic is float32 (as PyTorch's AdamW on float32 tensors),
 * where optim.ts's JavaScript kernel works in float64 and rounds what it stores: the two agree within
 * float32 rounding (test/train/adamw-simd.test.ts).
 *
 * Per element, with every constant in float32:
 *   g' = g gs;  m = b1 m + c1 g';  v = b2 v + (c2 g') g'
 *   p = (p - p wdlr) - (stepSize m) / (sqrt(v) + eps)          wdlr = lr wd, c1 = 1-b1, c2 = 1-b2
 *   s = s + cd (p - s)                                         (adamw_ema only; cd = 1 - EMA decay)
 * stepSize and eps have the bias corrections folded in (see AdamW.step).
 */
import { F32, I32, op, V128, wasmModule, type ValType, type WasmFunction } from './wasm-binary.ts';

/** The per-step constants of one parameter group. */
export interface AdamWStepConstants {
  gradScale: number;
  beta1: number;
  beta2: number;
  /** lr x weight decay. */
  lrWeightDecay: number;
  /** lr / (1 - b1^t) x sqrt(1 - b2^t). */
  stepSize: number;
  /** eps x sqrt(1 - b2^t). */
  eps: number;
}

/** The module's exports. Offsets are byte offsets in the memory (16-byte aligned); `bytes` is a multiple of 16. */
export interface AdamWSimdExports {
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    bytes: number,
    gs: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    wdlr: number,
    stepSize: number,
    eps: number,
  ): void;
  adamw_ema(
    p: number,
    g: number,
    m: number,
    v: number,
    s: number,
    bytes: number,
    gs: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    wdlr: number,
    stepSize: number,
    eps: number,
    cd: number,
  ): void;
}

const get = op.localGet;

function kernel(ema: boolean): WasmFunction {
  // Parameters: the arrays' offsets, the byte count, then the float32 constants.
  const arrays = ema ? ['p', 'g', 'm', 'v', 's'] : ['p', 'g', 'm', 'v'];
  const constants = ['gs', 'b1', 'c1', 'b2', 'c2', 'wdlr', 'stepSize', 'eps', ...(ema ? ['cd'] : [])];
  const params: ValType[] = [...arrays.map((): ValType => I32), I32, ...constants.map((): ValType => F32)];
  const at = Object.fromEntries(arrays.map((a, i) => [a, i]));
  const BYTES = arrays.length;
  const scalar = Object.fromEntries(constants.map((c, i) => [c, BYTES + 1 + i]));
  // Locals: the loop's byte index, each constant splatted to four lanes, and the new g', m, v, p.
  const I = params.length;
  const lanes = Object.fromEntries(constants.map((c, i) => [c, I + 1 + i]));
  const [G, M, V, P] = [0, 1, 2, 3].map((k) => I + 1 + constants.length + k);
  const locals: ValType[] = [I32, ...constants.map((): ValType => V128), V128, V128, V128, V128];

  const address = (array: string) => [...get(at[array]!), ...get(I), ...op.i32Add];
  const load = (array: string) => [...address(array), ...op.v128Load()];
  const c = (name: string) => get(lanes[name]!);
  const body = [
    ...constants.flatMap((k) => [...get(scalar[k]!), ...op.f32x4Splat, ...op.localSet(lanes[k]!)]),
    ...op.i32Const(0),
    ...op.localSet(I),
    ...op.block,
    ...op.loop,
    ...[...get(I), ...get(BYTES), ...op.i32GeU, ...op.brIf(1)],
    // g' = g gs
    ...[...load('g'), ...c('gs'), ...op.f32x4Mul, ...op.localSet(G)],
    // m = b1 m + c1 g'
    ...[...c('b1'), ...load('m'), ...op.f32x4Mul, ...c('c1'), ...get(G), ...op.f32x4Mul, ...op.f32x4Add, ...op.localSet(M)],
    ...[...address('m'), ...get(M), ...op.v128Store()],
    // v = b2 v + (c2 g') g'
    ...[...c('b2'), ...load('v'), ...op.f32x4Mul, ...c('c2'), ...get(G), ...op.f32x4Mul, ...get(G), ...op.f32x4Mul, ...op.f32x4Add, ...op.localSet(V)],
    ...[...address('v'), ...get(V), ...op.v128Store()],
    // p = (p - p wdlr) - (stepSize m) / (sqrt(v) + eps)
    ...[...load('p'), ...op.localSet(P)],
    ...[...get(P), ...get(P), ...c('wdlr'), ...op.f32x4Mul, ...op.f32x4Sub],
    ...[
      ...c('stepSize'),
      ...get(M),
      ...op.f32x4Mul,
      ...get(V),
      ...op.f32x4Sqrt,
      ...c('eps'),
      ...op.f32x4Add,
      ...op.f32x4Div,
      ...op.f32x4Sub,
      ...op.localSet(P),
    ],
    ...[...address('p'), ...get(P), ...op.v128Store()],
    // s = s + cd (p - s), with the stored (float32) p
    ...(ema ? [...address('s'), ...load('s'), ...c('cd'), ...get(P), ...load('s'), ...op.f32x4Sub, ...op.f32x4Mul, ...op.f32x4Add, ...op.v128Store()] : []),
    ...[...get(I), ...op.i32Const(16), ...op.i32Add, ...op.localSet(I), ...op.br(0)],
    ...op.end,
    ...op.end,
  ];
  return { name: ema ? 'adamw_ema' : 'adamw', params, locals, body };
}

/** The module's bytes (a memory of at least one page is imported as env.memory). */
export function adamwSimdModule(): Uint8Array {
  return wasmModule(1, [kernel(false), kernel(true)]);
}
