/**
 * Measured memory of one graph run: measurePeak(case) starts a fresh Node process (this file, with
 * --child), which builds the case's graph (memory-cases.ts), emits it with random weights, opens a
 * GraphSession with the product's options (CPU, onnxruntime's arena, 'all' optimisations), prepares
 * its feeds, and then runs it twice. Before each run it resets the kernel's resident-set high-water mark
 * (writing 5 to /proc/self/clear_refs, Linux) and reads the resident set; after it, the high-water mark
 * (VmHWM). The peak of a run is their difference: what the run added on top of the loaded session and
 * its inputs (intermediate tensors, onnxruntime's arena growth and kernel workspaces, the outputs). A
 * fresh process per case keeps peaks of different cases from mixing.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as G from '../../src/graph/index.ts';
import { buildCase, type MemoryCase } from './memory-cases.ts';

export interface MeasuredPeak {
  /** Resident bytes added by each of the two runs (the first also grows onnxruntime's arena). */
  runs: [number, number];
  /** The larger of the two. */
  peakBytes: number;
  /** Resident bytes once the session is open and the feeds are made. */
  loadedBytes: number;
}

const here = fileURLToPath(import.meta.url);

/** Measures `c` in a child process with `threads` intra-op threads. */
export function measurePeak(c: MemoryCase, threads: number): Promise<MeasuredPeak> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', here, '--child', JSON.stringify(c), String(threads)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`memory probe of ${JSON.stringify(c)} failed (exit ${code}): ${err.slice(-2000)}`));
      resolve(JSON.parse(last) as MeasuredPeak);
    });
  });
}

function procStatus(): { rss: number; hwm: number } {
  const kib = (key: string) =>
    Number(
      /\s(\d+)\s*kB/.exec(
        readFileSync('/proc/self/status', 'utf8')
          .split('\n')
          .find((l) => l.startsWith(key)) ?? '',
      )?.[1],
    ) * 1024;
  return { rss: kib('VmRSS:'), hwm: kib('VmHWM:') };
}

function feedFor(v: G.ValueInfo): G.Feed {
  const n = v.shape.reduce((a, b) => a * b, 1);
  if (v.dtype === 'int64') return new BigInt64Array(n);
  if (v.dtype !== 'float32') throw new Error(`memory probe: input ${v.name} is ${v.dtype}; the cases feed float32 and int64 only`);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.1);
}

async function child(c: MemoryCase, threads: number): Promise<MeasuredPeak> {
  const { graph, outputs } = buildCase(c);
  const weight = (name: string) => {
    const size = graph.params.get(name)!.size;
    return Float32Array.from({ length: size }, (_, i) => Math.sin(i * 78.233 + name.length) * 0.02);
  };
  const model = G.emitOnnx({ outputs, weights: weight });
  const session = await G.GraphSession.create(model, { threads });
  const feeds = Object.fromEntries(model.inputs.map((v) => [v.name, feedFor(v)]));
  const loadedBytes = procStatus().rss;
  const runs: number[] = [];
  for (let r = 0; r < 2; r++) {
    const before = procStatus().rss;
    writeFileSync('/proc/self/clear_refs', '5');
    await session.run(feeds);
    runs.push(procStatus().hwm - before);
  }
  await session.release();
  return { runs: runs as [number, number], peakBytes: Math.max(...runs), loadedBytes };
}

if (process.argv[1] === here && process.argv[2] === '--child') {
  const result = await child(JSON.parse(process.argv[3]) as MemoryCase, Number(process.argv[4]));
  console.log(JSON.stringify(result));
}
