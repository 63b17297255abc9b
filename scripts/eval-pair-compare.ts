/**
 * Two eval:pair runs on the same pairs, compared pair by pair (npm run eval:pair-compare -- A.json B.json
 * [--method pair-guidance] [--method-b NAME] [--training-may-differ] [--may-differ cfg,steps,trainSteps,rank] [--out FILE]). Made for two base models (eval:pair --model), or any two runs
 * that share their pairs, drawn subjects, seeds and drawing settings: each run's headline (P(target)
 * where identity agreement falls to 50%), B minus A on the same bootstrap resample of the pairs (the
 * spread between pairs cancels), over all targets and per target; P(target) and identity agreement at
 * each strength; the unstyled pictures' P(target) and subject top-5. A difference whose interval holds 0
 * is inside the noise. The method must have trained the same way in both runs; --training-may-differ
 * lets its style row's share of the noise schedule (eval:pair's styleTimesteps) and its adapters' layers
 * (eval:pair's --convs) differ, to compare two trainings of the same pairs; --may-differ names drawing or training settings that may differ too (e.g.
 * two CFG scales). --method-b compares --method in A with another method in B; with A.json A.json, two
 * methods of one run (e.g. two --pairs-per-style methods), neither of them the run's reference.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PairCurves, type PairSample, type UnstyledSample } from '../src/eval/pair-curves.ts';
import { bootstrap, numInterval, type Interval } from '../src/eval/stats.ts';
import { differingSettings, namedSettings, readReport, refuse } from './lib/compare-reports.ts';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    method: { type: 'string', default: 'pair-guidance' },
    'method-b': { type: 'string' },
    'training-may-differ': { type: 'boolean', default: false },
    'may-differ': { type: 'string', default: '' },
    out: { type: 'string' },
  },
});

interface PairRun {
  model: { dir: string; id: string; hash: string };
  settings: Record<string, unknown> & {
    strengths: number[];
    targets?: string[];
    guidanceSchedules?: Record<string, unknown>;
    styleTimesteps?: Record<string, number>;
    convs?: boolean;
    convsByMethod?: Record<string, boolean>;
    styleLayersByMethod?: Record<string, string>;
  };
  pairs: { seed: number; target?: string; subject: string; drawSubjects: string[] }[];
  samples?: { styled: PairSample[]; unstyled: UnstyledSample[] };
}

const fail = refuse('eval:pair-compare');

function readRun(path: string): PairRun {
  const run = readReport(path, 'eval:pair', fail) as PairRun;
  if (!Array.isArray(run.pairs) || !run.settings) fail(`${path} is not an eval:pair report (no pairs or settings)`);
  if (!run.samples) fail(`${path} has no per-picture samples: it was written by an earlier eval:pair; run it again`);
  return run;
}

if (positionals.length !== 2) fail('give two eval:pair reports: npm run eval:pair-compare -- A.json B.json [--method pair-guidance]');
const [pathA, pathB] = positionals;
const [runA, runB] = [readRun(pathA), readRun(pathB)];
/** The method compared: --method in A, and in B too unless --method-b names another (two methods of one run: A.json A.json). */
const methodA = a.method!;
const methodB = a['method-b'] ?? methodA;
const method = methodA === methodB ? methodA : `${methodA} (A) against ${methodB} (B)`;

