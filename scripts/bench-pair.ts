/**
 * Pair Customization benchmark: npm run bench:pair -- [--model DIR] [--steps 30] [--threads N] [--rounds R] [--breakdown]
 *
 * In one run, on one machine state:
 *   1. pair training with the defaults (PAIR_DEFAULTS: rank, lr, steps, warm-up) on (Noto dog face,
 *      OpenMoji dog face), in seconds (goal <= 6 s), as the bot's engine thread trains: the first
 *      training of the process compiles the training step, a second one (OpenMoji -> Noto) reuses it
 *      (TrainingStepCache); each with where its time went (prompts, graph, compile, pictures, steps);
 *   2. draws of the same steps and CFG: plain CFG (2 UNet rows per step), a style-guided draw (3 rows
 *      at the steps of STYLE_GUIDANCE_SCHEDULE that evaluate the style direction, 2 at the others),
 *      the CLI's styled + unstyled counterpart (drawStyled, 5 / 4 rows), and a two-style blend (4 / 2 rows);
 *      each configuration is warmed up once (session creation excluded), then the configurations are
 *      timed in interleaved rounds and the medians compared: style-guided / plain (goal <= 1.25x),
 *      blend / plain (goal <= 1.6x).
 *   3. stylizing a picture (the Noto dog face) at the stylize defaults (keep, refinement) with the
 *      same steps: DDIM inversion (1 row per model call, 1 + refine calls per inverted step), then the
 *      styled picture beside the plain reconstruction (3 rows per step), against the plain draw.
 * With --breakdown, where a draw's time goes: one UNet call of each batch shape the draws run (timed
 * alone, interleaved, on sessions with the pipeline's options), the draw's UNet time predicted from its
 * calls, and the rest of the draw (sampler, batching, guidance sums, text encoding, decoding).
 * The blend's second style is a copy of the first under another adapter name: a blend's cost does not
 * depend on the adapter's values.
 */
import { parseArgs } from 'node:util';
import { renderIcon } from '../src/data/render.ts';
import * as G from '../src/graph/index.ts';
import { DiffusionPipeline, unetGraph } from '../src/pipeline/diffusion-pipeline.ts';
import { loadEvalModel } from '../src/eval/generate.ts';
import { rgbToUnit } from '../src/formats/pixels.ts';
import { drawMixes, drawStyled, STYLE_GUIDANCE_SCHEDULE } from '../src/pair/draw.ts';
import { directionAt } from '../src/pipeline/guidance.ts';
import { STYLIZE_DEFAULTS, stylizeImage } from '../src/pair/stylize.ts';
import type { Style } from '../src/pair/style.ts';
import { TrainingStepCache } from '../src/pair/step-cache.ts';
import { PAIR_DEFAULTS, type PairTrainResult, trainPair } from '../src/pair/train.ts';
import { benchThreads, median, randomUniform, unetFlops } from './lib/bench.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    steps: { type: 'string', default: '30' },
    cfg: { type: 'string', default: '5' },
    strength: { type: 'string', default: '3' },
    'train-steps': { type: 'string', default: String(PAIR_DEFAULTS.steps) },
    threads: { type: 'string' },
    rounds: { type: 'string', default: '7' },
    subject: { type: 'string', default: 'dog-face' },
    breakdown: { type: 'boolean', default: false },
  },
});
const threads = benchThreads(a.threads);
const model = await loadEvalModel(a.model!);
const S = model.imageSize;
const content = rgbToUnit(await renderIcon('noto', a.subject!, S), S, S);
const styleImg = rgbToUnit(await renderIcon('openmoji', a.subject!, S), S, S);

// As the bot's engine thread trains: with its pipeline (for the prompts) and its step cache.
const pipe = new DiffusionPipeline(model, { threads });
const stepCache = new TrainingStepCache();
const trainOnce = (c: Float32Array, s: Float32Array, name: string) =>
  trainPair({ model, content: c, style: s, name, subject: a.subject!.replace(/-/g, ' '), steps: Number(a['train-steps']), threads, pipe, stepCache });
const train = await trainOnce(content, styleImg, 'bench');
const again = await trainOnce(styleImg, content, 'bench-again');
await stepCache.release();
const style = train.style;
const second: Style = { info: { ...style.info, name: 'bench-b' }, modules: style.modules.map((m) => ({ ...m })) };

