/**
 * Pair Customization benchmark: npm run bench:pair -- [--model DIR] [--steps 30] [--threads N] [--rounds R] [--schedule S] [--breakdown]
 *
 * In one run, on one machine state:
 *   1. pair training with the defaults (PAIR_DEFAULTS: rank, lr, steps, warm-up) on (Noto dog face,
 *      OpenMoji dog face), in seconds (goal <= 6 s), as the bot's engine thread trains: the first
 *      training of the process compiles the training step, a second one (OpenMoji -> Noto) reuses it
 *      (TrainingStepCache); each with where its time went (prompts, graph, compile, pictures, steps);
 *   2. draws of the same steps and CFG: plain CFG (2 UNet rows per step), a style-guided draw, the CLI's
 *      styled + unstyled counterpart (drawStyled) and a two-style blend, with the draws' schedule (styleGuidanceSchedule)
 *      (--schedule: the default, every-other, alternating or every-step; rows per step from the schedule,
 *      checked against the rows the draws ran); each configuration is warmed up once (session creation
 *      excluded), then the configurations are timed in interleaved rounds (the order reversed every
 *      other round) and compared with the plain draw of the same round: the median of the per-round
 *      ratios, with their smallest and largest, and the ratio of the medians (goals: style-guided <= 1.25x,
 *      blend <= 1.6x, on the median per-round ratio).
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
import { drawMixes, drawStyled, STYLE_CFG_ALTERNATING, STYLE_EVERY_OTHER_STEP, styleGuidanceSchedule } from '../src/pair/draw.ts';
import { CFG_DIRECTION, describeSchedule, EVERY_STEP, type GuidanceSchedule, guidanceAt, STYLE_DIRECTION } from '../src/pipeline/guidance.ts';
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
    rounds: { type: 'string', default: '15' },
    schedule: { type: 'string', default: 'default' },
    subject: { type: 'string', default: 'dog-face' },
    breakdown: { type: 'boolean', default: false },
  },
});
const SCHEDULES: Record<string, GuidanceSchedule> = {
  default: styleGuidanceSchedule(Number(a.steps)),
  'every-other': STYLE_EVERY_OTHER_STEP,
  alternating: STYLE_CFG_ALTERNATING,
  'every-step': { style: EVERY_STEP, cfg: EVERY_STEP },
};
const schedule = SCHEDULES[a.schedule!];
if (!schedule) throw new Error(`--schedule: expected one of ${Object.keys(SCHEDULES).join(', ')}, got '${a.schedule}'`);
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
const base = { prompt: 'cat face', steps: Number(a.steps), cfg: Number(a.cfg), styleSchedule: schedule };
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
type Config = keyof typeof configs;
const drawConfigs = ['plain', 'styleGuided', 'styledAndUnstyled', 'blend'] as const;
const warmup: Record<string, number> = {};
const rowsRan: Partial<Record<Config, number>> = {};
for (const [k, f] of Object.entries(configs)) {
  const t0 = performance.now();
  const r = await f(0);
  warmup[k] = (performance.now() - t0) / 1000;
  if ('rowsRun' in r) rowsRan[k as Config] = r.rowsRun;
}
const times: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
for (let r = 0; r < Number(a.rounds); r++) {
  const order = Object.entries(configs);
  if (r % 2) order.reverse();
  for (const [k, f] of order) {
    const t0 = performance.now();
    await f(r + 1);
    times[k].push((performance.now() - t0) / 1000);
  }
}
await pipe.release();
const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])) as Record<Config, number>;
const at = guidanceAt(schedule);
const styleSteps = Array.from({ length: base.steps }, (_, i) => at(i, STYLE_DIRECTION) === 'evaluate').filter(Boolean).length;
const cfgSteps = Array.from({ length: base.steps }, (_, i) => at(i, CFG_DIRECTION) === 'evaluate').filter(Boolean).length;
/**
 * The UNet batch of each step of a draw: its rows and how many adapters they carry. A styled image runs
 * e(c), with e(neg) when the step evaluates the CFG direction and its styles' rows when it evaluates the
 * style direction; an unstyled one e(neg), e(c). Stylize runs its 3 rows at every step (inversion aside).
 */