// The same pairs, drawn subjects and seeds, and the same drawing settings; only the model (or what made the runs differ) may change.
if (runA.pairs.length !== runB.pairs.length) fail(`the runs have ${runA.pairs.length} and ${runB.pairs.length} pairs: not the same pairs`);
runA.pairs.forEach((p, i) => {
  const q = runB.pairs[i];
  const key = (x: typeof p) => JSON.stringify([x.seed, x.target ?? 'openmoji', x.subject, x.drawSubjects]);
  if (key(p) !== key(q))
    fail(`pair ${i + 1} differs: ${p.subject} (seed ${p.seed}, ${p.target ?? 'openmoji'}) against ${q.subject} (seed ${q.seed}, ${q.target ?? 'openmoji'})`);
});
/** Drawing and training settings --may-differ may name (the pairs, subjects, strengths, seeds and targets must match). */
const MAY_DIFFER = ['steps', 'cfg', 'trainSteps', 'rank'];
const mayDiffer = namedSettings(a['may-differ']!);
for (const k of mayDiffer) if (!MAY_DIFFER.includes(k)) fail(`--may-differ ${k}: only ${MAY_DIFFER.join(', ')} may differ between the runs`);
/** The settings compared between the runs: each must match unless --may-differ names it. */
const SETTINGS = ['subjects', 'strengths', 'steps', 'cfg', 'trainSteps', 'rank', 'seeds', 'targets', 'identityJudge'];
// Reports from before the identity judge was recorded were judged by v3.
for (const r of [runA, runB]) r.settings.identityJudge ??= 'v3';
const differing = differingSettings(runA.settings, runB.settings, SETTINGS, mayDiffer, (k, va, vb) => fail(`setting ${k} differs: ${va} against ${vb}`)).map(
  (d) => `${d.key} ${d.a} in A, ${d.b} in B`,
);
// A style-guidance method draws by its schedule, which has changed between versions: the same method name is not enough.
for (const [path, r] of [
  [pathA, runA],
  [pathB, runB],
] as const) {
  if (!r.settings.guidanceSchedules) fail(`${path} does not record its guidance schedules: it was written by an earlier eval:pair; run it again`);
}
const scheduleOf = (r: PairRun, m: string) => JSON.stringify(r.settings.guidanceSchedules![m] ?? null);
// Two methods compared on purpose (--method-b) may differ in schedule and training; the same method may not.
if (methodA === methodB && scheduleOf(runA, methodA) !== scheduleOf(runB, methodB))
  fail(`method ${method} drew with another guidance schedule in each run: ${scheduleOf(runA, methodA)} against ${scheduleOf(runB, methodB)}`);
/** How the method's adapters trained, as far as the report says: reports from before a key was recorded trained the earlier way. */
const trainingOf = (r: PairRun, m: string) => ({
  // Its style row's training window (PairTrainOptions.styleTimesteps): all of the schedule before it was recorded.
  window: r.settings.styleTimesteps?.[m] ?? 1,
  // Its adapters also on the resnet convolutions (LoCon): per method, else the run's --convs, else not.
  convs: r.settings.convsByMethod?.[m] ?? r.settings.convs ?? false,
  // The modules its style adapter trained on (PairTrainOptions.styleLayers): all of them before it was recorded.
  styleLayers: r.settings.styleLayersByMethod?.[m] ?? 'all',
});
const layers = (convs: boolean) => (convs ? 'attention and resnet convolutions' : 'attention only');
const [trainA, trainB] = [trainingOf(runA, methodA), trainingOf(runB, methodB)];
/** What differs in the method's training between the runs: the refusal's words and the printed line's. */
const trainingDiffers = [
  trainA.window !== trainB.window && {
    refusal: `trained its style row on another share of the noise schedule in each run: ${trainA.window} against ${trainB.window}`,
    line: `the style row trained on the lowest ${trainA.window} of the noise schedule in A, ${trainB.window} in B`,
  },
  trainA.convs !== trainB.convs && {
    refusal: `trained its adapters on other layers in each run: ${layers(trainA.convs)} against ${layers(trainB.convs)}`,
    line: `adapters on ${layers(trainA.convs)} in A, ${layers(trainB.convs)} in B`,
  },
  trainA.styleLayers !== trainB.styleLayers && {
    refusal: `trained its style adapter on other modules in each run: ${trainA.styleLayers} against ${trainB.styleLayers}`,
    line: `the style adapter on ${trainA.styleLayers} modules in A, ${trainB.styleLayers} in B`,
  },
].filter((d) => d !== false);
if (methodA === methodB && trainingDiffers.length && !a['training-may-differ'])
  fail(`method ${method} ${trainingDiffers.map((d) => d.refusal).join('; ')} (--training-may-differ compares them)`);
for (const [path, r, m] of [
  [pathA, runA, methodA],
  [pathB, runB, methodB],
] as const) {
  if (!r.samples!.styled.some((q) => q.method === m))
    fail(`${path} has no pictures of method ${m} (its methods: ${[...new Set(r.samples!.styled.map((q) => q.method))].join(', ')})`);
}

