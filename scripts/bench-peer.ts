/**
 * The engine against its peer, PyTorch, on the same steps (npm run bench:peer [-- --cases a,b --threads 2,1
 * --repeats 9 --sd-repeats 3 --warmup 1 --peer-attention auto|plain|chunked --peer-blas-threads auto|N]). Optional: it needs Debian's PyTorch with OpenBLAS
 * (apt-get install -y python3-torch libopenblas0-pthread), checks that first, and installs nothing.
 *
 * Steps, batch 2, fp32, both engines on the same thread count:
 *   emoji_forward   the shipped emoji-mini UNet forward (a CFG draw step)
 *   emoji_lora      its pair-training step: pairTrainingLoss (ContentLoRA + StyleLoRA, rank 8, B trains,
 *                   A fed), forward + backward + AdamW through StepFunction and Trainer
 *   emoji_full      what pretraining runs: text encoder + UNet, every weight trainable, MSE, gradient
 *                   clipping at 1, AdamW (weight decay 0.01) and EMA (0.999, warm-up), through Trainer
 *   sd32_*          an SD-1.5-shaped UNet (SD15_UNET_CONFIG, random weights) at 32x32 latents (1,024
 *                   tokens at the first attention level): forward, pair-training step (rank 64), full step
 *   sd64_lora       the same pair-training step at 64x64 latents (4,096 tokens)
 * The weights (the shipped ones, or seeded random ones) and inputs are written here as safetensors and
 * read by scripts/peer/worker.py; before any timing, the output (forward) or the loss, every gradient and
 * the update of one optimizer step are checked equal within TOLERANCE. Then the engines alternate (ours,
 * PyTorch, ours, ...), each timing its own step in its own process; the ratio is ours / PyTorch of the
 * medians (< 1: PairStyle faster), the spread the range of the per-repeat ratios, with the load average.
 * A case whose estimated memory for both engines at once exceeds what the machine has free is skipped
 * and said so. Prints `peer_ratio_<case>_t<threads>=` lines.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Rng } from '../src/graph/rng.ts';
import * as G from '../src/graph/index.ts';
import { clipTextModel, type CLIPTextConfig } from '../src/models/clip-text.ts';
import { modelUnet } from '../src/pipeline/conditioning.ts';
import { loadModelFolder } from '../src/pipeline/model-folder.ts';
import { unet2DConditionModel, type UNet2DConditionConfig } from '../src/models/unet.ts';
import { orthogonalDownProjections } from '../src/pair/orthogonal.ts';
import { pairParamMode, pairTrainingLoss } from '../src/pair/train.ts';
import { readSafetensors, writeSafetensors } from '../src/formats/safetensors.ts';
import { EMA } from '../src/train/ema.ts';
import { AdamW } from '../src/train/optim.ts';
import { StepFunction, Trainer } from '../src/train/step.ts';
import { gemmYardsticks, median } from './lib/bench.ts';
import { modelShapes } from './lib/memory-cases.ts';

const INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';
/**
 * Relative L2 errors allowed: ||ours - peer|| / ||peer|| per tensor (gradients: see compare). The update
 * of one AdamW step is looser: its first step is lr * g / (|g| + eps), about lr * sign(g), so the
 * smallest gradients' rounding turns into whole sign flips (measured: up to 9e-4).
 */
const TOLERANCE = { output: 1e-4, loss: 1e-4, grad: 1e-3, update: 1e-2 };

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
  },
});
const PYTHON = process.env.PEER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

