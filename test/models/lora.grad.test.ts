import { describe, expect, it } from 'vitest';
import { attention } from '../../src/models/attention.ts';
import { unetParamShapes } from '../../src/models/unet.ts';
import { gradCheck } from '../graph/gradcheck.ts';
import { randomWeight } from './random-weights.ts';
import { B, feeds, TINY, TOKENS, tinyUnet } from './tiny-unet.ts';

describe('LoRA gradients match central differences', () => {
  it('Attention module, self and cross, two gated adapters (float64: atol 1e-7, rtol 1e-6)', async () => {
    const r = await gradCheck((g, d) => {
      const x = g.param('x', [2, 5, 8], d);
      const ctx = g.param('ctx', [2, 3, 6], d);
      const gate = (v: number[]) => g.constant(Float32Array.from(v), [2], 'float32');
      const lora = [
        { name: 'content', rank: 2, scale: 1.5, gate: gate([1, 0.25]) },
        { name: 'style', rank: 3, scale: 0.5, gate: gate([0, 1]) },
      ];
      const self = attention(x, undefined, 'attn1', 2, { lora });
      return attention(self, ctx, 'attn2', 4, { lora });
    });
    expect(r.checked).toBeGreaterThan(500);
  });

  // A deep float32 graph: at step 1e-2 the finite differences carry ~3e-4 of rounding noise (it falls
  // as the step grows, while the truncation error of the sharper parameters rises), hence an absolute
  // tolerance of 1e-3 and a whole-vector bound of 2e-2 for parameters with small gradients.
  it('tiny UNet end to end, every parameter, LoRA A and B of a gated adapter included (4 elements each; float32, 4th order, step 1e-2)', async () => {
    const lora = [{ name: 'style', rank: 2, scale: 0.5 }];
    const shapes = unetParamShapes(TINY, { lora });
    const init = Object.fromEntries(
      [...shapes].map(([name, s]) => {
        const w = randomWeight(name, s);
        return [name, (i: number) => w[i]];
      }),
    );
    const r = await gradCheck(
      (g, d) => {
        const c = (v: Float32Array, shape: number[]) => g.constant(v, shape, d);
        return tinyUnet(
          g,
          lora.map((a) => ({ ...a, gate: c(Float32Array.from([0.5, 1]), [B]) })),
          { sample: c(feeds.sample, [B, 3, 4, 4]), timestep: c(feeds.timestep, [B]), ctx: c(feeds.ctx, [B, TOKENS, 16]) },
        );
      },
      { dtype: 'float32', eps: 1e-2, atol: 1e-3, rtol: 1e-2, vecTol: 2e-2, maxElements: 4, init },
    );
    expect(r.checked).toBeGreaterThan(1000);
  }, 60_000);
});
