import { describe, expect, it } from 'vitest';
import { AdamW, clipGradNorm, warmupConstant, warmupCosine, type AdamWState } from '../../src/train/optim.ts';

/** torch.optim.AdamW in float64, written out step by step. */
function referenceAdamW(
  p0: number[],
  gradsPerStep: number[][],
  o: { lr: number; wd: number; b1: number; b2: number; eps: number; lrScales?: number[] },
): number[] {
  const p = p0.slice();
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gradsPerStep.forEach((g, k) => {
    const t = k + 1;
    const lr = o.lr * (o.lrScales?.[k] ?? 1);
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! - lr * o.wd * p[i]!; // decoupled weight decay
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - o.b1 ** t);
      const vHat = v[i]! / (1 - o.b2 ** t);
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return p;
}

function expectClose(got: Float32Array, want: number[], tol = 2e-6): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    if (Math.abs(got[i]! - w) > tol * Math.max(1, Math.abs(w))) throw new Error(`index ${i}: got ${got[i]}, want ${w}`);
  });
}

const grads = [
  [0.1, -0.2, 0, 3, -1e-3],
  [0.05, 0.3, -0.1, 2.5, 2e-3],
  [-0.4, 0.1, 0.2, -1, 0],
  [0.2, -0.2, 0.05, 0.5, 1e-4],
];
const p0 = [1, -0.5, 0, 2, 0.25];

