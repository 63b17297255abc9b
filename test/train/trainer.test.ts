/**
 * The Trainer's step as pretraining runs it (gradients and their Σ g² from the graph; clipping, the loss
 * scale's inverse, AdamW with weight decay and bias correction and the EMA in one pass per parameter)
 * against torch's formulas written out here in float64, step by step, on a small model trained through
 * onnxruntime: the same parameters, moments and average after N steps within float32 tolerance.
 */
import { describe, expect, it } from 'vitest';
import { Graph, matmul, mse, tanh, add, type Tensor } from '../../src/graph/index.ts';
import { EMA } from '../../src/train/ema.ts';
import { DynamicLossScaler } from '../../src/train/loss-scale.ts';
import { AdamW, warmupCosine } from '../../src/train/optim.ts';
import { ResidentMemory, residentParams } from '../../src/train/resident.ts';
import { GRAD_SUMSQ_OUTPUT, StepFunction, Trainer } from '../../src/train/step.ts';

const B = 4;
const SHAPES: Record<string, number[]> = { w1: [3, 6], b1: [6], w2: [6, 2] };
const HYPER = { lr: 0.05, wd: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, clip: 1.2, emaDecay: 0.9, warmup: 3, steps: 12 };

/** loss = mse(tanh(x W1 + b1) W2, t). */
function smallModel(): Tensor {
  const g = new Graph();
  const h = tanh(add(matmul(g.input('x', [B, 3]), g.param('w1', SHAPES.w1)), g.param('b1', SHAPES.b1)));
  return mse(matmul(h, g.param('w2', SHAPES.w2)), g.input('t', [B, 2]));
}

/** A seeded stream in [-1, 1). */
function stream(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

function initialParams(): Record<string, Float32Array> {
  const r = stream(7);
  return Object.fromEntries(Object.entries(SHAPES).map(([n, sh]) => [n, Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, () => r())]));
}

function batches(): { x: Float32Array; t: Float32Array }[] {
  const r = stream(11);
  return Array.from({ length: HYPER.steps }, () => ({
    x: Float32Array.from({ length: B * 3 }, () => 2 * r()),
    t: Float32Array.from({ length: B * 2 }, () => r()),
  }));
}

const lrScaleAt = (s: number) => warmupCosine(s, { warmup: HYPER.warmup, total: HYPER.steps, minRatio: 0.1 });

interface Reference {
  p: Record<string, Float32Array>;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
  ema: Record<string, Float32Array>;
  clipped: number;
}

/**
 * torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW + an EMA with warm-up, each value stored as float32
 * as torch stores it; the gradients from `ref` (the plain step graph) at the reference's own parameters.
 * `biasCorrection` and `weightDecay` off give the results of an optimizer that forgot them.
 */
async function reference(ref: StepFunction, o: { biasCorrection?: boolean; weightDecay?: boolean } = {}): Promise<Reference> {
  const f = Math.fround;
  const p = initialParams();
  const zeros = () => Object.fromEntries(Object.entries(p).map(([n, a]) => [n, new Float32Array(a.length)]));
  const m = zeros();
  const v = zeros();
  const ema = Object.fromEntries(Object.entries(p).map(([n, a]) => [n, a.slice()]));
  let clipped = 0;
  const data = batches();
  for (let k = 0; k < HYPER.steps; k++) {
    const { grads } = await ref.run({ ...data[k], ...p });
    let sumSq = 0;
    for (const g of Object.values(grads)) for (const x of g) sumSq += x * x;
    const coef = HYPER.clip / (Math.sqrt(sumSq) + 1e-6);
    if (coef < 1) {
      clipped++;
      for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) g[i] = f(g[i] * coef);
    }
    const t = k + 1;
    const lr = HYPER.lr * lrScaleAt(k);
    const bc1 = o.biasCorrection === false ? 1 : 1 - HYPER.b1 ** t;
    const bc2 = o.biasCorrection === false ? 1 : 1 - HYPER.b2 ** t;
    const wd = o.weightDecay === false ? 0 : HYPER.wd;
    const d = Math.min(HYPER.emaDecay, (1 + k) / (10 + k));
    for (const n of Object.keys(p)) {
      const [pn, mn, vn, g, s] = [p[n], m[n], v[n], grads[n], ema[n]];
      for (let i = 0; i < pn.length; i++) {
        pn[i] = f(pn[i] - lr * wd * pn[i]);
        mn[i] = f(HYPER.b1 * mn[i] + (1 - HYPER.b1) * g[i]);
        vn[i] = f(HYPER.b2 * vn[i] + (1 - HYPER.b2) * g[i] * g[i]);
        pn[i] = f(pn[i] - (lr * (mn[i] / bc1)) / (Math.sqrt(vn[i] / bc2) + HYPER.eps));
        s[i] = f(d * s[i] + (1 - d) * pn[i]);
      }
    }
  }
  return { p, m, v, ema, clipped };
}

