/**
 * Pretraining-step benchmark (npm run bench:pretrain-step [-- --data F --batch B --steps N --rounds R]):
 * the step `npm run pretrain` runs (emoji-mini's text encoder + UNet, every weight trainable, batch 32,
 * clipping, AdamW with warm-up and cosine, the EMA), timed piece by piece on every step:
 *   batch     writing the step's batch into the fed arrays (PretrainBatches.fill)
 *   ort       onnxruntime's run(), with its copies of the outputs
 *   optimizer the AdamW + EMA pass (TrainStepReport.optimizerMs)
 *   other     the rest of Trainer.trainStep (feeds, loss scale, clipping factor, bookkeeping)
 * and the step's share outside onnxruntime ((batch + optimizer + other) / the whole). Prints the median
 * and the range over the timed steps (the first `--warmup` steps of each trainer are not timed).
 */
import { parseArgs } from 'node:util';
import { initParams } from '../src/models/init.ts';
import { EMA } from '../src/train/ema.ts';
import { AdamW, warmupCosine } from '../src/train/optim.ts';
import { Trainer } from '../src/train/step.ts';
import { compilePretrainStep, loadPretrainData, PretrainBatches } from './lib/pretrain-step.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/emoji32.bin' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
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

/** A trainer as pretrain.ts makes it, on fresh weights. */
function pretrainTrainer(): Trainer {
  const params = initParams(stepFn.paramShapes, seed);
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

const trainer = pretrainTrainer();
await runSteps(trainer, Number(args.warmup), null);
const samples: Sample[] = [];
const steps = Number(args.steps);
const rounds = Number(args.rounds);
for (let round = 0; round < rounds; round++) await runSteps(trainer, Math.ceil(steps / rounds), samples);
const whole = samples.map((s) => s.batch + s.ort + s.optimizer + s.other);
const outside = samples.map((s) => (100 * (s.batch + s.optimizer + s.other)) / (s.batch + s.ort + s.optimizer + s.other));
console.log(`${samples.length} steps, ms per step, median (range):`);
console.log(`  step      ${fmt(whole)}  -> ${(1000 / median(whole)).toFixed(2)} step/s`);
console.log(`  batch     ${fmt(samples.map((s) => s.batch))}`);
console.log(`  ort       ${fmt(samples.map((s) => s.ort))}`);
console.log(`  optimizer ${fmt(samples.map((s) => s.optimizer))}`);
console.log(`  other     ${fmt(samples.map((s) => s.other))}`);
console.log(`  outside onnxruntime ${fmt(outside)} %`);
await stepFn.release();
