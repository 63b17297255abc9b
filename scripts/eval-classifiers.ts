/**
 * The evaluation classifiers (npm run eval:classifiers -- [--retrain] [--threads N] [--epochs N] [--refit-epochs N] [--classifiers DIR] [--only identity|artist]):
 * trains the emoji-identity and artist-set classifiers if data/eval/*.safetensors are missing (or with
 * --retrain), else loads them, and prints their held-out accuracies. eval:base and eval:pair call the
 * same code, so running this first only moves the one-time training cost.
 *
 * Then the judges on real pairs (what a perfect style transfer would score in eval:pair): for every
 * subject of the evaluation half drawn by Noto and OpenMoji, the identity judge's agreement between the
 * two real drawings (eval:pair's "identity agreement" between unstyled and styled) and P(openmoji) of
 * each drawing, with 95% intervals (bootstrap over the subjects).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { topK } from '../src/eval/classifier.ts';
import {
  ARTIST_CLASSES,
  ensureArtistClassifier,
  ensureIdentityClassifier,
  EVAL_DIR,
  notoOpenmojiSubjects,
  JUDGE_DATASET,
  loadOpenmoji,
} from '../src/eval/classifiers.ts';
import { formatTable, pct, pictureOf } from '../src/eval/generate.ts';
import { bootstrap, numInterval, pctInterval } from '../src/eval/stats.ts';
import { loadDataset } from '../src/data/dataset.ts';

const { values: a } = parseArgs({
  options: {
    retrain: { type: 'boolean', default: false },
    threads: { type: 'string' },
    epochs: { type: 'string' },
    'refit-epochs': { type: 'string' },
    data: { type: 'string', default: JUDGE_DATASET },
    classifiers: { type: 'string', default: EVAL_DIR },
    only: { type: 'string' },
  },
});
const opts = {
  dataset: a.data,
  dir: a.classifiers,
  retrain: a.retrain,
  threads: a.threads === undefined ? undefined : Number(a.threads),
  epochs: a.epochs === undefined ? undefined : Number(a.epochs),
  refitEpochs: a['refit-epochs'] === undefined ? undefined : Number(a['refit-epochs']),
  log: (s: string) => console.error(s),
};
const rows: string[][] = [];
const judges: Record<string, Awaited<ReturnType<typeof ensureIdentityClassifier>>> = {};
for (const [kind, ensure] of [
  ['identity', ensureIdentityClassifier],
  ['artist', ensureArtistClassifier],
] as const) {
  if (a.only && a.only !== kind) continue;
  const c = await ensure(opts);
  const i = c.meta.info as {
    heldOutTop1?: number;
    heldOutTop5?: number;
    train?: number;
    heldOut?: number;
    epochs?: number;
    refitEpochs?: number;
    seconds?: number;
  };
  rows.push([
    c.meta.kind,
    String(c.classes.length),
    `${i.train} / ${i.heldOut}`,
    pct(i.heldOutTop1),
    pct(i.heldOutTop5),
    `${i.epochs} + ${i.refitEpochs}`,
    `${Math.round(i.seconds ?? 0)} s`,
  ]);
  judges[kind] = c;
}
console.log(formatTable(['classifier', 'classes', 'train / held-out', 'held-out top-1', 'top-5', 'epochs', 'training'], rows));

if (judges.identity && judges.artist) {
  // Real pairs: the evaluation half's subjects drawn by Noto and OpenMoji that the identity judge knows
  // (eval:pair's pool of pairs and drawn subjects).
  const ds = loadDataset(a.data);
  const om = await loadOpenmoji(join(a.classifiers, 'openmoji32.bin'), { log: opts.log });
  const S = ds.height;
  const subjects = notoOpenmojiSubjects(ds, om, judges.identity.classes);
  const px = 3 * S * S;
  const stack = new Float32Array(2 * subjects.length * px);
  subjects.forEach((y, i) => {
    stack.set(pictureOf(ds, 'noto', y, S)!, 2 * i * px);
    stack.set(pictureOf(om, 'openmoji', y, S)!, (2 * i + 1) * px);
  });
  const n = 2 * subjects.length;
  const idProbs = await judges.identity.probs(stack, n);
  const artProbs = await judges.artist.probs(stack, n);
  const K = judges.identity.classes.length;
  const A = ARTIST_CLASSES.length;
  const omIndex = ARTIST_CLASSES.indexOf('openmoji');
  const top = (i: number, k: number) => topK(idProbs.subarray(i * K, (i + 1) * K), k);
  const classIndex = new Map(judges.identity.classes.map((c, i) => [c, i]));
  const units = subjects.map((y, i) => {
    const c = classIndex.get(y)!;
    return {
      agree: Number(top(2 * i, 1)[0] === top(2 * i + 1, 1)[0]),
      omTop5: Number(top(2 * i + 1, 5).includes(c)),
      notoTop5: Number(top(2 * i, 5).includes(c)),
      pNoto: artProbs[2 * i * A + omIndex],
      pOm: artProbs[(2 * i + 1) * A + omIndex],
    };
  });
  const mean = (key: keyof (typeof units)[number]) => (s: readonly (typeof units)[number][]) => s.reduce((t, u) => t + u[key], 0) / s.length;
  console.log(
    `\njudges on real pairs (${subjects.length} subjects of the evaluation half, Noto and OpenMoji's drawing of each; 95% intervals, bootstrap over subjects):`,
  );
  console.log(
    formatTable(
      ['measure', 'value'],
      [
        ['identity agreement, Noto vs OpenMoji drawing (top-1 equal)', pctInterval(bootstrap(units, mean('agree')))],
        ['subject in identity top-5: Noto drawing', pctInterval(bootstrap(units, mean('notoTop5')))],
        ['subject in identity top-5: OpenMoji drawing', pctInterval(bootstrap(units, mean('omTop5')))],
        ['P(openmoji): Noto drawing', numInterval(bootstrap(units, mean('pNoto')))],
        ['P(openmoji): OpenMoji drawing', numInterval(bootstrap(units, mean('pOm')))],
      ],
    ),
  );
}
for (const c of Object.values(judges)) await c.release();
