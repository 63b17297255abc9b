/** Deterministic random weights for model tests: fan-in scaled uniform, norm scales 1, biases small. */
import type { Shape } from '../../src/graph/index.ts';

export { rng } from '../graph/gradcheck.ts';
import { rng } from '../graph/gradcheck.ts';

const hash = (s: string) => [...s].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);

/** One value array per parameter, seeded by its name (so the same name gets the same values anywhere). */
export function randomWeight(name: string, shape: Shape, seed = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(hash(name) ^ seed);
  const isNorm = /norm[^.]*\.weight$/.test(name);
  if (isNorm) return new Float32Array(n).map(() => 1 + 0.1 * r());
  if (shape.length === 1) return new Float32Array(n).map(() => 0.1 * r());
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const scale = Math.sqrt(3 / fanIn);
  return new Float32Array(n).map(() => scale * r());
}

export function randomWeights(shapes: Map<string, Shape>, seed = 1): Map<string, Float32Array> {
  return new Map([...shapes].map(([k, s]) => [k, randomWeight(k, s, seed)]));
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return new Float32Array(n).map(() => scale * r());
}
