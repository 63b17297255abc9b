/**
 * Running emitted graphs with onnxruntime-node. `run()` blocks the calling thread while ORT works,
 * so a bot never calls this on its main thread: the engine worker (workers/engine-worker.ts) does.
 */
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OnnxModel, ValueInfo } from './onnx.ts';
import type { Device } from './device.ts';
import { checkDevice, cudaSessionError } from './providers.ts';
import type { ConstData, DType } from './tensor.ts';

export type Feed = ConstData;
export type Outputs = Record<string, Float32Array | Float64Array | BigInt64Array | Uint16Array>;

export interface SessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /**
   * Inter-op threads: above 1, onnxruntime's parallel executor runs independent nodes at the same time,
   * this many at once (default 1: the sequential executor, one node after the other).
   */
  interOpThreads?: number;
  /**
   * 'cpu' (default) or 'cuda' (onnxruntime-node installed with --onnxruntime-node-install=cuda12); a
   * CUDA provider that is missing or cannot load is a DeviceUnavailableError that says what to do.
   */
  device?: Device;
  /**
   * onnxruntime graph optimizations (default 'all'). 'basic' skips the fusions into com.microsoft ops,
   * some of which (QuickGelu) have float32-only kernels and so break float64 graphs.
   */
  optimization?: 'basic' | 'all';
  /**
   * Where a model with external data (see EmitOptions.externalDataThreshold) is written for loading:
   * a fresh folder under this one (default: the OS temp folder), removed once the session is made.
   */
  tempDir?: string;
  /**
   * onnxruntime's memory pattern (default false). With it, the second run of a session allocates one
   * block for all its intermediate tensors while the arena still holds the chunks of the first run, so
   * a session's memory is about twice its run's peak (measured, CPU, pair training at 128 px: 455 MiB
   * with it, 208 MiB without; scripts/lib/measure-memory.ts). Without it, every run reuses the arena's
   * chunks, and the peak is what src/graph/memory.ts predicts.
   */
  memoryPattern?: boolean;
  /**
   * onnxruntime's CPU memory arena (default true). Without it every tensor is its own allocation,
   * freed when the allocation planner frees it, so the resident memory of a run shows the planner's
   * buffers one for one (scripts/lib/measure-memory.ts uses this to check src/graph/memory.ts); runs
   * are slower.
   */
  memoryArena?: boolean;
  /**
   * Stop the intra-op threads' spinning at the end of every run (onnxruntime's
   * `session.force_spinning_stop`; default false: they spin on for a while, waiting for the next
   * parallel section). They still spin during a run. For sessions that take turns (a draw alternating
   * two batch shapes): an idle session's spinning threads would take the cores from the running one.
   */
  stopSpinningAfterRun?: boolean;
  /**
   * onnxruntime's profiler: every node's run is recorded and, when the session is released, written as
   * a chrome-trace JSON `${profileFilePrefix}_<date and time>.json` (see summarizeOrtProfile in
   * scripts/lib/ort-profile.ts). Recording slows the run.
   */
  profileFilePrefix?: string;
}

/**
 * Writes an emitted model to `path`; its external data, if any, goes to the file the model names,
 * in the same folder (onnxruntime resolves it relative to the model file).
 */
export async function writeOnnxModel(model: OnnxModel, path: string): Promise<void> {
  await writeFile(path, model.bytes);
  const ext = model.externalData;
  if (!ext) return;
  const fh = await open(join(dirname(path), ext.location), 'w');
  try {
    for (const { offset, bytes } of ext.pieces) {
      for (let done = 0; done < bytes.byteLength; ) {
        const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30), offset + done);
        done += bytesWritten;
      }
    }
    await fh.truncate(ext.length);
  } finally {
    await fh.close();
  }
}

/** onnxruntime's session options for ours. */
export function ortSessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [opts.device ?? 'cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    intraOpNumThreads: opts.threads ?? 0,
    interOpNumThreads: opts.interOpThreads ?? 1,
    executionMode: (opts.interOpThreads ?? 1) > 1 ? 'parallel' : 'sequential',
    enableMemPattern: opts.memoryPattern ?? false,
    enableCpuMemArena: opts.memoryArena ?? true,
    // Nested keys are joined with dots by onnxruntime-node: session.force_spinning_stop.
    ...(opts.stopSpinningAfterRun ? { extra: { session: { force_spinning_stop: '1' } } } : {}),
    ...(opts.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix } : {}),
  };
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
};

export class GraphSession {
  /**
   * The onnxruntime tensor made for each fed array, reused while the same array is fed again (a training
   * step's parameters, the batch's buffers): onnxruntime reads the array in place, so the wrapper stays
   * current as the array changes.
   */
  private readonly wrappers = new WeakMap<Feed, ort.Tensor>();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputs: ValueInfo[],
    readonly outputs: ValueInfo[],
  ) {}

  static async create(model: OnnxModel, opts: SessionOptions = {}): Promise<GraphSession> {
    const device = opts.device ?? 'cpu';
    checkDevice(device);
    const options = ortSessionOptions(opts);
    const open = async (create: () => Promise<ort.InferenceSession>) => {
      try {
        return new GraphSession(await create(), model.inputs, model.outputs);
      } catch (e) {
        // The provider libraries were there, yet CUDA, cuDNN or the GPU could not be loaded.
        throw device === 'cuda' ? cudaSessionError(e) : e;
      }
    };
    if (!model.externalData) return open(() => ort.InferenceSession.create(model.bytes, options));
    // External data: onnxruntime reads it from files next to a model path. The files can go once the
    // session holds the weights (it copies or maps them while it is created).
    const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), 'pairstyle-onnx-'));
    try {
      const path = join(dir, 'model.onnx');
      await writeOnnxModel(model, path);
      return await open(() => ort.InferenceSession.create(path, options));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Runs the graph; every declared input must be fed, with exactly its static size. The outputs named in
   * `into` are written into those arrays and returned as them (onnxruntime writes there, then returns a
   * copy of its own, which is dropped): a training step's gradients land where its optimizer reads them
   * (src/train/resident.ts).
   */
  async run(feeds: Record<string, Feed>, into?: Record<string, Float32Array>): Promise<Outputs> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const v of this.inputs) {
      const data = feeds[v.name];
      if (!data) throw new Error(`run: missing input '${v.name}' [${v.shape}]`);
      ortFeeds[v.name] = this.tensorOver(data, v, 'input');
    }
    let fetches: Record<string, ort.Tensor | null> | undefined;
    if (into) {
      fetches = {};
      for (const v of this.outputs) fetches[v.name] = into[v.name] ? this.tensorOver(into[v.name]!, v, 'output') : null;
    }
    const result = fetches ? await this.session.run(ortFeeds, fetches) : await this.session.run(ortFeeds);
    const out: Outputs = {};
    for (const v of this.outputs) out[v.name] = into?.[v.name] ?? (result[v.name].data as Outputs[string]);
    return out;
  }

  /** The onnxruntime tensor over `data` for input or output `v`, made once per array and shape. */
  private tensorOver(data: Feed, v: ValueInfo, what: 'input' | 'output'): ort.Tensor {
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`run: ${what} '${v.name}' has ${data.length} values, expected ${n} for [${v.shape}]`);
    let t = this.wrappers.get(data);
    if (!t || t.type !== ORT_TYPE[v.dtype] || !sameDims(t.dims, v.shape)) {
      t = new ort.Tensor(ORT_TYPE[v.dtype], data as never, v.shape);
      this.wrappers.set(data, t);
    }
    return t;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
