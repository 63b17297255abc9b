/**
 * Dynamic loss scaling (src/train/loss-scale.ts) on its own, and through the engine: a float16 graph
 * compiled with `lossScale` and trained by a Trainer with a DynamicLossScaler.
 */
import { describe, expect, it, vi } from 'vitest';
import { cast, Graph, matmul, mse, reshape, type Tensor } from '../../src/graph/index.ts';
import { DynamicLossScaler, LOSS_SCALE_INPUT } from '../../src/train/loss-scale.ts';
import { NonFiniteLossError } from '../../src/train/nan.ts';
import { AdamW } from '../../src/train/optim.ts';
import { StepFunction, Trainer } from '../../src/train/step.ts';

describe('DynamicLossScaler', () => {
  it('a finite step unscales the gradients in place by 1/scale and returns true', () => {
    const s = new DynamicLossScaler({ initScale: 1024 });
    const a = new Float32Array([1024, -512, 3, 0]);
    const b = new Float32Array([2048]);
    const grads = { a, b };
    expect(s.unscale(0.5, grads, 1)).toBe(true);
    expect(grads.a).toBe(a); // same arrays, changed in place
    expect(grads.b).toBe(b);
    expect(Array.from(a)).toEqual([1, -0.5, 3 / 1024, 0]);
    expect(Array.from(b)).toEqual([2]);
    expect(s.scale).toBe(1024);
    expect(s.skipped).toBe(0);
  });

  it('uses torch GradScaler defaults: 2^16, growth every 2000 good steps', () => {
    const s = new DynamicLossScaler();
    expect(s.scale).toBe(65536);
    for (let i = 1; i < 2000; i++) expect(s.unscale(1, { g: new Float32Array([1]) }, i)).toBe(true);
    expect(s.scale).toBe(65536);
    s.unscale(1, { g: new Float32Array([1]) }, 2000);
    expect(s.scale).toBe(131072);
  });

  for (const [what, loss, bad] of [
    ['a NaN gradient', 0.1, NaN],
    ['an +Infinity gradient', 0.1, Infinity],
    ['a -Infinity gradient', 0.1, -Infinity],
    ['a NaN loss', NaN, 1],
    ['an infinite loss', Infinity, 1],
  ] as const) {
    it(`${what}: returns false, counts a skipped step and halves the scale`, () => {
      const s = new DynamicLossScaler({ initScale: 256 });
      const grads = { a: new Float32Array([1, 2]), b: new Float32Array([3, bad, 4]) };
      expect(s.unscale(loss, grads, 7)).toBe(false);
      expect(s.skipped).toBe(1);
      expect(s.scale).toBe(128);
      // A second overflow halves it again.
      expect(s.unscale(loss, { a: new Float32Array([1, 2]), b: new Float32Array([3, bad, 4]) }, 8)).toBe(false);
      expect(s.skipped).toBe(2);
      expect(s.scale).toBe(64);
    });
  }

  it('doubles the scale after growthInterval good steps in a row; an overflow restarts the count', () => {
    const s = new DynamicLossScaler({ initScale: 8, growthInterval: 3 });
    const good = () => s.unscale(1, { g: new Float32Array([1, -1]) }, 0);
    const bad = () => s.unscale(1, { g: new Float32Array([1, NaN]) }, 0);
    expect([good(), good()]).toEqual([true, true]);
    expect(s.scale).toBe(8);
    expect(good()).toBe(true);
    expect(s.scale).toBe(16); // 3 good steps
    expect([good(), good()]).toEqual([true, true]);
    expect(bad()).toBe(false);
    expect(s.scale).toBe(8); // halved, and the 2 good steps before it no longer count
    expect([good(), good()]).toEqual([true, true]);
    expect(s.scale).toBe(8);
    expect(good()).toBe(true);
    expect(s.scale).toBe(16);
    expect(s.skipped).toBe(1);
  });

  it('honours growthFactor and backoffFactor', () => {
    const s = new DynamicLossScaler({ initScale: 100, growthFactor: 4, backoffFactor: 0.25, growthInterval: 1 });
    s.unscale(1, { g: new Float32Array([1]) }, 1);
    expect(s.scale).toBe(400);
    s.unscale(1, { g: new Float32Array([Infinity]) }, 2);
    expect(s.scale).toBe(100);
  });

  it('a scale falling below minScale throws NonFiniteLossError with the loss and step', () => {
    const s = new DynamicLossScaler({ initScale: 4, minScale: 2 });
    expect(s.unscale(0.25, { g: new Float32Array([Infinity]) }, 1)).toBe(false); // 4 -> 2: not below 2 yet
    expect(s.scale).toBe(2);
    let err: unknown;
    try {
      s.unscale(0.25, { g: new Float32Array([Infinity]) }, 2); // 2 -> 1 < 2
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(2);
    expect((err as NonFiniteLossError).loss).toBe(0.25);
    // The default minScale is 1: from 1, one overflow gives 0.5 and throws.
    expect(() => new DynamicLossScaler({ initScale: 1 }).unscale(NaN, { g: new Float32Array(1) }, 5)).toThrow(NonFiniteLossError);
  });
});

// ------------------------------------------------------------------------------------------------
// Through the engine: y = x @ W, loss = mse(y, t), W a float32 master weight.

const B = 2;
const K = 3;
const N = 2;
/** x and W are exact in float16, and so is every y = x @ W (multiples of 2^-11 below 1). */
const X = Float32Array.from([1, -0.5, 2, 0.5, 1, -1]);
const W0 = Float32Array.from([3, -5, 7, 2, -4, 6].map((k) => k / 1024));

/**
 * The float16 model mirrors src/models/lora.ts: float32 input cast to float16, a float32 master weight
 * cast to float16 where used, the product cast back to float32 for the loss.
 *
 * The Reshape matters on the CPU: onnxruntime's CPU provider has no float16 kernels for arithmetic
 * (MatMul, Mul, Add, ...). Its InsertCastTransformer runs such nodes in float32 and then drops the
 * Cast(float32->float16)->Cast(float16->float32) pairs this leaves, so `cast(matmul(x16, w16), 'float32')`
 * computes in float32 there, backward included (a float16 graph rounds only where a value passes a
 * data-movement op such as Reshape or Transpose, whose kernels are type-generic). With the Reshape,
 * dL/dy is cast to float16 and reshaped before the MatMul backward: it is held in float16 as on a GPU,
 * which is where loss scaling acts (underflow of small gradients, overflow of scaled ones).
 */
function lossOf(dtype: 'float32' | 'float16'): Tensor {
  const g = new Graph();
  const x = cast(g.input('x', [B, K]), dtype);
  const w = cast(g.param('w', [K, N], 'float32'), dtype);
  const y = cast(reshape(matmul(x, w), [B * N]), 'float32');
  return mse(y, g.input('t', [B * N]));
}

/** y = X @ W0 in float64 (exact). */
function forward(): number[] {
  const y: number[] = [];
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[b * K + k] * W0[k * N + n];
      y.push(s);
    }
  return y;
}

