/**
 * The engine against its peer, PyTorch, on the same steps (npm run bench:peer [-- --cases a,b --threads 2,1
 * --repeats 9 --sd-repeats 3 --warmup 1 --peer-attention auto|plain|chunked --peer-blas-threads auto|N
 * --peer-adamw auto|foreach|per-tensor --one-at-a-time]). Optional: it needs Debian's PyTorch with OpenBLAS
 * (apt-get install -y python3-torch libopenblas0-pthread), checks that first, and installs nothing.
 *
 * Steps, batch 2, fp32, both engines on the same thread count (scripts/peer/cases.ts):
 *   emoji_forward   the shipped emoji-mini UNet forward (a CFG draw step)
 *   emoji_lora      its pair-training step: pairTrainingLoss (ContentLoRA + StyleLoRA, rank 8, B trains,
 *                   A fed), forward + backward + AdamW through StepFunction and Trainer
 *   emoji_full      what pretraining runs: text encoder + UNet, every weight trainable, MSE, gradient
 *                   clipping at 1, AdamW (weight decay 0.01) and EMA (0.999, warm-up), through Trainer
 *   sd32_*          an SD-1.5-shaped UNet (SD15_UNET_CONFIG, random weights) at 32x32 latents (1,024
 *                   tokens at the first attention level): forward, pair-training step (rank 64), full step
 *   sd64_lora       the same pair-training step at 64x64 latents (4,096 tokens)
 * The weights (the shipped ones, or seeded random ones) and inputs are written here as safetensors and
 * read by each engine's worker process (scripts/peer/engine-worker.ts, scripts/peer/worker.py); before
 * any timing, the output (forward) or the loss, every gradient and the update of one optimizer step are
 * checked equal within TOLERANCE (scripts/peer/compare.ts). Each engine times its own step in its own
 * process; the ratio is ours / PyTorch of the medians (< 1: PairStyle faster), with the load average.
 *
 * Memory decides the schedule, from each engine's estimated memory (cases.ts, memoryEstimate):
 * - together, when both engines fit at once: both workers hold their models and the rounds alternate
 *   (ours, PyTorch, ours, ...); the spread is the range of the per-round ratios;
 * - one at a time, when only each engine alone fits (or --one-at-a-time): PyTorch's worker checks and
 *   exits; PairStyle's checks, is compared, times its rounds in one block and exits; a fresh PyTorch
 *   worker times its rounds in one block. The spread is then over every pair of repeats;
 * - skipped, and said so, when even one engine alone does not fit.
 * PyTorch's AdamW runs in its foreach form unless only its per-tensor form fits (said so).
 * Each engine's peak resident memory (its worker processes' VmHWM) is printed per case.
 * Prints `peer_ratio_<case>_t<threads>=` and `peer_peak_gib_<engine>_<case>_t<threads>=` lines.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CLIPTextConfig } from '../src/models/clip-text.ts';
import { loadModelFolder } from '../src/pipeline/model-folder.ts';
import { gemmYardsticks, median } from './lib/bench.ts';
import { type Built, buildCase, CASES, type CaseDef, caseSpec, caseTokens, inputFeeds, loraValue, memoryEstimate, randomWeight } from './peer/cases.ts';
import { type CheckReport, checkFiles, compareChecks, describeCheck } from './peer/compare.ts';
import { EngineProcess } from './peer/engine-process.ts';
import { TensorFiles, writeF32Tensors } from './peer/tensor-files.ts';

const INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: 'emoji_forward,emoji_lora,emoji_full,sd32_forward,sd32_lora,sd32_full,sd64_lora' },
    threads: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '9' },
    'sd-repeats': { type: 'string', default: '3' },
    'peer-attention': { type: 'string', default: 'auto' },
    /** OpenBLAS threads of PyTorch: 'auto' (the faster of the thread count and 1, one step each) or a number. */
    'peer-blas-threads': { type: 'string', default: 'auto' },
    /** Untimed rounds before the timed ones (the check has already run each engine once). */
    warmup: { type: 'string', default: '1' },
    model: { type: 'string', default: 'models/emoji-mini' },
    /**
     * PyTorch's AdamW: 'foreach' (its multi-tensor form), 'per-tensor', or 'auto': foreach unless only
     * the per-tensor form fits (the full-weight step at SD's size: foreach's temporaries are 2 W).
     */
    'peer-adamw': { type: 'string', default: 'auto' },
    /** One engine's worker at a time even when both fit (chosen anyway when only each alone fits). */
    'one-at-a-time': { type: 'boolean', default: false },
  },
});
const PYTHON = process.env.PEER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const fail = (msg: string): never => {
  console.error(`bench:peer: ${msg}`);
  process.exit(1);
};
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;
const load = () => loadavg()[0].toFixed(1);
const memAvailable = (): number => {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.POSITIVE_INFINITY;
};