const curvesA = new PairCurves(runA.samples!.styled, runA.samples!.unstyled);
const curvesB = new PairCurves(runB.samples!.styled, runB.samples!.unstyled);
// The method's own weights: the strengths of the guided methods, the LoRA scales of the baselines.
const weights = curvesA.weightsOf(methodA);
if (JSON.stringify(curvesB.weightsOf(methodB)) !== JSON.stringify(weights))
  fail(`method ${method} drew at weights ${JSON.stringify(weights)} in ${pathA} and ${JSON.stringify(curvesB.weightsOf(methodB))} in ${pathB}`);
const allPairs = runA.pairs.map((_, p) => p);
const targets = [...new Set(runA.pairs.map((p) => p.target ?? 'openmoji'))];
const over = (ids: readonly number[], stat: (pairs: readonly number[]) => number) => bootstrap(ids, stat, { seed: 7 });
const head = (c: PairCurves, m: string) => (ps: readonly number[]) => c.styleAtAgreement(m, weights, ps);

function compare(ids: readonly number[]) {
  return {
    pairs: ids.length,
    headline: {
      a: over(ids, head(curvesA, methodA)),
      b: over(ids, head(curvesB, methodB)),
      bMinusA: over(ids, (ps) => head(curvesB, methodB)(ps) - head(curvesA, methodA)(ps)),
    },
    unstyled: {
      pTarget: { a: over(ids, (ps) => curvesA.unstyledOver(ps, 'pTarget')), b: over(ids, (ps) => curvesB.unstyledOver(ps, 'pTarget')) },
      pTargetBMinusA: over(ids, (ps) => curvesB.unstyledOver(ps, 'pTarget') - curvesA.unstyledOver(ps, 'pTarget')),
      subjectTop5BMinusA: over(ids, (ps) => curvesB.unstyledOver(ps, 'subjectTop5') - curvesA.unstyledOver(ps, 'subjectTop5')),
    },
    byStrength: weights.map((w) => ({
      strength: w,
      pTargetBMinusA: over(ids, (ps) => curvesB.metricOver(ps, methodB, w, 'pTarget') - curvesA.metricOver(ps, methodA, w, 'pTarget')),
      identityAgreementBMinusA: over(
        ids,
        (ps) => curvesB.metricOver(ps, methodB, w, 'identityAgreement') - curvesA.metricOver(ps, methodA, w, 'identityAgreement'),
      ),
    })),
  };
}

const all = compare(allPairs);
const byTarget = targets.length > 1 ? targets.map((t) => ({ target: t, ...compare(allPairs.filter((p) => (runA.pairs[p].target ?? 'openmoji') === t)) })) : [];

const signed = (i: Interval) => {
  const s = numInterval(i);
  const noise = i.low <= 0 && i.high >= 0 ? 'inside the noise' : 'apart from 0';
  return `${i.value >= 0 ? '+' : ''}${s} (${noise})`;
};
console.log(`A: ${runA.model.dir} (${runA.model.hash})\nB: ${runB.model.dir} (${runB.model.hash})`);
if (differing.length) console.log(`settings that differ: ${differing.join('; ')}`);
for (const d of trainingDiffers) console.log(d.line);
console.log(
  `method ${method}; ${allPairs.length} pairs (targets ${targets.join(', ')}); [95% intervals: bootstrap over the pairs, both runs on the same resample]\n`,
);
const printComparison = (label: string, c: ReturnType<typeof compare>) => {
  console.log(`${label} (${c.pairs} pairs):`);
  console.log(`  headline: A ${numInterval(c.headline.a)}, B ${numInterval(c.headline.b)}; B - A ${signed(c.headline.bMinusA)}`);
  console.log(
    `  unstyled: P(target) A ${numInterval(c.unstyled.pTarget.a)}, B ${numInterval(c.unstyled.pTarget.b)}; B - A ${signed(c.unstyled.pTargetBMinusA)}; subject top-5 B - A ${signed(c.unstyled.subjectTop5BMinusA)}`,
  );
  for (const s of c.byStrength)
    console.log(`  strength ${s.strength}: P(target) B - A ${signed(s.pTargetBMinusA)}; identity agreement B - A ${signed(s.identityAgreementBMinusA)}`);
};
printComparison('all targets', all);
for (const t of byTarget) printComparison(t.target, t);

if (a.out) {
  writeFileSync(a.out, `${JSON.stringify({ a: runA.model, b: runB.model, method: { a: methodA, b: methodB }, all, byTarget }, null, 2)}\n`);
  console.log(`\nwrote ${a.out}`);
}
