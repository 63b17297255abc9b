/**
 * Evaluation of stylizing a given picture (src/pair/stylize.ts) against two baselines:
 * npm run eval:stylize -- [options]
 *
 *   --model DIR        model folder (default models/emoji-mini)
 *   --targets LIST     the styles learned: artist sets the embedded model never saw and an artist judge
 *                      knows (default: those of openmoji,fluent-hc,streamline-emoji,fluent-3d that the model was
 *                      not pretrained on: OpenMoji alone for the shipped v2 weights; also the evaluation-only
 *                      emojione, noto-v1, emojione-v1, as in eval:pair; as there, a target whose artist judge
 *                      fails the gate is refused)
 *   --pairs N          training pairs per seed and target (Noto drawing of X -> the target's drawing of X), default 1
 *   --subjects N       pictures stylized per pair: drawings by the other artists (not the target) of
 *                      evaluation-half subjects other than X, the same for every pair of a seed and target; default 4
 *   --seeds LIST       independent draws of pairs, pictures, SDEdit noise and draw seeds (default 0,1)
 *   --cfg W            CFG of the draws compared with (default: draw's)
 *   --no-draw          leave out the draws of the pictures' subjects (the comparison with draw)
 *   --strengths LIST   style-guidance weights of the method (default 1,2,3,4.5)
 *   --scales LIST      LoRA scales of the baselines (default 0.5,1,1.5,2)
 *   --keeps LIST       keep values of the method at the default strength: the curve over keep (default none)
 *   --keep K           keep of every method's strength sweep (default: the stylize default)
 *   --variants LIST    more rows of the method, ';'-separated, each comma-separated key=value of keep,
 *                      strength, its structure guidance: weight, sigma, until, match (or structure=none),
 *                      and its feature injection: inject (points joined by '+': resnets, attention; or
 *                      none), inject_until, inject_levels, inject_mix, and prompt=subject (the picture's subject as the
 *                      prompt it is inverted and stylized under, instead of the neutral one); e.g. "keep=0.7,weight=1,sigma=0.0625,until=0.5;
 *                      keep=0.5,inject=resnets+attention,inject_until=1"; unset keys take the defaults
 *                      (a screen of settings on the same pairs and pictures). Each variant is compared
 *                      with draw at its strength (the difference of gains, paired over the pairs).
 *   --style FILE       use this style file for every pair instead of training one per pair (a quick sweep of settings)
 *   --steps N          sampler steps (default: the stylize default); --train-steps N (default: the pair defaults)
 *   --out FILE --plot FILE --grid FILE   default data/eval/stylize.json, stylize-plot.png, stylize-grid.png
 *   --threads N        onnxruntime threads; --classifiers DIR where the cached judges live (default data/eval)
 *   --identity-judge V the identity judge's protocol, v3 (default) or v4, as in eval:pair
 *
 * Methods, on the same pictures and styles:
 *   stylize              DDIM inversion (refined) + style guidance (the method, with its default structure guidance)
 *   stylize-no-structure the method without structure guidance (when its default has one)
 *   sdedit-lora-scale    plain SDEdit: the picture noised to the start step, denoised with the StyleLoRA by LoRA scale
 *   inversion-lora-scale the same DDIM inversion, denoised with the StyleLoRA by LoRA scale (no style guidance)
 * and the plain reconstruction (inversion, no style) as the reference; and, to compare style gained with
 * draw's at the same strength, `draw` (src/pair/draw.ts, style guidance, with its unstyled counterpart
 * from the same seed) of each picture's subject as the prompt, with the same style.
 * Metrics per output, against the input picture: structure kept = SSIM to the input and identity
 * agreement (the identity judge's top-1 subject of the output is that of the input); style gained =
 * the artist judge's P(target), its gain over the input's and over the plain reconstruction's (for
 * draw: over its unstyled counterpart's; its SSIM and agreement are to that counterpart). 95% intervals:
 * percentile bootstrap over the pairs (each pair is its own training). Judges never saw what they
 * judge (src/eval/classifiers.ts).
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
  ensureIdentityClassifier,
  ensureTargetJudges,
  EVAL_DIR,
  heldOutTargetsFor,
  isEvaluationSubject,
  JUDGE_DATASET,
  notoTargetSubjects,
  parseIdentityProtocol,
  parseTargets,
  checkTargetsHeldOut,
  checkJudgesPassGate,
} from '../src/eval/classifiers.ts';
import { formatTable, loadEvalModel, numberList, pictureOf, tileOf } from '../src/eval/generate.ts';
import { plotPng, type Panel } from '../src/eval/plot.ts';
import { ssim } from '../src/eval/ssim.ts';
import { bootstrap, numInterval, pctInterval, type Interval } from '../src/eval/stats.ts';
import { gridPng, type Tile } from '../src/images/grid.ts';
import { rgbToUnit } from '../src/formats/pixels.ts';
import { decodeStyle } from '../src/pair/style-file.ts';
import { PAIR_DEFAULTS, trainPair } from '../src/pair/train.ts';
import { drawMixes } from '../src/pair/draw.ts';
import { DRAW_DEFAULTS } from '../commands/draw.ts';
import { STYLIZE_DEFAULTS, stylizeMixes, stylizeStart } from '../src/pair/stylize.ts';
import type { StructureGuidance } from '../src/diffusion/structure-guidance.ts';
import { stylizeInjectionOf, type StylizeInjection } from '../src/pair/stylize.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    targets: { type: 'string' },
    'identity-judge': { type: 'string' },
    pairs: { type: 'string', default: '1' },
    cfg: { type: 'string', default: String(DRAW_DEFAULTS.cfg) },
    'no-draw': { type: 'boolean', default: false },
    subjects: { type: 'string', default: '4' },
    seeds: { type: 'string', default: '0,1' },
    strengths: { type: 'string', default: '1,2,3,4.5' },
    scales: { type: 'string', default: '0.5,1,1.5,2' },
    keeps: { type: 'string', default: '' },
    keep: { type: 'string', default: String(STYLIZE_DEFAULTS.keep) },
    variants: { type: 'string', default: '' },
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
const defaultStrength = STYLIZE_DEFAULTS.strength;
// The method's sweep always holds the default strength (the goals are read there).
const strengths = [...new Set([...list(a.strengths!).filter((v) => v > 0), defaultStrength])].sort((x, y) => x - y);
const scales = list(a.scales!).filter((v) => v > 0);
const keep = Number(a.keep);
const keeps = list(a.keeps!).filter((k) => k !== keep && k < 1);
const nPairs = Number(a.pairs);
const nSubjects = Number(a.subjects);
const steps = Number(a.steps);
const trainSteps = Number(a['train-steps']);
const seedList = list(a.seeds!);
const threads = a.threads === undefined ? undefined : Number(a.threads);
const cfg = Number(a.cfg);
const withDraw = !a['no-draw'];
const targets = a.targets === undefined ? heldOutTargetsFor(a.model!) : parseTargets(a.targets);
checkTargetsHeldOut(targets, a.model!);
const log = (s: string) => console.error(s);

const model = await loadEvalModel(a.model!);
const ds = loadDataset(a.data!);
const identity = await ensureIdentityClassifier({ dataset: a.data, dir: a.classifiers, threads, log, protocol: parseIdentityProtocol(a['identity-judge']) });
const judges = await ensureTargetJudges(targets, ds, { dataset: a.data, dir: a.classifiers, threads, log });
checkJudgesPassGate(judges);
const S = model.imageSize;
const PX = 3 * S * S;
const classIndex = new Map(identity.classes.map((c, i) => [c, i]));
const targetSet = (t: string) => judges.get(t)!.drawings;
// Pairs: evaluation-half subjects with a Noto and a target drawing. Pictures: evaluation-half subjects
// the identity judge knows, drawn by one of the artists other than the target.
const pairPoolOf = (t: string) => notoTargetSubjects(ds, targetSet(t), t);
const picturePoolOf = (t: string) =>
  ds.items
    .map((it, i) => ({ ...it, i }))
    .filter((it) => it.set !== t && (ARTIST_CLASSES as readonly string[]).includes(it.set) && classIndex.has(it.subject) && isEvaluationSubject(it.subject));

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
  target: string;
  pair: string;
  pictures: { set: string; subject: string; image: Float32Array }[];
}
const units: Unit[] = seedList.flatMap((seed) =>
  targets.flatMap((target, ti) => {
    const rng = new Rng(seed + 5151 + 7919 * ti);
    const pairs = shuffled(pairPoolOf(target), rng).slice(0, nPairs);
    const pictures = shuffled(
      picturePoolOf(target).filter((it) => !pairs.includes(it.subject)),
      rng,
    )
      .filter((it, k, all) => all.findIndex((o) => o.subject === it.subject) === k)
      .slice(0, nSubjects)
      .map((it) => ({ set: it.set, subject: it.subject, image: rgbToUnit(samplePixels(ds, it.i), S, S) }));
    log(`seed ${seed}, ${target}: pairs ${pairs.join(', ')}\n  pictures: ${pictures.map((p) => `${p.set}:${p.subject}`).join(', ')}`);
    return pairs.map((pair) => ({ seed, target, pair, pictures }));
  }),
);

interface Method {
  id: string;
  label: string;
  weights: number[];
  keep: number;
  mode: 'guidance' | 'lora-scale';
  start: 'inversion' | 'sdedit';
  /** The method's structure guidance (null: none; the baselines have none). */
  structure: StructureGuidance | null;
  /** The method's feature injection (null: none; the baselines have none). */
  injection: StylizeInjection | null;
  /** 'subject': the picture's subject is the prompt it is inverted and stylized under (default: the neutral prompt). */
  prompt?: 'subject';
}
const defaultStructure = STYLIZE_DEFAULTS.structure;
const defaultInjection = STYLIZE_DEFAULTS.injection;
const VARIANT_KEYS = ['keep', 'strength', 'weight', 'sigma', 'until', 'match', 'structure', 'inject', 'inject_until', 'inject_levels', 'inject_mix', 'prompt'];
// --variants: 'keep=0.7,weight=1,sigma=0.0625,until=0.5;...' -> rows of the method.
const variants: Method[] = a
  .variants!.split(';')
  .map((v) => v.trim())
  .filter(Boolean)
  .map((spec) => {
    const kv = Object.fromEntries(spec.split(',').map((p) => p.split('=').map((q) => q.trim())));
    for (const k of Object.keys(kv))
      if (!VARIANT_KEYS.includes(k)) throw new Error(`--variants: unknown key '${k}' in '${spec}' (keys: ${VARIANT_KEYS.join(', ')})`);
    const numOf = (k: string, d: number) => (kv[k] === undefined ? d : Number(kv[k]));
    const base = defaultStructure ?? { weight: 1, sigma: 1 / 16, until: 1 };
    const structure =
      kv.structure === 'none'
        ? null
        : kv.weight || kv.sigma || kv.until || kv.match
          ? {
              weight: numOf('weight', base.weight),
              sigma: numOf('sigma', base.sigma),
              until: numOf('until', base.until),
              ...((kv.match ?? base.match) ? { match: (kv.match ?? base.match) as 'low-pass' | 'layout' } : {}),
            }
          : defaultStructure;
    const injection = stylizeInjectionOf({
      points: kv.inject,
      until: kv.inject_until === undefined ? undefined : Number(kv.inject_until),
      levels: kv.inject_levels === undefined ? undefined : Number(kv.inject_levels),
      mix: kv.inject_mix === undefined ? undefined : Number(kv.inject_mix),
    });
    return {
      id: `stylize[${spec.replace(/\s+/g, '')}]`,
      label: `the method, ${spec}`,
      weights: [numOf('strength', defaultStrength)],
      keep: numOf('keep', keep),
      mode: 'guidance' as const,
      start: 'inversion' as const,
      structure,
      injection,
      ...(kv.prompt === 'subject' ? { prompt: 'subject' as const } : {}),
    };
  });
