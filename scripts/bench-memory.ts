/**
 * Memory of pair training and drawing, measured and predicted: npm run bench:memory --
 * [--sizes 32,64,128] [--sd15] [--rank 64] [--models sd15,sdxl] [--threads N]
 *
 * 1. Measured beside predicted. For the emoji-mini architecture at each size (and SD 1.5 at 128 px
 *    with --sd15): pair training (trainPair's loss and LoRA-B gradients, batch 2, rank 8) and a
 *    style-guided draw's UNet call (5 rows). Each case runs twice in a fresh process
 *    (scripts/lib/measure-memory.ts): the measured peak is the resident set the run adds on top of the
 *    loaded session and its inputs (Linux's VmHWM, reset before each run), so it includes
 *    onnxruntime's arena, its fusions and in-place reuse, kernel workspaces and the outputs. The
 *    prediction is planMemory (src/graph/memory.ts): the graph's intermediate tensors, each alive from
 *    its node to its last reader, in graph order. Last line of the part: memory_plan_error=<the largest
 *    |predicted - measured| / measured>.
 * 2. Predicted only, full-size SD 1.5 and SDXL (traced, not run; no weights needed): the same planner
 *    on the same graphs trainPair and DiffusionPipeline build, per resolution and precision, with the
 *    matrix-product FLOPs of one step (countFlops: MatMul and Conv, 2 per MAC). These are
 *    extrapolations: trusted as far as part 1's error, which was measured on smaller graphs of the same
 *    ops; onnxruntime's CUDA allocator, cuDNN workspaces, the CUDA context (~0.3-0.5 GB) and the VAE and
 *    text encoders (run before the step) are not modelled.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as G from '../src/graph/index.ts';
import type { Precision } from '../src/graph/device.ts';
import { modelUnet, type ModelShapes } from '../src/pipeline/conditioning.ts';
import { SD15_UNET_CONFIG, SDXL_UNET_CONFIG, type UNet2DConditionConfig } from '../src/models/unet-config.ts';
import { pairParamMode, pairTrainingLoss } from '../src/pair/train.ts';
import { buildCase, describeCase, type MemoryCase } from './lib/memory-cases.ts';
import { measurePeak } from './lib/measure-memory.ts';

const { values: a } = parseArgs({
  options: {
    rank: { type: 'string', default: '64' },
    models: { type: 'string', default: 'sd15,sdxl' },
    sizes: { type: 'string', default: '32,64,128' },
    sd15: { type: 'boolean', default: false },
    threads: { type: 'string' },
  },
});
const rank = Number(a.rank);
const threads = Number(a.threads ?? process.env.BENCH_THREADS ?? cpus().length);
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

console.log(`part 1: measured (a fresh process per case, ${threads} threads, onnxruntime CPU) beside the planner's prediction`);
console.log('case                                         measured MiB (run 1, run 2)   predicted MiB   error');
const cases: MemoryCase[] = [];
for (const px of a.sizes!.split(',').filter(Boolean).map(Number))
  for (const kind of ['pair-training', 'draw'] as const) cases.push({ kind, arch: 'emoji-mini', px, rank: 8 });
if (a.sd15) for (const kind of ['pair-training', 'draw'] as const) cases.push({ kind, arch: 'sd15', px: 128, rank: 8 });
let worst = 0;
for (const c of cases) {
  const predicted = G.planMemory(Object.values(buildCase(c).outputs)).peakActivationBytes;
  const m = await measurePeak(c, threads);
  const error = (predicted - m.peakBytes) / m.peakBytes;
  worst = Math.max(worst, Math.abs(error));
  console.log(
    `${describeCase(c).padEnd(44)} ${mib(m.peakBytes).padStart(8)} (${m.runs.map(mib).join(', ')})`.padEnd(76) +
      `${mib(predicted).padStart(10)}   ${error >= 0 ? '+' : ''}${(100 * error).toFixed(1)}%`,
  );
}
console.log(`memory_plan_error=${worst.toFixed(3)}\n`);
const validated = worst <= 0.2;
console.log(
  `part 2: full-size architectures, predicted only (the planner; traced, not run): ${
    validated
      ? `validated in part 1 to within ${(100 * worst).toFixed(0)}% on smaller graphs of the same ops`
      : `NOT validated: the planner missed part 1's measurements by up to ${(100 * worst).toFixed(0)}%, so these are no memory figures to rely on (the FLOPs are exact counts)`
  }`,
);
const ARCHS: Record<string, { name: string; unet: UNet2DConditionConfig; sizes: number[]; budgetGiB: number }> = {
  sd15: { name: 'SD 1.5', unet: SD15_UNET_CONFIG, sizes: [512], budgetGiB: 12 },
  sdxl: { name: 'SDXL', unet: SDXL_UNET_CONFIG, sizes: [512, 1024], budgetGiB: 24 },
};
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const shapes = (unet: UNet2DConditionConfig, px: number): ModelShapes => ({
  unet,
  contextLength: 77,
  imageSize: px,
  codec: { latentShape: [unet.in_channels, px / 8, px / 8] },
});

console.log(`pair training: batch 2 (content + style rows), ContentLoRA and StyleLoRA rank ${rank} on every attention projection, LoRA B trained`);
console.log('style-guided draw: one styled image beside its unstyled counterpart = 5 UNet rows per step (no gradients)\n');
console.log('model   px    precision  graph           weights  activations peak  (attention probs)  total     TFLOP/step  budget');
for (const key of a.models!.split(',').filter(Boolean)) {
  const arch = ARCHS[key];
  if (!arch) throw new Error(`--models: unknown '${key}' (sd15, sdxl)`);
  for (const px of arch.sizes) {
    for (const precision of ['fp16', 'fp32'] as Precision[]) {
      const model = shapes(arch.unet, px);
      const train = new G.Graph({ paramMode: pairParamMode(false) });
      const loss = pairTrainingLoss(train, model, rank, { precision });
      const grads = G.grad(loss, train.trainableParams());
      const draw = new G.Graph({ paramMode: (n) => (n.includes('.lora_') ? 'fed' : 'frozen') });
      const out = modelUnet(draw, model, 5, { precision, lora: [{ name: 'style', rank }] });
      for (const [what, roots] of [
        ['pair training', [loss, ...grads]],
        ['draw (5 rows)', [out]],
      ] as const) {
        const plan = G.planMemory(roots);
        const tflop = G.countFlops(roots) / 1e12;
        const total = plan.weightBytes + plan.inputBytes + plan.peakActivationBytes;
        console.log(
          `${arch.name.padEnd(7)} ${String(px).padEnd(5)} ${precision.padEnd(10)} ${what.padEnd(15)} ${gib(plan.weightBytes).padStart(6)} GiB ${gib(plan.peakActivationBytes).padStart(8)} GiB  (${gib(plan.attentionAtPeak).padStart(6)} GiB)  ${gib(total).padStart(6)} GiB  ${tflop.toFixed(2).padStart(8)}    ${validated && what === 'pair training' && precision === 'fp16' ? `${arch.budgetGiB} GiB: ${total / 2 ** 30 <= arch.budgetGiB ? 'fits' : 'does NOT fit'}` : ''}`,
        );
      }
    }
  }
}
