/**
 * The resident memory's WebAssembly SIMD AdamW (+ EMA) kernel against the JavaScript kernel it replaces
 * (float64 arithmetic, float32 storage), element by element: from the same state, one step of each, over
 * 30 steps of a warm-up + cosine schedule, two parameter groups (weight decay on and off, other betas and
 * eps), gradient scales (none, a loss scale's inverse, a clipping factor), the EMA on and off, lengths
 * that are not multiples of the kernel's four lanes. They agree within float32 rounding (a few units in
 * the last place of the terms summed), a tolerance that a 1e-3 change of the learning rate breaks.
 */
import { describe, expect, it } from 'vitest';
import { EMA } from '../../src/train/ema.ts';
import { AdamW, warmupCosine, type ParamGroup } from '../../src/train/optim.ts';
import { ResidentMemory, residentParams } from '../../src/train/resident.ts';
import { adamwSimdModule } from '../../src/train/adamw-simd.ts';
import { sleb, uleb, webAssembly } from '../../src/train/wasm-binary.ts';

/** A seeded stream in [0, 1). */
function stream(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const LENGTHS: Record<string, number> = { a: 1, b: 3, c: 4, d: 5, e: 37, f: 1027 };
const STEPS = 30;

/** Values over many magnitudes (1e-7 .. 10), both signs, some exact zeros. */
function wide(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => (r() < 0.05 ? 0 : (r() < 0.5 ? -1 : 1) * 10 ** (-7 + 8 * r())));
}

function groupsOver(params: Record<string, Float32Array>): ParamGroup[] {
  const named = (names: string[]) => names.map((name) => ({ name, data: params[name]! }));
  return [
    { params: named(['a', 'b', 'e', 'f']), lr: 0.01, weightDecay: 0.05 },
    { params: named(['c', 'd']), lr: 0.003, weightDecay: 0, betas: [0.8, 0.99], eps: 1e-6 },
  ];
}

interface Run {
  params: Record<string, Float32Array>;
  opt: AdamW;
  ema?: EMA;
}

function setUp(resident: boolean, withEma: boolean): Run {
  const r = stream(3);
  const plain = Object.fromEntries(Object.entries(LENGTHS).map(([n, len]) => [n, wide(len, r)]));
  const params = resident ? residentParams(plain) : plain;
  return { params, opt: new AdamW(groupsOver(params)), ema: withEma ? new EMA(params, 0.999, { warmup: true }) : undefined };
}

/** Copies `from`'s weights, moments, step count and average into `to`. */
function sync(from: Run, to: Run): void {
  for (const n of Object.keys(LENGTHS)) to.params[n]!.set(from.params[n]!);
  to.opt.loadState(from.opt.state());
  if (from.ema && to.ema) to.ema.loadState(from.ema.state());
}

const EPS32 = 2 ** -24;

/**
 * Per element, the largest difference float32 rounding explains: `ulps` units of EPS32 times the sizes
 * of the terms each value sums (no cancellation in the bound), from the state before the step.
 */
function bounds(before: Run, gs: number, lrScale: number, g: Record<string, Float32Array>, ulps: number) {
  const out: Record<string, { m: Float64Array; v: Float64Array; p: Float64Array; s: Float64Array }> = {};
  const t = before.opt.stepCount + 1;
  const emaDecay = before.ema?.currentDecay() ?? 0;
  for (const group of before.opt.groups) {
    const { beta1: b1, beta2: b2, eps } = group;
    const lr = group.lr * lrScale;
    const bc2 = Math.sqrt(1 - b2 ** t);
    const stepSize = (lr / (1 - b1 ** t)) * bc2;
    const state = before.opt.state();
    for (const slot of group.slots) {
      const n = slot.name;
      const [p, m, v, s] = [before.params[n]!, state.m[n]!, state.v[n]!, before.ema?.shadow[n]];
      const len = p.length;
      const o = { m: new Float64Array(len), v: new Float64Array(len), p: new Float64Array(len), s: new Float64Array(len) };
      for (let i = 0; i < len; i++) {
        const gi = g[n]![i]! * gs;
        const mSize = b1 * Math.abs(m[i]!) + (1 - b1) * Math.abs(gi);
        const vNew = b2 * v[i]! + (1 - b2) * gi * gi;
        const update = (stepSize * mSize) / (Math.sqrt(vNew) + eps * bc2);
        o.m[i] = ulps * EPS32 * mSize;
        o.v[i] = ulps * EPS32 * vNew + 2 ** -148;
        o.p[i] = ulps * EPS32 * (Math.abs(p[i]!) + update);
        o.s[i] = s ? ulps * EPS32 * (Math.abs(s[i]!) + Math.abs(p[i]!) + update) + (1 - emaDecay) * o.p[i]! : 0;
      }
      out[n] = o;
    }
  }
  return out;
}

/** Elements of `got` farther from `want` than `bound` allows, as messages. */
function outside(what: string, got: Float32Array, want: Float32Array, bound: Float64Array): string[] {
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= bound[i]!)) bad.push(`${what}[${i}]: ${got[i]} vs ${want[i]} (bound ${bound[i]})`);
  }
  return bad;
}

const SCALES: [string, (k: number) => number][] = [
  ['no gradient scale', () => 1],
  ["a loss scale's inverse", () => 1 / 1024],
  ['a clipping factor', (k) => 0.37 + 0.01 * k],
];

