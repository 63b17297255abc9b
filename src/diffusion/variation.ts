/**
 * Variations of a picture: the same seed's noise with a second seed's noise mixed in by spherical
 * interpolation (slerp), as the "variation seed" of common Stable Diffusion front ends. At strength 0
 * it is the first noise, at 1 the second; in between it keeps the norm of Gaussian noise (a plain
 * average would shrink it) and the picture stays close to the original for small strengths.
 */

/** slerp(a, b, t) over the whole vectors (a linear mix when they are nearly parallel). */
export function slerpNoise(a: Float32Array, b: Float32Array, t: number): Float32Array {
  if (a.length !== b.length) throw new Error(`slerpNoise: ${a.length} values and ${b.length} values`);
  if (!(t >= 0 && t <= 1)) throw new Error(`slerpNoise: strength must be in [0, 1], got ${t}`);
  let [na, nb, dot] = [0, 0, 0];
  for (let k = 0; k < a.length; k++) {
    na += a[k] * a[k];
    nb += b[k] * b[k];
    dot += a[k] * b[k];
  }
  const cos = dot / (Math.sqrt(na * nb) || 1);
  const out = new Float32Array(a.length);
  if (Math.abs(cos) > 0.9995) {
    for (let k = 0; k < a.length; k++) out[k] = (1 - t) * a[k] + t * b[k];
    return out;
  }
  const omega = Math.acos(cos);
  const [ca, cb] = [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
  for (let k = 0; k < a.length; k++) out[k] = ca * a[k] + cb * b[k];
  return out;
}
