/**
 * The model card's sample grid: the sample prompts drawn by a model, captioned, four to a row (used by
 * scripts/sample-grid.ts and by pretraining at its checkpoints).
 */
import { writeFileSync } from 'node:fs';
import { unitToRgb } from '../../src/formats/pixels.ts';
import { gridPng } from '../../src/images/grid.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { cfgTerms } from '../../src/pipeline/guidance.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';

export const SAMPLE_PROMPTS = [
  'dog face',
  'red apple',
  'rocket',
  'smiling face with sunglasses',
  'cat face in noto style',
  'cat face, glossy 3d emoji',
  'cat face, outlined colour emoji',
  'cat face, black line emoji',
  'pizza',
  'cat, thin line icon',
  'cat, filled icon',
  'house, duotone icon',
];

/** A grid of the sample prompts drawn with CFG 4, 25 DDIM steps, seeds 0..7. */
export async function writeSampleGrid(file: string, model: TextToImageModel, prompts: readonly string[] = SAMPLE_PROMPTS): Promise<void> {
  const pipe = new DiffusionPipeline(model);
  const { images } = await pipe.generate({
    prompts: ['', ...prompts],
    trajectories: prompts.map((_, i) => ({ seed: i, terms: cfgTerms(0, i + 1, 4) })),
    steps: 25,
  });
  await pipe.release();
  const s = model.imageSize;
  const px = 3 * s * s;
  const tiles = prompts.map((p, i) => ({ rgb: unitToRgb(images.subarray(i * px, (i + 1) * px), s, s), width: s, height: s, label: p }));
  writeFileSync(file, await gridPng(tiles, { columns: 4, scale: 4, labelHeight: 16 }));
}