/**
 * The Trainer as scripts/pretrain.ts sets it up (optionally with a loss scaler on the float32 graph;
 * `resident`: the parameters in a resident memory, as pretrain has them).
 */
async function trained(step: StepFunction, lossScaler?: DynamicLossScaler, resident = false) {
  const params = resident ? residentParams(initialParams()) : initialParams();
  const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: HYPER.lr, weightDecay: HYPER.wd }]);
  const ema = new EMA(params, HYPER.emaDecay, { warmup: true });
  const trainer = new Trainer(step, { params, optimizer, ema, clipNorm: HYPER.clip, lrSchedule: lrScaleAt, lossScaler });
  const norms: number[] = [];
  for (const batch of batches()) {
    const r = await trainer.trainStep(batch);
    expect(r.skipped).toBe(false);
    norms.push(r.gradNorm);
  }
  return { params, state: optimizer.state(), ema, norms };
}

/** max |got - want| over every parameter, relative to max(1, |want|). */
function maxErr(got: Record<string, Float32Array>, want: Record<string, Float32Array>): number {
  let err = 0;
  for (const n of Object.keys(want)) want[n].forEach((w, i) => (err = Math.max(err, Math.abs(got[n][i] - w) / Math.max(1, Math.abs(w)))));
  return err;
}

const TOL = 2e-5;