type Kind = 'forward' | 'lora' | 'full';
interface CaseDef {
  key: string;
  label: string;
  arch: 'emoji-mini' | 'sd15';
  /** Latent side (tokens at the first attention level: its square, for SD). */
  latent: number;
  kind: Kind;
}
const CASES: CaseDef[] = [
  { key: 'emoji_forward', label: 'emoji-mini forward', arch: 'emoji-mini', latent: 16, kind: 'forward' },
  { key: 'emoji_lora', label: 'emoji-mini LoRA (pair) training step', arch: 'emoji-mini', latent: 16, kind: 'lora' },
  { key: 'emoji_full', label: 'emoji-mini full-weight training step (pretraining)', arch: 'emoji-mini', latent: 16, kind: 'full' },
  { key: 'sd32_forward', label: 'SD-1.5-shaped UNet, 32x32 latents, forward', arch: 'sd15', latent: 32, kind: 'forward' },
  { key: 'sd32_lora', label: 'SD-1.5-shaped UNet, 32x32 latents, LoRA (pair) training step', arch: 'sd15', latent: 32, kind: 'lora' },
  { key: 'sd32_full', label: 'SD-1.5-shaped UNet, 32x32 latents, full-weight training step', arch: 'sd15', latent: 32, kind: 'full' },
  { key: 'sd64_lora', label: 'SD-1.5-shaped UNet, 64x64 latents (4,096 tokens), LoRA (pair) training step', arch: 'sd15', latent: 64, kind: 'lora' },
];

const fail = (msg: string): never => {
  console.error(`bench:peer: ${msg}`);
  process.exit(1);
};
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const load = () => loadavg()[0].toFixed(1);

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

