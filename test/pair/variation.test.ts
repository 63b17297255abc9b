/**
 * Variations (the vary button): noise mixed by slerp keeps the size of Gaussian noise and moves from
 * the first noise to the second with the strength; on the shipped emoji-mini model a variation at the
 * bot's strength stays closer to the original picture than a reroll (another seed) does.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { VARY_STRENGTH } from '../../commands/buttons.ts';
import { checkedModelConfig } from '../../config/model.ts';
import { Rng } from '../../src/graph/rng.ts';
import { slerpNoise } from '../../src/diffusion/variation.ts';
import { drawMixes } from '../../src/pair/draw.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { loadModelOf } from '../../src/pipeline/load-model.ts';

const noise = (seed: number) => new Rng(seed).fillNormal(new Float32Array(4096));
const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, v, k) => s + v * b[k], 0) / (norm(a) * norm(b));

describe('slerpNoise', () => {
  it('is the first noise at 0, the second at 1, keeps the norm between, and turns by the strength', () => {
    const [a, b] = [noise(1), noise(2)];
    expect(slerpNoise(a, b, 0)).toEqual(a);
    const end = slerpNoise(a, b, 1);
    expect(Math.max(...end.map((v, k) => Math.abs(v - b[k])))).toBeLessThan(1e-5);
    const mid = slerpNoise(a, b, 0.3);
    expect(norm(mid) / norm(a)).toBeCloseTo(1, 1);
    // Nearly orthogonal noises of about the same norm: the angle to the first is about 0.3 of the angle between them.
    expect(cosine(mid, a)).toBeCloseTo(Math.cos(0.3 * Math.acos(cosine(a, b))), 2);
    expect(() => slerpNoise(a, b, 1.5)).toThrow(/strength must be in \[0, 1\]/);
  });
});

describe('variations on emoji-mini', () => {
  let pipe: DiffusionPipeline;
  beforeAll(async () => {
    pipe = new DiffusionPipeline(await loadModelOf(checkedModelConfig({})));
  });

  it('a variation at the vary button strength is closer to the picture than a reroll', async () => {
    const distance = (a: Float32Array, b: Float32Array) => a.reduce((s, v, k) => s + Math.abs(v - b[k]), 0) / a.length;
    for (const prompt of ['cat face', 'rocket']) {
      const opts = { prompt, seed: 1, steps: 12, cfg: 5 };
      const [original] = (await drawMixes(pipe, [[]], opts)).images;
      const [varied] = (await drawMixes(pipe, [[]], { ...opts, variation: { seed: 2, strength: VARY_STRENGTH.draw } })).images;
      const [rerolled] = (await drawMixes(pipe, [[]], { ...opts, seed: 2 })).images;
      expect(distance(original, varied)).toBeGreaterThan(0);
      expect(distance(original, varied)).toBeLessThan(0.6 * distance(original, rerolled));
    }
  });
});
