/**
 * Shared by sd15-checkpoint.test.ts and sdxl-checkpoint.test.ts (two files, so they run in parallel).
 * Pair Customization end to end on checkpoints shaped like the real ones: a random-weight
 * SD-1.5-shaped and an SDXL-shaped model at reduced width, written as diffusers folders and loaded by
 * the checkpoint loader (VAE codec, CLIP BPE tokenizers, SDXL's second encoder and text_time
 * conditioning), then pair training and style-guided drawing, in fp32 and in fp16.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { loadDiffusersPipeline, writeDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import type { StableDiffusionModel } from '../../src/pipeline/stable-diffusion.ts';
import { drawStyled } from '../../src/pair/draw.ts';
import { stylizeImage } from '../../src/pair/stylize.ts';
import { trainPair } from '../../src/pair/train.ts';
import { TINY_SD_TEXT, TINY_SD_UNET, TINY_SD_VAE, tinySdWeights } from '../models/tiny-sd.ts';
import { writeTinySdxlFolder } from '../models/tiny-sdxl.ts';
import { writeTinyClipTokenizerDir } from '../../testing/tiny-clip-vocab.ts';

export const root = mkdtempSync(join(tmpdir(), 'pairstyle-sd-pair-'));
const tokenizerDir = writeTinyClipTokenizerDir();
const tokenizer2Dir = writeTinyClipTokenizerDir('!');
afterAll(() => [root, tokenizerDir, tokenizer2Dir].forEach((d) => rmSync(d, { recursive: true, force: true })));

export const image = (size: number, seed: number) => Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);
export const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

export const models: Record<string, StableDiffusionModel> = {};

/** Writes the tiny checkpoint of `kind` as a diffusers folder (fp16 weights) and loads it before the file's tests. */
export function useCheckpoint(kind: 'sd15' | 'sdxl'): void {
  beforeAll(async () => {
    if (kind === 'sd15')
      await writeDiffusersPipeline(join(root, 'sd15'), {
        unet: TINY_SD_UNET,
        text: TINY_SD_TEXT,
        vae: TINY_SD_VAE,
        weights: tinySdWeights(),
        tokenizerDir,
        dtype: 'F16',
      });
    else await writeTinySdxlFolder(join(root, 'sdxl'), { tokenizerDir, tokenizer2Dir }, 'F16');
    models[kind] = await loadDiffusersPipeline(join(root, kind), { threads: 1 });
  });
  afterAll(() => models[kind]?.release());
}

