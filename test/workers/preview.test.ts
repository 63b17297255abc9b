/**
 * Progress previews: the pipeline's x0 estimate after a step (at the last step it is the final image),
 * and the bot's draw and stylize tasks turning it into a small PNG in their progress, throttled, on the tiny model.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { cfgTerms } from '../../src/pipeline/guidance.ts';
import type { JobProgress } from '../../src/queue/job.ts';
import type { TaskContext } from '../../workers/engine.ts';
import { draw, stylize } from '../../workers/tasks/bot-jobs.ts';
import { tinyModel, writeTinyModelFolder } from '../helpers/tiny-model.ts';

let dir: string;
beforeAll(async () => {
  dir = await writeTinyModelFolder();
});

function context(): TaskContext & { events: JobProgress[] } {
  const events: JobProgress[] = [];
  return {
    events,
    progress: (d) => events.push(d as JobProgress),
    cancelled: false,
    throwIfCancelled: () => undefined,
    quickWaiting: false,
    yieldToQuick: async () => [],
  };
}

describe('the pipeline preview', () => {
  it.each(['ddim', 'euler'] as const)('estimates x0 after each step; at the last step it is the final image (%s)', async (sampler) => {
    const pipe = new DiffusionPipeline(await tinyModel());
    const previews: Float32Array[] = [];
    const r = await pipe.generate({
      prompts: ['', 'cat face'],
      trajectories: [
        { seed: 3, terms: cfgTerms(0, 1, 5) },
        { seed: 4, terms: cfgTerms(0, 1, 5) },
      ],
      steps: 4,
      sampler,
      onStep: async (_i, _total, preview) => void previews.push(await preview()),
    });
    expect(previews).toHaveLength(4);
    for (const p of previews) {
      expect(p.length).toBe(r.images.length);
      expect(p.every((v) => v >= -1 && v <= 1)).toBe(true);
    }
    const last = previews.at(-1)!;
    let maxDiff = 0;
    for (let k = 0; k < last.length; k++) maxDiff = Math.max(maxDiff, Math.abs(last[k] - r.images[k]));
    expect(maxDiff).toBeLessThan(1e-4);
    // An early estimate is still far from the final picture.
    expect(previews[0].some((v, k) => Math.abs(v - r.images[k]) > 1e-3)).toBe(true);
    await pipe.release();
  });
});

describe('previews in the draw task', () => {
  it('puts a small PNG of the drawing in the progress (every step here), none after the last step', async () => {
    const ctx = context();
    const r = await draw({ job: { prompt: 'cat face', styles: [], seed: 1, steps: 4, cfg: 5 }, model: { dir }, previewEveryMs: 0 }, ctx);
    expect(r.images).toHaveLength(1);
    expect(ctx.events.map((e) => e.step)).toEqual([0, 1, 2, 3]);
    const previews = ctx.events.map((e) => e.preview);
    expect(previews.every((p) => p instanceof Uint8Array)).toBe(true);
    // Steps 0..2 each made a new one; the last step keeps step 2's (the final image follows at once).
    expect(new Set(previews).size).toBe(3);
    expect(previews[3]).toBe(previews[2]);
    const meta = await sharp(previews[0]!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);
    // Structured-cloneable: progress crosses the engine-thread boundary.
    expect(structuredClone(ctx.events[0]).preview).toEqual(previews[0]);
  });

  it('makes at most one preview per interval (none at all in a short draw with the 2 s default)', async () => {
    const ctx = context();
    await draw({ job: { prompt: 'cat face', styles: [], seed: 1, steps: 3, cfg: 5 }, model: { dir } }, ctx);
    expect(ctx.events).toHaveLength(3);
    expect(ctx.events.every((e) => e.preview === undefined)).toBe(true);
  });
});

describe('previews in the stylize task', () => {
  it('puts a small PNG of the stylized picture in the progress while it denoises; none while it inverts', async () => {
    const ctx = context();
    const image = new Uint8Array(
      await sharp({ create: { width: 40, height: 30, channels: 3, background: '#d22' } })
        .png()
        .toBuffer(),
    );
    await stylize({ job: { image, imageName: 'red.png', styles: [], keep: 0.5, steps: 8 }, model: { dir }, previewEveryMs: 0 }, ctx);
    const inverting = ctx.events.filter((e) => e.phase === 'inverting the picture');
    const stylizing = ctx.events.filter((e) => e.phase === 'stylizing');
    expect(inverting.length).toBeGreaterThan(0);
    expect(inverting.every((e) => e.preview === undefined)).toBe(true);
    expect(stylizing.map((e) => e.step)).toEqual([4, 5, 6, 7]);
    const previews = stylizing.map((e) => e.preview);
    expect(previews.every((p) => p instanceof Uint8Array)).toBe(true);
    // A new one at each step but the last, which keeps the one before (the final image follows at once).
    expect(new Set(previews).size).toBe(3);
    const meta = await sharp(previews[0]!).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 128, 128]);
  });
});
