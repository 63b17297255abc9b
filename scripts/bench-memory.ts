/**
 * Memory plan of pair training and style-guided drawing on the full-size Stable Diffusion
 * architectures: npm run bench:memory -- [--rank 64] [--models sd15,sdxl]
 *
 * Nothing is run and no weights are needed: the same graphs trainPair and DiffusionPipeline build are
 * traced for each architecture, resolution and precision, and planMemory (src/graph/memory.ts) replays
 * their execution order with each intermediate tensor alive from its node to its last consumer, as
 * onnxruntime's allocation planner does. Printed per case: UNet weights, the peak of the intermediate
 * tensors (what the backward pass keeps alive included), the attention probabilities alive at that
 * peak, their sum, and the matrix-product FLOPs of one step (countFlops: MatMul and Conv, 2 per MAC;
 * a GPU's time per step is about this over its achieved fp16 throughput). onnxruntime's fusions and in-place reuse can only lower the activation peak;
 * its arena rounding and cuDNN/GEMM workspaces, the CUDA context (~0.3-0.5 GB) and the VAE and text
 * encoders (run before the step, ~0.3 GB fp16 for SD 1.5, ~1.6 GB for SDXL) come on top.
 */
import { parseArgs } from 'node:util';
import * as G from '../src/graph/index.ts';
import { modelUnet, type ModelShapes, type Precision } from '../src/models/conditioning.ts';
import { SD15_UNET_CONFIG, SDXL_UNET_CONFIG, type UNet2DConditionConfig } from '../src/models/unet-config.ts';
import { pairParamMode, pairTrainingLoss } from '../src/pair/train.ts';

const { values: a } = parseArgs({ options: { rank: { type: 'string', default: '64' }, models: { type: 'string', default: 'sd15,sdxl' } } });
const rank = Number(a.rank);
const ARCHS: Record<string, { name: string; unet: UNet2DConditionConfig; sizes: number[]; budgetGiB: number }> = {
  sd15: { name: 'SD 1.5', unet: SD15_UNET_CONFIG, sizes: [512], budgetGiB: 12 },
  sdxl: { name: 'SDXL', unet: SDXL_UNET_CONFIG, sizes: [512, 1024], budgetGiB: 24 },
};
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
const shapes = (unet: UNet2DConditionConfig, px: number): ModelShapes => ({ unet, contextLength: 77, imageSize: px, codec: { latentShape: [unet.in_channels, px / 8, px / 8] } });

console.log(`pair training: batch 2 (content + style rows), ContentLoRA and StyleLoRA rank ${rank} on every attention projection, LoRA B trained`);
console.log('style-guided draw: one styled image beside its unstyled counterpart = 5 UNet rows per step (no gradients)\n');
console.log('model   px    precision  graph           weights  activations peak  (attention probs)  total     TFLOP/step  budget');
for (const key of a.models!.split(',')) {
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
          `${arch.name.padEnd(7)} ${String(px).padEnd(5)} ${precision.padEnd(10)} ${what.padEnd(15)} ${gib(plan.weightBytes).padStart(6)} GiB ${gib(plan.peakActivationBytes).padStart(8)} GiB  (${gib(plan.attentionAtPeak).padStart(6)} GiB)  ${gib(total).padStart(6)} GiB  ${tflop.toFixed(2).padStart(8)}    ${what === 'pair training' && precision === 'fp16' ? `${arch.budgetGiB} GiB: ${total / 2 ** 30 <= arch.budgetGiB ? 'fits' : 'does NOT fit'}` : ''}`,
        );
      }
    }
  }
}
