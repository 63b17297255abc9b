/**
 * diffusers' timestep conditioning: `Timesteps` (the sinusoidal get_timestep_embedding) and
 * `TimestepEmbedding` (linear_1, SiLU, linear_2).
 */
import { cast, concat, cos, reshape, silu, sin, mul, type Tensor } from '../graph/index.ts';
import { linearLayer } from './layers.ts';

export interface SinusoidOptions {
  flipSinToCos: boolean;
  /** downscale_freq_shift (the UNet config's freq_shift). */
  freqShift: number;
  maxPeriod?: number;
  scale?: number;
}

/** The frequencies exp(-ln(max_period) * i / (half - shift)), i < half, as float32 (torch computes them so). */
export function sinusoidFrequencies(dim: number, freqShift: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  return Float32Array.from({ length: half }, (_, i) => Math.exp(Math.fround((-Math.log(maxPeriod) * i) / (half - freqShift))));
}

/**
 * get_timestep_embedding: timesteps [B] (float or int) -> float32 [B, dim]; [sin, cos] halves, swapped
 * to [cos, sin] with flip_sin_to_cos; a zero column is appended when dim is odd.
 */
export function timestepSinusoids(timesteps: Tensor, dim: number, opts: SinusoidOptions): Tensor {
  const g = timesteps.graph;
  const b = timesteps.shape[0];
  const half = Math.floor(dim / 2);
  const freqs = g.constant(sinusoidFrequencies(dim, opts.freqShift, opts.maxPeriod), [1, half], 'float32');
  let args = mul(reshape(cast(timesteps, 'float32'), [b, 1]), freqs);
  if ((opts.scale ?? 1) !== 1) args = mul(args, opts.scale!);
  const parts = opts.flipSinToCos ? [cos(args), sin(args)] : [sin(args), cos(args)];
  if (dim % 2) parts.push(g.constant(new Float32Array(b), [b, 1], 'float32'));
  return concat(parts, 1);
}

/** TimestepEmbedding: linear_1 -> SiLU -> linear_2, both to `outDim`. */
export function timestepEmbedding(x: Tensor, name: string, outDim: number): Tensor {
  return linearLayer(silu(linearLayer(x, `${name}.linear_1`, outDim)), `${name}.linear_2`, outDim);
}
