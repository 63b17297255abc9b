/**
 * Orthogonal frozen LoRA down-projections (Pair Customization): for an input width d, the QR
 * decomposition of a seeded Gaussian d x d matrix gives an orthogonal Q; ContentLoRA's A is rows
 * 0..r-1 of Q and StyleLoRA's A rows r..2r-1, so the two adapters read orthogonal subspaces of every
 * projection's input. Householder QR in float64; deterministic for (d, seed).
 */
import { Rng } from '../diffusion/rng.ts';

/** Q of the QR decomposition of a d x d matrix (row-major), computed by Householder reflections. */
export function householderQ(a: Float64Array, d: number): Float64Array {
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  for (let k = 0; k < d - 1; k++) {
    let norm = 0;
    for (let i = k; i < d; i++) norm += r[i * d + k] ** 2;
    norm = Math.sqrt(norm);
    const v = new Float64Array(d);
    const alpha = r[k * d + k] > 0 ? -norm : norm;
    for (let i = k; i < d; i++) v[i] = r[i * d + k];
    v[k] -= alpha;
    let vn = 0;
    for (let i = k; i < d; i++) vn += v[i] ** 2;
    if (vn === 0) {
      vs.push(v);
      continue;
    }
    for (let i = k; i < d; i++) v[i] /= Math.sqrt(vn);
    // R = (I - 2 v v^T) R
    for (let j = k; j < d; j++) {
      let dot = 0;
      for (let i = k; i < d; i++) dot += v[i] * r[i * d + j];
      for (let i = k; i < d; i++) r[i * d + j] -= 2 * v[i] * dot;
    }
    vs.push(v);
  }
  // Q = H_0 H_1 ... H_{d-2}: apply the reflections in reverse order to the identity.
  const q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) q[i * d + i] = 1;
  for (let k = vs.length - 1; k >= 0; k--) {
    const v = vs[k];
    for (let j = 0; j < d; j++) {
      let dot = 0;
      for (let i = k; i < d; i++) dot += v[i] * q[i * d + j];
      if (dot === 0) continue;
      for (let i = k; i < d; i++) q[i * d + j] -= 2 * v[i] * dot;
    }
  }
  return q;
}

export interface OrthogonalPair {
  /** [rank, d] row-major, float32. */
  content: Float32Array;
  style: Float32Array;
}

const cache = new Map<string, OrthogonalPair>();

/** Content and style down-projections for input width d (requires 2 * rank <= d). */
export function orthogonalDownProjections(d: number, rank: number, seed: number): OrthogonalPair {
  if (2 * rank > d) throw new Error(`orthogonal LoRA: rank ${rank} needs 2*rank <= input width, but the width is ${d}`);
  const key = `${d}|${rank}|${seed}`;
  let pair = cache.get(key);
  if (!pair) {
    const rng = new Rng(seed * 65_537 + d);
    const g = new Float64Array(d * d);
    for (let i = 0; i < g.length; i++) g[i] = rng.normal();
    const q = householderQ(g, d);
    pair = { content: Float32Array.from(q.subarray(0, rank * d)), style: Float32Array.from(q.subarray(rank * d, 2 * rank * d)) };
    cache.set(key, pair);
  }
  return pair;
}
