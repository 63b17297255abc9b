/**
 * Model benchmark (npm run bench:models). Prints, in one run on this machine:
 *   1. onnxruntime-node's own fp32 GEMM yardsticks (scripts/lib/bench.ts), measured first and again
 *      last; every graph below has constant (frozen) weights, so every ratio is to the larger
 *      measurement of `packed` (a GEMM with a constant, pre-packed weight), printed at the end;
 *   2. the embedded model's (emoji-mini config) UNet forward at batch 2 (a CFG draw), its Pair
 *      Customization training step (forward + backward, gradients of LoRA B only: content + style
 *      adapters of rank 8 on every attention projection, batch 2), and its text encoder (batch 2 x 16);
 *   3. SD 1.5's text encoder (batch 1 x 77) and SD 1.5's UNet at a 64x64 latent, batch 1, forward only,
 *      one cold run, with random fp32 weights (3.4 GB: emitted as ONNX external data).
 * Times are medians (and the fastest run, which the ratios use) over ~BENCH_SECONDS (default 4) unless
 * marked one run. FLOPs count matrix products
 * and convolutions only (2 per multiply-add), as the GEMM yardsticks do. BENCH_SKIP_SD15=1 skips part 3's UNet.
 */
import { cpus } from 'node:os';
import * as G from '../src/graph/index.ts';
import { clipTextModel, emojiMiniTextConfig, SD15_TEXT_CONFIG, type CLIPTextConfig } from '../src/models/clip-text.ts';
import type { LoraAdapter } from '../src/models/lora.ts';
import { EMOJI_MINI_UNET_CONFIG, SD15_UNET_CONFIG, unet2DConditionModel, type UNet2DConditionConfig } from '../src/models/unet.ts';
import { StepFunction } from '../src/train/step.ts';
import { describeYardsticks, gemmYardsticks, maxYardsticks, randomUniform, timeMs, type Timing } from './lib/bench.ts';