const w = Number(a.strength);
const base = { prompt: 'cat face', steps: Number(a.steps), cfg: Number(a.cfg) };
const configs = {
  plain: (seed: number) => drawMixes(pipe, [[]], { ...base, seed }),
  styleGuided: (seed: number) => drawMixes(pipe, [[{ style, weight: w }]], { ...base, seed }),
  styledAndUnstyled: (seed: number) => drawStyled(pipe, [{ style, weight: w }], { ...base, seed }),
  blend: (seed: number) =>
    drawMixes(
      pipe,
      [
        [
          { style, weight: w / 2 },
          { style: second, weight: w / 2 },
        ],
      ],
      { ...base, seed },
    ),
  stylize: (_seed: number) => stylizeImage(pipe, content, [{ style, weight: w }], { steps: base.steps, keep: STYLIZE_DEFAULTS.keep }),
};
const warmup: Record<string, number> = {};
for (const [k, f] of Object.entries(configs)) {
  const t0 = performance.now();
  await f(0);
  warmup[k] = (performance.now() - t0) / 1000;
}
const times: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
for (let r = 0; r < Number(a.rounds); r++) {
  for (const [k, f] of Object.entries(configs)) {
    const t0 = performance.now();
    await f(r + 1);
    times[k].push((performance.now() - t0) / 1000);
  }
}
await pipe.release();
const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<keyof typeof configs, number>;
// UNet rows at a step that evaluates the style direction / at one that reuses it (stylize evaluates it at every step).
const rows = { plain: [2, 2], styleGuided: [3, 2], styledAndUnstyled: [5, 4], blend: [4, 2], stylize: [3, 3] };
const adaptersOf = { plain: 0, styleGuided: 1, styledAndUnstyled: 1, blend: 2, stylize: 1 };
const at = directionAt(STYLE_GUIDANCE_SCHEDULE);
const evaluated = Array.from({ length: base.steps }, (_, i) => at(i)).filter((u) => u === 'evaluate').length;
const lora = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `style${i}`, rank: style.info.rank }));
/** Mean FLOPs of a step against the plain draw's: evaluating steps with the adapters, the others without. */
const flopsRatio = (k: keyof typeof configs) => {
  const share = k === 'stylize' ? 1 : evaluated / base.steps;
  const [full, reused] = rows[k];
  return (share * unetFlops(model, full, lora(adaptersOf[k])) + (1 - share) * unetFlops(model, reused)) / unetFlops(model, 2);
};

console.log(
  `model ${a.model} (${model.id}), ${threads} threads, ${base.steps} steps, CFG ${base.cfg}, style strength ${w}; draws evaluate the style direction at ${evaluated} of ${base.steps} steps (every ${STYLE_GUIDANCE_SCHEDULE.every}, first ${STYLE_GUIDANCE_SCHEDULE.head} all)`,
);
const defaults = style.info.steps === PAIR_DEFAULTS.steps;
const sum = (xs: number[]) => xs.reduce((p, x) => p + x, 0);
const outsideOrt = (100 * (sum(train.stepMs) - sum(train.stepOrtMs))) / sum(train.stepMs);
const phases = (r: PairTrainResult) =>
  `prompts ${r.phases.textMs.toFixed(0)} ms, graph ${r.phases.graphMs.toFixed(0)} ms, compile ${r.phases.compileMs.toFixed(0)} ms, pictures ${r.phases.encodeMs.toFixed(0)} ms, ` +
  `steps ${r.phases.stepsMs.toFixed(0)} ms (${r.meanStepMs.toFixed(1)} ms/step), other ${r.phases.otherMs.toFixed(0)} ms`;
const goal = (s: number) => (defaults ? `; goal <= 6 s: ${s <= 6 ? 'met' : 'not met'}` : '');
console.log(
  `pair training, ${defaults ? 'defaults' : 'NOT the default steps'} (rank ${style.info.rank}, ${style.info.steps} steps, lr ${PAIR_DEFAULTS.lr}), the first in the process: ${train.seconds.toFixed(1)} s${goal(train.seconds)}\n` +
    `  ${phases(train)}; ${outsideOrt.toFixed(1)}% of a step outside onnxruntime\n` +
    `a second training (the compiled step ${again.reusedStep ? 'reused' : 'NOT reused'}): ${again.seconds.toFixed(1)} s${goal(again.seconds)}\n  ${phases(again)}`,
);
console.log(
  `warm-ups (session creation + first draw, excluded): ${Object.entries(warmup)
    .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
    .join(', ')}`,
);
const line = (k: keyof typeof configs, label: string, goal?: number) => {
  const ratio = med[k] / med.plain;
  console.log(
    `${label.padEnd(44)} ${med[k].toFixed(3)} s  ${ratio.toFixed(2)}x plain  (UNet rows ${rows[k][0] === rows[k][1] ? rows[k][0] : rows[k].join(' / ')}, FLOPs ${flopsRatio(k).toFixed(2)}x)` +
      (goal ? `  goal <= ${goal}x: ${ratio <= goal ? 'met' : 'not met'}` : ''),
  );
  return ratio;
};
line('plain', 'plain CFG draw');
const sg = line('styleGuided', 'style-guided draw (stylized only)', 1.25);
const both = line('styledAndUnstyled', 'style-guided + unstyled counterpart (CLI)');
const bl = line('blend', 'two-style blend', 1.6);
const st = line('stylize', `stylize a picture (keep ${STYLIZE_DEFAULTS.keep}, refine ${STYLIZE_DEFAULTS.refine}; + inversion)`);
if (a.breakdown) await drawBreakdown();
console.log(
  `pair_train_seconds=${train.seconds.toFixed(1)} pair_train_again_seconds=${again.seconds.toFixed(1)} style_draw_ratio=${sg.toFixed(2)} styled_and_unstyled_ratio=${both.toFixed(2)} blend_ratio=${bl.toFixed(2)} stylize_ratio=${st.toFixed(2)}`,
);

