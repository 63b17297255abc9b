/** The engine core: symbolic tensors, ops with their backward rules, autodiff, ONNX emission, sessions. */
export * from './tensor.ts';
export { ShapeError, type Attrs } from './op.ts';
export * from './ops/elementwise.ts';
export * from './ops/reduce.ts';
export * from './ops/shape.ts';
export * from './ops/matmul.ts';
export * from './ops/nn.ts';
export * from './ops/attention.ts';
export * from './ops/tiled-attention.ts';
export { sumOfSquares } from './ops/sum-of-squares.ts';
export { grad, ancestors } from './autodiff.ts';
export { emitOnnx, OPSET, DEFAULT_EXTERNAL_DATA_THRESHOLD, type OnnxModel, type ValueInfo, type EmitOptions, type ExternalData } from './onnx.ts';
export { GraphSession, ortSessionOptions, writeOnnxModel, type SessionOptions, type Outputs, type Feed } from './session.ts';
export { checkDevice, cudaSessionError, ortBinaryDir, DeviceUnavailableError } from './providers.ts';
export { DEVICES, PRECISIONS, type Device, type Precision } from './device.ts';
export { countFlops } from './flops.ts';
export { planMemory, tensorBytes, type MemoryPlan } from './memory.ts';
