/**
 * Checking a checkpoint's weights against what the configs expect before any data is read, and reading
 * what the check planned: every missing, unexpected, mis-shaped and unreadable key is collected, and one
 * CheckpointError lists them all. Shared by the diffusers-folder and the single-file loaders.
 */
import type { Shape } from '../graph/index.ts';
import { iterateSafetensors, readSafetensorsHeader, type ByteSink } from '../formats/safetensors.ts';
import { CheckpointError } from '../models/checkpoint-error.ts';

export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Same weights: equal shapes, or a 1x1 conv [O, I, 1, 1] against a linear [O, I] (same values). */
export function sameWeightShape(expected: readonly number[], got: readonly number[]): boolean {
  if (expected.length === got.length && expected.every((d, i) => d === got[i])) return true;
  const [long, short] = expected.length > got.length ? [expected, got] : [got, expected];
  return short.length === 2 && long.length === 4 && long[0] === short[0] && long[1] === short[1] && long[2] === 1 && long[3] === 1;
}

export interface Problems {
  missing: string[];
  unexpected: string[];
  misshaped: string[];
  unreadable: string[];
}

export function problemsError(where: string, p: Problems, hint = ''): CheckpointError {
  const lines = [
    `${where}: the weights do not match the model configs (${p.missing.length} missing, ${p.unexpected.length} unexpected, ${p.misshaped.length} mis-shaped, ${p.unreadable.length} of an unsupported dtype)${hint}`,
    ...p.missing.map((k) => `  missing     ${k}`),
    ...p.unexpected.map((k) => `  unexpected  ${k}`),
    ...p.misshaped.map((k) => `  mis-shaped  ${k}`),
    ...p.unreadable.map((k) => `  dtype       ${k}`),
  ];
  return new CheckpointError(lines.join('\n'));
}

/** A new, empty list of problems. */
export const noProblems = (): Problems => ({ missing: [], unexpected: [], misshaped: [], unreadable: [] });

/** True when a check found anything. */
export const hasProblems = (p: Problems): boolean => p.missing.length + p.unexpected.length + p.misshaped.length + p.unreadable.length > 0;

export const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/**
 * One safetensors file's entries, checked against `expected` (prefixed names) through `rename`
 * (file key -> prefixed name, undefined = unexpected, null = ignored); adds problems, returns the
 * file keys to read with their names.
 */
export async function planFile(
  path: string,
  expected: ReadonlyMap<string, Shape>,
  rename: (key: string) => string | null | undefined,
  seen: Set<string>,
  p: Problems,
  label = '',
): Promise<Map<string, string>> {
  const header = await readSafetensorsHeader(path);
  const plan = new Map<string, string>();
  for (const [key, info] of Object.entries(header.tensors)) {
    const name = rename(key);
    if (name === null) continue;
    const shape = name === undefined ? undefined : expected.get(name);
    if (name === undefined || !shape) {
      p.unexpected.push(`${label}${key}${name && name !== key ? ` (as ${name})` : ''}`);
      continue;
    }
    if (seen.has(name)) {
      p.unexpected.push(`${label}${key} (a second copy of ${name})`);
      continue;
    }
    seen.add(name);
    if (!FLOAT_DTYPES.has(info.dtype)) p.unreadable.push(`${label}${key} is ${info.dtype}; weights must be F32, F16 or BF16`);
    else if (!sameWeightShape(shape, info.shape))
      p.misshaped.push(`${label}${key} is ${fmt(info.shape)}, the config needs ${fmt(shape)}${name !== key ? ` for ${name}` : ''}`);
    else plan.set(key, name);
  }
  return plan;
}

export async function readPlanned(path: string, plan: ReadonlyMap<string, string>, into: Map<string, Float32Array>, hash?: ByteSink): Promise<void> {
  for await (const t of iterateSafetensors(path, { select: (k) => plan.has(k), hash })) into.set(plan.get(t.name)!, t.data);
}

export function missingOf(expected: ReadonlyMap<string, Shape>, seen: ReadonlySet<string>, p: Problems, show: (name: string) => string = (n) => n): void {
  for (const name of expected.keys()) if (!seen.has(name)) p.missing.push(show(name));
}
