/**
 * Evaluation of a base text-to-image model: npm run eval:base -- [options]
 *
 *   --model DIR        model folder (default models/emoji-mini; e.g. a checkpoint exported with
 *                      npx tsx scripts/export-emoji-mini.ts --from /root/pairstyle-runs/emoji-mini --to scratch/model-ck)
 *   --captions N       captions drawn from the training sets (default 200)
 *   --steps N --cfg W  sampler steps and CFG scale (default 30 and 5), --sampler ddim|euler|dpmpp2m
 *   --batch N          pictures per UNet run (default 16; each CFG picture is 2 rows)
 *   --grid FILE        side-by-side grid generated vs real for 16 subjects (default data/eval/base-grid.png)
 *   --out FILE         JSON report (default data/eval/base.json)
 *   --threads N        onnxruntime threads (default: all cores)
 *   --no-artist        skip the style check by the artist-set classifier
 *   --classifiers DIR  where the cached classifiers live (default data/eval)
 *   --retrain          retrain the cached classifiers (data/eval/*.safetensors)
 *
 * For (a) N captions "<subject> in <set> style" of pictures of the pretraining sets whose subject the
 * identity classifier knows (subjects drawn by >= 2 sets), and (b) the same subjects with the style
 * phrase swapped to another set, draws one picture each (seed = caption index) and reports the identity
 * classifier's top-1 and top-5 recognition of the subject. The artist-set classifier also says how
 * often the picture is classified as the set named in the prompt (style following).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset, samplePixels } from '../src/data/dataset.ts';
import { PRETRAIN_SETS, styleOf, type PretrainSetId } from '../src/data/emoji-sets.ts';
import { DiffusionPipeline } from '../src/diffusion/pipeline.ts';
import { Rng } from '../src/diffusion/rng.ts';
import type { SamplerName } from '../src/diffusion/samplers.ts';
import { topK } from '../src/eval/classifier.ts';
import { ARTIST_CLASSES, ensureArtistClassifier, ensureIdentityClassifier, EVAL_DIR } from '../src/eval/classifiers.ts';
import { drawCfgBatched, formatTable, loadEvalModel, pct, tileOf } from '../src/eval/generate.ts';
import { gridPng } from '../src/images/grid.ts';
import { rgbToUnit } from '../src/models/pixel-codec.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    captions: { type: 'string', default: '200' },
    steps: { type: 'string', default: '30' },
    cfg: { type: 'string', default: '5' },
    sampler: { type: 'string', default: 'ddim' },
    batch: { type: 'string', default: '16' },
    seed: { type: 'string', default: '0' },
    grid: { type: 'string', default: `${EVAL_DIR}/base-grid.png` },
    out: { type: 'string', default: `${EVAL_DIR}/base.json` },
    data: { type: 'string', default: 'data/emoji32.bin' },
    classifiers: { type: 'string', default: EVAL_DIR },
    threads: { type: 'string' },
    'no-artist': { type: 'boolean', default: false },
    retrain: { type: 'boolean', default: false },
  },
});
const t0 = performance.now();
const n = Number(a.captions);
const steps = Number(a.steps);
const cfg = Number(a.cfg);
const seed = Number(a.seed);
const threads = a.threads === undefined ? undefined : Number(a.threads);
const log = (s: string) => console.error(s);

const model = await loadEvalModel(a.model!);
const ds = loadDataset(a.data!);
const identity = await ensureIdentityClassifier({ dataset: a.data, dir: a.classifiers, threads, retrain: a.retrain, log });
const artist = a['no-artist'] ? null : await ensureArtistClassifier({ dataset: a.data, dir: a.classifiers, threads, retrain: a.retrain, log });
const classIndex = new Map(identity.classes.map((c, i) => [c, i]));

// (a) N pictures of the training sets, subjects the classifier knows; (b) the style phrase swapped.
const rng = new Rng(seed);
const pool = ds.items.map((it, i) => ({ it, i })).filter(({ it }) => classIndex.has(it.subject));
for (let i = pool.length - 1; i > 0; i--) {
  const j = rng.int(i + 1);
  [pool[i], pool[j]] = [pool[j], pool[i]];
}
const setIds = PRETRAIN_SETS.map((s) => s.id as PretrainSetId);
const picks = pool.slice(0, n).map(({ it, i }) => {
  const own = setIds.indexOf(it.set as PretrainSetId);
  const other = setIds[(own + 1 + rng.int(setIds.length - 1)) % setIds.length];
  return { item: i, subject: it.subject, set: it.set as PretrainSetId, swappedSet: other, label: classIndex.get(it.subject)! };
});
const captionsA = picks.map((p) => `${p.subject} in ${styleOf(p.set)}`);
const captionsB = picks.map((p) => `${p.subject} in ${styleOf(p.swappedSet)}`);
const seeds = picks.map((_, i) => seed * 100_003 + i);

const pipe = new DiffusionPipeline(model, { threads });
const drawStart = performance.now();
const batch = Math.max(1, Math.min(Number(a.batch), picks.length));
const progress = (what: string) => (done: number, total: number) => process.stderr.write(`\r${what}: ${done}/${total} pictures (${((performance.now() - drawStart) / 1000).toFixed(0)} s)`);
const imagesA = await drawCfgBatched(pipe, captionsA, seeds, { steps, cfg, batch, sampler: a.sampler as SamplerName, onBatch: progress('(a) training captions') });
process.stderr.write('\n');
const imagesB = await drawCfgBatched(pipe, captionsB, seeds, { steps, cfg, batch, sampler: a.sampler as SamplerName, onBatch: progress('(b) style swapped') });
process.stderr.write('\n');
const drawSeconds = (performance.now() - drawStart) / 1000;
await pipe.release();

interface Scored {
  top1: number;
  top5: number;
  /** Share classified as the set named in the prompt (artist classifier), if measured. */
  promptedSet?: number;
  perCaption: { caption: string; top5: string[]; rank: number | null; artist?: string }[];
}

