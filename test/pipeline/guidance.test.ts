/** Guidance as coefficient lists on a tiny random model: style guidance's direction, shared rows, reusing the direction between steps. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import { type AdapterWeights, DiffusionPipeline, type GenerateRequest, unetGraph } from '../../src/pipeline/diffusion-pipeline.ts';
import { cfgTerms, directionAt, styleGuidance } from '../../src/pipeline/guidance.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

let model: TextToImageModel;
let pipe: DiffusionPipeline;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Random rank-2 adapter weights on every attention projection of the model (non-zero B, so the adapter changes the output). */
function randomAdapter(name: string, seed: number): AdapterWeights {
  const rng = new Rng(seed);
  const params: Record<string, Float32Array> = {};
  for (const [n, t] of unetGraph(model, 1, [{ name, rank: 2 }]).graph.params) {
    if (n.includes('.lora_')) params[n] = rng.fillNormal(new Float32Array(t.shape.reduce((p, q) => p * q, 1))).map((v) => 0.2 * v);
  }
  return { name, rank: 2, params };
}

const prompts = ['', 'cat face', 'cat face in <s1> style', 'cat face in <s2> style'];
let adapters: AdapterWeights[];
const styles = [
  { adapter: 'a', prompt: 2, weight: 2 },
  { adapter: 'b', prompt: 3, weight: 1.5 },
];
const request = (trajectories: GenerateRequest['trajectories'], more: Partial<GenerateRequest> = {}): GenerateRequest => ({
  prompts,
  trajectories,
  adapters,
  steps: 4,
  ...more,
});

beforeAll(async () => {
  model = await tinyModel();
  pipe = new DiffusionPipeline(model);
  adapters = [randomAdapter('a', 1), randomAdapter('b', 2)];
});

describe('style guidance as CFG terms plus a direction', () => {
  it('evaluated at every step, equals its flat coefficient list, in as many rows (the condition row is shared)', async () => {
    const flat = await pipe.generate(
      request([
        {
          seed: 3,
          terms: [
            { prompt: 0, coef: 1 - 4 },
            { prompt: 1, coef: 4 - 3.5 },
            { prompt: 2, gates: { a: 1 }, coef: 2 },
            { prompt: 3, gates: { b: 1 }, coef: 1.5 },
          ],
        },
      ]),
    );
    const split = await pipe.generate(request([{ seed: 3, ...styleGuidance(0, 1, 4, styles) }]));
    expect(split.rowsPerStep).toBe(4);
    expect(split.rowsRun).toBe(4 * 4);
    // The same sum in another order: float32 rounding only (the sampler amplifies it on this random model).
    expect(maxDiff(split.images, flat.images)).toBeLessThan(1e-4);
    const plain = await pipe.generate(request([{ seed: 3, terms: cfgTerms(0, 1, 4) }]));
    expect(maxDiff(split.images, plain.images)).toBeGreaterThan(1e-3);
  });

  it("terms of one trajectory with the same prompt and gates run in one row; other trajectories' rows are their own", async () => {
    const one = await pipe.generate(request([{ seed: 3, terms: [{ prompt: 1, coef: 1 }] }]));
    const twice = await pipe.generate(
      request([
        {
          seed: 3,
          terms: [
            { prompt: 1, coef: 0.25 },
            { prompt: 1, coef: 0.75, gates: { a: 0 } },
          ],
        },
        { seed: 3, terms: [{ prompt: 1, coef: 1 }] },
      ]),
    );
    expect(twice.rowsPerStep).toBe(2);
    const n = one.images.length;
    expect(maxDiff(twice.images.subarray(0, n), one.images)).toBeLessThan(1e-5);
    expect(maxDiff(twice.images.subarray(n), one.images)).toBeLessThan(1e-5);
  });

  it('left out at every step is plain CFG; reused between evaluations, the batch holds its rows only when evaluated', async () => {
    const guided = { seed: 3, ...styleGuidance(0, 1, 4, styles.slice(0, 1)) };
    const full = await pipe.generate(request([guided], { steps: 6 }));
    const off = await pipe.generate(request([guided], { steps: 6, directionAt: () => 'off' }));
    const plain = await pipe.generate(request([{ seed: 3, terms: cfgTerms(0, 1, 4) }], { steps: 6 }));
    expect(off.rowsRun).toBe(2 * 6);
    expect(maxDiff(off.images, plain.images)).toBeLessThan(1e-5);
    const reused = await pipe.generate(request([guided], { steps: 6, directionAt: (i) => (i % 2 === 0 ? 'evaluate' : 'reuse') }));
    expect(reused.rowsPerStep).toBe(3);
    expect(reused.rowsRun).toBe(3 * 3 + 2 * 3);
    expect(maxDiff(reused.images, full.images)).toBeGreaterThan(1e-4);
    expect(maxDiff(reused.images, off.images)).toBeGreaterThan(1e-4);
  });

  it("the pipeline's sessions stop their threads' spinning after each run (its sessions take turns)", () => {
    expect(new DiffusionPipeline(model, { threads: 2 }).sessionOptions).toMatchObject({ threads: 2, stopSpinningAfterRun: true });
  });

  it('a reuse before any evaluation evaluates', async () => {
    const guided = { seed: 3, ...styleGuidance(0, 1, 4, styles.slice(0, 1)) };
    const r = await pipe.generate(request([guided], { directionAt: () => 'reuse' }));
    expect(r.rowsRun).toBe(3 + 2 * 3);
  });
});

describe('direction schedules', () => {
  const uses = (at: (step: number) => string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => at(from + i)[0]).join('');
  it('evaluate at each of the first `head` steps, then every `every`-th, counted from the first step', () => {
    expect(uses(directionAt({ every: 1, head: 0 }), 0, 6)).toBe('eeeeee');
    expect(uses(directionAt({ every: 2, head: 0 }), 0, 6)).toBe('ererer');
    expect(uses(directionAt({ every: 3, head: 2 }), 0, 8)).toBe('eeerrerr');
    expect(uses(directionAt({ every: 2, head: 1 }, 3), 3, 8)).toBe('eerer');
  });
  it('refuses an every below 1 or a negative or fractional head', () => {
    expect(() => directionAt({ every: 0, head: 0 })).toThrow(/every must be an integer >= 1/);
    expect(() => directionAt({ every: 2, head: -1 })).toThrow(/head must be an integer >= 0/);
    expect(() => directionAt({ every: 1.5, head: 0 })).toThrow(/every/);
  });
});
