/**
 * Pretraining-step benchmark (npm run bench:pretrain-step [-- --data F --batch B --steps N --rounds R --modes M --forms F]):
 * the step `npm run pretrain` runs (emoji-mini's text encoder + UNet, every weight trainable, batch 32,
 * clipping, AdamW with warm-up and cosine, the EMA), timed piece by piece on every step:
 *   batch     writing the step's batch into the fed arrays (PretrainBatches.fill)
 *   ort       onnxruntime's run(), with its copies of the outputs
 *   optimizer the AdamW + EMA pass (TrainStepReport.optimizerMs)
 *   other     the rest of Trainer.trainStep (feeds, loss scale, clipping factor, bookkeeping)
 * and the step's share outside onnxruntime ((batch + optimizer + other) / the whole), then the
 * optimizer's pass alone (no onnxruntime run in between), for each of
 * --modes (resident: the weights, gradients, moments and EMA in one WebAssembly memory and the SIMD
 * kernel, as pretrain runs; js: the JavaScript heap and kernel, as before) and each of
 * --forms, the graph's form of the convolutions' weight gradients (tap-gemms-batch-last: pretrain's, one
 * GEMM per kernel tap over the batch, the batch innermost; tap-gemms: the same with the batch outside
 * the image, the graph's default; batch-conv: one convolution over the batch; per-sample: im2col and one
 * GEMM per sample; see GraphOptions.convWeightGrad), each optionally with onnxruntime session settings
 * (stepOptionsOf), alternated round by round on the same batches. With several forms each
 * has its own onnxruntime session, whose threads stop spinning after each run (so that the idle one
 * does not take the cores from the running one), and the first form's step time is compared with each
 * other's round by round (the ratio of the rounds' medians). Prints the median and the range over the
 * timed steps (the first `--warmup` steps of each trainer are not timed).
 * With --profile PREFIX, instead: for each form in turn, --warmup + --steps steps of the resident
 * trainer under onnxruntime's profiler (written as PREFIX-<form>_<date>.json), and onnxruntime's time
 * per step by operator, summed over the steps after the warm-up (the profiler's own cost included).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { ConvWeightGradForm } from '../src/graph/index.ts';
import { initParams } from '../src/models/init.ts';
import { EMA } from '../src/train/ema.ts';
import { AdamW, warmupCosine } from '../src/train/optim.ts';
import { residentParams } from '../src/train/resident.ts';
import { type StepFunction, Trainer } from '../src/train/step.ts';
import { latestProfile, summarizeOrtProfile } from './lib/ort-profile.ts';
import { compilePretrainStep, loadPretrainData, PRETRAIN_CONV_WEIGHT_GRAD, PretrainBatches, type PretrainStepOptions } from './lib/pretrain-step.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/emoji32.bin' },
    batch: { type: 'string', default: '32' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    /** Trainers to time, alternated round by round: resident (pretrain's), js (before). */
    modes: { type: 'string', default: 'resident,js' },
    /** Forms of the convolutions' weight gradients, one step graph each (see stepOptionsOf): tap-gemms-batch-last (pretrain's), tap-gemms, batch-conv, per-sample. */
    forms: { type: 'string', default: PRETRAIN_CONV_WEIGHT_GRAD },
    threads: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    /** Profile each form instead of timing (the path prefix of onnxruntime's trace files). */
    profile: { type: 'string' },
  },
});
const batch = Number(args.batch);
const seed = Number(args.seed);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;

const forms = args.forms!.split(',');
const FORMS: readonly ConvWeightGradForm[] = ['tap-gemms', 'tap-gemms-batch-last', 'per-sample', 'batch-conv'];
/**
 * A --forms entry: the weight gradient's form, then optionally onnxruntime's session settings joined by
 * '+': interN (inter-op threads, the parallel executor), threadsN (intra-op threads), mempattern.
 */
function stepOptionsOf(entry: string): Omit<PretrainStepOptions, 'stopSpinningAfterRun' | 'profileFilePrefix'> {
  const [form, ...settings] = entry.split('+');
  if (!FORMS.includes(form as ConvWeightGradForm)) throw new Error(`--forms: unknown form '${form}' (${FORMS.join(', ')})`);
  const o: Omit<PretrainStepOptions, 'stopSpinningAfterRun' | 'profileFilePrefix'> = {
    threads: Number(args.threads),
    convWeightGrad: form as ConvWeightGradForm,
  };
  for (const setting of settings) {
    const m = /^(inter|threads)(\d+)$/.exec(setting);
    if (m?.[1] === 'inter') o.interOpThreads = Number(m[2]);
    else if (m?.[1] === 'threads') o.threads = Number(m[2]);
    else if (setting === 'mempattern') o.memoryPattern = true;
    else throw new Error(`--forms: unknown setting '${setting}' in '${entry}' (interN, threadsN, mempattern)`);
  }
  return o;
}
for (const form of forms) stepOptionsOf(form);
const modes = args.modes!.split(',');
for (const mode of modes) if (mode !== 'js' && mode !== 'resident') throw new Error(`--modes: unknown mode '${mode}' (js, resident)`);

