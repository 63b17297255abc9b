import { describe, expect, it } from 'vitest';
import { emitOnnx, grad, Graph, GraphSession, mul, reduceSum, slice, type Tensor } from '../../src/graph/index.ts';
import { attention } from '../../src/models/attention.ts';
import { loraGateName } from '../../src/models/lora.ts';
import { unetParamShapes } from '../../src/models/unet.ts';
import { randomArray } from './random-weights.ts';
import { maxAbsDiff, runGraph } from './run-graph.ts';
import { ADAPTERS, B, feeds, TINY, tinyUnet, weights } from './tiny-unet.ts';

describe('LoRA adapters on every attention projection', () => {
  it('declares PEFT-named A [r, in] and B [out, r] on to_q, to_k, to_v, to_out.0 of attn1 and attn2', () => {
    const s = unetParamShapes(TINY, { lora: ADAPTERS });
    const base = 'unet.down_blocks.0.attentions.0.transformer_blocks.0';
    expect(s.get(`${base}.attn1.to_q.lora_A.content.weight`)).toEqual([2, 8]);
    expect(s.get(`${base}.attn1.to_q.lora_B.content.weight`)).toEqual([8, 2]);
    expect(s.get(`${base}.attn2.to_k.lora_A.style.weight`)).toEqual([3, 16]); // cross-attention input width
    expect(s.get(`${base}.attn2.to_v.lora_B.style.weight`)).toEqual([8, 3]);
    expect(s.get(`${base}.attn2.to_out.0.lora_A.style.weight`)).toEqual([3, 8]);
    const loraNames = [...s.keys()].filter((k) => k.includes('.lora_'));
    // attentions: down 1 + mid 1 + up 2 = 4 blocks x 2 attentions x 4 projections x 2 adapters x (A, B)
    expect(loraNames.length).toBe(4 * 2 * 4 * 2 * 2);
    expect(unetParamShapes(TINY).size).toBe(s.size - loraNames.length);
  });

  it('a gate of 0 reproduces the model without LoRA for that sample; a gate of 1 changes it', async () => {
    const plainG = new Graph({ paramMode: () => 'frozen' });
    const plain = (await runGraph(plainG, { y: tinyUnet(plainG, []) }, feeds)).y as Float32Array;

    const g = new Graph({ paramMode: () => 'frozen' });
    const y = tinyUnet(g, ADAPTERS);
    expect(g.inputs.get(loraGateName('content'))!.shape).toEqual([B]);
    const gated = (
      await runGraph(g, { y }, { ...feeds, 'lora_gate.content': Float32Array.from([0, 1]), 'lora_gate.style': Float32Array.from([0, 1]) }, weights(g))
    ).y as Float32Array;
    const per = gated.length / B;
    expect(maxAbsDiff(gated, plain, 0, per)).toBeLessThan(1e-6);
    expect(maxAbsDiff(gated, plain, per, 2 * per)).toBeGreaterThan(1e-3);
  });

  it('B = 0 (the initialisation) gives the base model exactly, gates on', async () => {
    const plainG = new Graph({ paramMode: () => 'frozen' });
    const plain = (await runGraph(plainG, { y: tinyUnet(plainG, []) }, feeds)).y as Float32Array;
    const g = new Graph({ paramMode: () => 'frozen' });
    const y = tinyUnet(g, ADAPTERS);
    const ones = Float32Array.from([1, 1]);
    const out = (await runGraph(g, { y }, { ...feeds, 'lora_gate.content': ones, 'lora_gate.style': ones }, weights(g, true))).y as Float32Array;
    expect(maxAbsDiff(out, plain)).toBeLessThan(1e-6);
  });

  it('the scale multiplies the contribution: scale 2 at gate 0.5 equals scale 1 at gate 1', async () => {
    const run = async (scale: number, gate: number) => {
      const g = new Graph({ paramMode: () => 'frozen' });
      const y = tinyUnet(g, [{ name: 'style', rank: 3, scale }]);
      return (await runGraph(g, { y }, { ...feeds, 'lora_gate.style': Float32Array.from([gate, gate]) }, weights(g))).y as Float32Array;
    };
    expect(maxAbsDiff(await run(2, 0.5), await run(1, 1))).toBeLessThan(1e-5);
  });

  it('trainRows: rows marked 0 use the adapter but send its B no gradient (float64)', async () => {
    const build = (trainRows: boolean, lossRows: number) => {
      const g = new Graph();
      const x = g.input('x', [2, 4, 8], 'float64');
      const r = g.input('r', [2, 4, 8], 'float64');
      const mask = g.constant(Float32Array.from([1, 0]), [2], 'float32');
      const y = attention(x, undefined, 'attn', 2, { lora: [{ name: 'style', rank: 2, scale: 0.7, trainRows: trainRows ? mask : undefined }] });
      const loss = reduceSum(slice(mul(y, r), [0], [lossRows], [0]), [0, 1, 2]);
      const b = g.params.get('attn.to_q.lora_B.style.weight')!;
      const outputs: Record<string, Tensor> = { y, gb: grad(loss, [b])[0] };
      return { g, outputs };
    };
    const run = async ({ g, outputs }: ReturnType<typeof build>) => {
      const model = emitOnnx({ outputs });
      const feeds: Record<string, Float64Array | Float32Array> = {
        x: Float64Array.from(randomArray(64, 1)),
        r: Float64Array.from(randomArray(64, 2)),
        'lora_gate.style': Float32Array.from([1, 1]),
      };
      for (const [k, t] of g.params) feeds[k] = Float64Array.from(randomArray(t.size, k.length * 7 + t.size));
      const s = await GraphSession.create(model, { threads: 1, optimization: 'basic' });
      const out = await s.run(feeds);
      await s.release();
      return out as Record<string, Float64Array>;
    };
    const masked = await run(build(true, 2));
    const onlyRow0 = await run(build(false, 1));
    const all = await run(build(false, 2));
    expect(maxAbsDiff(masked.y, all.y)).toBe(0);
    expect(maxAbsDiff(masked.gb, onlyRow0.gb)).toBeLessThan(1e-12);
    expect(maxAbsDiff(all.gb, onlyRow0.gb)).toBeGreaterThan(1e-3);
  });
});
