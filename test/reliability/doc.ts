/**
 * docs/reliability.md from the reliability test results. Test files record rows with
 * test/reliability/report.ts into .cache/reliability/<test file>.json (one file per test file, replaced
 * each time that file runs); this module renders every results file into one Markdown report. A test
 * run never writes the tracked report: `npm run report:reliability` runs test/reliability and then this
 * module. No vitest import: it runs under plain tsx too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS_DIR = join(ROOT, '.cache/reliability');
export const DOC_PATH = join(ROOT, 'docs/reliability.md');

/** Table sections, in the report's order; other section names follow alphabetically. */
export const SECTIONS = [
  'Bad input',
  'Command line',
  'Fuzzing',
  'Fetching attachments',
  'Signatures',
  'Rate limits',
  'Isolation',
  'Load',
  'Faults injected',
] as const;
export type Section = (typeof SECTIONS)[number] | (string & {});

export interface ReliabilityRow {
  section: Section;
  /** The bad input tried, the fault injected or the load applied. */
  case: string;
  /** What must happen. */
  expected: string;
  /** What happened (the user-facing message, counts, timings rounded so the report is stable). */
  result: string;
  pass: boolean;
  /** The test that ran the case ('describe > it'); report.ts fills it in. */
  test?: string;
}

export interface ResultsFile {
  /** The test file, relative to the repository root. */
  file: string;
  rows: ReliabilityRow[];
}

export function readResults(dir = RESULTS_DIR): ResultsFile[] {
  if (!existsSync(dir)) return [];
  const out: ResultsFile[] = [];
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as ResultsFile;
      // Results of a test file that no longer exists are stale.
      if (r && typeof r.file === 'string' && Array.isArray(r.rows) && existsSync(join(ROOT, r.file))) out.push(r);
    } catch {
      // A results file cut short (a test process killed mid-write) is skipped; its next run rewrites it.
    }
  }
  return out;
}

const cell = (s: string, max = 220) => {
  const t = String(s)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/\|/g, '\\|')
    .replace(/`/g, "'")
    .trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

export function renderReliabilityDoc(results: ResultsFile[]): string {
  const rows = results.flatMap((r) => r.rows.map((row) => ({ ...row, file: r.file })));
  const order = (s: string) => {
    const i = (SECTIONS as readonly string[]).indexOf(s);
    return i < 0 ? SECTIONS.length : i;
  };
  const sections = [...new Set(rows.map((r) => r.section))].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const passed = rows.filter((r) => r.pass).length;
  const lines = [
    '# Reliability report',
    '',
    '<!-- Generated from the test run by test/reliability/doc.ts: do not edit by hand. -->',
    'Generated from the reliability tests (`test/reliability/`): every row is a case a test ran and checked,',
    'with the test file and the test that checked it. `npm run report:reliability` runs those tests and rewrites',
    'this file; `npm test` runs them too but leaves this file alone.',
    '',
    `**${passed} of ${rows.length} cases behaved as expected.**`,
    '',
    '| Section | Cases | As expected |',
    '|---|---:|---:|',
    ...sections.map((s) => {
      const in_ = rows.filter((r) => r.section === s);
      return `| ${cell(s)} | ${in_.length} | ${in_.filter((r) => r.pass).length} |`;
    }),
  ];
  for (const s of sections) {
    lines.push('', `## ${s}`, '', '| Case | Expected | Result | OK | Test |', '|---|---|---|:-:|---|');
    for (const r of rows.filter((r) => r.section === s)) {
      const test = `${r.file.replace(/^test\/reliability\//, '')}${r.test ? `: ${r.test}` : ''}`;
      lines.push(`| ${cell(r.case)} | ${cell(r.expected)} | ${cell(r.result, 300)} | ${r.pass ? '✅' : '❌'} | ${cell(test, 200)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes docs/reliability.md from the results; returns the number of rows. */
export function writeReliabilityDoc(opts: { dir?: string; out?: string } = {}): number {
  const results = readResults(opts.dir);
  const out = opts.out ?? DOC_PATH;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderReliabilityDoc(results));
  return results.reduce((n, r) => n + r.rows.length, 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const n = writeReliabilityDoc();
  console.log(`wrote ${DOC_PATH.slice(ROOT.length + 1)} (${n} rows from ${RESULTS_DIR.slice(ROOT.length + 1)}/)`);
}
