/**
 * Attention's memory in training, measured (npm run bench:attention -- [--layers 10] [--tokens 1024]
 * [--heads 8] [--batch 1] [--dim 64] [--forms fused,kept,tiled:256x1024] [--repeats 3]): the peak memory
 * of one forward+backward of `layers` residual attention layers over [batch, heads, tokens, dim]
 * (scripts/lib/memory-cases.ts), with the fused core (probabilities recomputed in the backward pass,
 * src/graph/ops/attention.ts), with the probabilities kept, and tiled in blocks of QxK (queries x keys,
 * src/graph/ops/tiled-attention.ts), each in `repeats` fresh processes (scripts/lib/measure-memory.ts:
 * resident-set high-water mark over three runs), beside the planner's prediction (src/graph/memory.ts)
 * and the fastest run's time (a by-product, not a timing benchmark). Lines:
 * attention_recompute_memory_ratio=<fused / kept, measured> and, per tiling,
 * attention_tiled_memory_ratio_<Q>x<K>=<tiled / fused, measured>.
 *
 * With --step 256,512 (image sizes in pixels; the attention layers above are then skipped): the
 * pair-training step of --arch (sd15: SD-1.5-shaped, random weights, LoRA rank 64, as bench:peer's
 * sd32_lora and sd64_lora at 256 and 512 px; emoji-mini: its architecture, rank 8, 4,096 tokens at
 * its first attention level at 256 px), batch 2, attention recomputed with the fused core ('off') and
 * tiled as the product chooses ('auto', src/models/attention.ts) or in QxK blocks (--step-tilings),
 * `repeats` processes of --step-runs runs each: the resident memory the step adds to its loaded
 * session, the process's whole high-water mark, and the fastest step. Lines
 * step_<arch>_<px>_tiled_memory_ratio_<tiling>= and step_<arch>_<px>_tiled_time_ratio_<tiling>=
 * (against 'off').
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as G from '../src/graph/index.ts';
import { buildCase, describeCase, type MemoryCase } from './lib/memory-cases.ts';
import { measurePeak } from './lib/measure-memory.ts';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '1024' },
    heads: { type: 'string', default: '8' },
    batch: { type: 'string', default: '1' },
    dim: { type: 'string', default: '64' },
    forms: { type: 'string', default: 'fused,kept,tiled:256x1024' },
    repeats: { type: 'string', default: '3' },
    step: { type: 'string', default: '' },
    arch: { type: 'string', default: 'sd15' },
    'step-runs': { type: 'string', default: '2' },
    'step-tilings': { type: 'string', default: 'off,auto' },
    threads: { type: 'string' },
  },
});
const threads = Number(a.threads ?? process.env.BENCH_THREADS ?? cpus().length);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const stepSizes = a.step!.split(',').filter(Boolean).map(Number);
if (a.arch !== 'sd15' && a.arch !== 'emoji-mini') throw new Error(`--arch: '${a.arch}' is not sd15 or emoji-mini`);
const arch = a.arch;
const peaks: Record<string, number> = {};
for (const form of stepSizes.length ? [] : a.forms!.split(',').filter(Boolean)) {
  const tiled = /^tiled:(\d+)x(\d+)$/.exec(form);
  if (!tiled && form !== 'fused' && form !== 'kept') throw new Error(`--forms: '${form}' is not fused, kept or tiled:<queries>x<keys>`);
  const c: MemoryCase = {
    kind: 'attention',
    layers: Number(a.layers),
    tokens: Number(a.tokens),
    heads: Number(a.heads),
    batch: Number(a.batch),
    dim: Number(a.dim),
    recompute: form !== 'kept',
    tiling: tiled ? { queryBlock: Number(tiled[1]), keyBlock: Number(tiled[2]) } : undefined,
  };
  const { outputs } = buildCase(c);
  const predicted = G.planMemory(Object.values(outputs)).peakActivationBytes;
  const m = await measurePeak(c, threads, Number(a.repeats));
  peaks[form] = m.peakBytes;
  console.log(
    `${describeCase(c)}: measured ${mib(m.peakBytes)} (median of ${m.processes.length} processes; ${m.processes.map(mib).join(', ')}), planner ${mib(predicted)}; ` +
      `fastest run ${Math.min(...m.runSeconds).toFixed(2)} s`,
  );
}
if (peaks.fused && peaks.kept) console.log(`attention_recompute_memory_ratio=${(peaks.fused / peaks.kept).toFixed(3)}`);
for (const [form, bytes] of Object.entries(peaks)) {
  if (form.startsWith('tiled:') && peaks.fused) console.log(`attention_tiled_memory_ratio_${form.slice(6)}=${(bytes / peaks.fused).toFixed(3)}`);
}

for (const px of stepSizes) {
  const measured: Record<string, { peak: number; seconds: number }> = {};
  for (const tiling of a['step-tilings']!.split(',').filter(Boolean)) {
    const blocks = /^(\d+)x(\d+)$/.exec(tiling);
    if (!blocks && tiling !== 'off' && tiling !== 'auto') throw new Error(`--step-tilings: '${tiling}' is not off, auto or <queries>x<keys>`);
    const choice = blocks ? { queryBlock: Number(blocks[1]), keyBlock: Number(blocks[2]) } : (tiling as 'off' | 'auto');
    const c: MemoryCase = { kind: 'pair-training', arch, px, rank: arch === 'sd15' ? 64 : 8, tiling: choice };
    const predicted = G.planMemory(Object.values(buildCase(c).outputs)).peakActivationBytes;
    const m = await measurePeak(c, threads, Number(a.repeats), { runs: Number(a['step-runs']) });
    const seconds = Math.min(...m.runSeconds);
    measured[tiling] = { peak: m.peakBytes, seconds };
    const whole = m.processes.map((p, i) => p + m.baselines[i]);
    console.log(
      `${describeCase(c)}: adds ${mib(m.peakBytes)} to its loaded session ` +
        `(processes: ${m.processes.map(mib).join(', ')}; planner ${mib(predicted)}), process high-water mark ${whole.map(mib).join(', ')}; ` +
        `fastest step ${seconds.toFixed(1)} s (per process: ${m.runSeconds.map((t) => t.toFixed(1)).join(', ')}); load ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
    );
  }
  for (const [tiling, m] of Object.entries(measured)) {
    if (tiling === 'off' || !measured.off) continue;
    console.log(`step_${arch}_${px}_tiled_memory_ratio_${tiling}=${(m.peak / measured.off.peak).toFixed(3)}`);
    console.log(`step_${arch}_${px}_tiled_time_ratio_${tiling}=${(m.seconds / measured.off.seconds).toFixed(3)}`);
  }
}
