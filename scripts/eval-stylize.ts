/**
 * Evaluation of stylizing a given picture (src/pair/stylize.ts) against two baselines:
 * npm run eval:stylize -- [options]
 *
 *   --model DIR        model folder (default models/emoji-mini)
 *   --pairs N          training pairs per seed (Noto drawing of X -> OpenMoji drawing of X), default 2
 *   --subjects N       pictures stylized per pair: drawings by the other artists (the v1 sets but OpenMoji)
 *                      of evaluation-half subjects other than X, the same for every pair of a seed; default 4
 *   --seeds LIST       independent draws of pairs, pictures and SDEdit noise (default 0,1)
 *   --strengths LIST   style-guidance weights of the method (default 1,2,3,4.5)
 *   --scales LIST      LoRA scales of the baselines (default 0.5,1,1.5,2)
 *   --keeps LIST       keep values of the method at the default strength (default: the default keep only)
 *   --keep K           keep of every method's strength sweep (default: the stylize default)
 *   --style FILE       use this style file for every pair instead of training one per pair (a quick sweep of settings)
 *   --steps N          sampler steps (default: the stylize default); --train-steps N (default: the pair defaults)
 *   --out FILE --plot FILE --grid FILE   default data/eval/stylize.json, stylize-plot.png, stylize-grid.png
 *   --threads N        onnxruntime threads; --classifiers DIR where the cached judges live (default data/eval)
 *
 * Methods, on the same pictures and styles:
 *   stylize              DDIM inversion (refined) + style guidance (the method)
 *   sdedit-lora-scale    plain SDEdit: the picture noised to the start step, denoised with the StyleLoRA by LoRA scale
 *   inversion-lora-scale the same DDIM inversion, denoised with the StyleLoRA by LoRA scale (no style guidance)
 * and the plain reconstruction (inversion, no style) as the reference.
 * Metrics per output, against the input picture: structure kept = SSIM to the input and identity
 * agreement (the identity judge's top-1 subject of the output is that of the input); style gained =
 * the artist judge's P(openmoji), and its gain over the input's. 95% intervals: percentile bootstrap
 * over the pairs (each pair is its own training). Judges never saw what they judge (src/eval/classifiers.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset, samplePixels } from '../src/data/dataset.ts';
import { DiffusionPipeline } from '../src/pipeline/diffusion-pipeline.ts';
import { Rng } from '../src/graph/rng.ts';
import { topK } from '../src/eval/classifier.ts';
import {
  ARTIST_CLASSES,
  ensureArtistClassifier,
  ensureIdentityClassifier,
  EVAL_DIR,
  isEvaluationSubject,
  JUDGE_DATASET,
  loadOpenmoji,
} from '../src/eval/classifiers.ts';
import { formatTable, loadEvalModel, numberList, pictureOf, tileOf } from '../src/eval/generate.ts';
import { plotPng, type Panel } from '../src/eval/plot.ts';
import { ssim } from '../src/eval/ssim.ts';
import { bootstrap, numInterval, pctInterval, type Interval } from '../src/eval/stats.ts';
import { gridPng, type Tile } from '../src/images/grid.ts';
import { rgbToUnit } from '../src/formats/pixels.ts';
import { decodeStyle } from '../src/pair/style-file.ts';
import { PAIR_DEFAULTS, trainPair } from '../src/pair/train.ts';
import { STYLIZE_DEFAULTS, stylizeMixes, stylizeStart } from '../src/pair/stylize.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    pairs: { type: 'string', default: '2' },
    subjects: { type: 'string', default: '4' },
    seeds: { type: 'string', default: '0,1' },
    strengths: { type: 'string', default: '1,2,3,4.5' },
    scales: { type: 'string', default: '0.5,1,1.5,2' },
    keeps: { type: 'string', default: '' },
    keep: { type: 'string', default: String(STYLIZE_DEFAULTS.keep) },
    style: { type: 'string' },
    steps: { type: 'string', default: String(STYLIZE_DEFAULTS.steps) },
    'train-steps': { type: 'string', default: String(PAIR_DEFAULTS.steps) },
    out: { type: 'string', default: `${EVAL_DIR}/stylize.json` },
    plot: { type: 'string', default: `${EVAL_DIR}/stylize-plot.png` },
    grid: { type: 'string', default: `${EVAL_DIR}/stylize-grid.png` },
    data: { type: 'string', default: JUDGE_DATASET },
    classifiers: { type: 'string', default: EVAL_DIR },
    threads: { type: 'string' },
  },
});
const t0 = performance.now();
const list = (s: string) => numberList(s, 0);
const strengths = list(a.strengths!).filter((v) => v > 0);
const scales = list(a.scales!).filter((v) => v > 0);
const keep = Number(a.keep);
const keeps = list(a.keeps!).filter((k) => k !== keep && k < 1);
const nPairs = Number(a.pairs);
const nSubjects = Number(a.subjects);
const steps = Number(a.steps);
const trainSteps = Number(a['train-steps']);
const seedList = list(a.seeds!);
const threads = a.threads === undefined ? undefined : Number(a.threads);
const log = (s: string) => console.error(s);

const model = await loadEvalModel(a.model!);
const ds = loadDataset(a.data!);
const identity = await ensureIdentityClassifier({ dataset: a.data, dir: a.classifiers, threads, log });
const artist = await ensureArtistClassifier({ dataset: a.data, dir: a.classifiers, threads, log });
const om = await loadOpenmoji(`${a.classifiers}/openmoji32.bin`, { log });
const S = model.imageSize;
const PX = 3 * S * S;
const classIndex = new Map(identity.classes.map((c, i) => [c, i]));
const omSubjects = new Set(om.items.map((it) => it.subject));
const OTHER_ARTISTS: readonly string[] = ARTIST_CLASSES.filter((c) => c !== 'openmoji');
// Pairs: evaluation-half subjects with a Noto and an OpenMoji drawing. Pictures: evaluation-half
// subjects the identity judge knows, drawn by one of the other artists.
const pairPool = [
  ...new Set(ds.items.filter((it) => it.set === 'noto' && omSubjects.has(it.subject) && isEvaluationSubject(it.subject)).map((it) => it.subject)),
].sort();
const picturePool = ds.items
  .map((it, i) => ({ ...it, i }))
  .filter((it) => OTHER_ARTISTS.includes(it.set) && classIndex.has(it.subject) && isEvaluationSubject(it.subject));

function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
interface Unit {
  seed: number;
  pair: string;
  pictures: { set: string; subject: string; image: Float32Array }[];
}
const units: Unit[] = seedList.flatMap((seed) => {
  const rng = new Rng(seed + 5151);
  const pairs = shuffled(pairPool, rng).slice(0, nPairs);
  const pictures = shuffled(
    picturePool.filter((it) => !pairs.includes(it.subject)),
    rng,
  )
    .filter((it, k, all) => all.findIndex((o) => o.subject === it.subject) === k)
    .slice(0, nSubjects)
    .map((it) => ({ set: it.set, subject: it.subject, image: rgbToUnit(samplePixels(ds, it.i), S, S) }));
  log(`seed ${seed}: pairs ${pairs.join(', ')}\n  pictures: ${pictures.map((p) => `${p.set}:${p.subject}`).join(', ')}`);
  return pairs.map((pair) => ({ seed, pair, pictures }));
});

interface Method {
  id: string;
  label: string;
  weights: number[];
  keep: number;
  mode: 'guidance' | 'lora-scale';
  start: 'inversion' | 'sdedit';
}
const METHODS: Method[] = [
  { id: 'stylize', label: 'inversion + style guidance (the method)', weights: strengths, keep, mode: 'guidance', start: 'inversion' },
  { id: 'sdedit-lora-scale', label: 'SDEdit + StyleLoRA by LoRA scale', weights: scales, keep, mode: 'lora-scale', start: 'sdedit' },
  { id: 'inversion-lora-scale', label: 'inversion + StyleLoRA by LoRA scale', weights: scales, keep, mode: 'lora-scale', start: 'inversion' },
  ...keeps.map((k) => ({
    id: `stylize-keep-${k}`,
    label: `the method at keep ${k}`,
    weights: [STYLIZE_DEFAULTS.strength],
    keep: k,
    mode: 'guidance' as const,
    start: 'inversion' as const,
  })),
];

interface Sample {
  pair: number;
  method: string;
  weight: number;
  ssim: number;
  agree: boolean;
  pOpenmoji: number;
  gain: number;
}
const samples: Sample[] = [];
const gridTiles: Tile[] = [];
const pipe = new DiffusionPipeline(model, { threads });
let trainSeconds = 0;
let stylizeSeconds = 0;
let runs = 0;
const K = identity.classes.length;
const A = ARTIST_CLASSES.length;
const omIndex = ARTIST_CLASSES.indexOf('openmoji');

for (let p = 0; p < units.length; p++) {
  const { seed, pair: x, pictures } = units[p];
  const tTrain = performance.now();
  const { style } = a.style
    ? { style: decodeStyle(readFileSync(a.style), a.style) }
    : await trainPair({
        model,
        content: pictureOf(ds, 'noto', x, S)!,
        style: pictureOf(om, 'openmoji', x, S)!,
        name: `pair-${p}`,
        subject: x,
        steps: trainSteps,
        seed: seed * 1000 + p,
        threads,
        onProgress: (q) => {
          if (q.step % 25 === 0 || q.step === q.steps)
            process.stderr.write(`\r  pair ${p + 1}/${units.length} '${x}': step ${q.step}/${q.steps}, loss ${q.loss.toFixed(4)}   `);
        },
      });
  trainSeconds += (performance.now() - tTrain) / 1000;
  process.stderr.write('\n');
  for (let j = 0; j < pictures.length; j++) {
    const tS = performance.now();
    const picture = pictures[j].image;
    const outs: { method: string; weight: number; img: Float32Array }[] = [];
    // One inversion per keep, shared by the methods that start from it; SDEdit noise seeded per picture.
    const starts = new Map<string, Float32Array>();
    for (const m of METHODS) {
      const opts = { steps, keep: m.keep, mode: m.mode, start: m.start, seed: seed * 1000 + j };
      const key = `${m.start}:${m.keep}`;
      if (!starts.has(key)) starts.set(key, await stylizeStart(pipe, picture, opts));
      const withPlain = m.id === 'stylize';
      const mixes = [...m.weights.map((w) => [{ style, weight: w }]), ...(withPlain ? [[]] : [])];
      const r = await stylizeMixes(pipe, picture, mixes, { ...opts, from: starts.get(key) });
      m.weights.forEach((w, k) => outs.push({ method: m.id, weight: w, img: r.images[k] }));
      if (withPlain) outs.push({ method: 'reconstruction', weight: 0, img: r.images.at(-1)! });
      runs++;
    }
    stylizeSeconds += (performance.now() - tS) / 1000;
    process.stderr.write(
      `\r  pair ${p + 1}/${units.length}: stylized picture ${j + 1}/${pictures.length} (${((performance.now() - tS) / 1000).toFixed(0)} s)   `,
    );
    const stack = new Float32Array((outs.length + 1) * PX);
    stack.set(picture, 0);
    outs.forEach((o, i) => stack.set(o.img, (i + 1) * PX));
    const idProbs = await identity.probs(stack, outs.length + 1);
    const artProbs = await artist.probs(stack, outs.length + 1);
    const top1 = (i: number) => topK(idProbs.subarray(i * K, (i + 1) * K), 1)[0];
    const pOm = (i: number) => artProbs[i * A + omIndex];
    outs.forEach((o, i) =>
      samples.push({
        pair: p,
        method: o.method,
        weight: o.weight,
        ssim: ssim(picture, o.img, S),
        agree: top1(i + 1) === top1(0),
        pOpenmoji: pOm(i + 1),
        gain: pOm(i + 1) - pOm(0),
      }),
    );
    samples.push({ pair: p, method: 'input', weight: 0, ssim: 1, agree: true, pOpenmoji: pOm(0), gain: 0 });
    if (p < 2 && j < 4) {
      const at = (id: string, w: number) => outs.find((o) => o.method === id && o.weight === w)!.img;
      const mid = (m: Method) => m.weights[Math.floor((m.weights.length - 1) / 2)];
      gridTiles.push(tileOf(picture, 0, S, pictures[j].set), tileOf(at('reconstruction', 0), 0, S, 'plain'));
      for (const m of METHODS.slice(0, 3)) gridTiles.push(tileOf(at(m.id, mid(m)), 0, S, `${m.id.replace('-lora-scale', ' s')}=${mid(m)}`));
    }
  }
  process.stderr.write('\n');
}
await pipe.release();

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
const pairIds = units.map((_, p) => p);
type Metric = 'ssim' | 'identityAgreement' | 'pOpenmoji' | 'gain';
const metricOf: Record<Metric, (q: Sample) => number> = {
  ssim: (q) => q.ssim,
  identityAgreement: (q) => Number(q.agree),
  pOpenmoji: (q) => q.pOpenmoji,
  gain: (q) => q.gain,
};
const over = (pairs: readonly number[], method: string, w: number, m: Metric) =>
  mean(pairs.flatMap((p) => samples.filter((q) => q.pair === p && q.method === method && q.weight === w).map(metricOf[m])));
const rowsOf = [{ id: 'input', weights: [0] }, { id: 'reconstruction', weights: [0] }, ...METHODS.map((m) => ({ id: m.id, weights: m.weights }))];
const table = rowsOf.flatMap((m) =>
  m.weights.map((w) => {
    const intervals = Object.fromEntries(
      (Object.keys(metricOf) as Metric[]).map((k) => [k, bootstrap(pairIds, (ps) => over(ps, m.id, w, k), { seed: 7 })]),
    ) as Record<Metric, Interval>;
    return { method: m.id, weight: w, intervals, n: samples.filter((q) => q.method === m.id && q.weight === w).length };
  }),
);

const header = ['method', 'weight', 'SSIM to input', 'identity agreement', 'P(openmoji)', 'gain over input'];
const lines = table.map((r) => [
  r.method,
  r.weight,
  numInterval(r.intervals.ssim),
  pctInterval(r.intervals.identityAgreement),
  pctInterval(r.intervals.pOpenmoji),
  numInterval(r.intervals.gain),
]);
console.log(formatTable(header, lines));
const seconds = (performance.now() - t0) / 1000;
console.log(
  `\n${units.length} pairs x ${nSubjects} pictures, seeds ${seedList.join(',')}, ${steps} steps, keep ${keep}; training ${trainSeconds.toFixed(0)} s, stylizing ${stylizeSeconds.toFixed(0)} s (${runs} runs), ${seconds.toFixed(0)} s in all`,
);

const curve = (id: string, weights: number[]) => [
  { x: over(pairIds, 'reconstruction', 0, 'ssim'), y: over(pairIds, 'reconstruction', 0, 'pOpenmoji'), label: '0' },
  ...weights.map((w) => ({ x: over(pairIds, id, w, 'ssim'), y: over(pairIds, id, w, 'pOpenmoji'), label: String(w) })),
];
const curveAgree = (id: string, weights: number[]) => [
  { x: over(pairIds, 'reconstruction', 0, 'identityAgreement'), y: over(pairIds, 'reconstruction', 0, 'pOpenmoji'), label: '0' },
  ...weights.map((w) => ({ x: over(pairIds, id, w, 'identityAgreement'), y: over(pairIds, id, w, 'pOpenmoji'), label: String(w) })),
];
const baseMethods = METHODS.slice(0, 3);
const panels: Panel[] = [
  {
    title: 'style gained vs structure kept (SSIM)',
    xLabel: 'SSIM to the input',
    yLabel: 'P(openmoji), artist judge',
    series: baseMethods.map((m, k) => ({ name: m.label, points: curve(m.id, m.weights), dashed: k > 0 })),
  },
  {
    title: 'style gained vs identity kept',
    xLabel: 'identity agreement with the input',
    yLabel: 'P(openmoji), artist judge',
    series: baseMethods.map((m, k) => ({ name: m.label, points: curveAgree(m.id, m.weights), dashed: k > 0 })),
  },
];
for (const f of [a.out!, a.plot!, a.grid!]) mkdirSync(dirname(f), { recursive: true });
writeFileSync(a.plot!, await plotPng(panels, { title: `stylize on ${units.length} pairs x ${nSubjects} pictures (keep ${keep}, ${steps} steps)` }));
if (gridTiles.length) writeFileSync(a.grid!, await gridPng(gridTiles, { columns: 5, scale: 3, labelHeight: 14 }));
writeFileSync(
  a.out!,
  JSON.stringify(
    {
      command: `npm run eval:stylize -- ${process.argv.slice(2).join(' ')}`.trim(),
      model: a.model,
      steps,
      keep,
      trainSteps,
      seeds: seedList,
      units: units.map((u) => ({ seed: u.seed, pair: u.pair, pictures: u.pictures.map((p) => `${p.set}:${p.subject}`) })),
      methods: METHODS.map(({ id, label, weights, keep: k, mode, start }) => ({ id, label, weights, keep: k, mode, start })),
      table,
      seconds,
    },
    null,
    2,
  ),
);
log(`wrote ${a.out}, ${a.plot}, ${a.grid}`);