// ---- prerequisites: PyTorch importable, on an optimized BLAS
function peerEnv(threads: number): NodeJS.ProcessEnv {
  const n = String(threads);
  // Passive OpenMP waits: on a shared machine, spinning workers of torch's pool and OpenBLAS's pool
  // took the cores from each other (emoji-mini forward 1.7-4.6 s spinning, 0.1-0.3 s passive at load 15).
  return { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n, OMP_WAIT_POLICY: 'PASSIVE', PYTHONDONTWRITEBYTECODE: '1' };
}

interface PeerInfo {
  torch: string | null;
  python: string;
  error?: string;
  blasInfo: string | null;
  blasLibraries: string[];
  cpuCapability: string | null;
  matmul1024Gflops: number;
  matmul1024GflopsOneBlasThread: number | null;
}

function checkPrerequisites(threads: number): PeerInfo {
  const r = spawnSync(PYTHON, ['scripts/peer/check_torch.py', String(threads)], { encoding: 'utf8', env: peerEnv(threads) });
  if (r.error || r.status !== 0)
    fail(`cannot run ${PYTHON} (${r.error?.message ?? r.stderr.trim()}). Install Debian's Python and PyTorch: ${INSTALL} (or set PEER_PYTHON)`);
  const info = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PeerInfo;
  if (!info.torch) fail(`PyTorch is not importable by ${info.python} (${info.error}). Install it: ${INSTALL}, or set PEER_PYTHON to a python3 that has torch`);
  // Built against MKL or OpenBLAS directly, or (Debian: BLAS_INFO=generic) through libblas.so.3, which
  // must resolve to an optimized library and not to the reference one (blas/libblas.so.3).
  const libblas = info.blasLibraries.find((l) => l.endsWith('/libblas.so.3'));
  const optimized = info.blasInfo === 'mkl' || info.blasInfo === 'open' || (libblas !== undefined && /openblas|blis|mkl/i.test(libblas));
  if (!optimized)
    fail(
      `torch ${info.torch} runs on the reference BLAS (${info.blasLibraries.join(', ') || 'no BLAS library found'}), ~25x slower than OpenBLAS and no yardstick. ` +
        `Install OpenBLAS and select it: apt-get install -y libopenblas0-pthread; update-alternatives --set libblas.so.3-x86_64-linux-gnu ${OPENBLAS}`,
    );
  return info;
}

// ---- one case
/** Writes the case's weights, inputs and case.json into `dir`, the files both engines' workers read. */
function prepareCase(c: CaseDef, b: Built, threads: number, foreach: boolean, emojiWeight: (n: string) => Float32Array | undefined, dir: string): void {
  const shapes = new Map([...b.graph.params].map(([n, t]) => [n, t.shape]));
  const weight = (n: string): Float32Array => {
    const shape = shapes.get(n)!;
    const v = loraValue(n, shape, b.rank) ?? (c.arch === 'emoji-mini' ? emojiWeight(n) : randomWeight(n, shape));
    if (!v) throw new Error(`no weight for ${n}`);
    return v;
  };
  writeF32Tensors(join(dir, 'weights.safetensors'), [...shapes.keys()], (n) => shapes.get(n)!, weight);
  // Token ids (int64) as float32: exact below 2^24; each worker turns them back into integers.
  const feeds = inputFeeds(c, b.graph);
  writeF32Tensors(
    join(dir, 'inputs.safetensors'),
    Object.keys(feeds),
    (n) => b.graph.inputs.get(n)!.shape,
    (n) => {
      const v = feeds[n];
      return v instanceof BigInt64Array ? Float32Array.from(v, Number) : v;
    },
  );
  writeFileSync(join(dir, 'case.json'), JSON.stringify(caseSpec(c, b, threads, foreach)));
}