describe('Trainer: AdamW, clipping, loss scale and EMA in one pass after the graph', () => {
  it('matches torch AdamW (weight decay, bias correction), clip_grad_norm_ and the EMA after 12 steps; the tolerance sees a missing bias correction or weight decay', async () => {
    const ref = await StepFunction.compile(smallModel(), { threads: 1 });
    const step = await StepFunction.compile(smallModel(), { threads: 1, gradNorm: true });
    try {
      expect(ref.hasGradSumSq).toBe(false);
      expect(step.hasGradSumSq).toBe(true);
      const want = await reference(ref);
      // Clipping acts on some steps and not on others.
      expect(want.clipped).toBeGreaterThan(0);
      expect(want.clipped).toBeLessThan(HYPER.steps);

      const got = await trained(step);
      expect(maxErr(got.params, want.p)).toBeLessThan(TOL);
      expect(maxErr(got.state.m, want.m)).toBeLessThan(TOL);
      expect(maxErr(got.state.v, want.v)).toBeLessThan(TOL);
      expect(maxErr(got.ema.shadow, want.ema)).toBeLessThan(TOL);
      expect(got.state.step).toBe(HYPER.steps);
      expect(got.ema.updates).toBe(HYPER.steps);
      expect(got.norms.every((n) => Number.isFinite(n) && n > 0)).toBe(true);

      // An optimizer without bias correction, or without weight decay, lands far outside the tolerance.
      expect(maxErr(got.params, (await reference(ref, { biasCorrection: false })).p)).toBeGreaterThan(100 * TOL);
      expect(maxErr(got.params, (await reference(ref, { weightDecay: false })).p)).toBeGreaterThan(100 * TOL);
    } finally {
      await Promise.all([ref.release(), step.release()]);
    }
  });

  it('with a loss scale: the scaled gradients and Σ g² come back scaled, the parameters are those of the unscaled run', async () => {
    const ref = await StepFunction.compile(smallModel(), { threads: 1 });
    const step = await StepFunction.compile(smallModel(), { threads: 1, lossScale: true });
    try {
      expect(step.hasGradSumSq).toBe(true);
      const p = initialParams();
      const batch = batches()[0];
      const plain = await ref.run({ ...batch, ...p });
      const scaled = await step.run({ ...batch, ...p, loss_scale: Float32Array.of(1024) });
      let sumSq = 0;
      for (const g of Object.values(plain.grads)) for (const x of g) sumSq += x * x;
      expect(scaled.outputs[GRAD_SUMSQ_OUTPUT]).toBeDefined();
      expect(Math.abs(scaled.gradSumSq! / 1024 ** 2 - sumSq) / sumSq).toBeLessThan(1e-5);

      const want = await reference(ref);
      const got = await trained(step, new DynamicLossScaler({ initScale: 1024 }));
      expect(maxErr(got.params, want.p)).toBeLessThan(TOL);
      expect(maxErr(got.ema.shadow, want.ema)).toBeLessThan(TOL);
    } finally {
      await Promise.all([ref.release(), step.release()]);
    }
  });

  it('with the parameters in a resident memory (the SIMD kernel, the graph writing the gradients there): the same torch AdamW, clipping and EMA after 12 steps', async () => {
    const ref = await StepFunction.compile(smallModel(), { threads: 1 });
    const step = await StepFunction.compile(smallModel(), { threads: 1, gradNorm: true });
    try {
      const want = await reference(ref);
      const got = await trained(step, undefined, true);
      for (const n of Object.keys(SHAPES)) {
        const memory = ResidentMemory.of(got.params[n]);
        expect(memory?.holds(got.state.m[n], got.state.v[n], got.ema.shadow[n])).toBe(true);
      }
      expect(maxErr(got.params, want.p)).toBeLessThan(TOL);
      expect(maxErr(got.state.m, want.m)).toBeLessThan(TOL);
      expect(maxErr(got.state.v, want.v)).toBeLessThan(TOL);
      expect(maxErr(got.ema.shadow, want.ema)).toBeLessThan(TOL);
      expect(maxErr(got.params, (await reference(ref, { weightDecay: false })).p)).toBeGreaterThan(100 * TOL);
    } finally {
      await Promise.all([ref.release(), step.release()]);
    }
  });

  it('the graph writes the gradients into the resident buffers given to run(): the step returns those arrays, equal to onnxruntime\u2019s own outputs', async () => {
    const step = await StepFunction.compile(smallModel(), { threads: 1, gradNorm: true });
    try {
      const params = residentParams(initialParams());
      const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: HYPER.lr }]);
      const into = optimizer.gradientBuffers();
      expect(Object.keys(into).sort()).toEqual(Object.keys(SHAPES).sort());
      const batch = batches()[0];
      const plain = await step.run({ ...batch, ...params });
      const written = await step.run({ ...batch, ...params }, into);
      for (const n of Object.keys(SHAPES)) {
        expect(written.grads[n]).toBe(into[n]);
        expect(Array.from(into[n]!)).toEqual(Array.from(plain.grads[n]!));
        expect(into[n]!.some((x) => x !== 0)).toBe(true);
      }
      expect(written.loss).toBe(plain.loss);
      expect(written.gradSumSq).toBe(plain.gradSumSq);
      await expect(step.run({ ...batch, ...params }, { w1: new Float32Array(5) })).rejects.toThrow(/output 'grad\/w1' has 5 values, expected 18/);
    } finally {
      await step.release();
    }
  });

  it('an EMA over other parameters than the optimizer\u2019s is updated after the step, as before', async () => {
    const step = await StepFunction.compile(smallModel(), { threads: 1, gradNorm: true });
    try {
      const params = initialParams();
      const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: HYPER.lr }]);
      const ema = new EMA({ w2: params.w2 }, 0.5);
      expect(optimizer.averages(ema)).toBe(false);
      expect(() => optimizer.step({ w1: new Float32Array(18), b1: new Float32Array(6), w2: new Float32Array(12) }, { ema })).toThrow(/EMA/);
      const trainer = new Trainer(step, { params, optimizer, ema });
      await trainer.trainStep(batches()[0]);
      const want = initialParams().w2.map((x, i) => Math.fround(0.5 * x + 0.5 * params.w2[i]));
      expect(Array.from(ema.shadow.w2)).toEqual(Array.from(want));
      expect(ema.shadow.w1).toBeUndefined();
    } finally {
      await step.release();
    }
  });
});
