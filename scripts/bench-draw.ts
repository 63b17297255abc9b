/**
 * Draw benchmark: npm run bench:draw -- [--model DIR] [--steps 30] [--cfg 5] [--threads N] [--seconds S]
 *
 * In one run: onnxruntime's GEMM yardsticks first and again last (scripts/lib/bench.ts); then a plain CFG draw at the model's size (32x32 for
 * emoji-mini) through the same DiffusionPipeline and drawMixes the CLI uses. The first draw, which
 * creates the onnxruntime sessions (text encoder, UNet), is the warm-up and is reported on its own; the
 * draw time is the median of the following draws (different seeds). Achieved GFLOP/s = FLOPs of the
 * draw (countFlops over the UNet graph at 2 rows x steps, plus the text encoder) / fastest draw, and its
 * ratio to the larger measurement of the `packed` yardstick (a GEMM with a constant, pre-packed weight, as
 * the model's are). Goal: <= 0.5 s per 30-step CFG draw. Last line: draw_seconds=<median>.
 */
import { parseArgs } from 'node:util';
import { DiffusionPipeline } from '../src/pipeline/diffusion-pipeline.ts';
import type { SamplerName } from '../src/diffusion/samplers.ts';
import { loadEvalModel } from '../src/eval/generate.ts';
import { drawMixes } from '../src/pair/draw.ts';
import { benchThreads, describeYardsticks, gemmYardsticks, maxYardsticks, median, textFlops, unetFlops } from './lib/bench.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/emoji-mini' },
    steps: { type: 'string', default: '30' },
    cfg: { type: 'string', default: '5' },
    sampler: { type: 'string', default: 'ddim' },
    prompt: { type: 'string', default: 'cat face' },
    threads: { type: 'string' },
    seconds: { type: 'string', default: '8' },
  },
});
const threads = benchThreads(a.threads);
const steps = Number(a.steps);
const model = await loadEvalModel(a.model!);

const before = await gemmYardsticks(threads);
console.log(`before: ${describeYardsticks(before, threads)}`);

const pipe = new DiffusionPipeline(model, { threads });
const opts = { prompt: a.prompt!, seed: 0, steps, cfg: Number(a.cfg), sampler: a.sampler as SamplerName };
const w0 = performance.now();
await drawMixes(pipe, [[]], opts);
const warmup = (performance.now() - w0) / 1000;

const times: number[] = [];
const end = performance.now() + Number(a.seconds) * 1000;
for (let seed = 1; times.length < 3 || (performance.now() < end && times.length < 100); seed++) {
  const t0 = performance.now();
  await drawMixes(pipe, [[]], { ...opts, seed });
  times.push((performance.now() - t0) / 1000);
}
await pipe.release();
const after = await gemmYardsticks(threads);
console.log(`after: ${describeYardsticks(after, threads)}`);
const peak = maxYardsticks(before, after).packed;
const draw = median(times);
const flops = steps * unetFlops(model, 2) + textFlops(model, 2);
const gflops = flops / Math.min(...times) / 1e9;
console.log(`model ${a.model} (${model.id}), ${model.imageSize}x${model.imageSize}, ${steps} ${a.sampler} steps, CFG ${opts.cfg} (2 UNet rows per step)`);
console.log(`warm-up (first draw, creates the sessions): ${warmup.toFixed(2)} s`);
console.log(
  `draw: median ${draw.toFixed(3)} s over ${times.length} draws (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}); ${((1000 * draw) / steps).toFixed(1)} ms per step`,
);
console.log(
  `work: ${(flops / 1e9).toFixed(2)} GFLOP per draw -> fastest draw ${gflops.toFixed(1)} GFLOP/s = ${(gflops / peak).toFixed(3)} of the packed GEMM (${peak.toFixed(1)} GFLOP/s, its fastest run)`,
);
console.log(`goal <= 0.5 s: ${draw <= 0.5 ? 'met' : 'not met'}`);
console.log(`draw_seconds=${draw.toFixed(3)} draw_peak_ratio=${(gflops / peak).toFixed(3)}`);
