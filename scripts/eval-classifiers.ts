/**
 * The evaluation classifiers (npm run eval:classifiers -- [--retrain] [--threads N] [--epochs N] [--refit-epochs N] [--classifiers DIR] [--only identity|artist]):
 * trains the emoji-identity and artist-set classifiers if data/eval/*.safetensors are missing (or with
 * --retrain), else loads them, and prints their held-out accuracies. eval:base and eval:pair call the
 * same code, so running this first only moves the one-time training cost.
 */
import { parseArgs } from 'node:util';
import { ensureArtistClassifier, ensureIdentityClassifier, EVAL_DIR, JUDGE_DATASET } from '../src/eval/classifiers.ts';
import { formatTable, pct } from '../src/eval/generate.ts';

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
  await c.release();
}
console.log(formatTable(['classifier', 'classes', 'train / held-out', 'held-out top-1', 'top-5', 'epochs', 'training'], rows));
