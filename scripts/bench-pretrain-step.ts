/**
 * Pretraining-step benchmark (npm run bench:pretrain-step [-- --data F --batch B --steps N --rounds R --modes M]):
 * the step `npm run pretrain` runs (emoji-mini's text encoder + UNet, every weight trainable, batch 32,
 * clipping, AdamW with warm-up and cosine, the EMA), timed piece by piece on every step:
 *   batch     writing the step's batch into the fed arrays (PretrainBatches.fill)
 *   ort       onnxruntime's run(), with its copies of the outputs
 *   optimizer the AdamW + EMA pass (TrainStepReport.optimizerMs)
 *   other     the rest of Trainer.trainStep (feeds, loss scale, clipping factor, bookkeeping)
 * and the step's share outside onnxruntime ((batch + optimizer + other) / the whole), then the
 * optimizer's pass alone (no onnxruntime run in between), for each of
 * --modes (resident: the weights, gradients, moments and EMA in one WebAssembly memory and the SIMD
 * kernel, as pretrain runs; js: the JavaScript heap and kernel, as before), alternated round by round
 * on the same batches. Prints the median and the range over the timed steps (the first `--warmup` steps
 * of each trainer are not timed).
 */
import { parseArgs } from 'node:util';
import { initParams } from '../src/models/init.ts';
import { EMA } from '../src/train/ema.ts';
import { AdamW, warmupCosine } from '../src/train/optim.ts';
import { residentParams } from '../src/train/resident.ts';
import { Trainer } from '../src/train/step.ts';
import { compilePretrainStep, loadPretrainData, PretrainBatches } from './lib/pretrain-step.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/emoji32.bin' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    /** Trainers to time, alternated round by round: resident (pretrain's), js (before). */
    modes: { type: 'string', default: 'resident,js' },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
  },
});
const batch = Number(args.batch);
const seed = Number(args.seed);

const data = loadPretrainData({ data: args.data!, emojiShare: 0.6 });
const { stepFn, paramCount, flops } = await compilePretrainStep(data, batch, Number(args.threads));
console.log(
  `${args.data}: ${data.ds.count} pictures; emoji-mini ${(paramCount / 1e6).toFixed(2)} M parameters, ${(flops / 1e9).toFixed(1)} GFLOP per step at batch ${batch}`,
);

interface Sample {
  batch: number;
  ort: number;
  optimizer: number;
  other: number;
}

/**
 * A trainer as pretrain.ts makes it, on fresh weights: `resident` (pretrain's) keeps the weights,
 * gradients, moments and EMA in one WebAssembly memory and updates them with the SIMD kernel; `js`
 * (before) keeps them on the JavaScript heap, with onnxruntime's copies of the gradients and the
 * JavaScript kernel.
 */
function pretrainTrainer(mode: string): Trainer {
  const fresh = initParams(stepFn.paramShapes, seed);
  const params = mode === 'resident' ? residentParams(fresh) : fresh;
  const optimizer = new AdamW([{ params: Object.entries(params).map(([name, d]) => ({ name, data: d })), lr: 3e-4, weightDecay: 0.01 }]);
  const ema = new EMA(params, 0.999, { warmup: true });
  return new Trainer(stepFn, { params, optimizer, ema, clipNorm: 1, lrSchedule: (s) => warmupCosine(s, { warmup: 500, total: 12000, minRatio: 0.1 }) });
}

const batches = new PretrainBatches(data, batch, seed);
async function runSteps(trainer: Trainer, count: number, into: Sample[] | null): Promise<void> {
  for (let k = 0; k < count; k++) {
    const t0 = performance.now();
    batches.fill(trainer.step);
    const t1 = performance.now();
    const r = await trainer.trainStep(batches.feeds);
    into?.push({ batch: t1 - t0, ort: r.ortMs, optimizer: r.optimizerMs, other: r.totalMs - r.ortMs - r.optimizerMs });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;

const modes = args.modes!.split(',');
for (const mode of modes) if (mode !== 'js' && mode !== 'resident') throw new Error(`--modes: unknown mode '${mode}' (js, resident)`);
const trainers = modes.map((mode) => pretrainTrainer(mode));
for (const trainer of trainers) await runSteps(trainer, Number(args.warmup), null);
const samples: Sample[][] = modes.map(() => []);
const rounds = Number(args.rounds);
const perRound = Math.ceil(Number(args.steps) / rounds);
// The modes alternate, round by round, so that both see the same load.
for (let round = 0; round < rounds; round++) for (const [k, trainer] of trainers.entries()) await runSteps(trainer, perRound, samples[k]!);
for (const [k, mode] of modes.entries()) {
  const ss = samples[k]!;
  const whole = ss.map((s) => s.batch + s.ort + s.optimizer + s.other);
  const outside = ss.map((s) => (100 * (s.batch + s.optimizer + s.other)) / (s.batch + s.ort + s.optimizer + s.other));
  console.log(`${mode}: ${ss.length} steps in ${rounds} rounds, ms per step, median (range):`);
  console.log(`  step      ${fmt(whole)}  -> ${(1000 / median(whole)).toFixed(2)} step/s`);
  console.log(`  batch     ${fmt(ss.map((s) => s.batch))}`);
  console.log(`  ort       ${fmt(ss.map((s) => s.ort))}`);
  console.log(`  optimizer ${fmt(ss.map((s) => s.optimizer))}`);
  console.log(`  other     ${fmt(ss.map((s) => s.other))}`);
  console.log(`  outside onnxruntime ${fmt(outside)} %`);
}
// The optimizer's pass alone, without onnxruntime's runs in between: the same gradients for every mode
// (for `resident`, already in its gradient buffers, where the graph writes them).
const sizes = Object.fromEntries(stepFn.paramNames.map((n) => [n, stepFn.paramShapes[n]!.reduce((a, b) => a * b, 1)]));
const heapGrads = Object.fromEntries(stepFn.paramNames.map((n) => [n, Float32Array.from({ length: sizes[n]! }, (_, i) => 1e-3 * Math.sin(i + 1))]));
const passMs: number[][] = modes.map(() => []);
const gradsOf = trainers.map((t) => {
  const buffers = t.opts.optimizer.gradientBuffers();
  for (const [n, b] of Object.entries(buffers)) b.set(heapGrads[n]!);
  return { ...heapGrads, ...buffers };
});
for (let round = 0; round < 2 * rounds; round++) {
  for (const [k, t] of trainers.entries()) {
    for (let j = 0; j < 3; j++) {
      const t0 = performance.now();
      t.opts.optimizer.step(gradsOf[k]!, { lrScale: 0.5, gradScale: 0.7, ema: t.opts.ema });
      passMs[k]!.push(performance.now() - t0);
    }
  }
}
console.log(`the optimizer's pass alone (AdamW + EMA over ${(paramCount / 1e6).toFixed(2)} M parameters), ms, median (range):`);
for (const [k, mode] of modes.entries()) console.log(`  ${mode.padEnd(9)} ${fmt(passMs[k]!)}`);
await stepFn.release();