const stepsOf = (k: Config): { rows: number; adapters: number }[] =>
  Array.from({ length: base.steps }, (_, i) => {
    const style = at(i, STYLE_DIRECTION) === 'evaluate';
    const styled = (styles: number) => ({ rows: 1 + (at(i, CFG_DIRECTION) === 'evaluate' ? 1 : 0) + (style ? styles : 0), adapters: style ? styles : 0 });
    if (k === 'plain') return { rows: 2, adapters: 0 };
    if (k === 'styleGuided') return styled(1);
    if (k === 'styledAndUnstyled') return { ...styled(1), rows: styled(1).rows + 2 };
    if (k === 'blend') return styled(2);
    return { rows: 3, adapters: 1 };
  });
for (const k of drawConfigs) {
  const predicted = stepsOf(k).reduce((p, q) => p + q.rows, 0);
  if (rowsRan[k] !== predicted) throw new Error(`bench: the ${k} draw ran ${rowsRan[k]} UNet rows, the schedule predicts ${predicted}`);
}
const lora = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `style${i}`, rank: style.info.rank }));
const flopsCache = new Map<string, number>();
const flopsOf = (rows: number, adapters: number) => {
  const key = `${rows}|${adapters}`;
  if (!flopsCache.has(key)) flopsCache.set(key, unetFlops(model, rows, lora(adapters)));
  return flopsCache.get(key)!;
};
/** Mean FLOPs of a step against the plain draw's. */
const flopsRatio = (k: Config) => stepsOf(k).reduce((p, q) => p + flopsOf(q.rows, q.adapters), 0) / base.steps / flopsOf(2, 0);
/** The distinct row counts of a draw's steps, largest first ("3 / 2"). */
const rowCounts = (k: Config) => [...new Set(stepsOf(k).map((q) => q.rows))].sort((p, q) => q - p).join(' / ');
/** The per-round ratios to the plain draw of the same round: median, smallest, largest. */
const roundRatios = (k: Config) => {
  const r = times[k].map((t, i) => t / times.plain[i]);
  return { median: median(r), min: Math.min(...r), max: Math.max(...r) };
};

console.log(
  `model ${a.model} (${model.id}), ${threads} threads, ${base.steps} steps, CFG ${base.cfg}, style strength ${w}, ${a.rounds} rounds; ` +
    `schedule '${a.schedule}': ${describeSchedule(schedule)} (style direction at ${styleSteps}, CFG direction at ${cfgSteps} of ${base.steps} steps)`,
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
const line = (k: Config, label: string, goal?: number) => {
  const r = roundRatios(k);
  console.log(
    `${label.padEnd(44)} ${med[k].toFixed(3)} s  ${k === 'plain' ? 'plain' : `${r.median.toFixed(2)}x plain (rounds ${r.min.toFixed(2)}-${r.max.toFixed(2)}; medians ${(med[k] / med.plain).toFixed(2)}x)`}` +
      `  (UNet rows ${rowCounts(k)}, FLOPs ${flopsRatio(k).toFixed(2)}x)` +
      (goal ? `  goal <= ${goal}x: ${r.median <= goal ? 'met' : 'not met'}` : ''),
  );
  return r.median;
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
    ...new Map(
      drawConfigs
        .flatMap((k) => stepsOf(k))
        .sort((p, q) => p.rows - q.rows || p.adapters - q.adapters)
        .map((q) => [`${q.rows}|${q.adapters}`, q]),
    ).values(),
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
  /** A draw's UNet calls: [count, rows, adapters] per batch shape. */
  const callsOf = (k: Config): [number, number, number][] => {
    const count = new Map<string, [number, number, number]>();
    for (const q of stepsOf(k)) {
      const c = count.get(`${q.rows}|${q.adapters}`) ?? [0, q.rows, q.adapters];
      c[0]++;
      count.set(`${q.rows}|${q.adapters}`, c);
    }
    return [...count.values()];
  };
  console.log('draws: UNet time predicted from their calls (count x rows, (Na): with N adapters), and the rest of the draw (median draw time minus it):');
  for (const k of drawConfigs) {
    const unet = callsOf(k).reduce((sum, [n, rows, adapters]) => sum + n * callMs(rows, adapters), 0) / 1000;
    const calls = callsOf(k)
      .map(([n, rows, adapters]) => `${n} x ${rows}${adapters ? `(${adapters}a)` : ''}`)
      .join(' + ');
    console.log(
      `  ${k.padEnd(18)} ${calls.padEnd(34)} UNet ${unet.toFixed(3)} s, rest ${(med[k] - unet).toFixed(3)} s (${((100 * (med[k] - unet)) / med[k]).toFixed(0)}%)`,
    );
  }
  for (const s of sessions) await s.session.release();
}
