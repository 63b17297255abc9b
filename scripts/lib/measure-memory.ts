/**
 * Measured memory of one graph run: measurePeak(case) starts fresh Node processes (this file, with
 * --child), each of which builds the case's graph (memory-cases.ts), emits it with random weights,
 * opens a GraphSession with the product's options (CPU, onnxruntime's arena, no memory pattern, 'all'
 * optimisations; a probe may turn the arena off), prepares its feeds, and collects garbage until its
 * resident set holds still (V8 returns freed pages late): the baseline. Then
 * it runs the graph three times, resetting the kernel's resident-set high-water mark before each run
 * (writing 5 to /proc/self/clear_refs, Linux) and reading it (VmHWM) after. The peak of a process is
 * the highest mark minus the baseline: what running adds to the loaded session and its inputs
 * (intermediate tensors, onnxruntime's arena and what it keeps between runs, kernel workspaces, the
 * outputs), as it stands after the third run.
 *
 * The child runs with glibc's mmap threshold fixed at 64 KiB (MALLOC_MMAP_THRESHOLD_): every larger
 * block, the arena's regions included, is then fresh memory from the kernel, so memory that building
 * the graph and the session freed (and glibc kept) cannot hide what the run allocates. A fresh process
 * per measurement keeps cases from mixing; `repeats` processes give the spread.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as G from '../../src/graph/index.ts';
import { buildCase, type MemoryCase } from './memory-cases.ts';

/** Runs per process: the first grows the arena; the later ones show whether it keeps growing. */
const RUNS = 3;

export interface MeasuredPeak {
  /** The peak of each process (bytes added by running, over its runs), in the order measured. */
  processes: number[];
  /** Their median. */
  peakBytes: number;
  /** Their smallest and largest. */
  spread: [number, number];
  /** The fastest run of each process, in seconds (a by-product: the runs are not repeated for time). */
  runSeconds: number[];
  /** Each process's resident set before its runs (the loaded session and its inputs): the peak on top of it is the process's whole. */
  baselines: number[];
}

interface ChildResult {
  /** Each run's high-water mark minus the baseline. */
  runs: number[];
  /** Each run's wall time (session.run), seconds. */
  seconds: number[];
  /** Resident bytes once the session is open, the feeds are made and garbage is collected. */
  baselineBytes: number;
}

const here = fileURLToPath(import.meta.url);

/** What a measurement changes of the product's session options. */
export interface ProbeOptions {
  /** onnxruntime's CPU arena (default: on, as the product runs). */
  arena?: boolean;
  /** Runs per process (default RUNS): fewer for steps that take minutes. */
  runs?: number;
}

function measureOnce(c: MemoryCase, threads: number, probe: ProbeOptions): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', here, '--child', JSON.stringify(c), String(threads), JSON.stringify(probe)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '65536' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`memory probe of ${JSON.stringify(c)} failed (exit ${code}): ${err.slice(-2000)}`));
      resolve(JSON.parse(last) as ChildResult);
    });
  });
}

/** Measures `c` in `repeats` fresh child processes, one after the other, with `threads` intra-op threads. */
export async function measurePeak(c: MemoryCase, threads: number, repeats = 3, probe: ProbeOptions = {}): Promise<MeasuredPeak> {
  const processes: number[] = [];
  const runSeconds: number[] = [];
  const baselines: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const r = await measureOnce(c, threads, probe);
    processes.push(Math.max(...r.runs));
    runSeconds.push(Math.min(...r.seconds));
    baselines.push(r.baselineBytes);
  }
  const sorted = [...processes].sort((a, b) => a - b);
  return { processes, peakBytes: sorted[(sorted.length - 1) >> 1], spread: [sorted[0], sorted.at(-1)!], runSeconds, baselines };
}

function procStatus(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8').split('\n');
  const kib = (key: string) => Number(/\s(\d+)\s*kB/.exec(status.find((l) => l.startsWith(key)) ?? '')?.[1]) * 1024;
  return { rss: kib('VmRSS:'), hwm: kib('VmHWM:') };
}

function feedFor(v: G.ValueInfo): G.Feed {
  const n = v.shape.reduce((a, b) => a * b, 1);
  if (v.dtype === 'int64') return new BigInt64Array(n);
  if (v.dtype !== 'float32') throw new Error(`memory probe: input ${v.name} is ${v.dtype}; the cases feed float32 and int64 only`);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.1);
}

async function child(c: MemoryCase, threads: number, probe: ProbeOptions): Promise<ChildResult> {
  const { graph, outputs } = buildCase(c);
  const weight = (name: string) => {
    const size = graph.params.get(name)!.size;
    return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 78.233 + name.length) * 0.02);
  };
  const session = await G.GraphSession.create(G.emitOnnx({ outputs, weights: weight }), { threads, memoryArena: probe.arena ?? true });
  const feeds = Object.fromEntries(session.inputs.map((v) => [v.name, feedFor(v)]));
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('memory probe: run with --expose-gc');
  // V8 gives freed pages back some time after a collection: wait until the resident set holds still.
  let baselineBytes = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 250));
    const rss = procStatus().rss;
    const settled = Math.abs(rss - baselineBytes) < 2 ** 18;
    baselineBytes = rss;
    if (settled) break;
  }
  const runs: number[] = [];
  const seconds: number[] = [];
  for (let r = 0; r < (probe.runs ?? RUNS); r++) {
    writeFileSync('/proc/self/clear_refs', '5');
    const start = performance.now();
    await session.run(feeds);
    seconds.push((performance.now() - start) / 1000);
    runs.push(procStatus().hwm - baselineBytes);
  }
  await session.release();
  return { runs, seconds, baselineBytes };
}

if (process.argv[1] === here && process.argv[2] === '--child') {
  const [c, threads, probe] = process.argv.slice(3);
  const result = await child(JSON.parse(c) as MemoryCase, Number(threads), JSON.parse(probe ?? '{}') as ProbeOptions);
  console.log(JSON.stringify(result));
}
