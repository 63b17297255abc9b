/**
 * Pretraining of the embedded model (npm run pretrain -- [--resume] [--steps N] [--batch B] ...).
 *
 * The schedule's objective (v-prediction for emoji-mini; see src/pipeline/emoji-mini.ts) on a dataset built by
 * `npm run data:build` (data/styles32.bin: the v2 emoji sets and icon manners; never openmoji), batches drawn
 * with --emoji-share of their pictures from the emoji sets and the rest from the icon collections (uniform
 * within each group), with 10% caption dropout for classifier-free guidance, horizontal flips, AdamW with warm-up and cosine
 * decay, gradient clipping, EMA weights (the weights, gradients, moments and EMA resident in one
 * WebAssembly memory, updated by a SIMD kernel: src/train/resident.ts), a checkpoint every few minutes
 * (resume with --resume), a progress line every 20 steps with loss, steps/s over those steps, the step's
 * time (batch and training step) and its share outside onnxruntime, and ETA, a sample grid PNG every
 * --sample-every steps, and at the end the throughput of the whole run (steps/s, without the first step)
 * with the step's time split into onnxruntime, the optimizer's pass and the rest.
 * When the last step is done, the EMA weights are exported to models/emoji-mini/ (fp16 safetensors).
 * --init-from starts from a model folder's weights; token embeddings are carried over by word, so a new
 * dataset's larger vocabulary keeps what the old words meant (new words start at the mean embedding).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { remapTokenEmbedding, emojiMiniFolder, emojiMiniModel } from '../src/pipeline/emoji-mini.ts';
import { writeSampleGrid } from './lib/sample-grid.ts';
import { compilePretrainStep, loadPretrainData, PretrainBatches } from './lib/pretrain-step.ts';
import { loadLatestCheckpoint, saveCheckpoint } from '../src/train/checkpoint.ts';
import { EMA } from '../src/train/ema.ts';
import { AdamW, warmupCosine } from '../src/train/optim.ts';
import { residentParams } from '../src/train/resident.ts';
import { Trainer } from '../src/train/step.ts';
import { initParams } from '../src/models/init.ts';
import { loadModelFolder, writeModelFolder } from '../src/pipeline/model-folder.ts';
import type { WordTokenizer } from '../src/models/tokenizers/word.ts';

const { values: args } = parseArgs({
  options: {
    resume: { type: 'boolean', default: false },
    steps: { type: 'string', default: '12000' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '3e-4' },
    warmup: { type: 'string', default: '500' },
    'ema-decay': { type: 'string', default: '0.999' },
    out: { type: 'string', default: 'runs/emoji-mini' },
    data: { type: 'string', default: 'data/styles32.bin' },
    /** Share of each batch drawn from the emoji sets (the rest from the icon collections). */
    'emoji-share': { type: 'string', default: '0.6' },
    'checkpoint-minutes': { type: 'string', default: '3' },
    'sample-every': { type: 'string', default: '1000' },
    'export-to': { type: 'string', default: 'models/emoji-mini' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '0' },
    'stop-after-minutes': { type: 'string', default: '0' },
    /** Start from a model folder's weights (fresh optimizer) when no checkpoint is there to resume. */
    'init-from': { type: 'string' },
  },
});
const totalSteps = Number(args.steps);
const batch = Number(args.batch);
const seed = Number(args.seed);
const ckptDir = `${args.out}/checkpoints`;
mkdirSync(`${args.out}/samples`, { recursive: true });

// ---- data: every picture as a latent, plain and mirrored; the training graph: text encoder + UNet, every parameter trainable
const data = loadPretrainData({ data: args.data!, emojiShare: Number(args['emoji-share']) });
const { ds, tokenizer } = data;
console.log(`dataset: ${ds.count} pictures of ${ds.height}x${ds.width} (${ds.sets.map((s) => s.id).join(', ')}), vocabulary ${tokenizer.vocabSize} tokens`);
const { stepFn, paramCount, flops } = await compilePretrainStep(data, batch, { threads: Number(args.threads) });
console.log(`model: ${(paramCount / 1e6).toFixed(2)} M parameters; training step ${(flops / 1e9).toFixed(1)} GFLOP at batch ${batch}`);

// ---- state: fresh or resumed
const ckpt = args.resume ? await loadLatestCheckpoint(ckptDir) : null;
let params: Record<string, Float32Array> = ckpt ? ckpt.params : initParams(stepFn.paramShapes, seed);
if (!ckpt && args['init-from']) {
  const from = await loadModelFolder(args['init-from']);
  params = Object.fromEntries(Object.keys(stepFn.paramShapes).map((n) => [n, from.weight(n)!.slice()]));
  const remapped = remapTokenEmbedding(params, from.tokenizer as WordTokenizer, tokenizer);
  console.log(
    `starting from the weights in ${args['init-from']}${remapped ? ` (${remapped.kept} of ${tokenizer.vocabSize} token embeddings carried over by word)` : ''}`,
  );
}
// The weights, their gradients, AdamW's moments and the EMA in one WebAssembly memory, updated by its SIMD kernel.
params = residentParams(params);
const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: Number(args.lr), weightDecay: 0.01 }]);
const ema = new EMA(params, Number(args['ema-decay']), { warmup: true });
if (ckpt) {
  optimizer.loadState(ckpt.optimizerState);
  if (ckpt.ema) ema.loadState(ckpt.ema);
  console.log(`resumed from ${ckpt.path} at step ${ckpt.step}`);
}
const trainer = new Trainer(stepFn, {
  params,
  optimizer,
  ema,
  clipNorm: 1,
  lrSchedule: (s) => warmupCosine(s, { warmup: Number(args.warmup), total: totalSteps, minRatio: 0.1 }),
  startStep: ckpt?.step ?? 0,
});

