/**
 * onnxruntime's profile (SessionOptions.profileFilePrefix) summed by operator: the chrome-trace JSON
 * holds one `model_run` event per run and one `<node>_kernel_time` event per node run, in microseconds.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

interface TraceEvent {
  name: string;
  cat?: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

export interface OperatorTime {
  /** The operator as onnxruntime ran it (after its fusions: FusedMatMul, FusedConv, ...). */
  op: string;
  /** Milliseconds per run, summed over the operator's nodes. */
  ms: number;
  /** Nodes of it per run. */
  nodes: number;
}

export interface OrtProfileSummary {
  /** Milliseconds of each summed run (the runs after the first `skip`). */
  runMs: number[];
  /** Per operator, most time first; their sum is the kernels' time, without the executor's overhead. */
  operators: OperatorTime[];
}

/** The newest profile written for `prefix` (onnxruntime appends _<date and time>.json). */
export async function latestProfile(prefix: string): Promise<string> {
  const dir = dirname(prefix);
  const files = (await readdir(dir)).filter((f) => f.startsWith(`${basename(prefix)}_`) && f.endsWith('.json')).sort();
  if (!files.length) throw new Error(`no onnxruntime profile ${prefix}_*.json (is the session released?)`);
  return join(dir, files.at(-1)!);
}

/** Sums a profile's node times by operator over the runs after the first `skip` (warm-up). */
export async function summarizeOrtProfile(file: string, skip = 1): Promise<OrtProfileSummary> {
  const events = JSON.parse(await readFile(file, 'utf8')) as TraceEvent[];
  const runs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (runs.length <= skip) throw new Error(`${file}: ${runs.length} runs, none left after skipping ${skip}`);
  const from = runs[skip]!.ts;
  const counted = runs.length - skip;
  const byOp = new Map<string, { us: number; count: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const op = e.args?.op_name ?? '?';
    const t = byOp.get(op) ?? { us: 0, count: 0 };
    t.us += e.dur;
    t.count++;
    byOp.set(op, t);
  }
  const operators = [...byOp].map(([op, t]) => ({ op, ms: t.us / 1000 / counted, nodes: t.count / counted })).sort((a, b) => b.ms - a.ms);
  return { runMs: runs.slice(skip).map((r) => r.dur / 1000), operators };
}