const METHODS: Method[] = [
  {
    id: 'stylize',
    label: 'inversion + style guidance (the method)',
    weights: strengths,
    keep,
    mode: 'guidance',
    start: 'inversion',
    structure: defaultStructure,
    injection: defaultInjection,
  },
  {
    id: 'sdedit-lora-scale',
    label: 'SDEdit + StyleLoRA by LoRA scale',
    weights: scales,
    keep,
    mode: 'lora-scale',
    start: 'sdedit',
    structure: null,
    injection: null,
  },
  {
    id: 'inversion-lora-scale',
    label: 'inversion + StyleLoRA by LoRA scale',
    weights: scales,
    keep,
    mode: 'lora-scale',
    start: 'inversion',
    structure: null,
    injection: null,
  },
  ...(defaultStructure
    ? [
        {
          id: 'stylize-no-structure',
          label: 'the method without structure guidance',
          weights: strengths,
          keep,
          mode: 'guidance' as const,
          start: 'inversion' as const,
          structure: null,
          injection: defaultInjection,
        },
      ]
    : []),
  ...keeps.map((k) => ({
    id: `stylize-keep-${k}`,
    label: `the method at keep ${k}`,
    weights: [defaultStrength],
    keep: k,
    mode: 'guidance' as const,
    start: 'inversion' as const,
    structure: defaultStructure,
    injection: defaultInjection,
  })),
  ...variants,
];
// Draw runs at the method's strengths and at every variant's (each variant is compared with draw at its strength).
const drawStrengths = [...new Set([...strengths, ...variants.map((v) => v.weights[0])])].sort((x, y) => x - y);

