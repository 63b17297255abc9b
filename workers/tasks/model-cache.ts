/**
 * The model of this engine thread, loaded once and kept with its pipeline (whose compiled sessions are
 * cached per batch shape) and its compiled pair-training step. A source is a model setting resolved by the bot or worker config (a model
 * folder, a diffusers folder or a single-file checkpoint, with its device and precision), a model folder,
 * a module exporting a model factory (tests: a tiny random-weight model), or, by default, the configured
 * model (PAIRSTYLE_MODEL or the embedded one). Sources that carry no device and precision run on
 * PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION.
 */
import { checkedModelConfig, modelRuntimeConfig, type ModelConfig, type ModelRuntimeConfig } from '../../config/model.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { loadModelOf } from '../../src/pipeline/load-model.ts';
import { TrainingStepCache } from '../../src/pair/step-cache.ts';
import { loadModelFolder } from '../../src/pipeline/model-folder.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';

export type ModelSource = { config: ModelConfig } | { dir: string } | { module: string; exportName: string } | { configured: true };

export interface LoadedModel {
  model: TextToImageModel;
  pipe: DiffusionPipeline;
  /** Where the model runs: training takes the same device and precision as the pipeline. */
  runtime: ModelRuntimeConfig;
  /** The compiled pair-training step, kept between trainings (small models only; src/pair/step-cache.ts). */
  trainingSteps: TrainingStepCache;
}

const cache = new Map<string, Promise<LoadedModel>>();

export function loadModel(source: ModelSource = { configured: true }): Promise<LoadedModel> {
  const key = JSON.stringify(source);
  let hit = cache.get(key);
  if (!hit) {
    hit = (async () => {
      const runtime: ModelRuntimeConfig =
        'config' in source ? { device: source.config.device, precision: source.config.precision } : modelRuntimeConfig(process.env);
      let model: TextToImageModel;
      if ('config' in source) model = await loadModelOf(source.config);
      else if ('dir' in source) model = await loadModelFolder(source.dir);
      else if ('module' in source) {
        const mod = (await import(source.module)) as Record<string, () => Promise<TextToImageModel> | TextToImageModel>;
        const factory = mod[source.exportName];
        if (typeof factory !== 'function') throw new Error(`${source.module} has no model factory '${source.exportName}'`);
        model = await factory();
      } else model = await loadModelOf(checkedModelConfig());
      return { model, pipe: new DiffusionPipeline(model, runtime), runtime, trainingSteps: new TrainingStepCache() };
    })();
    cache.set(key, hit);
    hit.catch(() => cache.delete(key));
  }
  return hit;
}

/** Display scale: nearest-neighbour upscale to about 256 px. */
export const displayScale = (size: number): number => Math.max(1, Math.round(256 / size));
