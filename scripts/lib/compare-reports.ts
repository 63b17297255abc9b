/**
 * What the comparison scripts (eval:pair-compare, eval:base-compare) share: refusing with a message and
 * exit status 2, and reading an evaluation's JSON report.
 */
import { readFileSync } from 'node:fs';

/** A refusal of `script`: the message on stderr, exit status 2. */
export function refuse(script: string): (message: string) => never {
  return (message) => {
    console.error(`${script}: ${message}`);
    process.exit(2);
  };
}

/** The JSON report at `path` that `evaluation` (e.g. 'eval:pair') wrote with --out; refused when unreadable or not JSON. */
export function readReport(path: string, evaluation: string, fail: (message: string) => never): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    fail(`${path} is not JSON (expected the file ${evaluation} writes with --out)`);
  }
}
