/** Pair trainings that keep their compiled step between them (the bot's engine thread) on a tiny random model. */
import { beforeAll, describe, expect, it } from 'vitest';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { keepsStep, TrainingStepCache } from '../../src/pair/step-cache.ts';
import { trainPair, type PairTrainOptions } from '../../src/pair/train.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

let model: TextToImageModel;
const image = (seed: number) => Float32Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);
const weightsOf = (r: Awaited<ReturnType<typeof trainPair>>) => r.style.modules.map((m) => Array.from(m.B));

beforeAll(async () => {
  model = await tinyModel();
});

describe('TrainingStepCache with trainPair', () => {
  const opts = (): PairTrainOptions => ({ model, content: image(1), style: image(2), name: 'wavy', subject: 'cat face', steps: 6, lr: 1e-2 });

  it('a second training reuses the compiled step and learns exactly what a training without the cache learns', async () => {
    const cache = new TrainingStepCache();
    const first = await trainPair({ ...opts(), stepCache: cache });
    const second = await trainPair({ ...opts(), content: image(3), seed: 5, stepCache: cache });
    const plain = await trainPair({ ...opts(), content: image(3), seed: 5 });
    expect(first.reusedStep).toBe(false);
    expect(second.reusedStep).toBe(true);
    expect(plain.reusedStep).toBe(false);
    expect(second.losses).toEqual(plain.losses);
    expect(weightsOf(second)).toEqual(weightsOf(plain));
    await cache.release();
  });

  it('compiles again for other options (rank) and after release; the phases add up to the training time', async () => {
    const cache = new TrainingStepCache();
    const a = await trainPair({ ...opts(), rank: 4, stepCache: cache });
    const b = await trainPair({ ...opts(), rank: 2, stepCache: cache });
    const c = await trainPair({ ...opts(), rank: 2, stepCache: cache });
    await cache.release();
    const d = await trainPair({ ...opts(), rank: 2, stepCache: cache });
    expect([a, b, c, d].map((r) => r.reusedStep)).toEqual([false, false, true, false]);
    expect(c.style.info.rank).toBe(2);
    const p = d.phases;
    expect(Object.values(p).every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    expect(p.textMs + p.graphMs + p.compileMs + p.encodeMs + p.stepsMs + p.otherMs).toBeCloseTo(1000 * d.seconds, 6);
    await cache.release();
  });

  it('trainings that run at the same time share the step; a replaced step is released only after its last user', async () => {
    const cache = new TrainingStepCache();
    const [x, y] = await Promise.all([trainPair({ ...opts(), stepCache: cache }), trainPair({ ...opts(), stepCache: cache })]);
    expect([x.reusedStep, y.reusedStep].sort()).toEqual([false, true]);
    expect(weightsOf(x)).toEqual(weightsOf(y));
    // A training with another rank replaces the step while one with the old rank still runs on it.
    let running = () => {};
    const started = new Promise<void>((r) => (running = r));
    const oldRun = trainPair({ ...opts(), steps: 12, stepCache: cache, onProgress: (p) => p.step === 1 && running() });
    await started;
    const other = await trainPair({ ...opts(), rank: 4, stepCache: cache });
    const old = await oldRun;
    expect(old.reusedStep).toBe(true);
    expect(other.reusedStep).toBe(false);
    expect(old.losses.every(Number.isFinite)).toBe(true);
    await cache.release();
  });

  it('encodes the prompts with a given pipeline and keeps it usable; refuses a pipeline of another model', async () => {
    const pipe = new DiffusionPipeline(model);
    const own = await trainPair(opts());
    const withPipe = await trainPair({ ...opts(), pipe });
    expect(weightsOf(withPipe)).toEqual(weightsOf(own));
    await expect(pipe.encodeText(['cat face'])).resolves.toBeDefined();
    await pipe.release();
    const other = await tinyModel();
    await expect(trainPair({ ...opts(), pipe: new DiffusionPipeline(other) })).rejects.toThrow(/another model/);
  });

  it('keeps steps of small models only', () => {
    expect(keepsStep(9e6)).toBe(true);
    expect(keepsStep(3.4e9)).toBe(false);
  });
});
