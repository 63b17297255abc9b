/**
 * Recording reliability cases for docs/reliability.md. One report per test file:
 *
 *   const report = reliabilityReport(import.meta.url);
 *   report.row({ section: 'Faults injected', case: 'kill -9 of the worker mid-training', expected: 'retried once, style stored', result: 'retried, stored', pass: true });
 *   await report.refused('Bad input', 'an SVG posing as a PNG', () => runCommand(...), /is an SVG/);
 *
 * Rows go to .cache/reliability/<test file>.json at once, each with the name of the test that recorded
 * it (the file is replaced the first time a row is recorded in a run, so it always holds that file's
 * latest run); test/reliability/doc.ts renders all of them (`npm run report:reliability`). Keep results stable between runs (round timings, fixed seeds) so the report only changes
 * when behaviour does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { isUserError } from '../../src/errors/user-error.ts';
import { RESULTS_DIR, ROOT, type ReliabilityRow, type ResultsFile, type Section } from './doc.ts';

export type { ReliabilityRow, Section };

export interface ReliabilityReport {
  /** Records one case (and returns it). */
  row(r: ReliabilityRow): ReliabilityRow;
  /**
   * Runs `attempt`, which must be refused with an error meant for the user (isUserError) whose message
   * matches `expected`; records the case with the message, then asserts it. Returns the message.
   */
  refused(
    section: Section,
    what: string,
    attempt: () => Promise<unknown> | unknown,
    expected: RegExp,
    opts?: { expected?: string; isUserError?: (e: unknown) => boolean },
  ): Promise<string>;
  readonly rows: readonly ReliabilityRow[];
}

/**
 * A clear user-facing message: one short paragraph (`maxLength`; an operator's set-up instructions, such as
 * how to install the CUDA provider, may run longer), no stack trace, no internals leaking.
 */
export function isClearMessage(m: unknown, maxLength = 500): m is string {
  return typeof m === 'string' && m.trim().length >= 8 && m.length <= maxLength && !/\n\s+at |\[object Object\]|\bundefined\b|TypeError|ReferenceError/.test(m);
}

const slugOf = (file: string) => file.replace(/[^\w.-]+/g, '_');

export function reliabilityReport(testFileUrl: string): ReliabilityReport {
  const path = testFileUrl.startsWith('file:') ? fileURLToPath(testFileUrl) : testFileUrl;
  const file = relative(ROOT, path).split('\\').join('/');
  const rows: ReliabilityRow[] = [];
  const flush = () => {
    mkdirSync(RESULTS_DIR, { recursive: true });
    const data: ResultsFile = { file, rows };
    writeFileSync(join(RESULTS_DIR, `${slugOf(file)}.json`), `${JSON.stringify(data, null, 1)}\n`);
  };
  const report: ReliabilityReport = {
    rows,
    row(r) {
      rows.push({ ...r, test: r.test ?? expect.getState().currentTestName?.replace(/ > /g, ' › ') });
      flush();
      return r;
    },
    async refused(section, what, attempt, expected, opts = {}) {
      let error: unknown;
      let value: unknown;
      try {
        value = await attempt();
      } catch (e) {
        error = e;
      }
      const userError = opts.isUserError ?? defaultIsUserError;
      const message = error === undefined ? `accepted (${summarize(value)})` : String((error as Error)?.message ?? error);
      const pass = error !== undefined && userError(error) && expected.test(message) && isClearMessage(message);
      report.row({
        section,
        case: what,
        expected: opts.expected ?? `refused: ${expected.source.replace(/\\/g, '')}`,
        result: error === undefined ? message : `${(error as Error)?.name ?? 'Error'}: ${message}`,
        pass,
      });
      expect(error, `${what}: expected a refusal, got ${message}`).toBeDefined();
      expect(userError(error), `${what}: not a user error: ${(error as Error)?.name} ${message}`).toBe(true);
      expect(message).toMatch(expected);
      expect(isClearMessage(message), `${what}: unclear message '${message}'`).toBe(true);
      return message;
    },
  };
  return report;
}

/** A refusal meant for the user: a UserError, or the download refusal of src/bot/fetch-capped.ts (which the commands wrap in one). */
const defaultIsUserError = (e: unknown) => isUserError(e) || (e as Error)?.name === 'AttachmentFetchError';

function summarize(v: unknown): string {
  if (v && typeof v === 'object' && 'type' in v) return `outcome ${(v as { type: string }).type}`;
  return typeof v;
}
