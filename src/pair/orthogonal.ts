/**
 * Orthogonal frozen LoRA down-projections (Pair Customization): for an input width d, 2r orthonormal
 * vectors in R^d; ContentLoRA's A is the first r of them and StyleLoRA's A the next r, so the two
 * adapters read orthogonal subspaces of every projection's input. The paper takes rows of the Q of a
 * seeded Gaussian d x d matrix's QR; here the vectors are the Q of a seeded Gaussian d x 2r matrix's
 * (thin) QR, which has the same distribution (2r orthonormal vectors drawn uniformly) at O(d r^2)
 * instead of O(d^3): a convolution's adapter has d = in channels x k x k (2,304 in emoji-mini's up
 * path, 23,040 in Stable Diffusion's), where the d x d QR would take minutes. Householder QR in
 * float64; deterministic for (d, rank, seed).
 */
import { Rng } from '../graph/rng.ts';

/**
 * Q of the QR decomposition of a d x k matrix (row-major, k <= d), computed by Householder
 * reflections: d x k with orthonormal columns (k = d: the full orthogonal Q).
 */
export function householderQ(a: Float64Array, d: number, k = d): Float64Array {
  if (k > d || a.length !== d * k) throw new Error(`householderQ: expected a ${d} x ${k} matrix (k <= d)`);
  const r = Float64Array.from(a);
  const vs: Float64Array[] = [];
  for (let c = 0; c < Math.min(k, d - 1); c++) {
    let norm = 0;
    for (let i = c; i < d; i++) norm += r[i * k + c] ** 2;
    norm = Math.sqrt(norm);
    const v = new Float64Array(d);
    const alpha = r[c * k + c] > 0 ? -norm : norm;
    for (let i = c; i < d; i++) v[i] = r[i * k + c];
    v[c] -= alpha;
    let vn = 0;
    for (let i = c; i < d; i++) vn += v[i] ** 2;
    if (vn === 0) {
      vs.push(v);
      continue;
    }
    for (let i = c; i < d; i++) v[i] /= Math.sqrt(vn);
    // R = (I - 2 v v^T) R
    for (let j = c; j < k; j++) {
      let dot = 0;
      for (let i = c; i < d; i++) dot += v[i] * r[i * k + j];
      for (let i = c; i < d; i++) r[i * k + j] -= 2 * v[i] * dot;
    }
    vs.push(v);
  }
  // Q = H_0 H_1 ... applied to the first k columns of the identity, reflections in reverse order.
  const q = new Float64Array(d * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  for (let c = vs.length - 1; c >= 0; c--) {
    const v = vs[c];
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let i = c; i < d; i++) dot += v[i] * q[i * k + j];
      if (dot === 0) continue;
      for (let i = c; i < d; i++) q[i * k + j] -= 2 * v[i] * dot;
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
    const k = 2 * rank;
    const rng = new Rng(seed * 65_537 + d);
    const g = new Float64Array(d * k);
    for (let i = 0; i < g.length; i++) g[i] = rng.normal();
    const q = householderQ(g, d, k);
    // Row j of the down-projections is column j of Q.
    const rows = (from: number) => Float32Array.from({ length: rank * d }, (_, t) => q[(t % d) * k + from + Math.floor(t / d)]);
    pair = { content: rows(0), style: rows(rank) };
    cache.set(key, pair);
  }
  return pair;
}
