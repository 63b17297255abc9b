/**
 * PyTorch-default initialisation by parameter name: nn.Linear/nn.Conv2d weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); normalisation scales 1 and shifts 0; CLIP embeddings N(0, 0.02)
 * (positions N(0, 0.01)). Deterministic for a seed.
 */
import { Rng } from '../graph/rng.ts';

const isNorm = (name: string) => /(^|\.)(norm\w*|layer_norm\d?|final_layer_norm|conv_norm_out)\.(weight|bias)$/.test(name);

export function initParams(shapes: Record<string, readonly number[]>, seed: number): Record<string, Float32Array> {
  const rng = new Rng(seed);
  const out: Record<string, Float32Array> = {};
  for (const name of Object.keys(shapes).sort()) {
    const shape = shapes[name];
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (isNorm(name)) {
      if (name.endsWith('.weight')) a.fill(1);
    } else if (name.endsWith('embedding.weight')) {
      const std = name.includes('position') ? 0.01 : 0.02;
      for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    } else {
      const weightShape = name.endsWith('.bias') ? shapes[name.replace(/\.bias$/, '.weight')] : shape;
      const fanIn = weightShape ? weightShape.slice(1).reduce((p, q) => p * q, 1) : 1;
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * bound;
    }
    out[name] = a;
  }
  return out;
}
