/**
 * The engine's side of the peer benchmark (npm run bench:peer), in a process of its own like the
 * PyTorch side (scripts/peer/worker.py), with the same protocol: one JSON request per line on stdin,
 * one JSON answer per line on stdout.
 *   {"op": "load", "dir": D}  build the case of D/case.json, reading D/weights.safetensors and
 *                             D/inputs.safetensors (the very files the PyTorch worker reads)
 *   {"op": "check"}           writes D/ours.check.safetensors (the output, or the loss and the gradients
 *                             before clipping), then D/ours.after.safetensors (the parameters after one
 *                             optimizer step)
 *   {"op": "step"}            one step, answered with its wall time in ms
 *   {"op": "quit"}
 * Every answer carries peakGiB, the process's peak resident memory so far (VmHWM).
 * A step is what PyTorch's is: the forward (GraphSession.run), or Trainer.trainStep (forward, backward,
 * clipping, AdamW, EMA).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as G from '../../src/graph/index.ts';
import type { CLIPTextConfig } from '../../src/models/clip-text.ts';
import { pairParamMode } from '../../src/pair/train.ts';
import { EMA } from '../../src/train/ema.ts';
import { AdamW } from '../../src/train/optim.ts';
import { StepFunction, Trainer } from '../../src/train/step.ts';
import { type Built, buildCase, CASES, type CaseDef } from './cases.ts';
import { TensorFiles, writeF32Tensors } from './tensor-files.ts';

interface Ours {
  step: () => Promise<unknown>;
  /** Writes the check's files into `dir`. */
  check: (dir: string) => Promise<void>;
  release: () => Promise<void>;
}

/** The process's peak resident memory (VmHWM), GiB. */
export function peakGiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 2 ** 20 : Number.NaN;
}

async function oursFor(c: CaseDef, b: Built, weight: (n: string) => Float32Array, feeds: Record<string, G.Feed>, threads: number): Promise<Ours> {
  const { graph, tensor } = b;
  if (c.kind === 'forward') {
    const session = await G.GraphSession.create(G.emitOnnx({ outputs: { out: tensor }, weights: weight, name: `peer_${c.key}` }), { threads });
    return {
      step: () => session.run(feeds),
      check: async (dir) => {
        const out = (await session.run(feeds)).out as Float32Array;
        writeF32Tensors(
          join(dir, 'ours.check.safetensors'),
          ['out'],
          () => tensor.shape,
          () => out,
        );
      },
      release: () => session.release(),
    };
  }
  const stepFn = await StepFunction.compile(tensor, { weights: weight, threads });
  const params: Record<string, Float32Array> = Object.fromEntries(stepFn.paramNames.map((n) => [n, weight(n)]));
  const fed: Record<string, Float32Array> = {};
  if (c.kind === 'lora') for (const n of graph.params.keys()) if (pairParamMode(false)(n) === 'fed') fed[n] = weight(n);
  const o = b.optimizer;
  const optimizer = new AdamW([{ params: Object.entries(params).map(([n, data]) => ({ name: n, data })), lr: o.lr, weightDecay: o.weightDecay }]);
  const ema = o.emaDecay ? new EMA(params, o.emaDecay, { warmup: true }) : undefined;
  const trainer = new Trainer(stepFn, { params, optimizer, ema, clipNorm: o.clipNorm });
  const batch = { ...feeds, ...fed };
  const shape = (n: string) => graph.params.get(n)!.shape;
  return {
    step: () => trainer.trainStep(batch),
    check: async (dir) => {
      // The gradients go to their file before the optimizer step, which would need another copy of them.
      let r: { loss: number; grads: Record<string, Float32Array> } | undefined = await stepFn.run({ ...batch, ...params });
      const { loss, grads } = r;
      r = undefined;
      const names = Object.keys(grads);
      writeF32Tensors(
        join(dir, 'ours.check.safetensors'),
        ['loss', ...names.map((n) => `grad/${n}`)],
        (k) => (k === 'loss' ? [1] : shape(k.slice(5))),
        (k) => (k === 'loss' ? Float32Array.of(loss) : grads[k.slice(5)]),
      );
      for (const n of names) delete grads[n];
      (globalThis as { gc?: () => void }).gc?.();
      await trainer.trainStep(batch);
      writeF32Tensors(
        join(dir, 'ours.after.safetensors'),
        Object.keys(params).map((n) => `after/${n}`),
        (k) => shape(k.slice(6)),
        (k) => params[k.slice(6)],
      );
    },
    release: () => stepFn.release(),
  };
}

async function load(dir: string): Promise<Ours> {
  const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { case: string; threads: number; text?: CLIPTextConfig };
  const c = CASES.find((k) => k.key === spec.case);
  if (!c) throw new Error(`case.json names no known case (${spec.case})`);
  const b = buildCase(c, spec.text);
  const files = TensorFiles.open([join(dir, 'weights.safetensors'), join(dir, 'inputs.safetensors')]);
  try {
    const feeds: Record<string, G.Feed> = {};
    for (const [n, t] of b.graph.inputs) {
      const v = files.read(n);
      feeds[n] = t.dtype === 'int64' ? BigInt64Array.from(v, (x) => BigInt(Math.round(x))) : v;
    }
    return await oursFor(c, b, (n) => files.read(n), feeds, spec.threads);
  } finally {
    files.close();
  }
}

async function main(): Promise<void> {
  let ours: Ours | undefined;
  let dir = '';
  const answer = (a: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...a, peakGiB: peakGiB() })}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    const req = JSON.parse(line) as { op: string; dir?: string };
    try {
      if (req.op === 'load') {
        await ours?.release();
        dir = req.dir!;
        ours = await load(dir);
        answer({ ok: true });
      } else if (req.op === 'check') {
        await ours!.check(dir);
        answer({ ok: true });
      } else if (req.op === 'step') {
        const t0 = performance.now();
        await ours!.step();
        answer({ ok: true, ms: performance.now() - t0 });
      } else if (req.op === 'quit') {
        await ours?.release();
        answer({ ok: true });
        return;
      } else answer({ ok: false, error: `unknown op ${req.op}` });
    } catch (e) {
      console.error((e as Error).stack);
      answer({ ok: false, error: (e as Error).message });
    }
  }
}

await main();