/**
 * Where a draw's time goes: one UNet call per batch shape (rows, adapters), timed alone on a session
 * with the pipeline's options, interleaved; each draw's calls predicted from them; the rest of the draw.
 */
async function drawBreakdown(): Promise<void> {
  const shapes = [
    { rows: 2, adapters: 0 },
    { rows: 3, adapters: 1 },
    { rows: 4, adapters: 2 },
    { rows: 5, adapters: 1 },
    { rows: 4, adapters: 0 },
  ];
  // One at a time, so that each creation time is its own.
  const sessions: { rows: number; adapters: number; session: G.GraphSession; feeds: Record<string, Float32Array>; createMs: number; ms: number[] }[] = [];
  for (const { rows, adapters } of shapes) {
    const onnx = G.emitOnnx({ outputs: { out: unetGraph(model, rows, lora(adapters)) }, weights: (n) => model.weight(n) });
    const t0 = performance.now();
    const session = await G.GraphSession.create(onnx, pipe.sessionOptions);
    const createMs = performance.now() - t0;
    const feeds = Object.fromEntries(
      onnx.inputs.map((v) => [
        v.name,
        randomUniform(
          v.shape.reduce((p, q) => p * q, 1),
          0.1,
        ),
      ]),
    );
    sessions.push({ rows, adapters, session, feeds, createMs, ms: [] });
  }
  for (const s of sessions) await s.session.run(s.feeds);
  for (let r = 0; r < 20; r++)
    for (const s of sessions) {
      const t0 = performance.now();
      await s.session.run(s.feeds);
      s.ms.push(performance.now() - t0);
    }
  const callMs = (rows: number, adapters: number) => median(sessions.find((s) => s.rows === rows && s.adapters === adapters)!.ms);
  console.log('\nUNet calls (median of 20, each shape alone; session creation, excluded from the draws above, beside):');
  for (const s of sessions)
    console.log(
      `  ${s.rows} rows, ${s.adapters} adapters: ${median(s.ms).toFixed(2)} ms (${(median(s.ms) / s.rows).toFixed(2)} ms/row; creation ${s.createMs.toFixed(0)} ms)`,
    );
  const callsOf: Record<keyof typeof configs, [number, number, number][]> = {
    plain: [[base.steps, 2, 0]],
    styleGuided: [
      [evaluated, 3, 1],
      [base.steps - evaluated, 2, 0],
    ],
    styledAndUnstyled: [
      [evaluated, 5, 1],
      [base.steps - evaluated, 4, 0],
    ],
    blend: [
      [evaluated, 4, 2],
      [base.steps - evaluated, 2, 0],
    ],
    stylize: [],
  };
  console.log('draws: UNet time predicted from their calls, and the rest of the draw (median draw time minus it):');
  for (const k of ['plain', 'styleGuided', 'styledAndUnstyled', 'blend'] as const) {
    const unet = callsOf[k].reduce((sum, [n, rows, adapters]) => sum + (n ? n * callMs(rows, adapters) : 0), 0) / 1000;
    const calls = callsOf[k].map(([n, rows]) => `${n} x ${rows} rows`).join(' + ');
    console.log(
      `  ${k.padEnd(18)} ${calls.padEnd(24)} UNet ${unet.toFixed(3)} s, rest ${(med[k] - unet).toFixed(3)} s (${((100 * (med[k] - unet)) / med[k]).toFixed(0)}%)`,
    );
  }
  for (const s of sessions) await s.session.release();
}
