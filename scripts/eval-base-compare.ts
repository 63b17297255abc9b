/**
 * Two eval:base runs on the same captions, compared caption by caption (npm run eval:base-compare --
 * A.json B.json [--may-differ cfg,steps]): made for two base models (eval:base --model), or any two runs that share their
 * captions, seeds and drawing settings (--may-differ names the drawing settings that are compared instead,
 * e.g. two CFG scales on one model). For the held-out captions (a) and the style-swapped ones (b):
 * each run's top-1 and top-5 recognition and its share drawn in the prompted set, and B minus A on the
 * same bootstrap resamples of the captions (95%; the captions' own spread cancels, so a difference can be
 * apart from 0 while the two runs' intervals overlap). A difference whose interval holds 0 is inside the
 * noise. Exit status 2 with a message for reports that are not eval:base's or not on the same captions.
 */
import { parseArgs } from 'node:util';
import { V1_SET_IDS, styleOf } from '../src/data/emoji-sets.ts';
import { bootstrap } from '../src/eval/stats.ts';
import { differingSettings, namedSettings, readReport, refuse } from './lib/compare-reports.ts';

interface CaptionResult {
  caption: string;
  rank: number | null;
  artist?: string;
}
interface BaseRun {
  model: { dir: string; hash: string };
  settings: Record<string, unknown>;
  /** swappedSet: the set (b)'s caption names (reports before it was recorded: read off the caption). */
  captions: { seed: number; subject: string; set: string; swappedSet?: string; a: CaptionResult; b: CaptionResult }[];
}

const fail = refuse('eval:base-compare');

function readRun(path: string): BaseRun {
  const run = readReport(path, 'eval:base', fail) as BaseRun;
  if (!Array.isArray(run.captions) || !run.settings || !run.model) fail(`${path} is not an eval:base report (no captions, settings or model)`);
  return run;
}

const { values: opts, positionals: paths } = parseArgs({ allowPositionals: true, options: { 'may-differ': { type: 'string', default: '' } } });
if (paths.length !== 2) fail('give two eval:base reports: npm run eval:base-compare -- A.json B.json [--may-differ cfg]');
const [runA, runB] = paths.map(readRun) as [BaseRun, BaseRun];
const mayDiffer = namedSettings(opts['may-differ']!);
// Reports from before the identity judge was recorded were judged by v3; two judges are never compared caption by caption.
for (const r of [runA, runB]) r.settings.identityJudge ??= 'v3';
if (mayDiffer.has('identityJudge')) fail('--may-differ identityJudge: two identity judges cannot be compared caption by caption');
// The captions themselves are checked one by one below; only drawing settings may be named.
for (const k of mayDiffer) if (['captions', 'perSeed', 'seeds'].includes(k)) fail(`--may-differ ${k}: the runs must share their captions and seeds`);
const differing = differingSettings(
  runA.settings,
  runB.settings,
  new Set([...Object.keys(runA.settings), ...Object.keys(runB.settings)]),
  mayDiffer,
  (k, va, vb) => fail(`the runs differ in ${k} (${va} against ${vb}): not the same drawing settings`),
).map((d) => `${d.key} (${d.a} against ${d.b})`);
if (runA.captions.length !== runB.captions.length) fail(`the runs have ${runA.captions.length} and ${runB.captions.length} captions: not the same captions`);
runA.captions.forEach((c, i) => {
  const d = runB.captions[i]!;
  if (c.seed !== d.seed || c.a.caption !== d.a.caption || c.b.caption !== d.b.caption)
    fail(`caption ${i + 1} differs ('${c.a.caption}', seed ${c.seed} against '${d.a.caption}', seed ${d.seed}): not the same captions`);
});

/** The set a caption's style phrase names: (a) asks for the held-out drawing's set, (b) for another. */
const promptedSet = (c: BaseRun['captions'][number], part: 'a' | 'b'): string | undefined =>
  part === 'a' ? c.set : (c.swappedSet ?? V1_SET_IDS.find((s) => c.b.caption.endsWith(` in ${styleOf(s)}`)));

type Metric = { name: string; of: (c: BaseRun['captions'][number]) => number };
const metrics: Metric[] = [];
for (const part of ['a', 'b'] as const) {
  metrics.push(
    { name: `(${part}) top-1`, of: (c) => (c[part].rank === 1 ? 1 : 0) },
    { name: `(${part}) top-5`, of: (c) => (c[part].rank !== null ? 1 : 0) },
    { name: `(${part}) drawn in the prompted set`, of: (c) => (c[part].artist !== undefined && c[part].artist === promptedSet(c, part) ? 1 : 0) },
  );
}
// One unit per caption: its value in A and in B.
const units = runA.captions.map((c, i) => ({ a: c, b: runB.captions[i]! }));
const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const pct = (v: number) => (100 * v).toFixed(1);
const interval = (i: { value: number; low: number; high: number }, sign = false) =>
  `${sign && i.value >= 0 ? '+' : ''}${pct(i.value)} [${pct(i.low)}, ${pct(i.high)}]`;

console.log(`A: ${runA.model.dir} (${runA.model.hash})\nB: ${runB.model.dir} (${runB.model.hash})`);
if (differing.length) console.log(`drawing settings that differ: ${differing.join(', ')}`);
console.log(`${units.length} captions, the same in both runs; 95% bootstrap intervals over captions (2,000 resamples), in percent\n`);
const rows = metrics.map((m) => {
  const ia = bootstrap(units, (s) => mean(s.map((u) => m.of(u.a))));
  const ib = bootstrap(units, (s) => mean(s.map((u) => m.of(u.b))));
  const diff = bootstrap(units, (s) => mean(s.map((u) => m.of(u.b) - m.of(u.a))));
  const verdict = diff.low > 0 || diff.high < 0 ? 'apart from 0' : 'inside the noise';
  return [m.name, interval(ia), interval(ib), interval(diff, true), verdict];
});
const header = ['', 'A', 'B', 'B minus A (paired)', ''];
const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
for (const r of [header, ...rows]) console.log(r.map((v, k) => (k === 0 ? v.padEnd(widths[k]!) : v.padStart(widths[k]!))).join('  '));
