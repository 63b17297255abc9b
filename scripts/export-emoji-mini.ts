/**
 * Exports the EMA weights of a pretraining run as a model folder:
 *   npx tsx scripts/export-emoji-mini.ts [--from runs/emoji-mini] [--to models/emoji-mini] [--average-from STEP] [--checkpoints DIR]
 * The pretraining script exports the last EMA itself when it finishes; this ships a model from a run
 * that is still going, or averages several checkpoints. --data names the dataset the run trained on
 * (default data/styles32.bin); the vocabulary is rebuilt from it as pretraining builds it.
 *
 * --average-from STEP: the mean of the EMA weights of every checkpoint in the folder at or after STEP
 * (uniform over the saved snapshots, which are evenly spaced in time). An EMA of decay 0.999 averages
 * over the last ~1,000 steps; averaging its snapshots over a longer window is a post-hoc longer EMA
 * (as in Karras et al. 2024, "Analyzing and Improving the Training Dynamics of Diffusion Models"),
 * which suits the low-learning-rate tail of a cosine schedule. Pretraining keeps only its 3 newest
 * checkpoints; copy them aside as it runs (--checkpoints names that folder).
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/dataset.ts';
import { stylePhrases } from '../src/data/emoji-sets.ts';
import { buildEmojiTokenizer, emojiMiniFolder } from '../src/pipeline/emoji-mini.ts';
import { writeModelFolder } from '../src/pipeline/model-folder.ts';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string', default: 'runs/emoji-mini' },
    checkpoints: { type: 'string' },
    to: { type: 'string', default: 'models/emoji-mini' },
    data: { type: 'string', default: 'data/styles32.bin' },
    'average-from': { type: 'string' },
  },
});
const dir = a.checkpoints ?? `${a.from}/checkpoints`;
const all = await listCheckpoints(dir);
if (all.length === 0) throw new Error(`no checkpoints in ${dir}`);
const averageFrom = a['average-from'] === undefined ? undefined : Number(a['average-from']);
if (averageFrom !== undefined && !Number.isSafeInteger(averageFrom)) throw new Error(`--average-from takes a step number, got ${a['average-from']}`);
const chosen = averageFrom === undefined ? all.slice(-1) : all.filter((c) => c.step >= averageFrom);
if (chosen.length === 0) throw new Error(`no checkpoint in ${dir} at or after step ${averageFrom} (the newest is ${all.at(-1)!.step})`);

const last = await loadCheckpoint(chosen.at(-1)!.path);
if (!last.ema) throw new Error(`${last.path} has no EMA weights`);
const mean = new Map(Object.entries(last.ema.shadow).map(([n, w]) => [n, Float64Array.from(w)]));
for (const c of chosen.slice(0, -1)) {
  const ck = await loadCheckpoint(c.path);
  if (!ck.ema) throw new Error(`${c.path} has no EMA weights`);
  for (const [n, acc] of mean) {
    const w = ck.ema.shadow[n];
    if (!w || w.length !== acc.length) throw new Error(`${c.path}: EMA weight ${n} is missing or has another size than in ${last.path}`);
    for (let i = 0; i < w.length; i++) acc[i] += w[i];
  }
}
const weights = new Map([...mean].map(([n, acc]) => [n, Float32Array.from(acc, (v) => v / chosen.length)]));

const ds = loadDataset(a.data!);
const extra = last.extra as { loss?: number; batch?: number; seconds?: number };
await writeModelFolder(
  a.to!,
  emojiMiniFolder(buildEmojiTokenizer(ds.items, stylePhrases(ds.sets)), weights, {
    steps: last.step,
    batch: extra.batch,
    smoothedLoss: extra.loss,
    trainingSeconds: extra.seconds,
    pictures: ds.count,
    sets: ds.sets.map((s) => s.id),
    ...(chosen.length > 1 ? { averagedEma: { checkpoints: chosen.length, fromStep: chosen[0].step, toStep: last.step } } : {}),
  }),
);
const what =
  chosen.length === 1 ? `the EMA weights of step ${last.step}` : `the mean EMA weights of ${chosen.length} checkpoints, steps ${chosen[0].step}-${last.step}`;
console.log(`exported ${what} from ${dir} to ${a.to}`);
