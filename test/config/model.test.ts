/** The shipped embedded model is what PairStyle loads when nothing else is configured. */
import { describe, expect, it } from 'vitest';
import { loadConfiguredModel, ModelMissingError } from '../../config/model.ts';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.ts';
import { drawMixes } from '../../src/pair/draw.ts';

describe('the configured model', () => {
  it('is the shipped emoji-mini model by default, and it draws', async () => {
    const model = await loadConfiguredModel({});
    expect(model.id).toBe('emoji-mini');
    expect(model.imageSize).toBe(32);
    expect(model.hash).toMatch(/^[0-9a-f]{16}$/);
    const pipe = new DiffusionPipeline(model);
    const r = await drawMixes(pipe, [[]], { prompt: 'cat face', seed: 1, steps: 2, cfg: 5 });
    await pipe.release();
    expect(r.images[0]).toHaveLength(3 * 32 * 32);
    expect(r.images[0].every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('names the problem when PAIRSTYLE_MODEL is not a model folder', async () => {
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: '/nonexistent' })).rejects.toThrow(ModelMissingError);
  });
});
