/** Guidance as coefficient lists on a tiny random model: style guidance's directions, shared rows, reusing a direction between steps. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import { type AdapterWeights, DiffusionPipeline, type GenerateRequest, unetGraph } from '../../src/pipeline/diffusion-pipeline.ts';
import { CFG_DIRECTION, cfgTerms, directionAt, guidanceAt, STYLE_DIRECTION, styleGuidance } from '../../src/pipeline/guidance.ts';
import { styleFrom, styleGuidanceSchedule } from '../../src/pair/draw.ts';
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

describe('style guidance as the condition term plus two directions (CFG and style)', () => {
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

  it('the style direction left out at every step is plain CFG; reused between evaluations, the batch holds its rows only when evaluated', async () => {
    const guided = { seed: 3, ...styleGuidance(0, 1, 4, styles.slice(0, 1)) };
    const full = await pipe.generate(request([guided], { steps: 6 }));
    const off = await pipe.generate(request([guided], { steps: 6, directionAt: (_, d) => (d === STYLE_DIRECTION ? 'off' : 'evaluate') }));
    const plain = await pipe.generate(request([{ seed: 3, terms: cfgTerms(0, 1, 4) }], { steps: 6 }));
    expect(off.rowsRun).toBe(2 * 6);
    // The same sum in another order (e(c) + (w_cfg - 1)(e(c) - e(neg))): float32 rounding only.
    expect(maxDiff(off.images, plain.images)).toBeLessThan(1e-3);
    const reused = await pipe.generate(request([guided], { steps: 6, directionAt: (i, d) => (d === STYLE_DIRECTION && i % 2 === 1 ? 'reuse' : 'evaluate') }));
    expect(reused.rowsPerStep).toBe(3);
    expect(reused.rowsRun).toBe(3 * 3 + 2 * 3);
    expect(maxDiff(reused.images, full.images)).toBeGreaterThan(1e-4);
    expect(maxDiff(reused.images, off.images)).toBeGreaterThan(1e-4);
  });

  it("steps of one batch size share one session: the CFG steps of an alternating schedule run in the style steps' session, the adapter gated off", async () => {
    const p = new DiffusionPipeline(model);
    const guided = { seed: 3, ...styleGuidance(0, 1, 4, styles.slice(0, 1)) };
    const alternating = guidanceAt({ style: { every: 2, head: 0 }, cfg: { every: 2, head: 1 } });
    const r = await p.generate(request([guided], { steps: 6, directionAt: alternating }));
    // Step 0 evaluates both directions (e(neg), e(c), e_a(c_a)); then CFG's (e(neg), e(c)) and the style's (e(c), e_a(c_a)) by turns.
    expect(r.rowsRun).toBe(3 + 5 * 2);
    const sessions = (p as unknown as { unetSessions: Map<string, unknown> }).unetSessions;
    expect([...sessions.keys()].sort()).toEqual(['2|a:2', '3|a:2']);
    await p.release();
  });

  it("the pipeline's sessions stop their threads' spinning after each run (its sessions take turns)", () => {
    expect(new DiffusionPipeline(model, { threads: 2 }).sessionOptions).toMatchObject({ threads: 2, stopSpinningAfterRun: true });
  });

  it('a reuse before any evaluation evaluates', async () => {
    const guided = { seed: 3, ...styleGuidance(0, 1, 4, styles.slice(0, 1)) };
    const r = await pipe.generate(request([guided], { directionAt: () => 'reuse' }));
    // Both directions at the first step (e(neg), e(c), e_{+a}(c_a)), then e(c) alone.
    expect(r.rowsRun).toBe(3 + 1 * 3);
  });

  it("each direction reused from its last evaluation: every step's output is e(c) + (w_cfg - 1)(e(c) - e(neg)) + w (e_{+a}(c_a) - e(c)) with those values", async () => {
    const cfg = 4;
    const w = styles[0].weight;
    const steps = 5;
    // The CFG direction at steps 0, 1, 3; the style direction at 0, 2, 4 (each reused at the other's steps).
    const at = (i: number, d: string) => (d === CFG_DIRECTION ? (i === 0 || i % 2 === 1 ? 'evaluate' : 'reuse') : i % 2 === 0 ? 'evaluate' : 'reuse');
    const seen: { x: Float32Array; out: Float32Array }[] = [];
    const r = await pipe.generate(
      request([{ seed: 3, ...styleGuidance(0, 1, cfg, styles.slice(0, 1)) }], {
        steps,
        directionAt: at,
        adjustOutput: (x, out) => void seen.push({ x: x.slice(), out: out.slice() }),
      }),
    );
    expect(r.rowsPerStep).toBe(3);
    expect(r.rowsRun).toBe(3 + 2 * (steps - 1));
    // One term's model output at step i from that step's latent: a run started there, its first output.
    const single = async (term: { prompt: number; gates?: Record<string, number> }, i: number) => {
      let first: Float32Array | undefined;
      await pipe.generate(
        request([{ seed: 3, terms: [{ ...term, coef: 1 }] }], {
          steps,
          init: { latents: seen[i].x, step: i },
          adjustOutput: (_x, out, _t, k) => {
            if (k === i) first = out.slice();
          },
        }),
      );
      return first!;
    };
    let dCfg = new Float32Array(0);
    let dStyle = new Float32Array(0);
    for (let i = 0; i < steps; i++) {
      const c = await single({ prompt: 1 }, i);
      if (at(i, CFG_DIRECTION) === 'evaluate') {
        const neg = await single({ prompt: 0 }, i);
        dCfg = c.map((v, k) => (cfg - 1) * (v - neg[k]));
      }
      if (at(i, STYLE_DIRECTION) === 'evaluate') {
        const styled = await single({ prompt: 2, gates: { a: 1 } }, i);
        dStyle = c.map((v, k) => w * (styled[k] - v));
      }
      const expected = c.map((v, k) => v + dCfg[k] + dStyle[k]);
      expect(maxDiff(seen[i].out, expected)).toBeLessThan(1e-4);
    }
    // The reuse matters: the same draw with both directions at every step ends elsewhere.
    const fresh = await pipe.generate(request([{ seed: 3, ...styleGuidance(0, 1, cfg, styles.slice(0, 1)) }], { steps }));
    expect(maxDiff(fresh.images, r.images)).toBeGreaterThan(1e-4);
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
  it('off before `from`, then `head` and `every` count from there', () => {
    expect(uses(directionAt({ every: 2, head: 0, from: 3 }), 0, 8)).toBe('oooerere');
    expect(uses(directionAt({ every: 2, head: 1, from: 2 }, 1), 1, 8)).toBe('ooeerer');
    expect(() => directionAt({ every: 2, head: 0, from: -1 })).toThrow(/from must be an integer >= 0/);
    expect(() => directionAt({ every: 2, head: 0, from: 1.5 })).toThrow(/from must be an integer >= 0/);
  });
  it("style guidance's schedule: each direction by its own, any other direction at every step", () => {
    const at = guidanceAt({ style: { every: 2, head: 0 }, cfg: { every: 2, head: 1 } });
    expect(uses((i) => at(i, STYLE_DIRECTION), 0, 6)).toBe('ererer');
    expect(uses((i) => at(i, CFG_DIRECTION), 0, 6)).toBe('eerere');
    expect(uses((i) => at(i, 'other'), 0, 3)).toBe('eee');
    expect(() => guidanceAt({ style: { every: 2, head: 0 }, cfg: { every: 0, head: 0 } })).toThrow(/every must be an integer >= 1/);
  });
  it('a style that ends (styleUntil): the style direction off from there, the CFG direction at every step, counted from the first step', () => {
    const at = guidanceAt({ style: { every: 2, head: 0, from: 2 }, cfg: { every: 2, head: 3 }, styleUntil: 6 });
    expect(uses((i) => at(i, STYLE_DIRECTION), 0, 9)).toBe('ooererooo');
    expect(uses((i) => at(i, CFG_DIRECTION), 0, 9)).toBe('eeeereeee');
    const shifted = guidanceAt({ style: { every: 2, head: 0, from: 2 }, cfg: { every: 2, head: 3 }, styleUntil: 6 }, 1);
    expect(uses((i) => shifted(i, STYLE_DIRECTION), 1, 10)).toBe('ooererooo');
    expect(() => guidanceAt({ style: { every: 2, head: 0 }, cfg: { every: 2, head: 1 }, styleUntil: 2.5 })).toThrow(/styleUntil must be an integer >= 0/);
    expect(styleGuidanceSchedule(30, 0.5, 0.9)).toEqual({ ...styleFrom(15), styleUntil: 27 });
    expect(styleGuidanceSchedule(30, 0.5, 1)).toEqual(styleFrom(15));
    // At least one step of style, whatever the rounding.
    expect(styleGuidanceSchedule(2, 0.5, 0.6).styleUntil).toBe(2);
    expect(() => styleGuidanceSchedule(30, 0.5, 0.5)).toThrow(/style end must be in/);
  });
  it('refuses an every below 1 or a negative or fractional head', () => {
    expect(() => directionAt({ every: 0, head: 0 })).toThrow(/every must be an integer >= 1/);
    expect(() => directionAt({ every: 2, head: -1 })).toThrow(/head must be an integer >= 0/);
    expect(() => directionAt({ every: 1.5, head: 0 })).toThrow(/every/);
  });
});
