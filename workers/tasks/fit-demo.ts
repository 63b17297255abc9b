/**
 * The engine demo task: a two-layer GELU MLP fitted to y = sin(3 x1) cos(2 x2) with AdamW, end to end on
 * the engine (graph -> autodiff -> ONNX -> onnxruntime -> AdamW). Small, deterministic, and quick to show
 * the loss falling; its `width` and `batch` scale it up into a long run for the off-thread tests.
 */
import * as G from '../../src/graph/index.ts';
import { AdamW } from '../../src/train/optim.ts';
import { StepFunction, Trainer } from '../../src/train/step.ts';
import type { TaskContext } from '../engine.ts';

export interface FitDemoArgs {
  steps: number;
  width?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  threads?: number;
  /** A pause after each step, as a slow step would take: the cancellation test's steps outlast the main thread's reaction. */
  stepDelayMs?: number;
}

export interface FitDemoResult {
  losses: number[];
  meanStepMs: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export async function fitDemo(args: FitDemoArgs, ctx?: TaskContext): Promise<FitDemoResult> {
  const width = args.width ?? 64;
  const batch = args.batch ?? 256;
  const rand = rng(args.seed ?? 7);
  const g = new G.Graph();
  const x = g.input('x', [batch, 2]);
  const y = g.input('y', [batch, 1]);
  const h = G.gelu(G.linear(x, g.param('fc1.weight', [width, 2]), g.param('fc1.bias', [width])));
  const pred = G.linear(h, g.param('fc2.weight', [1, width]), g.param('fc2.bias', [1]));
  const loss = G.mse(pred, y);
  const step = await StepFunction.compile(loss, { threads: args.threads });

  const params: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(step.paramShapes)) {
    const fanIn = shape.length > 1 ? shape[1] : 1;
    const bound = name.endsWith('bias') ? 0 : Math.sqrt(6 / fanIn);
    params[name] = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * bound);
  }
  const optimizer = new AdamW([{ params: Object.entries(params).map(([name, data]) => ({ name, data })), lr: args.lr ?? 1e-2, weightDecay: 0 }]);
  const trainer = new Trainer(step, { params, optimizer });
  const losses: number[] = [];
  const xs = new Float32Array(batch * 2);
  const ys = new Float32Array(batch);
  let totalMs = 0;
  const pause = args.stepDelayMs ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  for (let i = 0; i < args.steps; i++) {
    ctx?.throwIfCancelled();
    for (let b = 0; b < batch; b++) {
      const [x1, x2] = [rand() * 2 - 1, rand() * 2 - 1];
      xs[2 * b] = x1;
      xs[2 * b + 1] = x2;
      ys[b] = Math.sin(3 * x1) * Math.cos(2 * x2);
    }
    const r = await trainer.trainStep({ x: xs, y: ys });
    losses.push(r.loss);
    totalMs += r.totalMs;
    if (pause) Atomics.wait(pause, 0, 0, args.stepDelayMs);
    ctx?.progress({ step: r.step, steps: args.steps, loss: r.loss, stepMs: r.totalMs });
  }
  await step.release();
  return { losses, meanStepMs: totalMs / Math.max(1, args.steps) };
}
