/**
 * The evaluation classifiers (npm run eval:classifiers -- [--targets LIST] [--identity-judge v3|v4] [--retrain] [--threads N]
 * [--epochs N] [--refit-epochs N] [--classifiers DIR] [--only identity|artist]): trains the emoji-identity classifier and the
 * artist-set classifier of each target (default openmoji; eval:pair's --targets) if data/eval/*.safetensors are
 * missing (or with --retrain), else loads them, and prints their held-out accuracies. eval:base and eval:pair
 * call the same code, so running this first only moves the one-time training cost.
 *
 * Then the judges on real pairs (what a perfect style transfer would score in eval:pair): per target, for
 * every subject of the evaluation half drawn by Noto and the target, the identity judge's agreement between
 * the two real drawings (eval:pair's "identity agreement" between unstyled and styled) and P(target) of
 * each drawing, with 95% intervals (bootstrap over the subjects).
 */
import { parseArgs } from 'node:util';
import { topK } from '../src/eval/classifier.ts';
import {
  ensureIdentityClassifier,
  ensureTargetJudges,
  EVAL_DIR,
  JUDGE_DATASET,
  notoTargetSubjects,
  parseIdentityProtocol,
  parseTargets,
  releaseTargetJudges,
  artistJudgeInfo,
  judgeGateFailure,
  type ArtistJudgeInfo,
} from '../src/eval/classifiers.ts';
import { formatTable, pct, pictureOf } from '../src/eval/generate.ts';
import { bootstrap, numInterval, pctInterval } from '../src/eval/stats.ts';
import { loadDataset } from '../src/data/dataset.ts';

const { values: a } = parseArgs({
  options: {
    targets: { type: 'string', default: 'openmoji' },
    retrain: { type: 'boolean', default: false },
    threads: { type: 'string' },
    epochs: { type: 'string' },
    'refit-epochs': { type: 'string' },
    data: { type: 'string', default: JUDGE_DATASET },
    classifiers: { type: 'string', default: EVAL_DIR },
    only: { type: 'string' },
    'identity-judge': { type: 'string' },
  },
});
const targets = parseTargets(a.targets!);
const identityProtocol = parseIdentityProtocol(a['identity-judge']);
const opts = {
  dataset: a.data,
  dir: a.classifiers,
  retrain: a.retrain,
  threads: a.threads === undefined ? undefined : Number(a.threads),
  epochs: a.epochs === undefined ? undefined : Number(a.epochs),
  refitEpochs: a['refit-epochs'] === undefined ? undefined : Number(a['refit-epochs']),
  log: (s: string) => console.error(s),
};
const ds = loadDataset(a.data!);
type Info = ArtistJudgeInfo & { heldOutTop5?: number; train?: number; heldOut?: number; epochs?: number; refitEpochs?: number; seconds?: number };
const rows: string[][] = [];
const row = (name: string, classes: number, i: Info) => [
  name,
  String(classes),
  `${i.train} / ${i.heldOut}`,
  pct(i.heldOutTop1),
  pct(i.heldOutTop5),
  i.evaluationSubjectsTop1 === undefined ? '' : `${pct(i.evaluationSubjectsTop1)} (${i.heldOutSet} ${pct(i.evaluationSubjectsHeldOutRecall)})`,
  `${i.epochs} + ${i.refitEpochs}`,
  `${Math.round(i.seconds ?? 0)} s`,
];
const identity = a.only === 'artist' ? null : await ensureIdentityClassifier({ ...opts, protocol: identityProtocol });
if (identity) rows.push(row(`${identity.meta.kind} ${identityProtocol}`, identity.classes.length, identity.meta.info as Info));
const judges = a.only === 'identity' ? null : await ensureTargetJudges(targets, ds, opts);
for (const artist of new Set(judges ? [...judges.values()].map((j) => j.artist) : []))
  rows.push(row(`${artist.meta.kind} (${artist.classes.join(', ')})`, artist.classes.length, { ...(artist.meta.info as Info), ...artistJudgeInfo(artist) }));
