/**
 * Pair Customization benchmark: npm run bench:pair -- [--model DIR] [--steps 30] [--threads N] [--rounds R]
 *
 * In one run, on one machine state:
 *   1. pair training with the defaults (PAIR_DEFAULTS: rank, lr, steps, warm-up) on (Noto dog face,
 *      OpenMoji dog face), in seconds (goal <= 60 s);
 *   2. draws of the same steps and CFG: plain CFG (2 UNet rows per step), a style-guided draw (3 rows
 *      at the steps of STYLE_GUIDANCE_SCHEDULE that evaluate the style direction, 2 at the others),
 *      the CLI's styled + unstyled counterpart (drawStyled, 5 / 4 rows), and a two-style blend (4 / 2 rows);
 *      each configuration is warmed up once (session creation excluded), then the configurations are
 *      timed in interleaved rounds and the medians compared: style-guided / plain (goal <= 1.25x),
 *      blend / plain (goal <= 1.6x).
 *   3. stylizing a picture (the Noto dog face) at the stylize defaults (keep, refinement) with the
 *      same steps: DDIM inversion (1 row per model call, 1 + refine calls per inverted step), then the
 *      styled picture beside the plain reconstruction (3 rows per step), against the plain draw.
 * The blend's second style is a copy of the first under another adapter name: a blend's cost does not
 * depend on the adapter's values, and this keeps the run one training long.
 */
import { parseArgs } from 'node:util';
import { renderIcon } from '../src/data/render.ts';
import { DiffusionPipeline } from '../src/pipeline/diffusion-pipeline.ts';
import { loadEvalModel } from '../src/eval/generate.ts';
import { rgbToUnit } from '../src/formats/pixels.ts';
import { drawMixes, drawStyled, STYLE_GUIDANCE_SCHEDULE } from '../src/pair/draw.ts';
import { directionAt } from '../src/pipeline/guidance.ts';
import { STYLIZE_DEFAULTS, stylizeImage } from '../src/pair/stylize.ts';
import type { Style } from '../src/pair/style.ts';
import { PAIR_DEFAULTS, trainPair } from '../src/pair/train.ts';
import { benchThreads, median, unetFlops } from './lib/bench.ts';

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
  },
});
const threads = benchThreads(a.threads);
const model = await loadEvalModel(a.model!);
const S = model.imageSize;
const content = rgbToUnit(await renderIcon('noto', a.subject!, S), S, S);
const styleImg = rgbToUnit(await renderIcon('openmoji', a.subject!, S), S, S);

const train = await trainPair({
  model,
  content,
  style: styleImg,
  name: 'bench',
  subject: a.subject!.replace(/-/g, ' '),
  steps: Number(a['train-steps']),
  threads,
});
const style = train.style;
const second: Style = { info: { ...style.info, name: 'bench-b' }, modules: style.modules.map((m) => ({ ...m })) };

const pipe = new DiffusionPipeline(model, { threads });
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
console.log(
  `pair training, ${defaults ? 'defaults' : 'NOT the default steps'} (rank ${style.info.rank}, ${style.info.steps} steps): ${train.seconds.toFixed(1)} s (${train.meanStepMs.toFixed(0)} ms/step, ${outsideOrt.toFixed(1)}% of it outside onnxruntime)` +
    (defaults ? `; goal <= 60 s: ${train.seconds <= 60 ? 'met' : 'not met'}` : ''),
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
console.log(
  `pair_train_seconds=${train.seconds.toFixed(1)} style_draw_ratio=${sg.toFixed(2)} styled_and_unstyled_ratio=${both.toFixed(2)} blend_ratio=${bl.toFixed(2)} stylize_ratio=${st.toFixed(2)}`,
);
