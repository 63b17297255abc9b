/**
 * Where the embedded default model ships: models/emoji-mini/. A leaf module, so that config/ can name
 * the default model folder without importing emoji-mini.ts, which brings the pipeline, the engine
 * (onnxruntime-node) and sharp with it.
 */
import { fileURLToPath } from 'node:url';

export const EMOJI_MINI_DIR = fileURLToPath(new URL('../../models/emoji-mini/', import.meta.url));
