/**
 * A checkpoint that does not fit the architectures: a config this code does not implement, configs that
 * do not fit together, weights that do not match the configs. The config parsers beside each model and
 * the checkpoint loaders of src/pipeline throw it; its message says what to change.
 */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
