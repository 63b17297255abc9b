/**
 * GPU check: a short pair training and a style-guided draw on one device, with
 * steps/s and peak memory. Meant for a CUDA host (onnxruntime-node's CUDA 12 provider installed, see
 * README "GPU hosts"); runs on the CPU too (--device cpu), which is how it is tested here.
 *
 *   npm run gpu:check -- [--random sd15|sdxl | --model PATH [--tokenizer DIR] [--tokenizer2 DIR]]
 *                        [--device cuda] [--precision fp16] [--resolution PX] [--train-steps 20]
 *                        [--draw-steps 20] [--rank 16] [--threads N]
 *
 * --random builds the full-size architecture with random weights in memory (no download; SD 1.5 needs
 * ~9 GB of host memory, SDXL ~30 GB): speeds and memory are those of the real model, the pictures are
 * noise. --model loads a real checkpoint (a diffusers folder, or a single .safetensors file with its
 * tokenizer folders). Peak GPU memory is the largest of this process's used_memory that nvidia-smi
 * reports while the check runs (sampled every 0.2 s); peak host memory is the process's max RSS.
 * Last line: one key=value summary.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NoiseSchedule, STABLE_DIFFUSION_SCHEDULE } from '../src/diffusion/schedule.ts';
import { DiffusionPipeline } from '../src/pipeline/diffusion-pipeline.ts';
import type { Device, Precision } from '../src/graph/device.ts';
import { checkDevice } from '../src/graph/providers.ts';
import { SD15_TEXT_CONFIG, SDXL_TEXT_2_CONFIG, SDXL_TEXT_CONFIG } from '../src/models/clip-text.ts';
import { loadTextToImageModel } from '../src/pipeline/load-model.ts';
import { SDXL_SCHEDULE } from '../src/pipeline/single-file.ts';
import { stableDiffusionInventory, stableDiffusionModelOf, type StableDiffusionConfigs, type StableDiffusionModel } from '../src/pipeline/stable-diffusion.ts';
import { ClipTokenizer } from '../src/models/tokenizers/clip-bpe.ts';
import { SD15_UNET_CONFIG, SDXL_UNET_CONFIG } from '../src/models/unet-config.ts';
import { SD_VAE_CONFIG } from '../src/models/vae.ts';
import { drawStyled } from '../src/pair/draw.ts';
import { trainPair } from '../src/pair/train.ts';
import { writeTinyClipTokenizerDir } from '../testing/tiny-clip-vocab.ts';

const { values: a } = parseArgs({
  options: {
    random: { type: 'string' },
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    tokenizer2: { type: 'string' },
    device: { type: 'string', default: 'cuda' },
    precision: { type: 'string', default: 'fp16' },
    resolution: { type: 'string' },
    'train-steps': { type: 'string', default: '20' },
    'draw-steps': { type: 'string', default: '20' },
    rank: { type: 'string', default: '16' },
    threads: { type: 'string' },
  },
});
const device = a.device as Device;
const precision = a.precision as Precision;
if (!['cpu', 'cuda'].includes(device) || !['fp32', 'fp16'].includes(precision)) throw new Error('--device cpu|cuda, --precision fp32|fp16');
checkDevice(device);
const threads = a.threads ? Number(a.threads) : undefined;
const trainSteps = Number(a['train-steps']);
const drawSteps = Number(a['draw-steps']);

// ---- peak memory: nvidia-smi samples of this process (GPU), max RSS (host)
let gpuPeakMiB = 0;
let gpuNote = 'not sampled (device cpu)';
const sampleGpu = () =>
  execFile('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], (err, out) => {
    if (err) {
      gpuNote = `nvidia-smi failed: ${err.message.split('\n')[0]}`;
      return;
    }
    gpuNote = 'nvidia-smi used_memory of this process';
    for (const line of out.trim().split('\n')) {
      const [pid, mib] = line.split(',').map((s) => Number(s.trim()));
      if (pid === process.pid) gpuPeakMiB = Math.max(gpuPeakMiB, mib);
    }
  });
const sampler = device === 'cuda' ? setInterval(sampleGpu, 200) : undefined;

// ---- the model
/** Fan-in-scaled uniform noise (norm scales 1), fast enough for 3.5 G values: xorshift32 per tensor. */
function randomTensor(name: string, shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((x, y) => x * y, 1);
  const out = new Float32Array(n);
  if (/norm[^.]*\.weight$/.test(name)) return out.fill(1);
  const scale = shape.length === 1 ? 0.01 : Math.sqrt(3 / shape.slice(1).reduce((x, y) => x * y, 1));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 31 - 1) * scale;
  }
  return out;
}