const threads = Number(process.env.BENCH_THREADS ?? cpus().length);
const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** Fan-in scaled uniform weights, norm scales 1, generated on demand (nothing kept). */
function randomWeight(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  if (/norm[^.]*\.weight$|layer_norm\d?\.weight$/.test(name)) return a.fill(1);
  const scale = shape.length > 1 ? Math.sqrt(3 / shape.slice(1).reduce((p, q) => p * q, 1)) : 0.05;
  let s = (name.length * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}

interface Figure {
  key: string;
  label: string;
  t: Timing;
  gflop: number;
  runs: string;
}
const figures: Figure[] = [];

function report(key: string, label: string, t: Timing, flops: number, runs = 'median'): void {
  figures.push({ key, label, t, gflop: flops / 1e9, runs });
  const time = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
  console.log(`${label}: ${time(t.median)} (${runs}; fastest ${time(t.best)}) | ${(flops / 1e9).toFixed(2)} GFLOP`);
}

async function forward(key: string, label: string, build: (g: G.Graph) => G.Tensor): Promise<void> {
  const g = new G.Graph({ paramMode: () => 'frozen' });
  const out = build(g);
  const s = await G.GraphSession.create(G.emitOnnx({ outputs: { out }, weights: (n) => randomWeight(n, g.params.get(n)!.shape) }), { threads });
  const feeds = Object.fromEntries(
    [...g.inputs].map(([n, t]) => [n, t.dtype === 'int64' ? BigInt64Array.from({ length: t.size }, (_, i) => BigInt(i % 300)) : randomUniform(t.size)]),
  );
  report(key, label, await timeMs(() => s.run(feeds), seconds), G.countFlops([out]));
  await s.release();
}

const unetInputs = (g: G.Graph, cfg: UNet2DConditionConfig, batch: number, tokens: number, size = cfg.sample_size) => ({
  sample: g.input('sample', [batch, cfg.in_channels, size, size]),
  timestep: g.input('timestep', [batch]),
  encoderHiddenStates: g.input('encoder_hidden_states', [batch, tokens, cfg.cross_attention_dim]),
});
const text = (cfg: CLIPTextConfig, batch: number, tokens: number) => (g: G.Graph) => clipTextModel(g, cfg, g.input('input_ids', [batch, tokens], 'int64'));

/** Pair Customization's step on the emoji-mini UNet: content + style LoRA, gradients of B only. */
async function loraStep(): Promise<void> {
  const cfg = EMOJI_MINI_UNET_CONFIG;
  const batch = 2;
  const g = new G.Graph({ paramMode: (n) => (n.includes('.lora_B.') ? 'trainable' : 'frozen') });
  const lora: LoraAdapter[] = [
    { name: 'content', rank: 8 },
    { name: 'style', rank: 8 },
  ];
  const out = unet2DConditionModel(g, cfg, unetInputs(g, cfg, batch, 16), { lora });
  const loss = G.mse(out, g.input('target', out.shape));
  const step = await StepFunction.compile(loss, { weights: (n) => randomWeight(n, g.params.get(n)!.shape), threads });
  const flops = G.countFlops([loss, ...G.grad(loss, g.trainableParams())]);
  const feeds: Record<string, G.Feed> = {};
  for (const [n, t] of g.inputs) feeds[n] = n.startsWith('lora_gate.') ? new Float32Array(t.size).fill(1) : randomUniform(t.size);
  for (const p of g.trainableParams()) feeds[p.node.name!] = randomUniform(p.size, 0.01);
  const trainable = g.trainableParams().reduce((a, p) => a + p.size, 0);
  report(
    'emoji_mini_unet_lora_step',
    `emoji-mini UNet forward+backward, LoRA B grads only (2 adapters r8, ${(trainable / 1e3).toFixed(0)} K trainable), batch 2`,
    await timeMs(() => step.run(feeds), seconds),
    flops,
  );
  await step.release();
}

/** SD 1.5 UNet, 64x64 latent, batch 1, forward, one cold run. */
async function sd15Unet(): Promise<void> {
  const cfg = SD15_UNET_CONFIG;
  const g = new G.Graph({ paramMode: () => 'frozen' });
  const out = unet2DConditionModel(g, cfg, unetInputs(g, cfg, 1, 77, 64));
  const params = [...g.params.values()].reduce((a, p) => a + p.size, 0);
  const flops = G.countFlops([out]);
  let t0 = performance.now();
  const model = G.emitOnnx({ outputs: { out }, weights: (n) => randomWeight(n, g.params.get(n)!.shape), name: 'sd15_unet' });
  const emitMs = performance.now() - t0;
  const ext = model.externalData;
  console.log(
    `SD 1.5 UNet: ${(params / 1e6).toFixed(1)} M parameters, ${gib(params * 4)} fp32; model ${(model.bytes.length / 2 ** 20).toFixed(1)} MiB + ${ext ? `${gib(ext.length)} external data` : 'no external data'}; ` +
      `weights generated + emitted in ${(emitMs / 1000).toFixed(1)} s`,
  );
  t0 = performance.now();
  const s = await G.GraphSession.create(model, { threads });
  const createMs = performance.now() - t0;
  console.log(
    `SD 1.5 UNet: session created in ${(createMs / 1000).toFixed(1)} s (writing the external data to a temp folder included); rss ${gib(process.memoryUsage().rss)}`,
  );
  const feeds = { sample: randomUniform(4 * 64 * 64), timestep: Float32Array.from([500]), encoder_hidden_states: randomUniform(77 * 768) };
  t0 = performance.now();
  const y = (await s.run(feeds)).out as Float32Array;
  const runMs = performance.now() - t0;
  if (!y.every(Number.isFinite)) throw new Error('SD 1.5 UNet: non-finite output');
  report('sd15_unet_forward', 'SD 1.5 UNet forward, 64x64 latent, batch 1 (random fp32 weights)', { median: runMs, best: runMs }, flops, 'one run, cold');
  console.log(`SD 1.5 UNet: rss after the run ${gib(process.memoryUsage().rss)}`);
  await s.release();
}

const ort = await import('onnxruntime-node');
const before = await gemmYardsticks(threads);
console.log(`onnxruntime-node ${ort.env.versions.node} on ${cpus().length} cores, before: ${describeYardsticks(before, threads)}`);
const mini = EMOJI_MINI_UNET_CONFIG;
await forward('emoji_mini_unet_forward', 'emoji-mini UNet forward, batch 2 (a CFG draw step)', (g) =>
  unet2DConditionModel(g, mini, unetInputs(g, mini, 2, 16)),
);
await loraStep();
await forward('emoji_mini_text_encoder', 'emoji-mini text encoder, batch 2 x 16 tokens', text(emojiMiniTextConfig(2000), 2, 16));
await forward('sd15_text_encoder', 'SD 1.5 text encoder (CLIP ViT-L/14), batch 1 x 77 tokens', text(SD15_TEXT_CONFIG, 1, 77));
if (process.env.BENCH_SKIP_SD15 !== '1') await sd15Unet();
const after = await gemmYardsticks(threads);
console.log(`after: ${describeYardsticks(after, threads)}`);
const packed = maxYardsticks(before, after).packed;
console.log(`ratios, fastest run to the larger measurement of packed (${packed.toFixed(1)} GFLOP/s):`);
for (const f of figures) console.log(`${f.label}: ${(f.gflop / (f.t.best * 1e-3) / packed).toFixed(3)} of packed`);
console.log(figures.map((f) => `${f.key}_ms=${f.t.median.toFixed(1)}`).join(' '));