/** Compares the two engines' check files in `dir` and prints the result. */
function compareEngines(c: CaseDef, threads: number, dir: string): CheckReport {
  const withUpdate = c.kind !== 'forward';
  const ours = checkFiles(dir, 'ours', withUpdate);
  const peer = checkFiles(dir, 'peer', withUpdate);
  const before = TensorFiles.open([join(dir, 'weights.safetensors')]);
  try {
    const check = compareChecks(ours, peer, before);
    console.log(`${c.label}, ${threads} thread(s): ${describeCheck(check)}`);
    return check;
  } finally {
    ours.close();
    peer.close();
    before.close();
  }
}

/**
 * PyTorch's settings for the case, each the faster in a step of each: its attention, plain (bmm,
 * softmax, bmm) unless the first level's tokens exceed the chunk, then the faster of chunked and plain
 * (plain only when its probabilities fit); OpenBLAS's own pool beside torch's, as many threads as torch
 * or one.
 */
async function choosePeerSettings(peer: EngineProcess, c: CaseDef, threads: number): Promise<{ attention: string; blasThreads: number }> {
  const tokens = caseTokens(c);
  let attention = 'plain';
  if (tokens > 1024 && args['peer-attention'] !== 'plain') {
    const timeKind = async (kind: string) => {
      await peer.request({ op: 'attention', kind });
      return peer.step();
    };
    const chunked = await timeKind('chunked');
    const plainExtra = 5 * 2 * 8 * tokens * tokens * 4 * 2;
    const tryPlain = args['peer-attention'] === 'auto' && plainExtra < memAvailable() - 2 ** 31;
    const plain = tryPlain ? await timeKind('plain') : Number.POSITIVE_INFINITY;
    attention = plain < chunked ? 'plain' : 'chunked';
    console.log(
      `  PyTorch attention at ${tokens} tokens: chunked ${chunked.toFixed(0)} ms, plain ${tryPlain ? `${plain.toFixed(0)} ms` : 'not tried (memory)'}: ${attention}`,
    );
    await peer.request({ op: 'attention', kind: attention });
  } else if (args['peer-attention'] === 'chunked') {
    attention = 'chunked';
    await peer.request({ op: 'attention', kind: attention });
  }

  let blasThreads = args['peer-blas-threads'] === 'auto' ? threads : Number(args['peer-blas-threads']);
  if (args['peer-blas-threads'] !== 'auto') await peer.request({ op: 'blas_threads', n: blasThreads });
  else if (threads > 1) {
    const timeBlas = async (n: number) => {
      await peer.request({ op: 'blas_threads', n });
      return peer.step();
    };
    const many = await timeBlas(threads);
    const one = await timeBlas(1);
    blasThreads = one < many ? 1 : threads;
    console.log(`  PyTorch's OpenBLAS threads: ${threads}: ${many.toFixed(0)} ms, 1: ${one.toFixed(0)} ms: ${blasThreads}`);
    await peer.request({ op: 'blas_threads', n: blasThreads });
  }
  return { attention, blasThreads };
}

/** `warmup` untimed steps, then `repeats` timed ones, of one engine. */
async function timeBlock(engine: EngineProcess, warmup: number, repeats: number): Promise<number[]> {
  for (let r = 0; r < warmup; r++) await engine.step();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) times.push(await engine.step());
  return times;
}

/**
 * How the engines run: both workers at once, their rounds alternating (when both fit), or one at a
 * time (when only each alone fits, or asked for): PyTorch's worker checks and exits, PairStyle's
 * checks, is compared, times its rounds and exits, then a fresh PyTorch worker times its own.
 */
type Schedule = 'together' | 'one at a time';

interface Row {
  c: CaseDef;
  threads: number;
  schedule?: Schedule;
  ours?: number[];
  peer?: number[];
  ratio?: number;
  spread?: [number, number];
  loads: string;
  attention?: string;
  blasThreads?: number;
  check?: CheckReport;
  estimate: { ours: number; peer: number };
  /** PyTorch's AdamW form (training steps). */
  adamw?: string;
  /** Each engine's peak resident memory (its worker processes' VmHWM), GiB. */
  peaks?: { ours: number; peer: number };
  skipped?: string;
}

