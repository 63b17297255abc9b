/**
 * Attention recompute, measured (npm run bench:attention -- [--layers 10] [--tokens 1024] [--heads 8]):
 * the peak memory of one forward+backward of `layers` residual attention layers over [1, heads, tokens,
 * 64] (scripts/lib/memory-cases.ts), with the fused core (probabilities recomputed in the backward
 * pass, src/graph/ops/attention.ts) and with the probabilities kept, each in three fresh processes
 * (scripts/lib/measure-memory.ts: resident-set high-water mark over three runs), beside the planner's
 * prediction (src/graph/memory.ts). Last line: attention_recompute_memory_ratio=<fused / kept, measured>.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as G from '../src/graph/index.ts';
import { buildCase, describeCase, type MemoryCase } from './lib/memory-cases.ts';
import { measurePeak } from './lib/measure-memory.ts';

const { values: a } = parseArgs({
  options: {
    layers: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '1024' },
    heads: { type: 'string', default: '8' },
    threads: { type: 'string' },
  },
});
const threads = Number(a.threads ?? process.env.BENCH_THREADS ?? cpus().length);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const peaks: Record<string, number> = {};
for (const recompute of [true, false]) {
  const c: MemoryCase = { kind: 'attention', layers: Number(a.layers), tokens: Number(a.tokens), heads: Number(a.heads), recompute };
  const { outputs } = buildCase(c);
  const predicted = G.planMemory(Object.values(outputs)).peakActivationBytes;
  const m = await measurePeak(c, threads);
  peaks[recompute ? 'fused' : 'kept'] = m.peakBytes;
  console.log(
    `${describeCase(c)}: measured ${mib(m.peakBytes)} (median of ${m.processes.length} processes; ${m.processes.map(mib).join(', ')}), planner ${mib(predicted)}`,
  );
}
console.log(`attention_recompute_memory_ratio=${(peaks.fused / peaks.kept).toFixed(3)}`);