const batches = new PretrainBatches(data, batch, seed);
const schedule = batches.schedule;

/** The share of the steps' time (batch and training step) spent outside onnxruntime's run(), as a percentage. */
function outsideShare(w: { stepMs: number; ortMs: number }): string {
  return `${((100 * (w.stepMs - w.ortMs)) / w.stepMs).toFixed(1)}%`;
}

const t0 = performance.now();
const startStep = trainer.step;
let lastCkpt = performance.now();
let smoothLoss = NaN;
/**
 * Since the last progress line: steps, wall time, the steps' own time (the batch and the training step)
 * and their time inside onnxruntime and in the optimizer's pass.
 */
const recent = { steps: 0, since: performance.now(), stepMs: 0, ortMs: 0, optimizerMs: 0 };
/** The same over the whole run but its first step (onnxruntime's first run is slower). */
const wholeRun = { steps: 0, since: NaN, stepMs: 0, ortMs: 0, optimizerMs: 0 };
const stopAfter = Number(args['stop-after-minutes']) * 60_000;
const secondsBefore = Number((ckpt?.extra as { seconds?: number } | undefined)?.seconds ?? 0);
const checkpoint = async () => {
  const seconds = secondsBefore + (performance.now() - t0) / 1000;
  const path = await saveCheckpoint(ckptDir, {
    params,
    optimizerState: optimizer.state(),
    ema: ema.state(),
    step: trainer.step,
    extra: { loss: smoothLoss, batch, seconds, predictionType: schedule.config.prediction_type },
  });
  lastCkpt = performance.now();
  console.log(`checkpoint ${path}`);
};

while (trainer.step < totalSteps) {
  const batchStart = performance.now();
  batches.fill(trainer.step);
  const batchMs = performance.now() - batchStart;
  const r = await trainer.trainStep(batches.feeds);
  smoothLoss = Number.isNaN(smoothLoss) ? r.loss : 0.98 * smoothLoss + 0.02 * r.loss;
  for (const w of r.step === startStep + 1 ? [recent] : [recent, wholeRun]) {
    w.steps++;
    w.stepMs += batchMs + r.totalMs;
    w.ortMs += r.ortMs;
    w.optimizerMs += r.optimizerMs;
  }
  if (r.step === startStep + 1) wholeRun.since = performance.now();
  if (r.step % 20 === 0 || r.step === startStep + 1) {
    const now = performance.now();
    const rate = (r.step - startStep) / ((now - t0) / 1000);
    const eta = (totalSteps - r.step) / rate;
    const frac = r.step / totalSteps;
    const bar = '='.repeat(Math.floor(frac * 30)).padEnd(30, ' ');
    const fmt = (s: number) => `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    // Throughput over the steps since the last line (the loop: batch, step, checkpoints, samples), and
    // the step's own time (batch and training step) with its share outside onnxruntime (batch, optimizer, EMA, feeding).
    const rateRecent = recent.steps / ((now - recent.since) / 1000);
    console.log(
      `step ${r.step}/${totalSteps} [${bar}] ${(100 * frac).toFixed(1)}% loss ${smoothLoss.toFixed(4)} |g| ${r.gradNorm.toFixed(2)} lr x${r.lrScale.toFixed(2)} ` +
        `${rateRecent.toFixed(3)} step/s (step ${(recent.stepMs / recent.steps).toFixed(0)} ms, ${outsideShare(recent)} outside onnxruntime) ETA ${fmt(eta)}`,
    );
    Object.assign(recent, { steps: 0, since: now, stepMs: 0, ortMs: 0, optimizerMs: 0 });
  }
  if (performance.now() - lastCkpt > Number(args['checkpoint-minutes']) * 60_000) await checkpoint();
  if (r.step % Number(args['sample-every']) === 0 || r.step === totalSteps) {
    const file = `${args.out}/samples/step-${String(r.step).padStart(6, '0')}.png`;
    await writeSampleGrid(file, emojiMiniModel(tokenizer, new Map(Object.entries(ema.shadow)), `step-${r.step}`));
    console.log(`samples ${file}`);
  }
  if (stopAfter && performance.now() - t0 > stopAfter) break;
}
if (wholeRun.steps > 0) {
  const seconds = (performance.now() - wholeRun.since) / 1000;
  console.log(
    `throughput: ${(wholeRun.steps / seconds).toFixed(3)} step/s over steps ${startStep + 2}-${trainer.step} at batch ${batch} ` +
      `(step ${(wholeRun.stepMs / wholeRun.steps).toFixed(1)} ms mean: onnxruntime ${(wholeRun.ortMs / wholeRun.steps).toFixed(1)} ms, ` +
      `optimizer ${(wholeRun.optimizerMs / wholeRun.steps).toFixed(1)} ms, batch and the rest ${((wholeRun.stepMs - wholeRun.ortMs - wholeRun.optimizerMs) / wholeRun.steps).toFixed(1)} ms; ` +
      `${outsideShare(wholeRun)} of it outside onnxruntime)`,
  );
}
await checkpoint();
if (trainer.step >= totalSteps) {
  const seconds = (performance.now() - t0) / 1000;
  await writeModelFolder(
    args['export-to']!,
    emojiMiniFolder(tokenizer, new Map(Object.entries(ema.shadow)), {
      steps: totalSteps,
      batch,
      smoothedLoss: smoothLoss,
      trainingSeconds: secondsBefore + seconds,
      pictures: ds.count,
      sets: ds.sets.map((s) => s.id),
    }),
  );
  console.log(`exported EMA weights to ${args['export-to']}`);
}
writeFileSync(`${args.out}/last-step.txt`, `${trainer.step}\n`);
