/**
 * Finite-difference gradient checker. The analytic gradients come from the engine's autodiff run by
 * onnxruntime; the numeric ones are central differences of L = sum(y * R) (R fixed random weights),
 * with L accumulated in float64 on the JS side. Graphs run in float64 where onnxruntime's CPU kernels
 * exist for every op, else in float32 (Conv, ConvTranspose, Resize, AveragePool, Erf have only float32
 * kernels); the tolerance is stated per check.
 */
import { expect } from 'vitest';
import { emitOnnx, grad, Graph, GraphSession, type DType, type Tensor } from '../../src/graph/index.ts';

export interface GradCheckOptions {
  dtype?: DType;
  eps?: number;
  /** |analytic - numeric| <= atol + rtol * |numeric| for every checked element. */
  atol?: number;
  rtol?: number;
  seed?: number;
  /** Check at most this many elements per parameter (chosen at random). */
  maxElements?: number;
  /**
   * Also bound the whole gradient of each parameter: ||analytic - numeric|| <= vecTol * ||numeric||.
   * Float32 graphs use a fourth-order stencil, since their rounding noise forbids a tiny step.
   */
  vecTol?: number;
}

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  };
}

/**
 * `build(g, dtype)` declares the tensors to differentiate as parameters (g.param) and returns the output.
 * Every parameter is filled with uniform(-1, 1) values unless `init` gives them.
 */
export async function gradCheck(
  build: (g: Graph, dtype: DType) => Tensor,
  opts: GradCheckOptions & { init?: Record<string, (i: number) => number> } = {},
): Promise<{ maxAbs: number; maxRel: number; maxVec: number; checked: number }> {
  const dtype = opts.dtype ?? 'float64';
  const eps = opts.eps ?? (dtype === 'float64' ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (dtype === 'float64' ? 1e-7 : 2e-4);
  const rtol = opts.rtol ?? (dtype === 'float64' ? 1e-6 : 2e-3);
  const rand = rng(opts.seed ?? 1234);
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;

  const g = new Graph();
  const y = build(g, dtype);
  const params = g.trainableParams();
  const weights = new Arr(y.size).map(() => rand());
  const r = g.constant(weights, y.shape, dtype);
  const loss = g.apply('ReduceSum', [g.apply('Mul', [y, r])[0]], { axes: y.shape.map((_, i) => i), keepdims: false })[0];
  const grads = grad(loss, params);
  const outputs: Record<string, Tensor> = { y };
  params.forEach((p, i) => (outputs[`grad:${p.node.name}`] = grads[i]));
  const sessionOpts = { threads: 1, optimization: dtype === 'float64' ? ('basic' as const) : ('all' as const) };
  const session = await GraphSession.create(emitOnnx({ outputs }), sessionOpts);
  const forward = await GraphSession.create(emitOnnx({ outputs: { y } }), sessionOpts);

  const values: Record<string, Float32Array | Float64Array> = {};
  for (const p of params) {
    const init = opts.init?.[p.node.name!];
    values[p.node.name!] = new Arr(p.size).map((_, i) => (init ? init(i) : rand()));
  }
  const feeds = () => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v]));
  const lossAt = async () => {
    const out = (await forward.run(feeds())).y as Float32Array | Float64Array;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * weights[i];
    return s;
  };
  const analytic = await session.run(feeds());

  let maxAbs = 0;
  let maxRel = 0;
  let checked = 0;
  let maxVec = 0;
  const vecTol = opts.vecTol ?? (dtype === 'float64' ? 1e-6 : 1e-3);
  for (const p of params) {
    const name = p.node.name!;
    let diff2 = 0;
    let norm2 = 0;
    const v = values[name];
    const a = analytic[`grad:${name}`] as Float32Array | Float64Array;
    const idx = [...Array(v.length).keys()];
    const max = opts.maxElements ?? 48;
    while (idx.length > max) idx.splice(Math.floor(((rand() + 1) / 2) * idx.length), 1);
    for (const i of idx) {
      const x0 = v[i];
      const at = async (h: number) => {
        v[i] = x0 + h;
        const l = await lossAt();
        v[i] = x0;
        return l;
      };
      const d1 = (await at(eps)) - (await at(-eps));
      const numeric = dtype === 'float64' ? d1 / (2 * eps) : (8 * d1 - ((await at(2 * eps)) - (await at(-2 * eps)))) / (12 * eps);
      diff2 += (a[i] - numeric) ** 2;
      norm2 += numeric ** 2;
      const err = Math.abs(a[i] - numeric);
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / (Math.abs(numeric) + 1e-12));
      checked++;
      if (err > atol + rtol * Math.abs(numeric)) {
        expect.fail(`gradient of ${name}[${i}]: analytic ${a[i]} vs numeric ${numeric} (|err| ${err.toExponential(2)})`);
      }
    }
    const vecErr = Math.sqrt(diff2) / (Math.sqrt(norm2) + 1e-12);
    maxVec = Math.max(maxVec, vecErr);
    if (vecErr > vecTol) expect.fail(`gradient of ${name}: relative vector error ${vecErr.toExponential(2)} > ${vecTol}`);
  }
  await session.release();
  await forward.release();
  return { maxAbs, maxRel, maxVec, checked };
}