/** dL/dW = X^T (2 (y - t) / (B N)) in float64. */
function referenceGrad(t: Float32Array): number[] {
  const y = forward();
  const dy = y.map((v, i) => (2 * (v - t[i])) / (B * N));
  const gw: number[] = [];
  for (let k = 0; k < K; k++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += X[b * K + k] * dy[b * N + n];
      gw.push(s);
    }
  return gw;
}

/** max |got - want| / max |want|. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let peak = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    peak = Math.max(peak, Math.abs(want[i]));
  }
  return err / peak;
}

/** A Trainer around `step` whose optimizer records (a copy of) the gradients it uses: those it is given times gradScale. */
function trainerFor(step: StepFunction, scaler?: DynamicLossScaler) {
  const w = W0.slice();
  const optimizer = new AdamW([{ params: [{ name: 'w', data: w }], lr: 1e-3, weightDecay: 0 }]);
  const seen: Float32Array[] = [];
  const orig = optimizer.step.bind(optimizer);
  vi.spyOn(optimizer, 'step').mockImplementation((grads, o) => {
    seen.push(grads.w.map((v) => v * (o?.gradScale ?? 1)));
    orig(grads, o);
  });
  const trainer = new Trainer(step, { params: { w }, optimizer, lossScaler: scaler });
  return { trainer, w, optimizer, seen };
}

