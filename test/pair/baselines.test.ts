/** Baseline (a) of the pair evaluation: a single-image LoRA, applied by LoRA scale. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { DeviceUnavailableError, ortBinaryDir } from '../../src/graph/index.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { trainSingleImageLora } from '../../src/pair/baselines.ts';
import { drawMixes } from '../../src/pair/draw.ts';
import { decodeStyle, encodeStyle } from '../../src/pair/style-file.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

let model: TextToImageModel;
const image = (seed: number) => Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const cudaInstalled = existsSync(join(ortBinaryDir(), 'libonnxruntime_providers_cuda.so'));

beforeAll(async () => {
  model = await tinyModel();
});

describe('trainSingleImageLora (DreamBooth-LoRA baseline)', () => {
  it('trains A and B of one adapter on every attention projection and returns a style for LoRA-scale drawing', async () => {
    const r = await trainSingleImageLora({ model, image: image(2), name: 'db', subject: 'cat face', steps: 16, lr: 1e-2, threads: 1 });
    expect(r.losses).toHaveLength(16);
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(r.style.modules.length).toBe(4 * 8);
    for (const m of r.style.modules) {
      expect(m.A.length).toBe(8 * m.inDim);
      expect(m.B.length).toBe(m.outDim * 8);
    }
    expect(r.style.modules.some((m) => m.B.some((v) => v !== 0))).toBe(true);
    expect(r.style.info).toMatchObject({ name: 'db', baseModel: 'tiny-test', styleToken: '<s1>', stylePrompt: 'cat face in <s1> style', rank: 8 });
    expect(decodeStyle(encodeStyle(r.style)).modules).toHaveLength(r.style.modules.length);

    const pipe = new DiffusionPipeline(model, { threads: 1 });
    const opts = { prompt: 'dog face', seed: 3, steps: 4, cfg: 3, mode: 'lora-scale' as const };
    const d = await drawMixes(pipe, [[], [{ style: r.style, weight: 1 }]], opts);
    expect(maxDiff(d.images[0], d.images[1])).toBeGreaterThan(1e-4);
    await pipe.release();
  });

  it('is deterministic for a seed', async () => {
    const a = await trainSingleImageLora({ model, image: image(2), name: 'a', steps: 3, threads: 1 });
    const b = await trainSingleImageLora({ model, image: image(2), name: 'b', steps: 3, threads: 1 });
    expect(a.losses).toEqual(b.losses);
    expect(a.style.modules[0].A).toEqual(b.style.modules[0].A);
  });

  it("timesteps: every step draws from the lowest share of the noise schedule, as the pair method's style row", async () => {
    const all = await trainSingleImageLora({ model, image: image(2), name: 'a', steps: 6, threads: 1 });
    const low = await trainSingleImageLora({ model, image: image(2), name: 'b', steps: 6, threads: 1, timesteps: 0.5 });
    const T = model.schedule.betas.length;
    expect(all.timesteps.some((t) => t >= T / 2)).toBe(true);
    low.timesteps.forEach((t, i) => {
      expect(t).toBeLessThan(T / 2);
      expect(Math.abs(t - all.timesteps[i] / 2)).toBeLessThanOrEqual(1);
    });
    await expect(trainSingleImageLora({ model, image: image(2), name: 'c', steps: 2, timesteps: 0 })).rejects.toThrow(/timesteps must be in \(0, 1\]/);
  });

  it('runs the training loop of the pair method: shouldStop ends it with a CancelledError', async () => {
    const seen: number[] = [];
    let checks = 0;
    const err = await trainSingleImageLora({
      model,
      image: image(2),
      name: 'stop',
      steps: 6,
      threads: 1,
      onProgress: (p) => seen.push(p.step),
      shouldStop: () => ++checks > 2,
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).toBe('CancelledError');
    expect(seen).toEqual([1, 2]);
  });

  it('fp16: the UNet runs in float16 with float32 LoRA weights and loss scaling; the losses follow fp32 to float16 precision', async () => {
    const fp32 = await trainSingleImageLora({ model, image: image(2), name: 'a', steps: 4, threads: 1 });
    const fp16 = await trainSingleImageLora({ model, image: image(2), name: 'b', steps: 4, threads: 1, precision: 'fp16' });
    expect(fp16.skippedSteps).toBe(0);
    expect(fp16.losses).not.toEqual(fp32.losses);
    fp16.losses.forEach((l, i) => expect(Math.abs(l - fp32.losses[i]) / fp32.losses[i]).toBeLessThan(2e-2));
    expect(fp16.style.modules.some((m) => m.B.some((v) => v !== 0))).toBe(true);
  });

  it.skipIf(cudaInstalled)('device cuda without the CUDA provider is a DeviceUnavailableError, as for the pair method', async () => {
    const err = await trainSingleImageLora({ model, image: image(2), name: 'gpu', steps: 2, threads: 1, device: 'cuda' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(DeviceUnavailableError);
  });
});