async function runCase(c: CaseDef, threads: number, emojiText: CLIPTextConfig, emojiWeight: (n: string) => Float32Array | undefined): Promise<Row> {
  const loadBefore = load();
  const b = buildCase(c, emojiText);
  const free = memAvailable();
  let foreach = args['peer-adamw'] !== 'per-tensor';
  let estimate = memoryEstimate(c, b.graph, foreach);
  if (args['peer-adamw'] === 'auto' && foreach && estimate.peer > free && memoryEstimate(c, b.graph, false).peer <= free) {
    console.log(
      `${c.label}, ${threads} thread(s): PyTorch's AdamW one tensor at a time (foreach=False): its foreach form would need about ${gib(estimate.peer)}, ${gib(free)} is free`,
    );
    foreach = false;
    estimate = memoryEstimate(c, b.graph, false);
  }
  const both = estimate.ours + estimate.peer;
  const alone = Math.max(estimate.ours, estimate.peer);
  const each = `PairStyle about ${gib(estimate.ours)}, PyTorch about ${gib(estimate.peer)}`;
  const row = { c, threads, loads: loadBefore, estimate, adamw: c.kind === 'forward' ? undefined : foreach ? 'foreach' : 'per tensor' };
  if (alone > free) return { ...row, skipped: `does not fit: even one engine at a time needs about ${gib(alone)} (${each}), ${gib(free)} is free` };
  const schedule: Schedule = args['one-at-a-time'] || both > free ? 'one at a time' : 'together';
  if (schedule === 'one at a time')
    console.log(
      `${c.label}, ${threads} thread(s): one engine at a time (${args['one-at-a-time'] ? 'as asked' : `both at once need about ${gib(both)}, ${gib(free)} is free`}; ${each}): ` +
        `PyTorch checks, then PairStyle checks and times its rounds, then PyTorch times its rounds, in blocks`,
    );
  const dir = mkdtempSync(join(tmpdir(), `pairstyle-peer-${c.key}-`));
  const engines: EngineProcess[] = [];
  const start = (engine: EngineProcess) => {
    engines.push(engine);
    return engine;
  };
  const peaks = { ours: 0, peer: 0 };
  const finish = async (engine: EngineProcess) => {
    await engine.close();
    if (engine.name === 'PairStyle') peaks.ours = Math.max(peaks.ours, engine.peakGiB);
    else peaks.peer = Math.max(peaks.peer, engine.peakGiB);
  };
  try {
    prepareCase(c, b, threads, foreach, emojiWeight, dir);
    const warmup = Number(args.warmup);
    const repeats = Number(c.arch === 'sd15' ? args['sd-repeats'] : args.repeats);
    let a: number[];
    let p: number[];
    let settings: { attention: string; blasThreads: number };
    let check: CheckReport;
    if (schedule === 'together') {
      const ours = start(EngineProcess.pairstyle());
      const peer = start(EngineProcess.pytorch(PYTHON, peerEnv(threads)));
      await ours.request({ op: 'load', dir });
      await peer.request({ op: 'load', dir });
      // Equal before timing.
      await ours.request({ op: 'check' });
      await peer.request({ op: 'check' });
      check = compareEngines(c, threads, dir);
      if (!check.ok) return { ...row, schedule, check, skipped: 'not equal: not timed' };
      settings = await choosePeerSettings(peer, c, threads);
      // Interleaved: the warm-up rounds, then ours, PyTorch, ours, PyTorch, ...
      a = [];
      p = [];
      for (let r = -warmup; r < repeats; r++) {
        const oursMs = await ours.step();
        const peerMs = await peer.step();
        if (r < 0) continue;
        a.push(oursMs);
        p.push(peerMs);
      }
      await finish(ours);
      await finish(peer);
    } else {
      const peerCheck = start(EngineProcess.pytorch(PYTHON, peerEnv(threads)));
      await peerCheck.request({ op: 'load', dir });
      await peerCheck.request({ op: 'check' });
      await finish(peerCheck);
      const ours = start(EngineProcess.pairstyle());
      await ours.request({ op: 'load', dir });
      await ours.request({ op: 'check' });
      check = compareEngines(c, threads, dir);
      if (!check.ok) return { ...row, schedule, check, skipped: 'not equal: not timed' };
      a = await timeBlock(ours, warmup, repeats);
      await finish(ours);
      const peer = start(EngineProcess.pytorch(PYTHON, peerEnv(threads)));
      await peer.request({ op: 'load', dir });
      settings = await choosePeerSettings(peer, c, threads);
      p = await timeBlock(peer, warmup, repeats);
      await finish(peer);
    }
    // Per round when the rounds alternate; in blocks, no repeat of one engine pairs with one of the
    // other, so the spread is over every pair.
    const spread: [number, number] =
      schedule === 'together'
        ? [Math.min(...a.map((v, i) => v / p[i])), Math.max(...a.map((v, i) => v / p[i]))]
        : [Math.min(...a) / Math.max(...p), Math.max(...a) / Math.min(...p)];
    return { ...row, schedule, ours: a, peer: p, ratio: median(a) / median(p), spread, loads: `${loadBefore}-${load()}`, ...settings, check, peaks };
  } catch (e) {
    return { ...row, schedule, skipped: `failed: ${(e as Error).message}` };
  } finally {
    for (const engine of engines) await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main
const threadCounts = args.threads!.split(',').map(Number);
const info = checkPrerequisites(threadCounts[0]);
const wanted = args.cases!.split(',');
const unknown = wanted.filter((k) => !CASES.some((c) => c.key === k));
if (!['auto', 'foreach', 'per-tensor'].includes(args['peer-adamw']!)) fail(`--peer-adamw is auto, foreach or per-tensor, not ${args['peer-adamw']}`);
if (unknown.length) fail(`unknown case(s) ${unknown.join(', ')}; the cases are ${CASES.map((c) => c.key).join(', ')}`);
const yard = await gemmYardsticks(threadCounts[0], 2);
console.log(
  `PyTorch ${info.torch} (${info.python}, BLAS ${info.blasLibraries.find((l) => /openblas|mkl|blis/i.test(l)) ?? info.blasInfo}, ${info.cpuCapability}): ` +
    `1024^3 matmul ${info.matmul1024Gflops.toFixed(1)} GFLOP/s at ${threadCounts[0]} threads` +
    `${info.matmul1024GflopsOneBlasThread ? ` (${info.matmul1024GflopsOneBlasThread.toFixed(1)} with one OpenBLAS thread)` : ''}; onnxruntime-node GEMM fed ${yard.fed.toFixed(1)} GFLOP/s; load average ${load()}`,
);
const emoji = await loadModelFolder(args.model!);
const rows: Row[] = [];
for (const threads of threadCounts)
  for (const c of CASES.filter((c) => wanted.includes(c.key))) {
    const row = await runCase(c, threads, emoji.text, emoji.weight);
    rows.push(row);
    const key = `peer_ratio_${c.key}_t${threads}`;
    if (row.skipped) console.log(`${c.label}, ${threads} thread(s): ${row.skipped}\n${key}=NA`);
    else {
      const ms = (xs: number[]) => `${median(xs).toFixed(xs[0] > 100 ? 0 : 1)} ms (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`;
      const rounds =
        row.schedule === 'together'
          ? `per round ${row.spread![0].toFixed(2)}-${row.spread![1].toFixed(2)}), ${row.ours!.length} alternating rounds`
          : `over all pairs ${row.spread![0].toFixed(2)}-${row.spread![1].toFixed(2)}), one engine at a time: ${row.ours!.length} repeats each, in blocks (PairStyle's, then PyTorch's), not alternating`;
      console.log(
        `${c.label}, ${threads} thread(s): PairStyle ${ms(row.ours!)} | PyTorch ${ms(row.peer!)} [attention ${row.attention}, OpenBLAS threads ${row.blasThreads}${row.adamw ? `, AdamW ${row.adamw}` : ''}] | ` +
          `ratio ${row.ratio!.toFixed(2)} (${rounds}, load ${row.loads}\n` +
          `${key}=${row.ratio!.toFixed(2)}`,
      );
    }
    if (row.peaks) {
      const { ours, peer } = row.peaks;
      console.log(
        `  peak resident memory (VmHWM of each engine's worker process): PairStyle ${ours.toFixed(2)} GiB, PyTorch ${peer.toFixed(2)} GiB ` +
          `(estimated ${gib(row.estimate.ours)}, ${gib(row.estimate.peer)}; ${row.schedule === 'together' ? 'both held at once' : 'never both at once'})\n` +
          `peer_peak_gib_pairstyle_${c.key}_t${threads}=${ours.toFixed(2)}\npeer_peak_gib_pytorch_${c.key}_t${threads}=${peer.toFixed(2)}`,
      );
    }
  }
if (rows.some((r) => r.check && !r.check.ok)) process.exit(1);
