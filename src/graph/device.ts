/**
 * Where a graph runs and in what precision: the names the engine, the settings (config/model.ts) and the
 * command line share. A leaf module (it imports nothing), so that config/ can check a setting against
 * these names without importing the engine.
 */

export type Device = 'cpu' | 'cuda';
export const DEVICES: readonly Device[] = ['cpu', 'cuda'];

/** 'fp16' runs the networks in float16 between float32 inputs and outputs (src/pipeline/conditioning.ts). */
export type Precision = 'fp32' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16'];