/** Pair training, style-guided drawing, attention recomputation and fp16 on the checkpoint of `kind`. */
export function pairSuite(kind: 'sd15' | 'sdxl'): void {
  describe(`pair training and style-guided drawing on the ${kind === 'sd15' ? 'SD-1.5' : 'SDXL'}-shaped checkpoint`, () => {
    for (const precision of ['fp32', 'fp16'] as const) {
      it(`${precision}: trains StyleLoRA through the VAE and draws styled beside unstyled from one seed`, async () => {
        const m = models[kind];
        const r = await trainPair({
          model: m,
          content: image(m.imageSize, 1),
          style: image(m.imageSize, 2),
          name: 'wavy',
          steps: 8,
          rank: 2,
          lr: 1e-2,
          precision,
          threads: 1,
        });
        expect(r.losses.every(Number.isFinite)).toBe(true);
        expect(r.skippedSteps).toBeLessThan(8);
        expect(r.style.info).toMatchObject({ baseModel: kind, baseModelHash: m.hash });
        expect(r.style.modules.some((mod) => mod.B.some((v) => v !== 0))).toBe(true);
        const pipe = new DiffusionPipeline(m, { threads: 1, precision });
        // 4 steps: the draws' schedule starts the style at half of them, so it acts at steps 2 and 3.
        const opts = { prompt: 'a photo of a cat', seed: 3, steps: 4, cfg: 3 };
        const zero = await drawStyled(pipe, [{ style: r.style, weight: 0 }], opts);
        expect(maxDiff(zero.styled, zero.unstyled)).toBeLessThan(precision === 'fp16' ? 1e-2 : 1e-5);
        const styled = await drawStyled(pipe, [{ style: r.style, weight: 4 }], opts);
        expect(styled.styled.length).toBe(3 * m.imageSize * m.imageSize);
        expect(styled.styled.every(Number.isFinite)).toBe(true);
        expect(maxDiff(styled.styled, styled.unstyled)).toBeGreaterThan(1e-3);
        await pipe.release();
      });
    }

    it('stylizes a given picture through the VAE: inversion, then styled beside the plain reconstruction', async () => {
      const m = models[kind];
      const r = await trainPair({
        model: m,
        content: image(m.imageSize, 1),
        style: image(m.imageSize, 2),
        name: 'wavy',
        steps: 4,
        rank: 2,
        lr: 1e-2,
        threads: 1,
      });
      const pipe = new DiffusionPipeline(m, { threads: 1 });
      const opts = { steps: 4, keep: 0.25 };
      const zero = await stylizeImage(pipe, image(m.imageSize, 5), [{ style: r.style, weight: 0 }], opts);
      expect(zero.startStep).toBe(1);
      expect(maxDiff(zero.styled, zero.unstyled)).toBeLessThan(1e-5);
      const styled = await stylizeImage(pipe, image(m.imageSize, 5), [{ style: r.style, weight: 4 }], opts);
      expect(styled.styled.length).toBe(3 * m.imageSize * m.imageSize);
      expect(styled.styled.every(Number.isFinite)).toBe(true);
      expect(maxDiff(styled.unstyled, zero.unstyled)).toBeLessThan(1e-5);
      expect(maxDiff(styled.styled, styled.unstyled)).toBeGreaterThan(1e-3);
      // Another picture inverts to another latent, so its reconstruction differs.
      const other = await stylizeImage(pipe, image(m.imageSize, 9), [], opts);
      expect(maxDiff(other.unstyled, zero.unstyled)).toBeGreaterThan(1e-3);
      await pipe.release();
    });

    // On the CPU provider most float16 nodes run as float32 between casts (onnxruntime inserts them where
    // it has no float16 kernel), so this checks the float16 graphs and weight conversion, not CUDA's
    // float16 arithmetic error.
    it('recomputing attention probabilities in the backward pass trains exactly as keeping them', async () => {
      const m = models[kind];
      const train = (recomputeAttention: boolean) =>
        trainPair({
          model: m,
          content: image(m.imageSize, 1),
          style: image(m.imageSize, 2),
          name: 'w',
          steps: 3,
          styleStartShare: 0,
          rank: 2,
          lr: 1e-2,
          threads: 1,
          recomputeAttention,
        });
      const [kept, recomputed] = [await train(false), await train(true)];
      expect(maxDiff(recomputed.losses, kept.losses)).toBeLessThan(1e-5);
      expect(maxDiff(recomputed.style.modules[0].B, kept.style.modules[0].B)).toBeLessThan(1e-5);
      expect(recomputed.style.modules[0].B.some((v) => v !== 0)).toBe(true);
    });

    it('fp16 draws agree with fp32 draws', async () => {
      const m = models[kind];
      const images: Float32Array[] = [];
      for (const precision of ['fp32', 'fp16'] as const) {
        const pipe = new DiffusionPipeline(m, { threads: 1, precision });
        const { images: out } = await pipe.generate({
          prompts: ['', 'a cat'],
          trajectories: [
            {
              seed: 2,
              terms: [
                { prompt: 0, coef: -2 },
                { prompt: 1, coef: 3 },
              ],
            },
          ],
          steps: 3,
        });
        images.push(out);
        await pipe.release();
      }
      expect(maxDiff(images[0], images[1])).toBeLessThan(2e-2);
    });
  });
}