describe('WebAssembly SIMD AdamW kernel (resident memory) against the JavaScript kernel', () => {
  for (const withEma of [true, false]) {
    for (const [label, gradScaleAt] of SCALES) {
      it(`one step from the same state agrees within float32 rounding, element by element, over ${STEPS} steps: ${label}, EMA ${withEma ? 'on' : 'off'}`, () => {
        const plain = setUp(false, withEma);
        const resident = setUp(true, withEma);
        for (const n of Object.keys(LENGTHS)) expect(ResidentMemory.of(resident.params[n])).toBeDefined();
        const r = stream(17);
        let compared = 0;
        let differed = 0;
        for (let k = 0; k < STEPS; k++) {
          sync(plain, resident);
          const gs = gradScaleAt(k);
          const lrScale = warmupCosine(k, { warmup: 5, total: STEPS, minRatio: 0.1 });
          // Gradients as the graph would return them: scaled up by 1/gs.
          const g = Object.fromEntries(Object.entries(LENGTHS).map(([n, len]) => [n, wide(len, r).map((x) => x / gs)]));
          const tol = bounds(plain, gs, lrScale, g, 8);
          plain.opt.step(g, { lrScale, gradScale: gs, ema: plain.ema });
          resident.opt.step(g, { lrScale, gradScale: gs, ema: resident.ema });
          const [want, got] = [plain.opt.state(), resident.opt.state()];
          const bad: string[] = [];
          for (const n of Object.keys(LENGTHS)) {
            bad.push(...outside(`${n}.m`, got.m[n]!, want.m[n]!, tol[n]!.m));
            bad.push(...outside(`${n}.v`, got.v[n]!, want.v[n]!, tol[n]!.v));
            bad.push(...outside(`${n}.p`, resident.params[n]!, plain.params[n]!, tol[n]!.p));
            if (withEma) bad.push(...outside(`${n}.ema`, resident.ema!.shadow[n]!, plain.ema!.shadow[n]!, tol[n]!.s));
            compared += LENGTHS[n]!;
            for (let i = 0; i < LENGTHS[n]!; i++) if (resident.params[n]![i] !== plain.params[n]![i]) differed++;
          }
          expect(bad.slice(0, 5), `step ${k + 1}`).toEqual([]);
          expect(resident.opt.stepCount).toBe(k + 1);
        }
        // float32 arithmetic, not the JavaScript kernel's float64: some weights differ in the last place.
        expect(differed).toBeGreaterThan(0);
        expect(differed).toBeLessThan(compared);
      });
    }
  }

  it('the tolerance sees a learning rate 1e-3 off', () => {
    const plain = setUp(false, true);
    const resident = setUp(true, true);
    const r = stream(5);
    const g = Object.fromEntries(Object.entries(LENGTHS).map(([n, len]) => [n, wide(len, r)]));
    const tol = bounds(plain, 1, 1, g, 8);
    plain.opt.step(g, { ema: plain.ema });
    resident.opt.step(g, { lrScale: 1.001, ema: resident.ema });
    const bad = Object.keys(LENGTHS).flatMap((n) => outside(n, resident.params[n]!, plain.params[n]!, tol[n]!.p));
    expect(bad.length).toBeGreaterThan(10);
  });

  it('an average that did not fit in the memory is updated by the JavaScript kernel: the same bits as without the memory', () => {
    const plain = setUp(false, true);
    const resident = setUp(true, true);
    // The memory holds one average per parameter; a second EMA falls back to the JavaScript heap.
    const second = new EMA(resident.params, 0.999, { warmup: true });
    for (const n of Object.keys(LENGTHS)) expect(ResidentMemory.of(second.shadow[n])).toBeUndefined();
    const r = stream(9);
    for (let k = 0; k < 5; k++) {
      const g = Object.fromEntries(Object.entries(LENGTHS).map(([n, len]) => [n, wide(len, r)]));
      plain.opt.step(g, { ema: plain.ema });
      resident.opt.step(g, { ema: second });
    }
    for (const n of Object.keys(LENGTHS)) {
      expect(Array.from(resident.params[n]!)).toEqual(Array.from(plain.params[n]!));
      expect(Array.from(second.shadow[n]!)).toEqual(Array.from(plain.ema!.shadow[n]!));
    }
  });
});

describe('ResidentMemory', () => {
  it('allocates zero-filled, 16-byte aligned arrays in whole quads, then says when its reserve is used up', () => {
    const memory = new ResidentMemory(65536);
    const a = memory.alloc(5)!;
    const b = memory.alloc(3)!;
    expect(a.byteOffset % 16).toBe(0);
    expect(b.byteOffset).toBe(a.byteOffset + 32);
    expect(Array.from(b)).toEqual([0, 0, 0]);
    expect(memory.holds(a, b)).toBe(true);
    expect(memory.holds(a.subarray(1))).toBe(false);
    expect(memory.alloc(65536 / 4)).toBeUndefined();
    expect(memory.alloc(16)).toBeDefined();
  });

  it('refuses arrays it did not allocate, and a state larger than 4 GiB with a clear error', () => {
    const memory = new ResidentMemory(65536);
    const [p, g, m, v] = [8, 8, 8, 8].map((n) => memory.alloc(n)!);
    const k = { gradScale: 1, beta1: 0.9, beta2: 0.999, lrWeightDecay: 0, stepSize: 0.1, eps: 1e-8 };
    expect(() => memory.adamw(p!.subarray(4), g!.subarray(4), m!.subarray(4), v!.subarray(4), k)).toThrow(/allocated by this memory/);
    expect(() => memory.adamw(p!, g!, m!, new Float32Array(8), k)).toThrow(/allocated by this memory/);
    expect(() => new ResidentMemory(5 * 2 ** 30)).toThrow(/5\.00 GiB does not fit one WebAssembly memory/);
  });
});

describe('wasm-binary', () => {
  it('writes LEB128 as the specification does, and a module WebAssembly accepts', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => uleb(-1)).toThrow(RangeError);
    expect(webAssembly.validate(adamwSimdModule())).toBe(true);
  });
});
