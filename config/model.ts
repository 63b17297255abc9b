/**
 * Which text-to-image model PairStyle runs: PAIRSTYLE_MODEL (a model folder) or, by default, the
 * embedded emoji-mini model shipped in models/emoji-mini.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EMOJI_MINI_DIR } from '../src/models/emoji-mini.ts';
import { loadModelFolder } from '../src/models/model-folder.ts';
import type { TextToImageModel } from '../src/models/text-to-image.ts';

export class ModelMissingError extends Error {
  override name = 'ModelMissingError';
}

export function modelDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PAIRSTYLE_MODEL || EMOJI_MINI_DIR;
}

export async function loadConfiguredModel(env: NodeJS.ProcessEnv = process.env): Promise<TextToImageModel> {
  const dir = modelDir(env);
  if (!existsSync(join(dir, 'model_index.json'))) {
    throw new ModelMissingError(
      env.PAIRSTYLE_MODEL
        ? `PAIRSTYLE_MODEL=${dir} is not a model folder (no model_index.json)`
        : `the embedded model is missing from ${dir}: build it with 'npm run data:build && npm run pretrain'`,
    );
  }
  return loadModelFolder(dir);
}