async function score(images: Float32Array, captions: string[], sets: PretrainSetId[]): Promise<Scored> {
  const k = identity.classes.length;
  const probs = await identity.probs(images, picks.length);
  const art = artist ? await artist.probs(images, picks.length) : null;
  let top1 = 0;
  let top5 = 0;
  let promptedSet = 0;
  const perCaption = picks.map((p, i) => {
    const best = topK(probs.subarray(i * k, (i + 1) * k), 5);
    const rank = best.indexOf(p.label);
    if (rank === 0) top1++;
    if (rank >= 0) top5++;
    let artistName: string | undefined;
    if (art) {
      artistName = ARTIST_CLASSES[topK(art.subarray(i * 4, (i + 1) * 4), 1)[0]];
      if (artistName === sets[i]) promptedSet++;
    }
    return { caption: captions[i], top5: best.map((c) => identity.classes[c]), rank: rank >= 0 ? rank + 1 : null, ...(artistName ? { artist: artistName } : {}) };
  });
  const m = picks.length;
  return { top1: top1 / m, top5: top5 / m, ...(art ? { promptedSet: promptedSet / m } : {}), perCaption };
}

const resA = await score(imagesA, captionsA, picks.map((p) => p.set));
const resB = await score(imagesB, captionsB, picks.map((p) => p.swappedSet));

// The same classifiers on the real pictures of the (a) items, for scale (the identity classifier's
// refit epochs saw them, so this is an upper reference, not a held-out figure).
const s = ds.height;
const real = new Float32Array(picks.length * 3 * s * s);
picks.forEach((p, i) => real.set(rgbToUnit(samplePixels(ds, p.item), s, s), i * 3 * s * s));
const resReal = await score(real, picks.map((p) => `real ${p.subject} (${p.set})`), picks.map((p) => p.set));

const heldOut = identity.meta.info as { heldOutTop1?: number; heldOutTop5?: number };
const rows = [
  ['(a) training captions', pct(resA.top1), pct(resA.top5), pct(resA.promptedSet)],
  ['(b) style phrase swapped', pct(resB.top1), pct(resB.top5), pct(resB.promptedSet)],
  ['real pictures of (a), reference', pct(resReal.top1), pct(resReal.top5), pct(resReal.promptedSet)],
  ['identity classifier, held-out drawings', pct(heldOut.heldOutTop1), pct(heldOut.heldOutTop5), ''],
];
const training = (JSON.parse(readFileSync(`${a.model}/model_index.json`, 'utf8')) as { training?: Record<string, unknown> }).training ?? {};
console.log(`\nmodel ${a.model} (${model.id}, ${model.hash}; training ${JSON.stringify(training)})`);
console.log(`${picks.length} captions, ${steps} ${a.sampler} steps, CFG ${cfg}, ${identity.classes.length} identity classes\n`);
console.log(formatTable(['', 'top-1', 'top-5', 'drawn in the prompted set'], rows));
console.log(`\ngoal: top-5 >= 60% on (a): ${resA.top5 >= 0.6 ? 'met' : 'not met'}`);

// Grid: 16 subjects, generated (a) row above the real picture row, 8 per row.
const gridN = Math.min(16, picks.length);
const tiles = [];
for (let r = 0; r < gridN; r += 8) {
  const cols = Array.from({ length: Math.min(8, gridN - r) }, (_, j) => r + j);
  for (const i of cols) tiles.push(tileOf(imagesA, i, s, picks[i].subject));
  for (const i of cols) tiles.push({ ...tileOf(real, i, s, `real (${picks[i].set})`) });
}
mkdirSync(dirname(a.grid!), { recursive: true });
writeFileSync(a.grid!, await gridPng(tiles, { columns: Math.min(8, gridN), scale: 3, labelHeight: 14 }));

const report = {
  model: { dir: a.model, id: model.id, hash: model.hash, training },
  settings: { captions: picks.length, steps, cfg, sampler: a.sampler, batch, seed },
  classifier: { identity: identity.meta.info, identityClasses: identity.classes.length, artist: artist?.meta.info ?? null },
  results: {
    trainingCaptions: { top1: resA.top1, top5: resA.top5, promptedSet: resA.promptedSet },
    styleSwapped: { top1: resB.top1, top5: resB.top5, promptedSet: resB.promptedSet },
    realReference: { top1: resReal.top1, top5: resReal.top5, promptedSet: resReal.promptedSet },
  },
  goalTop5A: { goal: 0.6, met: resA.top5 >= 0.6 },
  seconds: { drawing: drawSeconds, total: (performance.now() - t0) / 1000, perPicture: drawSeconds / (2 * picks.length) },
  captions: picks.map((p, i) => ({ subject: p.subject, set: p.set, a: resA.perCaption[i], b: resB.perCaption[i] })),
};
mkdirSync(dirname(a.out!), { recursive: true });
writeFileSync(a.out!, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${a.out} and ${a.grid}; drawing ${drawSeconds.toFixed(1)} s (${((1000 * drawSeconds) / (2 * picks.length)).toFixed(0)} ms per picture), total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
await identity.release();
await artist?.release();
