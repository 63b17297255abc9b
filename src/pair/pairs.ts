/**
 * How many before/after pairs train one style. A leaf module (no engine imports), so that commands and
 * adapters can check the limit without loading onnxruntime.
 */
export const MAX_PAIRS = 4;
