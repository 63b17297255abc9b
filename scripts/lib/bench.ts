/**
 * Shared by the benchmarks: random inputs, median timing, thread count, onnxruntime's own fp32 GEMM
 * peak (the yardstick of every ratio), and FLOPs of the graphs the pipeline runs.
 */
import { cpus } from 'node:os';
import * as G from '../../src/graph/index.ts';
import { unetGraph } from '../../src/diffusion/pipeline.ts';
import { textEncoderGraph } from '../../src/models/conditioning.ts';
import type { LoraAdapter } from '../../src/models/lora.ts';
import type { TextToImageModel } from '../../src/models/text-to-image.ts';

/** n values drawn uniformly from [-scale, scale): inputs whose values do not matter to a timing. */
export function randomUniform(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Median wall time in ms of `fn` over repeated runs for about `seconds` (after one warm-up run; at least 3 runs). */
export async function medianMs(fn: () => Promise<unknown>, seconds: number): Promise<number> {
  await fn();
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (times.length < 3 || (performance.now() < end && times.length < 200)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The benchmark thread count: --threads, BENCH_THREADS, or every core. */
export function benchThreads(arg?: string): number {
  return Number(arg ?? process.env.BENCH_THREADS ?? cpus().length);
}

/** FLOPs of one UNet run of the pipeline over `rows` batch rows (with LoRA adapters on every attention projection). */
export function unetFlops(model: TextToImageModel, rows: number, lora: readonly LoraAdapter[] = []): number {
  return G.countFlops([unetGraph(model, rows, lora)]);
}

/** FLOPs of encoding `prompts` prompts with the text encoder. */
export function textFlops(model: TextToImageModel, prompts: number): number {
  return G.countFlops(Object.values(textEncoderGraph(model, prompts)));
}

/** GFLOP/s of a large fp32 MatMul on onnxruntime (best of 1024^3 and 2048^3): the yardstick of the ratios. */
export async function gemmPeak(threads: number, seconds = 3): Promise<number> {
  let best = 0;
  for (const n of [1024, 2048]) {
    const g = new G.Graph();
    const y = G.matmul(g.input('a', [n, n]), g.input('b', [n, n]));
    const s = await G.GraphSession.create(G.emitOnnx({ outputs: { y } }), { threads });
    const feeds = { a: randomUniform(n * n), b: randomUniform(n * n) };
    const ms = await medianMs(() => s.run(feeds), seconds);
    best = Math.max(best, (2 * n ** 3) / (ms * 1e6));
    await s.release();
  }
  return best;
}
