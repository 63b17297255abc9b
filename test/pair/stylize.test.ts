/**
 * Stylizing a given picture (src/pair/stylize.ts) on the embedded model: DDIM inversion of the picture
 * then denoising without style gives the picture back (the plain reconstruction), and the inverted
 * latent is what makes it so (denoising the same steps from seeded noise does not); several styles with
 * their weights act together, as in draw; structure guidance holds a styled picture to the
 * reconstruction's low frequencies; feature injection holds it to the reconstruction's coarse features.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedModelConfig } from '../../config/model.ts';
import { loadModelOf } from '../../src/pipeline/load-model.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { ssim } from '../../src/eval/ssim.ts';
import { loadImage } from '../../src/images/io.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { stylizeImage, stylizeMixes, stylizeStartStep } from '../../src/pair/stylize.ts';
import { trainPair } from '../../src/pair/train.ts';
import { gaussianBlur } from '../../src/diffusion/structure-guidance.ts';

const DOG = fileURLToPath(new URL('../../docs/example/dog-noto.png', import.meta.url));
const DOG_OPENMOJI = fileURLToPath(new URL('../../docs/example/dog-openmoji.png', import.meta.url));
let model: TextToImageModel;
let pipe: DiffusionPipeline;
let dog: Float32Array;

beforeAll(async () => {
  model = await loadModelOf(checkedModelConfig({}));
  pipe = new DiffusionPipeline(model, { threads: 1 });
  dog = await loadImage(DOG, model.imageSize);
});
afterAll(() => pipe?.release());

describe('stylizeImage on the embedded model', () => {
  it('inverts a picture and denoises it back without style: the reconstruction keeps the picture (SSIM >= 0.85)', async () => {
    const r = await stylizeImage(pipe, dog, [], { steps: 20, keep: 0 });
    expect(r.startStep).toBe(0);
    const kept = ssim(dog, r.unstyled, model.imageSize);
    // Inverted all the way to noise (keep 0) in 20 steps: 0.889 with the shipped v2 weights (v1: >= 0.9);
    // the same steps from seeded noise give another picture (< 0.5, below).
    expect(kept).toBeGreaterThanOrEqual(0.85);
    // Without styles the styled trajectory is the same plain model.
    expect(r.styled).toEqual(r.unstyled);
    // The same 20 steps from seeded noise instead of the inverted latent make another picture.
    const fromNoise = await pipe.generate({ prompts: [''], trajectories: [{ seed: 1, terms: [{ prompt: 0, coef: 1 }] }], steps: 20 });
    expect(ssim(dog, fromNoise.images, model.imageSize)).toBeLessThan(0.5);
  }, 120_000);

  it('stylizes with a weighted list of two styles: both act, a style at weight 0 adds nothing', async () => {
    const openmoji = await loadImage(DOG_OPENMOJI, model.imageSize);
    // Two short trainings on the example pair, one each way: two different styles.
    const train = (content: Float32Array, style: Float32Array, name: string) =>
      trainPair({ model, content, style, name, subject: 'dog face', steps: 30, seed: 1, threads: 1 }).then((r) => r.style);
    const a = await train(dog, openmoji, 'to-openmoji');
    const b = await train(openmoji, dog, 'to-noto');
    const mixes = [
      [
        { style: a, weight: 3 },
        { style: b, weight: 2 },
      ],
      [{ style: a, weight: 3 }],
      [{ style: b, weight: 2 }],
      [
        { style: a, weight: 3 },
        { style: b, weight: 0 },
      ],
      [],
    ];
    const r = await stylizeMixes(pipe, dog, mixes, { steps: 10, keep: 0.5 });
    const [both, onlyA, onlyB, aAndZero, plain] = r.images;
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
    expect(maxDiff(aAndZero, onlyA)).toBeLessThan(1e-4);
    expect(maxDiff(both, onlyA)).toBeGreaterThan(0.05);
    expect(maxDiff(both, onlyB)).toBeGreaterThan(0.05);
    expect(maxDiff(onlyA, plain)).toBeGreaterThan(0.05);
    expect(maxDiff(onlyB, plain)).toBeGreaterThan(0.05);
  }, 240_000);

  it('structure guidance holds the styled picture to the reconstruction: closer to the input, the reference left out of the result', async () => {
    const openmoji = await loadImage(DOG_OPENMOJI, model.imageSize);
    const { style } = await trainPair({ model, content: dog, style: openmoji, name: 'to-openmoji', subject: 'dog face', steps: 30, seed: 2, threads: 1 });
    const S = model.imageSize;
    const opts = { steps: 10, keep: 0.4 };
    const mix = [[{ style, weight: 6 }]];
    const free = await stylizeMixes(pipe, dog, [...mix, []], { ...opts, structure: null });
    const held = await stylizeMixes(pipe, dog, mix, { ...opts, structure: { weight: 1, sigma: 1 / 8, until: 1 } });
    const off = await stylizeMixes(pipe, dog, mix, { ...opts, structure: { weight: 0, sigma: 1 / 8, until: 1 } });
    // Without a plain mix the reference trajectory runs but is not returned.
    expect(held.images).toHaveLength(1);
    const [styled, plain] = free.images;
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
    expect(maxDiff(off.images[0], styled)).toBeLessThan(1e-4);
    expect(maxDiff(held.images[0], styled)).toBeGreaterThan(0.05);
    // The low frequencies (blurred as the guidance blurs them) come closer to the reconstruction's.
    const blurDistance = (x: Float32Array) => {
      const [bx, bp] = [gaussianBlur(x, [3, S, S], S / 8), gaussianBlur(plain, [3, S, S], S / 8)];
      return Math.sqrt(bx.reduce((sum, v, k) => sum + (v - bp[k]) ** 2, 0) / bx.length);
    };
    expect(blurDistance(held.images[0])).toBeLessThan(0.6 * blurDistance(styled));
    expect(ssim(dog, held.images[0], S)).toBeGreaterThan(ssim(dog, styled, S));
    await expect(stylizeMixes(pipe, dog, mix, { ...opts, structure: { weight: 2, sigma: 1 / 8, until: 1 } })).rejects.toThrow(/weight must be in/);
  }, 240_000);

  it('feature injection from the reconstruction holds the styled picture to it at a low keep; the style still acts; the reference left out', async () => {
    const openmoji = await loadImage(DOG_OPENMOJI, model.imageSize);
    const { style } = await trainPair({ model, content: dog, style: openmoji, name: 'to-openmoji', subject: 'dog face', steps: 30, seed: 2, threads: 1 });
    const S = model.imageSize;
    const opts = { steps: 10, keep: 0.3 };
    const mix = [[{ style, weight: 6 }]];
    const free = await stylizeMixes(pipe, dog, [...mix, []], { ...opts, injection: null });
    const [styled, plain] = free.images;
    const held = await stylizeMixes(pipe, dog, [...mix, []], { ...opts, injection: { points: ['resnets', 'attention'], until: 1 } });
    const alone = await stylizeMixes(pipe, dog, mix, { ...opts, injection: { points: ['resnets', 'attention'], until: 1 } });
    const brief = await stylizeMixes(pipe, dog, mix, { ...opts, injection: { points: ['resnets', 'attention'], until: 0.1 } });
    const half = await stylizeMixes(pipe, dog, mix, { ...opts, injection: { points: ['resnets', 'attention'], until: 1, mix: 0.5 } });
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, k) => Math.max(m, Math.abs(v - y[k])), 0);
    // The reconstruction runs as it is (mix 0 on its row); without a plain mix it runs but is not returned.
    expect(maxDiff(held.images[1], plain)).toBe(0);
    expect(alone.images).toHaveLength(1);
    expect(maxDiff(alone.images[0], held.images[0])).toBeLessThan(1e-4);
    // Held: closer to the reconstruction (and the input) than the free styled picture, yet not the reconstruction.
    const toPlain = (x: Float32Array) => ssim(plain, x, S);
    expect(toPlain(held.images[0])).toBeGreaterThan(toPlain(styled) + 0.05);
    expect(ssim(dog, held.images[0], S)).toBeGreaterThan(ssim(dog, styled, S));
    expect(maxDiff(held.images[0], plain)).toBeGreaterThan(0.05);
    // Injecting for the first step only, or half way (mix 0.5), holds less than all the way for the whole run.
    expect(toPlain(brief.images[0])).toBeLessThan(toPlain(held.images[0]));
    expect(toPlain(half.images[0])).toBeLessThan(toPlain(held.images[0]));
    expect(toPlain(half.images[0])).toBeGreaterThan(toPlain(styled));
    await expect(stylizeMixes(pipe, dog, mix, { ...opts, injection: { points: ['resnets'], until: 0 } })).rejects.toThrow(/until must be in/);
    await expect(stylizeMixes(pipe, dog, mix, { ...opts, injection: { points: ['resnets'], until: 1, mix: 1.5 } })).rejects.toThrow(/mix must be in/);
  }, 240_000);

  it('keep skips the start of the schedule: the start step is round(keep x steps), one step at least runs', () => {
    expect(stylizeStartStep(0, 30)).toBe(0);
    expect(stylizeStartStep(0.2, 30)).toBe(6);
    expect(stylizeStartStep(0.99, 30)).toBe(29);
    expect(() => stylizeStartStep(1, 30)).toThrow(/keep/);
    expect(() => stylizeStartStep(-0.1, 30)).toThrow(/keep/);
  });
});
