/**
 * bench:peer's equality check: the engines' check files (scripts/peer/engine-worker.ts and worker.py
 * write `ours.*` and `peer.*`: the output, or the loss, every gradient and the parameters after one
 * optimizer step) compared tensor by tensor, one pair in memory at a time.
 */
import { join } from 'node:path';
import { TensorFiles } from './tensor-files.ts';

/**
 * Relative L2 errors allowed: ||ours - peer|| / ||peer|| per tensor (gradients: see compareChecks). The update
 * of one AdamW step is looser: its first step is lr * g / (|g| + eps), about lr * sign(g), so the
 * smallest gradients' rounding turns into whole sign flips (measured: up to 9e-4).
 */
export const TOLERANCE = { output: 1e-4, loss: 1e-4, grad: 1e-3, update: 1e-2 };

export interface CheckReport {
  worst: Record<string, { err: number; name: string }>;
  ok: boolean;
  /** Gradients below the floor (zero in exact arithmetic), whose updates are not compared. */
  zeroGradients: string[];
}

const norm = (a: ArrayLike<number>) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * a[i];
  return Math.sqrt(sum);
};
const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Float32Array.from(a, (v, i) => v - b[i]);
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => norm(diff(a, b)) / Math.max(norm(b), 1e-30);

/** The engine's and PyTorch's check files of the case in `dir`, and the weights before the step. */
export function checkFiles(dir: string, engine: 'ours' | 'peer', withUpdate: boolean): TensorFiles {
  return TensorFiles.open([join(dir, `${engine}.check.safetensors`), ...(withUpdate ? [join(dir, `${engine}.after.safetensors`)] : [])]);
}

/**
 * Per tensor ||ours - peer|| / max(||peer||, floor), the floor 1e-4 of the largest gradient tensor's
 * norm: a gradient that is zero in exact arithmetic (the key projection's bias under softmax attention)
 * is rounding noise in both engines, and so is its AdamW update (lr x sign of the noise), which is not
 * compared. `before` holds the parameters' values before the step (the weights file).
 */
export function compareChecks(ours: TensorFiles, peer: TensorFiles, before: TensorFiles): CheckReport {
  const worst: CheckReport['worst'] = {};
  const note = (kind: keyof typeof TOLERANCE, name: string, err: number) => {
    if (!worst[kind] || err > worst[kind].err || Number.isNaN(err)) worst[kind] = { err, name };
  };
  const read = (files: TensorFiles, who: string, key: string, n: number) => {
    if (!files.has(key)) throw new Error(`the ${who} check has no ${key}`);
    const v = files.read(key);
    if (v.length !== n) throw new Error(`the ${who} check's ${key} has ${v.length} values, the engine's ${n}`);
    return v;
  };
  const keys = ours.names();
  const size = (key: string) => ours.shape(key).reduce((a, b) => a * b, 1);
  const gradNorms = keys.filter((k) => k.startsWith('grad/')).map((k) => [k.slice(5), norm(read(peer, 'PyTorch', k, size(k)))] as const);
  const floor = 1e-4 * Math.max(0, ...gradNorms.map(([, v]) => v));
  const noise = new Set(gradNorms.filter(([, v]) => v < floor).map(([n]) => n));
  for (const key of keys) {
    if (key.startsWith('after/') && noise.has(key.slice(6))) continue;
    const ourValue = ours.read(key);
    const p = read(peer, 'PyTorch', key, ourValue.length);
    if (key === 'out') note('output', key, relErr(ourValue, p));
    else if (key === 'loss') note('loss', key, relErr(ourValue, p));
    else if (key.startsWith('grad/')) note('grad', key.slice(5), norm(diff(ourValue, p)) / Math.max(norm(p), floor));
    else if (key.startsWith('after/')) {
      const b = read(before, 'weights', key.slice(6), ourValue.length);
      note('update', key.slice(6), relErr(diff(ourValue, b), diff(p, b)));
    } else throw new Error(`the engine's check has an unexpected ${key}`);
  }
  const ok = Object.entries(worst).every(([k, v]) => v.err <= TOLERANCE[k as keyof typeof TOLERANCE]);
  return { worst, ok, zeroGradients: [...noise] };
}

/** One line: the worst error of each kind (and, for gradients and updates, which tensor). */
export function describeCheck(check: CheckReport): string {
  const text = Object.entries(check.worst)
    .map(([k, v]) => `${k} ${v.err.toExponential(1)}${k === 'grad' || k === 'update' ? ` (worst: ${v.name})` : ''}`)
    .join(', ');
  const zeros = check.zeroGradients.length ? `; ${check.zeroGradients.length} gradients zero in exact arithmetic (${check.zeroGradients[0]}, ...)` : '';
  return `check ${check.ok ? 'equal' : 'NOT EQUAL'}: ${text}${zeros}`;
}
