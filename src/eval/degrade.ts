/**
 * Damage without style, for the evaluation's controls: what a judge says of a picture that was only
 * made worse. A style method whose P(target) at a given identity agreement is no higher than the
 * damaged picture's has not shown a style, only damage the judge happens to read as one.
 */
import type { Rng } from '../graph/rng.ts';

/**
 * A copy of a picture in [-1, 1] (any layout) with independent Gaussian noise of standard deviation
 * `sigma` added to every value, clamped to [-1, 1]. sigma 0 returns an exact copy.
 */
export function withPixelNoise(img: Float32Array, sigma: number, rng: Rng): Float32Array {
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new Error(`withPixelNoise: sigma must be a finite number >= 0, got ${sigma}`);
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = sigma === 0 ? img[i] : Math.min(1, Math.max(-1, img[i] + sigma * rng.normal()));
  return out;
}