const data = loadPretrainData({ data: args.data!, emojiShare: 0.6 });
if (args.profile) {
  for (const form of forms) {
    const prefix = `${args.profile}-${form}`;
    const { stepFn } = await compilePretrainStep(data, batch, { ...stepOptionsOf(form), profileFilePrefix: prefix });
    const trainer = pretrainTrainer('resident', stepFn);
    const profiled = new PretrainBatches(data, batch, seed);
    for (let k = 0; k < Number(args.warmup) + Number(args.steps); k++) {
      profiled.fill(trainer.step);
      await trainer.trainStep(profiled.feeds);
    }
    await stepFn.release();
    const file = await latestProfile(prefix);
    const { runMs, operators } = await summarizeOrtProfile(file, Number(args.warmup));
    const kernels = operators.reduce((sum, o) => sum + o.ms, 0);
    console.log(`${form}: ${stepFn.nodeCount} ONNX nodes; ${file}`);
    console.log(`  onnxruntime's run, profiled: ${median(runMs).toFixed(1)} ms per step (median of ${runMs.length}); its kernels ${kernels.toFixed(1)} ms:`);
    for (const o of operators.slice(0, 16))
      console.log(`  ${o.op.padEnd(20)} ${o.ms.toFixed(1).padStart(7)} ms ${((100 * o.ms) / kernels).toFixed(1).padStart(5)}%  ${o.nodes} nodes`);
  }
  console.log(
    `load average (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
  process.exit(0);
}
const compiled = [];
for (const form of forms) {
  const step = await compilePretrainStep(data, batch, { ...stepOptionsOf(form), stopSpinningAfterRun: forms.length > 1 });
  console.log(`${form}: ${step.stepFn.nodeCount} ONNX nodes, ${(step.flops / 1e9).toFixed(1)} GFLOP per step`);
  compiled.push(step);
}
const { stepFn, paramCount } = compiled[0]!;
console.log(`${args.data}: ${data.ds.count} pictures; emoji-mini ${(paramCount / 1e6).toFixed(2)} M parameters, batch ${batch}`);

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
function pretrainTrainer(mode: string, step: StepFunction): Trainer {
  const fresh = initParams(step.paramShapes, seed);
  const params = mode === 'resident' ? residentParams(fresh) : fresh;
  const optimizer = new AdamW([{ params: Object.entries(params).map(([name, d]) => ({ name, data: d })), lr: 3e-4, weightDecay: 0.01 }]);
  const ema = new EMA(params, 0.999, { warmup: true });
  return new Trainer(step, { params, optimizer, ema, clipNorm: 1, lrSchedule: (s) => warmupCosine(s, { warmup: 500, total: 12000, minRatio: 0.1 }) });
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

// Every form with every mode; labelled by the mode alone when there is one form, as before.
const variants = compiled.flatMap((c, f) => modes.map((mode) => ({ form: f, label: forms.length > 1 ? `${forms[f]}/${mode}` : mode, mode, step: c.stepFn })));
const trainers = variants.map((v) => pretrainTrainer(v.mode, v.step));
for (const trainer of trainers) await runSteps(trainer, Number(args.warmup), null);
const samples: Sample[][] = variants.map(() => []);
const rounds = Number(args.rounds);
const perRound = Math.ceil(Number(args.steps) / rounds);
const wholeOf = (s: Sample) => s.batch + s.ort + s.optimizer + s.other;
// Each round's median step time per variant, for the ratios between forms.
const roundMedians: number[][] = variants.map(() => []);
// The variants alternate, round by round, so that all see the same load.
for (let round = 0; round < rounds; round++) {
  for (const [k, trainer] of trainers.entries()) {
    const before = samples[k]!.length;
    await runSteps(trainer, perRound, samples[k]!);
    roundMedians[k]!.push(median(samples[k]!.slice(before).map(wholeOf)));
  }
}
for (const [k, { label }] of variants.entries()) {
  const ss = samples[k]!;
  const whole = ss.map(wholeOf);
  const outside = ss.map((s) => (100 * (s.batch + s.optimizer + s.other)) / wholeOf(s));
  console.log(`${label}: ${ss.length} steps in ${rounds} rounds, ms per step, median (range):`);
  console.log(`  step      ${fmt(whole)}  -> ${(1000 / median(whole)).toFixed(2)} step/s`);
  console.log(`  batch     ${fmt(ss.map((s) => s.batch))}`);
  console.log(`  ort       ${fmt(ss.map((s) => s.ort))}`);
  console.log(`  optimizer ${fmt(ss.map((s) => s.optimizer))}`);
  console.log(`  other     ${fmt(ss.map((s) => s.other))}`);
  console.log(`  outside onnxruntime ${fmt(outside)} %`);
}
if (forms.length > 1) {
  console.log(`step speed of each form against ${forms[0]} (its step time / theirs), per round: median (range):`);
  for (const [k, v] of variants.entries()) {
    if (v.form === 0) continue;
    const base = variants.findIndex((u) => u.form === 0 && u.mode === v.mode);
    const ratios = roundMedians[k]!.map((t, r) => roundMedians[base]!.at(r)! / t);
    console.log(`  ${v.label.padEnd(20)} ${fmt(ratios)}x`);
  }
}
console.log(
  `load average (1, 5, 15 min): ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`,
);
// The optimizer's pass alone, without onnxruntime's runs in between: the same gradients for every mode
// (for `resident`, already in its gradient buffers, where the graph writes them).
const sizes = Object.fromEntries(stepFn.paramNames.map((n) => [n, stepFn.paramShapes[n]!.reduce((a, b) => a * b, 1)]));
const heapGrads = Object.fromEntries(stepFn.paramNames.map((n) => [n, Float32Array.from({ length: sizes[n]! }, (_, i) => 1e-3 * Math.sin(i + 1))]));
const passMs: number[][] = variants.map(() => []);
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
for (const [k, { label }] of variants.entries()) console.log(`  ${label.padEnd(9)} ${fmt(passMs[k]!)}`);
for (const c of compiled) await c.stepFn.release();