// ---- the PyTorch worker: one JSON request and answer per line
class PeerWorker {
  private readonly answers: string[] = [];
  private waiting: ((line: string) => void) | null = null;
  private exited: string | null = null;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.answers.push(line);
    });
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[pytorch] ${d}`));
    proc.on('exit', (code, signal) => {
      this.exited = `the PyTorch worker exited (code ${code}, signal ${signal})${signal === 'SIGKILL' ? ': killed, most likely out of memory' : ''}`;
      this.waiting?.(JSON.stringify({ ok: false, error: this.exited }));
    });
  }

  static start(threads: number): PeerWorker {
    return new PeerWorker(spawn(PYTHON, ['scripts/peer/worker.py'], { env: peerEnv(threads) }));
  }

  async request(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const line = this.answers.shift() ?? (await new Promise<string>((resolve) => (this.waiting = resolve)));
    const answer = JSON.parse(line) as Record<string, unknown>;
    if (!answer.ok) throw new Error(`PyTorch worker, ${req.op}: ${answer.error}`);
    return answer;
  }

  async close(): Promise<void> {
    if (!this.exited) await this.request({ op: 'quit' }).catch(() => undefined);
    this.proc.kill();
  }
}

// ---- weights and inputs
/** Seeded uniform weights scaled by fan-in (variance 1/fan-in), norm scales 1: xorshift32 seeded by the name, fast enough for SD 1.5's 860 M. */
function randomWeight(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (/norm[^.]*\.weight$/.test(name)) return out.fill(1);
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 400;
  const scale = (2 * Math.sqrt(3 / fanIn)) / 4294967296;
  let x = 2166136261;
  for (let i = 0; i < name.length; i++) x = Math.imul(x ^ name.charCodeAt(i), 16777619) >>> 0;
  x ||= 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) - 2147483648) * scale;
  }
  return out;
}

/** Writes `names` as one F32 safetensors file, generating one tensor at a time (SD 1.5 is 3.4 GB). */
function writeWeights(path: string, names: readonly string[], shapes: Map<string, readonly number[]>, value: (n: string) => Float32Array): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const n of names) {
    const bytes = 4 * shapes.get(n)!.reduce((a, b) => a * b, 1);
    header[n] = { dtype: 'F32', shape: [...shapes.get(n)!], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const n of names) {
      const v = value(n);
      writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    }
  } finally {
    closeSync(fd);
  }
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
};

// ---- one case
interface Ours {
  /** One timed step (what is compared). */
  step: () => Promise<unknown>;
  /** The check: output, or loss + gradients + parameters after one optimizer step (and the values before). */
  check: () => Promise<{ outputs: Record<string, Float32Array>; before: Record<string, Float32Array> }>;
  release: () => Promise<void>;
}

interface Built {
  graph: G.Graph;
  tensor: G.Tensor;
  text?: CLIPTextConfig;
  unet: UNet2DConditionConfig;
  rank: number;
  optimizer: { lr: number; weightDecay: number; clipNorm?: number; emaDecay?: number };
}

async function buildCase(c: CaseDef, emojiText: CLIPTextConfig): Promise<Built> {
  const shapes = modelShapes(c.arch, c.arch === 'sd15' ? 8 * c.latent : 2 * c.latent);
  const rank = c.arch === 'sd15' ? 64 : 8;
  if (c.kind === 'forward') {
    const graph = new G.Graph({ paramMode: () => 'frozen' });
    return { graph, tensor: modelUnet(graph, shapes, 2), unet: shapes.unet, rank, optimizer: { lr: 0, weightDecay: 0 } };
  }
  if (c.kind === 'lora') {
    // The pair method's step as trainPair builds it: rank 8 (emoji-mini) / 64 (SD), lr 1e-3 / 1e-5, no weight decay.
    const graph = new G.Graph({ paramMode: pairParamMode(false) });
    const lr = c.arch === 'sd15' ? 1e-5 : 1e-3;
    return { graph, tensor: pairTrainingLoss(graph, shapes, rank), unet: shapes.unet, rank, optimizer: { lr, weightDecay: 0 } };
  }
  // Pretraining's step (scripts/pretrain.ts): every weight trainable, MSE, clip 1, AdamW 3e-4 wd 0.01, EMA 0.999.
  const graph = new G.Graph();
  const [ch, h, w] = shapes.codec.latentShape;
  const sample = graph.input('sample', [2, ch, h, w]);
  const timestep = graph.input('timestep', [2]);
  const text = c.arch === 'emoji-mini' ? emojiText : undefined;
  const states = text
    ? clipTextModel(graph, text, graph.input('input_ids', [2, shapes.contextLength], 'int64'))
    : graph.input('encoder_hidden_states', [2, shapes.contextLength, shapes.unet.cross_attention_dim]);
  const pred = unet2DConditionModel(graph, shapes.unet, { sample, timestep, encoderHiddenStates: states });
  const optimizer = { lr: 3e-4, weightDecay: 0.01, clipNorm: 1, emaDecay: 0.999 };
  return { graph, tensor: G.mse(pred, graph.input('target', [2, ch, h, w])), text, unet: shapes.unet, rank, optimizer };
}

function inputFeeds(c: CaseDef, graph: G.Graph): Record<string, Float32Array | BigInt64Array> {
  const rng = new Rng(7);
  const feeds: Record<string, Float32Array | BigInt64Array> = {};
  const fixed: Record<string, number[]> = {
    timestep: c.kind === 'lora' ? [500, 500] : [250, 750],
    'lora_gate.content': [1, 1],
    'lora_gate.style': [0, 1],
    'train_rows.content': [1, 0],
    row_weight: [1, 1],
  };
  for (const [name, t] of graph.inputs) {
    if (fixed[name]) feeds[name] = Float32Array.from(fixed[name]);
    else if (t.dtype === 'int64') feeds[name] = BigInt64Array.from({ length: t.size }, (_, i) => BigInt((i * 37 + 5) % 997));
    else {
      const a = new Float32Array(t.size);
      rng.fillNormal(a);
      feeds[name] = a;
    }
  }
  return feeds;
}

/** The LoRA adapters' starting values: A the pair method's orthogonal rows, B small random (zero in trainPair; nonzero here so that every path is checked). */
function loraValue(name: string, shape: readonly number[], rank: number): Float32Array | undefined {
  const a = /\.lora_A\.(content|style)\.weight$/.exec(name);
  if (a) return orthogonalDownProjections(shape[1], rank, 0)[a[1] as 'content' | 'style'].slice();
  if (/\.lora_B\./.test(name)) return randomWeight(name, shape).map((v) => v * 0.01);
  return undefined;
}

async function oursFor(c: CaseDef, b: Built, weight: (n: string) => Float32Array, feeds: Record<string, G.Feed>, threads: number): Promise<Ours> {
  const { graph, tensor } = b;
  if (c.kind === 'forward') {
    const session = await G.GraphSession.create(G.emitOnnx({ outputs: { out: tensor }, weights: weight, name: `peer_${c.key}` }), { threads });
    return {
      step: () => session.run(feeds),
      check: async () => ({ outputs: { out: (await session.run(feeds)).out as Float32Array }, before: {} }),
      release: () => session.release(),
    };
  }
  const stepFn = await StepFunction.compile(tensor, { weights: weight, threads });
  const params: Record<string, Float32Array> = Object.fromEntries(stepFn.paramNames.map((n) => [n, weight(n).slice()]));
  const fed: Record<string, Float32Array> = {};
  if (c.kind === 'lora') for (const n of graph.params.keys()) if (pairParamMode(false)(n) === 'fed') fed[n] = weight(n);
  const o = b.optimizer;
  const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: o.lr, weightDecay: o.weightDecay }]);
  const ema = o.emaDecay ? new EMA(params, o.emaDecay, { warmup: true }) : undefined;
  const trainer = new Trainer(stepFn, { params, optimizer, ema, clipNorm: o.clipNorm });
  const batch = { ...feeds, ...fed };
  return {
    step: () => trainer.trainStep(batch),
    check: async () => {
      const before = Object.fromEntries(Object.entries(params).map(([n, v]) => [n, v.slice()]));
      const r = await stepFn.run({ ...batch, ...params });
      await trainer.trainStep(batch);
      const outputs: Record<string, Float32Array> = { loss: Float32Array.of(r.loss) };
      for (const [n, g] of Object.entries(r.grads)) outputs[`grad/${n}`] = g;
      for (const [n, v] of Object.entries(params)) outputs[`after/${n}`] = v;
      return { outputs, before };
    },
    release: () => stepFn.release(),
  };
}

interface CheckReport {
  worst: Record<string, { err: number; name: string }>;
  ok: boolean;
  /** Gradients below the floor (zero in exact arithmetic), whose updates are not compared. */
  zeroGradients: string[];
}

/**
 * Per tensor ||ours - peer|| / max(||peer||, floor), the floor 1e-4 of the largest gradient tensor's
 * norm: a gradient that is zero in exact arithmetic (the key projection's bias under softmax attention)
 * is rounding noise in both engines, and so is its AdamW update (lr x sign of the noise), which is not
 * compared.
 */
function compare(ours: Record<string, Float32Array>, before: Record<string, Float32Array>, peer: Record<string, { data: Float32Array }>): CheckReport {
  const worst: CheckReport['worst'] = {};
  const note = (kind: keyof typeof TOLERANCE, name: string, err: number) => {
    if (!worst[kind] || err > worst[kind].err || Number.isNaN(err)) worst[kind] = { err, name };
  };
  const norm = (a: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += a[i] * a[i];
    return Math.sqrt(sum);
  };
  const peerOf = (key: string, n: number) => {
    const p = peer[key]?.data;
    if (!p || p.length !== n) throw new Error(`the PyTorch check has no ${key} of ${n} values`);
    return p;
  };
  const gradNorms = Object.keys(ours)
    .filter((k) => k.startsWith('grad/'))
    .map((k) => [k.slice(5), norm(peerOf(k, ours[k].length))] as const);
  const floor = 1e-4 * Math.max(0, ...gradNorms.map(([, v]) => v));
  const noise = new Set(gradNorms.filter(([, v]) => v < floor).map(([n]) => n));
  const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => Float32Array.from(a, (v, i) => v - b[i]);
  for (const [key, ourValue] of Object.entries(ours)) {
    const p = peerOf(key, ourValue.length);
    if (key === 'out') note('output', key, relErr(ourValue, p));
    else if (key === 'loss') note('loss', key, relErr(ourValue, p));
    else if (key.startsWith('grad/')) note('grad', key.slice(5), norm(diff(ourValue, p)) / Math.max(norm(p), floor));
    else if (key.startsWith('after/') && !noise.has(key.slice(6))) {
      const b = before[key.slice(6)];
      note('update', key.slice(6), relErr(diff(ourValue, b), diff(p, b)));
    }
  }
  const ok = Object.entries(worst).every(([k, v]) => v.err <= TOLERANCE[k as keyof typeof TOLERANCE]);
  return { worst, ok, zeroGradients: [...noise] };
}

/** Bytes both engines hold at once, estimated (weights W: ours ~2.2 W for constant weights, as measured by bench:models). */
function memoryEstimate(c: CaseDef, graph: G.Graph): number {
  const w = 4 * [...graph.params.values()].reduce((a, t) => a + t.size, 0);
  const tokens = c.arch === 'sd15' ? c.latent * c.latent : 64;
  const activations = c.kind === 'forward' ? 0 : (tokens / 1024) * (c.arch === 'sd15' ? 3 : 0.01) * 2 ** 30;
  // full: parameters, gradients, AdamW's two moments and the EMA, in each engine.
  return c.kind === 'full' ? 10 * w + 2 * activations : 3.2 * w + 2 * activations;
}

const memAvailable = (): number => {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.POSITIVE_INFINITY;
};

interface Row {
  c: CaseDef;
  threads: number;
  ours?: number[];
  peer?: number[];
  ratio?: number;
  spread?: [number, number];
  loads: string;
  attention?: string;
  blasThreads?: number;
  check?: CheckReport;
  skipped?: string;
}

async function runCase(c: CaseDef, threads: number, emojiText: CLIPTextConfig, emojiWeight: (n: string) => Float32Array | undefined): Promise<Row> {
  const loadBefore = load();
  const b = await buildCase(c, emojiText);
  const need = memoryEstimate(c, b.graph);
  const free = memAvailable();
  if (need > free) {
    return { c, threads, loads: loadBefore, skipped: `does not fit: both engines at once need about ${gib(need)}, ${gib(free)} is free` };
  }
  const dir = mkdtempSync(join(tmpdir(), `pairstyle-peer-${c.key}-`));
  const peer = PeerWorker.start(threads);
  let ours: Ours | undefined;
  try {
    const shapes = new Map([...b.graph.params].map(([n, t]) => [n, t.shape]));
    const weight = (n: string): Float32Array => {
      const shape = shapes.get(n)!;
      const v = loraValue(n, shape, b.rank) ?? (c.arch === 'emoji-mini' ? emojiWeight(n) : randomWeight(n, shape));
      if (!v) throw new Error(`no weight for ${n}`);
      return v;
    };
    writeWeights(join(dir, 'weights.safetensors'), [...shapes.keys()], shapes, weight);
    const feeds = inputFeeds(c, b.graph);
    await writeSafetensors(
      join(dir, 'inputs.safetensors'),
      Object.fromEntries(
        Object.entries(feeds).map(([n, v]) => [
          n,
          { shape: [...b.graph.inputs.get(n)!.shape], data: v instanceof BigInt64Array ? Float32Array.from(v, Number) : v },
        ]),
      ),
    );
    const trainable = b.graph.trainableParams().map((p) => p.node.name!);
    const tokens = c.arch === 'sd15' ? c.latent * c.latent : (c.latent / 2) ** 2;
    const spec = {
      kind: c.kind,
      threads,
      unet: b.unet,
      text: b.text,
      loss: c.kind === 'lora' ? 'pair' : 'mse',
      lora:
        c.kind === 'lora'
          ? [
              { name: 'content', rank: b.rank, trainRows: 'train_rows.content' },
              { name: 'style', rank: b.rank },
            ]
          : [],
      trainable: c.kind === 'forward' ? [] : trainable,
      optimizer: b.optimizer,
      attention: 'plain',
    };
    writeFileSync(join(dir, 'case.json'), JSON.stringify(spec));
    ours = await oursFor(c, b, weight, feeds, threads);
    await peer.request({ op: 'load', dir });

    // Equal before timing.
    const mine = await ours.check();
    await peer.request({ op: 'check' });
    const theirs = (await readSafetensors(join(dir, 'peer.safetensors'))).tensors;
    const check = compare(mine.outputs, mine.before, theirs);
    const checkText = Object.entries(check.worst)
      .map(([k, v]) => `${k} ${v.err.toExponential(1)}${k === 'grad' || k === 'update' ? ` (worst: ${v.name})` : ''}`)
      .join(', ');
    const zeros = check.zeroGradients.length ? `; ${check.zeroGradients.length} gradients zero in exact arithmetic (${check.zeroGradients[0]}, ...)` : '';
    console.log(`${c.label}, ${threads} thread(s): check ${check.ok ? 'equal' : 'NOT EQUAL'}: ${checkText}${zeros}`);
    if (!check.ok) return { c, threads, loads: loadBefore, check, skipped: 'not equal: not timed' };

    // PyTorch's attention: plain (bmm, softmax, bmm) unless the first level's tokens exceed the chunk;
    // then the faster of chunked and plain (plain only when its probabilities fit).
    let attention = 'plain';
    if (tokens > 1024 && args['peer-attention'] !== 'plain') {
      const timeKind = async (kind: string) => {
        await peer.request({ op: 'attention', kind });
        return Number((await peer.request({ op: 'step' })).ms);
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
    } else if (args['peer-attention'] === 'chunked') attention = 'chunked';

    // OpenBLAS's own pool beside torch's: the faster of as many threads as torch and of one.
    let blasThreads = args['peer-blas-threads'] === 'auto' ? threads : Number(args['peer-blas-threads']);
    if (args['peer-blas-threads'] !== 'auto') await peer.request({ op: 'blas_threads', n: blasThreads });
    else if (threads > 1) {
      const timeBlas = async (n: number) => {
        await peer.request({ op: 'blas_threads', n });
        return Number((await peer.request({ op: 'step' })).ms);
      };
      const many = await timeBlas(threads);
      const one = await timeBlas(1);
      blasThreads = one < many ? 1 : threads;
      console.log(`  PyTorch's OpenBLAS threads: ${threads}: ${many.toFixed(0)} ms, 1: ${one.toFixed(0)} ms: ${blasThreads}`);
      await peer.request({ op: 'blas_threads', n: blasThreads });
    }

    // Interleaved: one warm-up round, then ours, PyTorch, ours, PyTorch, ...
    const repeats = Number(c.arch === 'sd15' ? args['sd-repeats'] : args.repeats);
    const a: number[] = [];
    const p: number[] = [];
    for (let r = -Number(args.warmup); r < repeats; r++) {
      const t0 = performance.now();
      await ours.step();
      const oursMs = performance.now() - t0;
      const peerMs = Number((await peer.request({ op: 'step' })).ms);
      if (r < 0) continue;
      a.push(oursMs);
      p.push(peerMs);
    }
    const ratios = a.map((v, i) => v / p[i]);
    return {
      c,
      threads,
      ours: a,
      peer: p,
      ratio: median(a) / median(p),
      spread: [Math.min(...ratios), Math.max(...ratios)],
      loads: `${loadBefore}-${load()}`,
      attention,
      blasThreads,
      check,
    };
  } catch (e) {
    return { c, threads, loads: loadBefore, skipped: `failed: ${(e as Error).message}` };
  } finally {
    await ours?.release();
    await peer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- main
const threadCounts = args.threads!.split(',').map(Number);
const info = checkPrerequisites(threadCounts[0]);
const wanted = args.cases!.split(',');
const unknown = wanted.filter((k) => !CASES.some((c) => c.key === k));
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
      console.log(
        `${c.label}, ${threads} thread(s): PairStyle ${ms(row.ours!)} | PyTorch ${ms(row.peer!)} [attention ${row.attention}, OpenBLAS threads ${row.blasThreads}] | ` +
          `ratio ${row.ratio!.toFixed(2)} (per repeat ${row.spread![0].toFixed(2)}-${row.spread![1].toFixed(2)}), ${row.ours!.length} repeats, load ${row.loads}\n` +
          `${key}=${row.ratio!.toFixed(2)}`,
      );
    }
  }
if (rows.some((r) => r.check && !r.check.ok)) process.exit(1);
