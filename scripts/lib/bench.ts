/**
 * Shared by the benchmarks: random inputs, median timing, thread count, onnxruntime's own fp32 GEMM
 * yardsticks (fed and pre-packed weights), and FLOPs of the graphs the pipeline runs.
 */
import { cpus } from 'node:os';
import * as G from '../../src/graph/index.ts';
import { unetGraph } from '../../src/pipeline/diffusion-pipeline.ts';
import { textEncoderGraph } from '../../src/pipeline/conditioning.ts';
import type { LoraAdapter } from '../../src/models/lora.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';

/** Uniform values in [-scale, scale) (benchmark inputs; the values do not matter, only their count). */
export function randomUniform(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Wall times in ms of repeated runs: the median, and the fastest run (the least disturbed one on a shared machine). */
export interface Timing {
  median: number;
  best: number;
}

/** Times `fn` over repeated runs for about `seconds` (after one warm-up run; at least 3 runs). */
export async function timeMs(fn: () => Promise<unknown>, seconds: number): Promise<Timing> {
  await fn();
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (times.length < 3 || (performance.now() < end && times.length < 200)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return timing(times);
}

export const timing = (times: readonly number[]): Timing => ({ median: median(times), best: Math.min(...times) });

/** Median wall time in ms of `fn` over repeated runs for about `seconds` (after one warm-up run; at least 3 runs). */
export async function medianMs(fn: () => Promise<unknown>, seconds: number): Promise<number> {
  return (await timeMs(fn, seconds)).median;
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

/**
 * onnxruntime's own fp32 GEMM speed, the yardsticks of every ratio: GFLOP/s of the fastest run of
 * n x n x n products, best over n = 512, 1024 and 2048. Fastest run and several sizes, because on a
 * machine shared with other work the medians measure the other work as much as onnxruntime. The
 * benchmarks divide their own fastest run by these: the least disturbed moments of both.
 * - `fed`: both matrices are graph inputs, as in a training step whose weights are fed to the session;
 * - `packed`: the right-hand matrix is a constant initializer, which onnxruntime pre-packs once, as the
 *   weights of inference graphs and the frozen base weights of a LoRA step are. It is the larger of the
 *   pre-packed and the fed GEMM, so that nothing with constant weights can exceed it.
 */
export interface GemmYardsticks {
  fed: number;
  packed: number;
}

export const YARDSTICK_SIZES = [512, 1024, 2048];

export async function gemmYardsticks(threads: number, seconds = 3): Promise<GemmYardsticks> {
  let fed = 0;
  let packed = 0;
  for (const n of YARDSTICK_SIZES) {
    for (const constant of [false, true]) {
      const g = new G.Graph({ paramMode: () => 'frozen' });
      const b = constant ? g.param('b', [n, n]) : g.input('b', [n, n]);
      const y = G.matmul(g.input('a', [n, n]), b);
      const weight = randomUniform(n * n);
      const s = await G.GraphSession.create(G.emitOnnx({ outputs: { y }, weights: () => weight }), { threads });
      const feeds: Record<string, Float32Array> = constant ? { a: randomUniform(n * n) } : { a: randomUniform(n * n), b: weight };
      const gflops = (2 * n ** 3) / ((await timeMs(() => s.run(feeds), seconds)).best * 1e6);
      if (constant) packed = Math.max(packed, gflops);
      else fed = Math.max(fed, gflops);
      await s.release();
    }
  }
  return { fed, packed: Math.max(packed, fed) };
}

/**
 * The larger of two measurements of each yardstick. The benchmarks measure the yardsticks before and
 * after their work and divide by the larger: on a machine shared with other work a yardstick measured
 * in a busy moment would otherwise let a ratio measured in a quieter one exceed 1.
 */
export function maxYardsticks(a: GemmYardsticks, b: GemmYardsticks): GemmYardsticks {
  return { fed: Math.max(a.fed, b.fed), packed: Math.max(a.packed, b.packed) };
}

/** The line every benchmark prints first. */
export function describeYardsticks(y: GemmYardsticks, threads: number): string {
  return `${threads} threads: GEMM yardsticks (fp32 MatMul, fastest run, best of ${YARDSTICK_SIZES.map((n) => `${n}^3`).join(', ')}): fed ${y.fed.toFixed(1)} GFLOP/s (both operands inputs: training steps with fed weights), packed ${y.packed.toFixed(1)} GFLOP/s (constant pre-packed weight: inference and frozen-weight steps)`;
}