async function randomModel(kind: string): Promise<StableDiffusionModel> {
  const cfg: StableDiffusionConfigs =
    kind === 'sdxl'
      ? { unet: SDXL_UNET_CONFIG, text: SDXL_TEXT_CONFIG, text2: SDXL_TEXT_2_CONFIG, vae: { ...SD_VAE_CONFIG, scaling_factor: 0.13025 } }
      : kind === 'sd15'
        ? { unet: SD15_UNET_CONFIG, text: SD15_TEXT_CONFIG, vae: SD_VAE_CONFIG }
        : (() => {
            throw new Error(`--random: sd15 or sdxl, not '${kind}'`);
          })();
  const t0 = performance.now();
  const weights = new Map<string, Float32Array>();
  let i = 0;
  for (const [name, shape] of stableDiffusionInventory(cfg.unet, cfg.text, cfg.vae, cfg.text2)) weights.set(name, randomTensor(name, shape, 0x9e3779b9 * ++i));
  console.log(
    `random ${kind} weights: ${[...weights.values()].reduce((s, w) => s + w.length, 0).toLocaleString('en')} parameters in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  // A small CLIP BPE vocabulary: its ids are valid rows of the 49,408-token embedding.
  const tokDir = writeTinyClipTokenizerDir();
  const tok2Dir = writeTinyClipTokenizerDir('!');
  const tokenizers = {
    tokenizer: ClipTokenizer.fromDir(tokDir),
    tokenizer2: cfg.text2 ? ClipTokenizer.fromDir(tok2Dir) : undefined,
    forceZerosForEmptyPrompt: !!cfg.text2,
  };
  for (const d of [tokDir, tok2Dir]) rmSync(d, { recursive: true, force: true });
  const schedule = new NoiseSchedule(cfg.text2 ? SDXL_SCHEDULE : STABLE_DIFFUSION_SCHEDULE);
  return stableDiffusionModelOf(`random-${kind}`, `random-${kind}`, cfg, tokenizers, schedule, weights, load);
}

const t0 = performance.now();
const load = { threads, device, imageSize: a.resolution ? Number(a.resolution) : undefined };
const model = (
  a.model ? await loadTextToImageModel(a.model, { ...load, tokenizerDir: a.tokenizer, tokenizer2Dir: a.tokenizer2 }) : await randomModel(a.random ?? 'sd15')
) as StableDiffusionModel;
if (!('vae' in model)) throw new Error(`--model ${a.model}: not a Stable Diffusion checkpoint (no VAE)`);
const loadSeconds = (performance.now() - t0) / 1000;
const px = model.imageSize;
console.log(
  `model ${model.id}: ${px} px, latent [${model.codec.latentShape}], device ${device}, precision ${precision}, loaded in ${loadSeconds.toFixed(1)} s`,
);

// ---- pair training
const image = (seed: number) => Float32Array.from({ length: 3 * px * px }, (_, i) => Math.sin(i * 0.0137 + seed) * 0.8);
const tTrain = performance.now();
const trained = await trainPair({
  model,
  content: image(1),
  style: image(2),
  name: 'gpu-check',
  steps: trainSteps,
  rank: Number(a.rank),
  device,
  precision,
  threads,
});
const trainSeconds = (performance.now() - tTrain) / 1000;
const stepsPerSecond = 1000 / trained.meanStepMs;
console.log(
  `pair training: ${trainSteps} steps, ${stepsPerSecond.toFixed(2)} steps/s (${trained.meanStepMs.toFixed(0)} ms/step), ` +
    `${(trainSeconds - (trainSteps * trained.meanStepMs) / 1000).toFixed(1)} s of text encoding, VAE and graph compilation, ` +
    `${trained.skippedSteps} steps skipped by loss scaling, final loss ${trained.losses.at(-1)?.toFixed(4)}`,
);

// ---- style-guided draw (styled beside unstyled, one seed)
const pipe = new DiffusionPipeline(model, { threads, device, precision });
const opts = { prompt: 'a photo of a cat', seed: 1, steps: drawSteps, cfg: 5 };
const w0 = performance.now();
await drawStyled(pipe, [{ style: trained.style, weight: 3 }], { ...opts, steps: 2 });
const warmup = (performance.now() - w0) / 1000;
const d0 = performance.now();
const drawn = await drawStyled(pipe, [{ style: trained.style, weight: 3 }], opts);
const drawSeconds = (performance.now() - d0) / 1000;
console.log(
  `style-guided draw: ${drawSteps} steps x ${drawn.rowsPerStep} UNet rows in ${drawSeconds.toFixed(2)} s (${((drawSeconds / drawSteps) * 1000).toFixed(0)} ms/step; first draw with session creation ${warmup.toFixed(1)} s)`,
);
await pipe.release();

if (sampler) {
  sampleGpu();
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(sampler);
}
const rssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`peak GPU memory: ${device === 'cuda' ? `${gpuPeakMiB} MiB` : '-'} (${gpuNote}); peak host memory (max RSS): ${rssMiB.toFixed(0)} MiB`);
console.log(
  `gpu_check model=${model.id} device=${device} precision=${precision} px=${px} train_steps_per_s=${stepsPerSecond.toFixed(3)} draw_s_per_step=${(drawSeconds / drawSteps).toFixed(3)} peak_gpu_mib=${device === 'cuda' ? gpuPeakMiB : 'na'} max_rss_mib=${rssMiB.toFixed(0)}`,
);
await model.release();