describe('loss scaling in the training step (float16 graph, float32 master weight)', () => {
  it('the scaled float16 step adds the float32 scalar input loss_scale; loss stays unscaled, gradients come back scaled', async () => {
    const t = Float32Array.from(forward().map((v, i) => v + [0.2, -0.13, 0.37, 0.07][i]));
    const step = await StepFunction.compile(lossOf('float16'), { lossScale: true, threads: 1 });
    const ref = await StepFunction.compile(lossOf('float32'), { threads: 1 });
    try {
      expect(step.paramNames).toEqual(['w']);
      const r32 = await ref.run({ x: X, t, w: W0 });
      const r1 = await step.run({ x: X, t, w: W0, [LOSS_SCALE_INPUT]: Float32Array.of(1) });
      const r64 = await step.run({ x: X, t, w: W0, [LOSS_SCALE_INPUT]: Float32Array.of(64) });
      expect(r64.loss).toBe(r1.loss);
      expect(r64.loss).toBeCloseTo(r32.loss, 6);
      expect(relErr(r32.grads.w, referenceGrad(t))).toBeLessThan(1e-6);
      // dL/dy is held in float16: its rounding shows, at float16 precision (2^-11 relative).
      expect(relErr(r1.grads.w, r32.grads.w)).toBeGreaterThan(0);
      expect(relErr(r1.grads.w, r32.grads.w)).toBeLessThan(2e-3);
      expect(
        relErr(
          Array.from(r64.grads.w, (v) => v / 64),
          r32.grads.w,
        ),
      ).toBeLessThan(2e-3);
    } finally {
      await step.release();
      await ref.release();
    }
  });

  it('the Trainer feeds the scale, unscales: gradients match float32 within float16 tolerance, and the weight updates', async () => {
    const t = Float32Array.from(forward().map((v, i) => v + [0.2, -0.13, 0.37, 0.07][i]));
    const step = await StepFunction.compile(lossOf('float16'), { lossScale: true, threads: 1 });
    const ref = await StepFunction.compile(lossOf('float32'), { threads: 1 });
    try {
      const want = (await ref.run({ x: X, t, w: W0 })).grads.w.slice();
      const scaler = new DynamicLossScaler({ initScale: 2 ** 10 });
      const { trainer, w, optimizer, seen } = trainerFor(step, scaler);
      const report = await trainer.trainStep({ x: X, t });
      expect(report.skipped).toBe(false);
      expect(report.step).toBe(1);
      expect(optimizer.stepCount).toBe(1);
      expect(seen).toHaveLength(1);
      expect(relErr(seen[0], want)).toBeLessThan(2e-3);
      expect(scaler.scale).toBe(2 ** 10);
      expect(scaler.skipped).toBe(0);
      // AdamW's first step moves each weight by about lr against its gradient's sign.
      for (let i = 0; i < w.length; i++) {
        expect(w[i]).not.toBe(W0[i]);
        expect(Math.sign(W0[i] - w[i])).toBe(Math.sign(want[i]));
      }
    } finally {
      await step.release();
      await ref.release();
    }
  });

  it('why it matters: a ~1e-8 gradient underflows to exactly zero in unscaled float16, the scaled run recovers it', async () => {
    // Residuals of ~2e-8 (exact in float32 next to y ~ 1e-2): dL/dy = (y - t) / 2 ~ 1e-8, below half of
    // float16's smallest subnormal (2^-24 ~ 6e-8), so it rounds to 0 where the backward enters float16.
    const t = Float32Array.from(forward().map((v, i) => v + [2e-8, -1.5e-8, 1.4e-8, -2.5e-8][i]));
    const plain16 = await StepFunction.compile(lossOf('float16'), { threads: 1 });
    const scaled16 = await StepFunction.compile(lossOf('float16'), { lossScale: true, threads: 1 });
    const ref = await StepFunction.compile(lossOf('float32'), { threads: 1 });
    try {
      const want = (await ref.run({ x: X, t, w: W0 })).grads.w.slice();
      expect(relErr(want, referenceGrad(t))).toBeLessThan(1e-5);
      const peak = Math.max(...Array.from(want, Math.abs));
      expect(peak).toBeGreaterThan(5e-9);
      expect(peak).toBeLessThan(6e-8);
      expect(want.every((v) => v !== 0)).toBe(true);

      // Unscaled float16: every gradient is exactly zero, and training does nothing.
      const unscaled = (await plain16.run({ x: X, t, w: W0 })).grads.w;
      expect(Array.from(unscaled, (v) => Math.abs(v))).toEqual(new Array(K * N).fill(0));
      const plain = trainerFor(plain16);
      await plain.trainer.trainStep({ x: X, t });
      expect(Array.from(plain.w)).toEqual(Array.from(W0));

      // Scaled (torch's default 2^16): the unscaled gradients are the float32 ones to float16 precision.
      const scaler = new DynamicLossScaler();
      const { trainer, w, seen } = trainerFor(scaled16, scaler);
      const report = await trainer.trainStep({ x: X, t });
      expect(report.skipped).toBe(false);
      expect(relErr(seen[0], want)).toBeLessThan(3e-3);
      expect(w.every((v, i) => v !== W0[i])).toBe(true);
      expect(scaler.skipped).toBe(0);
    } finally {
      await Promise.all([plain16.release(), scaled16.release(), ref.release()]);
    }
  });

  it('a step whose scaled gradient overflows float16 is skipped: weights unchanged, scale halved; the scale then backs off until steps apply', async () => {
    const t = Float32Array.from(forward().map((v, i) => v + [0.2, -0.13, 0.37, 0.07][i]));
    const step = await StepFunction.compile(lossOf('float16'), { lossScale: true, threads: 1 });
    const ref = await StepFunction.compile(lossOf('float32'), { threads: 1 });
    try {
      const r32 = await ref.run({ x: X, t, w: W0 });
      const want = r32.grads.w.slice();
      const scaler = new DynamicLossScaler({ initScale: 2 ** 40 });
      const { trainer, w, optimizer, seen } = trainerFor(step, scaler);
      const report = await trainer.trainStep({ x: X, t });
      expect(report.skipped).toBe(true);
      expect(report.step).toBe(1);
      expect(trainer.step).toBe(1);
      expect(report.loss).toBeCloseTo(r32.loss, 6); // the loss itself is fine
      expect(Number.isNaN(report.gradNorm)).toBe(true);
      expect(Array.from(w)).toEqual(Array.from(W0));
      expect(optimizer.stepCount).toBe(0);
      expect(seen).toHaveLength(0);
      expect(scaler.scale).toBe(2 ** 39);
      expect(scaler.skipped).toBe(1);

      // The gradients are ~0.1: float16 (max 65504) holds them scaled by up to ~2^19.
      let steps = 1;
      while (scaler.skipped === steps) {
        const r = await trainer.trainStep({ x: X, t });
        steps++;
        expect(r.skipped).toBe(scaler.skipped === steps);
        if (steps > 40) break;
      }
      expect(steps).toBeLessThan(40);
      expect(scaler.skipped).toBe(steps - 1);
      expect(scaler.scale).toBeGreaterThanOrEqual(2 ** 14);
      expect(scaler.scale).toBeLessThanOrEqual(2 ** 21);
      expect(optimizer.stepCount).toBe(1);
      expect(seen).toHaveLength(1);
      expect(relErr(seen[0], want)).toBeLessThan(2e-3);
      expect(w.every((v, i) => v !== W0[i])).toBe(true);
    } finally {
      await step.release();
      await ref.release();
    }
  });
});
