/**
 * What the comparison scripts (eval:pair-compare, eval:base-compare) share: refusing with a message and
 * exit status 2, reading an evaluation's JSON report, and comparing two runs' settings (--may-differ).
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

/** The setting names of a `--may-differ` list ("cfg, steps" -> {cfg, steps}). */
export function namedSettings(list: string): Set<string> {
  return new Set(
    list
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean),
  );
}

/**
 * The settings among `keys` whose values differ between two runs, each with both values as JSON text;
 * a difference in a setting that `mayDiffer` does not name is refused by `refuseDifference`.
 */
export function differingSettings(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  keys: Iterable<string>,
  mayDiffer: ReadonlySet<string>,
  refuseDifference: (key: string, a: string, b: string) => never,
): { key: string; a: string; b: string }[] {
  const out: { key: string; a: string; b: string }[] = [];
  for (const key of keys) {
    const [va, vb] = [JSON.stringify(a[key]), JSON.stringify(b[key])];
    if (va === vb) continue;
    if (!mayDiffer.has(key)) refuseDifference(key, va, vb);
    out.push({ key, a: va, b: vb });
  }
  return out;
}