describe('AdamW', () => {
  it('first step matches the hand-computed closed form', () => {
    // Step 1: m_hat = g and v_hat = g^2, so p1 = p0*(1 - lr*wd) - lr*g/(|g| + eps).
    const data = new Float32Array(p0);
    const opt = new AdamW([{ params: [{ name: 'w', data }], lr: 0.1, weightDecay: 0.1 }]);
    opt.step({ w: new Float32Array(grads[0]!) });
    expectClose(data, [
      1 * 0.99 - (0.1 * 0.1) / (0.1 + 1e-8),
      -0.5 * 0.99 + (0.1 * 0.2) / (0.2 + 1e-8),
      0,
      2 * 0.99 - (0.1 * 3) / (3 + 1e-8),
      0.25 * 0.99 + (0.1 * 1e-3) / (1e-3 + 1e-8),
    ]);
    expect(opt.stepCount).toBe(1);
  });

  it('several steps match the float64 PyTorch formula, with two groups and lrScale', () => {
    const a = new Float32Array(p0);
    const b = new Float32Array(p0);
    const opt = new AdamW([
      { params: [{ name: 'a', data: a }], lr: 0.01, weightDecay: 0.05 },
      { params: [{ name: 'b', data: b }], lr: 0.003, weightDecay: 0, betas: [0.8, 0.99], eps: 1e-6 },
    ]);
    const scales = [0.25, 0.5, 1, 0.75];
    grads.forEach((g, k) => opt.step({ a: new Float32Array(g), b: new Float32Array(g.map((x) => -2 * x)) }, { lrScale: scales[k] }));
    expectClose(a, referenceAdamW(p0, grads, { lr: 0.01, wd: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, lrScales: scales }));
    expectClose(
      b,
      referenceAdamW(
        p0,
        grads.map((g) => g.map((x) => -2 * x)),
        { lr: 0.003, wd: 0, b1: 0.8, b2: 0.99, eps: 1e-6, lrScales: scales },
      ),
    );
  });

  it('weight decay is decoupled from the gradient', () => {
    // Zero gradient: the Adam term is 0/(0+eps) = 0, so only p *= 1 - lr*wd remains.
    const data = new Float32Array([2, -4, 8]);
    const opt = new AdamW([{ params: [{ name: 'w', data }], lr: 0.5, weightDecay: 0.2 }]);
    opt.step({ w: new Float32Array(3) });
    expect(Array.from(data)).toEqual([1.8, -3.6, 7.2].map(Math.fround));
    // Scaling the gradient does not change how strongly decay acts (unlike L2 folded into g).
    const run = (scale: number) => {
      const d = new Float32Array(p0);
      const o = new AdamW([{ params: [{ name: 'w', data: d }], lr: 0.01, weightDecay: 0.5 }]);
      for (const g of grads) o.step({ w: new Float32Array(g.map((x) => x * scale)) });
      return d;
    };
    expectClose(run(1000), Array.from(run(1)), 1e-5);
  });

  it('default hyperparameters are PyTorch AdamW defaults', () => {
    const opt = new AdamW([{ params: [], lr: 1e-3 }]);
    expect(opt.groups[0]).toMatchObject({ lr: 1e-3, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  });

  it('rejects missing or mis-sized gradients without changing state', () => {
    const data = new Float32Array([1, 2]);
    const opt = new AdamW([
      {
        params: [
          { name: 'w', data },
          { name: 'u', data: new Float32Array(1) },
        ],
        lr: 0.1,
      },
    ]);
    expect(() => opt.step({ w: new Float32Array(2) })).toThrow(/missing gradient for parameter "u"/);
    expect(() => opt.step({ w: new Float32Array(3), u: new Float32Array(1) })).toThrow(/"w" has 3 elements, parameter has 2/);
    expect(opt.stepCount).toBe(0);
    expect(Array.from(data)).toEqual([1, 2]);
    expect(
      () =>
        new AdamW([
          {
            params: [
              { name: 'w', data },
              { name: 'w', data },
            ],
            lr: 0.1,
          },
        ]),
    ).toThrow(/more than once/);
    expect(() => new AdamW([{ params: [], lr: 0.1, betas: [1, 0.9] }])).toThrow(/beta1/);
  });

  it('state round-trips: a restored optimizer continues identically', () => {
    const a = new Float32Array(p0);
    const optA = new AdamW([{ params: [{ name: 'w', data: a }], lr: 0.02, weightDecay: 0.1 }]);
    for (const g of grads.slice(0, 2)) optA.step({ w: new Float32Array(g) });
    const live = optA.state();
    const saved: AdamWState = { step: live.step, m: { w: live.m.w!.slice() }, v: { w: live.v.w!.slice() } };
    expect(saved.step).toBe(2);

    const b = a.slice();
    const optB = new AdamW([{ params: [{ name: 'w', data: b }], lr: 0.02, weightDecay: 0.1 }]);
    optB.loadState(saved);
    for (const g of grads.slice(2)) {
      optA.step({ w: new Float32Array(g) });
      optB.step({ w: new Float32Array(g) });
    }
    expect(b).toEqual(a);
    expect(optB.stepCount).toBe(4);
    expectClose(a, referenceAdamW(p0, grads, { lr: 0.02, wd: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8 }));

    expect(() => optB.loadState({ step: 1, m: {}, v: {} })).toThrow(/missing m for parameter "w"/);
    expect(() => optB.loadState({ step: 1, m: { w: new Float32Array(5) }, v: { w: new Float32Array(4) } })).toThrow(/v for "w" has 4 elements/);
  });
});

describe('clipGradNorm', () => {
  it('scales to maxNorm and returns the pre-clip norm', () => {
    const g = { a: new Float32Array([3]), b: new Float32Array([0, 4]) };
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 12);
    const coef = 1 / (5 + 1e-6);
    expect(Array.from(g.a)).toEqual([Math.fround(3 * coef)]);
    expect(Array.from(g.b)).toEqual([0, Math.fround(4 * coef)]);
  });

  it('leaves small gradients alone and accepts arrays', () => {
    const g = [new Float32Array([0.3, 0.4])];
    expect(clipGradNorm(g, 1)).toBeCloseTo(0.5, 7);
    expect(Array.from(g[0]!)).toEqual([0.3, 0.4].map(Math.fround));
  });

  it('returns a non-finite norm without touching the gradients', () => {
    const g = { a: new Float32Array([NaN, 1]) };
    expect(clipGradNorm(g, 1)).toBeNaN();
    expect(g.a[1]).toBe(1);
  });
});

describe('schedules', () => {
  it('warmupCosine', () => {
    const o = { warmup: 4, total: 14, minRatio: 0.1 };
    expect([0, 1, 2, 3].map((s) => warmupCosine(s, o))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(warmupCosine(4, o)).toBeCloseTo(1, 12);
    expect(warmupCosine(9, o)).toBeCloseTo(0.55, 12); // halfway: min + (1-min)/2
    expect(warmupCosine(14, o)).toBeCloseTo(0.1, 12);
    expect(warmupCosine(100, o)).toBeCloseTo(0.1, 12);
    expect(warmupCosine(10, { warmup: 0, total: 20 })).toBeCloseTo(0.5, 12);
  });

  it('warmupConstant', () => {
    expect([0, 1, 2, 3, 50].map((s) => warmupConstant(s, { warmup: 2 }))).toEqual([0.5, 1, 1, 1, 1]);
    expect(warmupConstant(0, { warmup: 0 })).toBe(1);
  });
});