interface Sample {
  pair: number;
  method: string;
  weight: number;
  ssim: number;
  agree: boolean;
  /** The artist judge's P(the unit's target set). */
  pStyle: number;
  /** Over the input's P(target) (draw: over its unstyled counterpart's). */
  gain: number;
  /** Over the plain reconstruction's P(target) (draw: over its unstyled counterpart's). */
  gainOverPlain: number;
}
const samples: Sample[] = [];
const GRID_COLUMNS = withDraw ? 7 : 5;
const gridTiles: Tile[] = [];
const pipe = new DiffusionPipeline(model, { threads });
let trainSeconds = 0;
let stylizeSeconds = 0;
let drawSeconds = 0;
let runs = 0;
const K = identity.classes.length;

for (let p = 0; p < units.length; p++) {
  const { seed, target, pair: x, pictures } = units[p];
  const { artist, index: styleIndex } = judges.get(target)!;
  const A = artist.classes.length;
  const tTrain = performance.now();
  const { style } = a.style
    ? { style: decodeStyle(readFileSync(a.style), a.style) }
    : await trainPair({
        model,
        content: pictureOf(ds, 'noto', x, S)!,
        style: pictureOf(targetSet(target), target, x, S)!,
        name: `pair-${p}`,
        subject: x,
        steps: trainSteps,
        seed: seed * 1000 + p,
        threads,
        onProgress: (q) => {
          if (q.step % 25 === 0 || q.step === q.steps)
            process.stderr.write(`\r  pair ${p + 1}/${units.length} '${x}' -> ${target}: step ${q.step}/${q.steps}, loss ${q.loss.toFixed(4)}   `);
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
      const prompt = m.prompt === 'subject' ? pictures[j].subject : undefined;
      const opts = { steps, keep: m.keep, mode: m.mode, start: m.start, seed: seed * 1000 + j, structure: m.structure, injection: m.injection, prompt };
      const key = `${m.start}:${m.keep}:${prompt ?? ''}`;
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
    // Draws of the picture's subject with the same style at the method's strengths, and the unstyled counterpart.
    const tD = performance.now();
    const drawn = withDraw
      ? (
          await drawMixes(pipe, [[], ...drawStrengths.map((w) => [{ style, weight: w }])], {
            prompt: pictures[j].subject,
            seed: seed * 1000 + j,
            steps,
            cfg,
          })
        ).images
      : [];
    drawSeconds += (performance.now() - tD) / 1000;
    const all = [picture, ...outs.map((o) => o.img), ...drawn];
    const stack = new Float32Array(all.length * PX);
    all.forEach((img, i) => stack.set(img, i * PX));
    const idProbs = await identity.probs(stack, all.length);
    const artProbs = await artist.probs(stack, all.length);
    const top1 = (i: number) => topK(idProbs.subarray(i * K, (i + 1) * K), 1)[0];
    const pT = (i: number) => artProbs[i * A + styleIndex];
    const plainAt = 1 + outs.findIndex((o) => o.method === 'reconstruction');
    outs.forEach((o, i) =>
      samples.push({
        pair: p,
        method: o.method,
        weight: o.weight,
        ssim: ssim(picture, o.img, S),
        agree: top1(i + 1) === top1(0),
        pStyle: pT(i + 1),
        gain: pT(i + 1) - pT(0),
        gainOverPlain: pT(i + 1) - pT(plainAt),
      }),
    );
    samples.push({ pair: p, method: 'input', weight: 0, ssim: 1, agree: true, pStyle: pT(0), gain: 0, gainOverPlain: 0 });
    if (withDraw) {
      const d0 = 1 + outs.length;
      samples.push({ pair: p, method: 'draw', weight: 0, ssim: 1, agree: true, pStyle: pT(d0), gain: 0, gainOverPlain: 0 });
      drawStrengths.forEach((w, k) =>
        samples.push({
          pair: p,
          method: 'draw',
          weight: w,
          ssim: ssim(drawn[0], drawn[k + 1], S),
          agree: top1(d0 + k + 1) === top1(d0),
          pStyle: pT(d0 + k + 1),
          gain: pT(d0 + k + 1) - pT(d0),
          gainOverPlain: pT(d0 + k + 1) - pT(d0),
        }),
      );
    }
    if (j === 0 && gridTiles.length < 8 * GRID_COLUMNS) {
      const at = (id: string, w: number) => outs.find((o) => o.method === id && o.weight === w)!.img;
      const mid = (m: Method) => m.weights[Math.floor((m.weights.length - 1) / 2)];
      gridTiles.push(tileOf(picture, 0, S, `${pictures[j].set}>${target}`), tileOf(at('reconstruction', 0), 0, S, 'plain'));
      gridTiles.push(tileOf(at('stylize', defaultStrength), 0, S, `stylize ${defaultStrength}`));
      for (const m of METHODS.slice(1, 3)) gridTiles.push(tileOf(at(m.id, mid(m)), 0, S, `${m.id.replace('-lora-scale', ' s')}=${mid(m)}`));
      if (withDraw)
        gridTiles.push(tileOf(drawn[0], 0, S, 'draw plain'), tileOf(drawn[1 + drawStrengths.indexOf(defaultStrength)], 0, S, `draw ${defaultStrength}`));
    }
  }
  process.stderr.write('\n');
}
await pipe.release();

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
const pairIds = units.map((_, p) => p);
type Metric = 'ssim' | 'identityAgreement' | 'pStyle' | 'gain' | 'gainOverPlain';
const metricOf: Record<Metric, (q: Sample) => number> = {
  ssim: (q) => q.ssim,
  identityAgreement: (q) => Number(q.agree),
  pStyle: (q) => q.pStyle,
  gain: (q) => q.gain,
  gainOverPlain: (q) => q.gainOverPlain,
};
const over = (pairs: readonly number[], method: string, w: number, m: Metric) =>
  mean(pairs.flatMap((p) => samples.filter((q) => q.pair === p && q.method === method && q.weight === w).map(metricOf[m])));
const rowsOf = [
  { id: 'input', weights: [0] },
  { id: 'reconstruction', weights: [0] },
  ...METHODS.map((m) => ({ id: m.id, weights: m.weights })),
  ...(withDraw ? [{ id: 'draw', weights: [0, ...drawStrengths] }] : []),
];
const intervalsOf = (pairs: readonly number[], id: string, w: number) =>
  Object.fromEntries((Object.keys(metricOf) as Metric[]).map((k) => [k, bootstrap(pairs, (ps) => over(ps, id, w, k), { seed: 7 })])) as Record<
    Metric,
    Interval
  >;
const table = rowsOf.flatMap((m) =>
  m.weights.map((w) => ({
    method: m.id,
    weight: w,
    intervals: intervalsOf(pairIds, m.id, w),
    n: samples.filter((q) => q.method === m.id && q.weight === w).length,
  })),
);

const header = ['method', 'weight', 'SSIM to input', 'identity agreement', 'P(target)', 'gain over input', 'gain over plain'];
const lines = table.map((r) => [
  r.method,
  r.weight,
  numInterval(r.intervals.ssim),
  pctInterval(r.intervals.identityAgreement),
  pctInterval(r.intervals.pStyle),
  numInterval(r.intervals.gain),
  numInterval(r.intervals.gainOverPlain),
]);
console.log(formatTable(header, lines));
if (withDraw) console.log('(draw rows: SSIM, agreement and gains are to its unstyled counterpart from the same seed, weight 0)');

// Per target: the method at the defaults and draw at the same strength.
const perTarget = targets.map((t) => {
  const ps = pairIds.filter((p) => units[p].target === t);
  return {
    target: t,
    pairs: ps.length,
    stylize: intervalsOf(ps, 'stylize', defaultStrength),
    draw: withDraw ? intervalsOf(ps, 'draw', defaultStrength) : null,
  };
});
console.log(`\nper target, strength ${defaultStrength}, keep ${keep}:`);
console.log(
  formatTable(
    ['target', 'pairs', 'SSIM', 'identity agreement', 'stylize gain over input', 'stylize gain over plain', 'draw gain'],
    perTarget.map((r) => [
      r.target,
      r.pairs,
      numInterval(r.stylize.ssim),
      pctInterval(r.stylize.identityAgreement),
      numInterval(r.stylize.gain),
      numInterval(r.stylize.gainOverPlain),
      r.draw ? numInterval(r.draw.gain) : 'n/a',
    ]),
  ),
);

// The goals at the defaults: structure kept, and style gained at least draw's at the same strength
// (the difference bootstrapped over the same pairs, so that what both share cancels).
const atDefault = intervalsOf(pairIds, 'stylize', defaultStrength);
const differenceOf = (m: Metric) =>
  bootstrap(pairIds, (ps) => over(ps, 'stylize', defaultStrength, m) - over(ps, 'draw', defaultStrength, 'gain'), { seed: 7 });
const goals = {
  identityAgreement: { interval: atDefault.identityAgreement, goal: 0.7 },
  ssim: { interval: atDefault.ssim, goal: 0.6 },
  ...(withDraw
    ? { gainMinusDraw: { interval: differenceOf('gain'), goal: 0 }, gainOverPlainMinusDraw: { interval: differenceOf('gainOverPlain'), goal: 0 } }
    : {}),
};
const verdict = (i: Interval, goal: number) =>
  i.low >= goal
    ? 'met (interval above)'
    : i.high < goal
      ? 'not met (interval below)'
      : i.value >= goal
        ? 'met on the mean, inside the noise'
        : 'not met on the mean, inside the noise';
console.log(`\ngoals at the defaults (keep ${keep}, strength ${defaultStrength}):`);
for (const [k, g] of Object.entries(goals)) console.log(`  ${k}: ${numInterval(g.interval)} (goal >= ${g.goal}): ${verdict(g.interval, g.goal)}`);

// Each variant against the goals, with draw at its strength (the difference paired over the same pairs).
const variantGoals = variants.map((v) => {
  const w = v.weights[0];
  const at = intervalsOf(pairIds, v.id, w);
  const draw = withDraw ? intervalsOf(pairIds, 'draw', w) : null;
  const difference = withDraw ? bootstrap(pairIds, (ps) => over(ps, v.id, w, 'gain') - over(ps, 'draw', w, 'gain'), { seed: 7 }) : null;
  return { id: v.id, strength: w, ssim: at.ssim, identityAgreement: at.identityAgreement, gain: at.gain, drawGain: draw?.gain ?? null, difference };
});
if (variantGoals.length) {
  console.log('\nvariants against the goals (identity >= 70%, SSIM >= 0.6, gain - draw gain at the same strength >= 0):');
  console.log(
    formatTable(
      ['variant', 'strength', 'identity agreement', 'SSIM', 'gain over input', 'draw gain', 'gain - draw gain'],
      variantGoals.map((r) => [
        r.id,
        r.strength,
        `${pctInterval(r.identityAgreement)} ${r.identityAgreement.value >= 0.7 ? '(met)' : ''}`.trim(),
        `${numInterval(r.ssim)} ${r.ssim.value >= 0.6 ? '(met)' : ''}`.trim(),
        numInterval(r.gain),
        r.drawGain ? numInterval(r.drawGain) : 'n/a',
        r.difference ? `${numInterval(r.difference)} ${r.difference.value >= 0 ? '(met on the mean)' : ''}`.trim() : 'n/a',
      ]),
    ),
  );
}

const seconds = (performance.now() - t0) / 1000;
console.log(
  `\n${units.length} pairs (${targets.join(', ')}; ${nPairs} per seed and target) x ${nSubjects} pictures, seeds ${seedList.join(',')}, ${steps} steps, keep ${keep}; ` +
    `training ${trainSeconds.toFixed(0)} s, stylizing ${stylizeSeconds.toFixed(0)} s (${runs} runs), drawing ${drawSeconds.toFixed(0)} s, ${seconds.toFixed(0)} s in all`,
);

const point = (id: string, w: number, x: Metric, label: string) => ({ x: over(pairIds, id, w, x), y: over(pairIds, id, w, 'gain'), label });
const curve = (id: string, weights: number[], x: Metric) => [point('reconstruction', 0, x, '0'), ...weights.map((w) => point(id, w, x, String(w)))];
const baseMethods = METHODS.slice(0, 3);
const keepCurve = [...keeps, keep]
  .sort((x, y) => x - y)
  .map((k) => {
    const id = k === keep ? 'stylize' : `stylize-keep-${k}`;
    return { ssim: point(id, defaultStrength, 'ssim', String(k)), agree: point(id, defaultStrength, 'identityAgreement', String(k)) };
  });
const drawSeries = (x: Metric) =>
  withDraw && x === 'ssim' ? [{ name: 'draw (SSIM to its plain draw)', points: strengths.map((w) => point('draw', w, x, String(w))), dashed: true }] : [];
const panels: Panel[] = (['ssim', 'identityAgreement'] as const).map((x) => ({
  title: x === 'ssim' ? 'style gained vs structure kept (SSIM)' : 'style gained vs identity kept',
  xLabel: x === 'ssim' ? 'SSIM to the input' : 'identity agreement with the input',
  yLabel: 'gain of P(target) over the input',
  series: [
    ...baseMethods.map((m, k) => ({ name: m.label, points: curve(m.id, m.weights, x), dashed: k > 0 })),
    ...(keepCurve.length > 1
      ? [{ name: `the method, keep swept (strength ${defaultStrength}; labels: keep)`, points: keepCurve.map((c) => (x === 'ssim' ? c.ssim : c.agree)) }]
      : []),
    ...drawSeries(x),
  ],
}));
for (const f of [a.out!, a.plot!, a.grid!]) mkdirSync(dirname(f), { recursive: true });
writeFileSync(
  a.plot!,
  await plotPng(panels, {
    title: `stylize: ${units.length} pairs (${targets.length} styles) x ${nSubjects} pictures, keep ${keep}, ${steps} steps; labels: weight`,
  }),
);
if (gridTiles.length) writeFileSync(a.grid!, await gridPng(gridTiles, { columns: GRID_COLUMNS, scale: 3, labelHeight: 14 }));
writeFileSync(
  a.out!,
  JSON.stringify(
    {
      command: `npm run eval:stylize -- ${process.argv.slice(2).join(' ')}`.trim(),
      model: a.model,
      steps,
      keep,
      cfg,
      trainSteps,
      seeds: seedList,
      targets,
      units: units.map((u) => ({ seed: u.seed, target: u.target, pair: u.pair, pictures: u.pictures.map((p) => `${p.set}:${p.subject}`) })),
      methods: METHODS.map(({ id, label, weights, keep: k, mode, start, structure, injection }) => ({
        id,
        label,
        weights,
        keep: k,
        mode,
        start,
        structure,
        injection,
      })),
      table,
      perTarget,
      goals,
      variantGoals,
      seconds,
      trainSeconds,
      stylizeSeconds,
      drawSeconds,
    },
    null,
    2,
  ),
);
log(`wrote ${a.out}, ${a.plot}, ${a.grid}`);
