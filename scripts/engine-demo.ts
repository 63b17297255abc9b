/**
 * Engine demo (npm run demo:engine): fits a small GELU MLP to y = sin(3 x1) cos(2 x2) on the engine,
 * in the engine thread, printing progress; the loss must fall by more than 10x.
 */
import { EngineWorker } from '../workers/engine.ts';
import type { FitDemoResult } from '../workers/tasks/fit-demo.ts';

const steps = Number(process.argv[2] ?? 400);
const engine = new EngineWorker();
const t0 = performance.now();
const result = await engine.run<FitDemoResult>(
  { module: new URL('../workers/tasks/fit-demo.ts', import.meta.url), exportName: 'fitDemo' },
  { steps },
  {
    onProgress: (d) => {
      const { step, loss } = d as { step: number; loss: number };
      if (step % 50 === 0 || step === 1) console.log(`step ${String(step).padStart(4)}/${steps}  loss ${loss.toFixed(5)}`);
    },
  },
);
await engine.terminate();
const first = result.losses[0];
const last = result.losses.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, result.losses.length);
console.log(
  `done in ${((performance.now() - t0) / 1000).toFixed(1)} s: loss ${first.toFixed(4)} -> ${last.toFixed(4)} (${(first / last).toFixed(0)}x lower), ${result.meanStepMs.toFixed(2)} ms/step`,
);
if (!(last < first / 10)) {
  console.error('the loss did not fall enough: the engine is broken');
  process.exit(1);
}