console.log(
  formatTable(['classifier', 'classes', 'train / held-out', 'held-out top-1', 'top-5', 'evaluation half, never seen (recall)', 'epochs', 'training'], rows),
);
// The gate each artist judge must pass before eval:pair or eval:stylize rests a figure on it.
for (const [target, j] of judges ?? []) {
  const i = artistJudgeInfo(j.artist);
  const why = judgeGateFailure(i);
  const figures = [
    `recall ${pct(i.evaluationSubjectsHeldOutRecall)}`,
    ...(i.evaluationSubjectsFalseTarget === undefined ? [] : [`other sets called ${target} ${pct(i.evaluationSubjectsFalseTarget)}`]),
    ...(i.evaluationSubjectsNotoPTarget === undefined ? [] : [`mean P(${target}) of Noto's ${i.evaluationSubjectsNotoPTarget.toFixed(3)}`]),
  ];
  console.log(`gate, ${target}'s artist judge (${figures.join(', ')}): ${why ? `fails: ${why}` : 'passes'}`);
}

if (identity && judges) {
  const S = ds.height;
  const px = 3 * S * S;
  const K = identity.classes.length;
  const classIndex = new Map(identity.classes.map((c, i) => [c, i]));
  for (const target of targets) {
    // Real pairs: the evaluation half's subjects drawn by Noto and the target that the identity judge knows
    // (eval:pair's pool of pairs and drawn subjects).
    const { artist, index, drawings } = judges.get(target)!;
    const subjects = notoTargetSubjects(ds, drawings, target, identity.classes);
    const stack = new Float32Array(2 * subjects.length * px);
    subjects.forEach((y, i) => {
      stack.set(pictureOf(ds, 'noto', y, S)!, 2 * i * px);
      stack.set(pictureOf(drawings, target, y, S)!, (2 * i + 1) * px);
    });
    const n = 2 * subjects.length;
    const idProbs = await identity.probs(stack, n);
    const artProbs = await artist.probs(stack, n);
    const A = artist.classes.length;
    const top = (i: number, k: number) => topK(idProbs.subarray(i * K, (i + 1) * K), k);
    const units = subjects.map((y, i) => {
      const c = classIndex.get(y)!;
      return {
        agree: Number(top(2 * i, 1)[0] === top(2 * i + 1, 1)[0]),
        targetTop5: Number(top(2 * i + 1, 5).includes(c)),
        notoTop5: Number(top(2 * i, 5).includes(c)),
        pNoto: artProbs[2 * i * A + index],
        pTarget: artProbs[(2 * i + 1) * A + index],
      };
    });
    const mean = (key: keyof (typeof units)[number]) => (s: readonly (typeof units)[number][]) => s.reduce((t, u) => t + u[key], 0) / s.length;
    console.log(
      `\njudges on real pairs, ${target} (${subjects.length} subjects of the evaluation half, Noto's and ${target}'s drawing of each; 95% intervals, bootstrap over subjects):`,
    );
    console.log(
      formatTable(
        ['measure', 'value'],
        [
          [`identity agreement, Noto vs ${target} drawing (top-1 equal)`, pctInterval(bootstrap(units, mean('agree')))],
          ['subject in identity top-5: Noto drawing', pctInterval(bootstrap(units, mean('notoTop5')))],
          [`subject in identity top-5: ${target} drawing`, pctInterval(bootstrap(units, mean('targetTop5')))],
          [`P(${target}): Noto drawing`, numInterval(bootstrap(units, mean('pNoto')))],
          [`P(${target}): ${target} drawing`, numInterval(bootstrap(units, mean('pTarget')))],
        ],
      ),
    );
  }
}
await identity?.release();
if (judges) await releaseTargetJudges(judges);
