/**
 * A training's pause points for quick jobs (see workers/engine-thread.ts): between two steps, the
 * draws, blends and stylizes that wait for the device run, and the training's user reads why it paused
 * ("paused for 1 draw") and, from then on, that it resumed ("training; resumed after 1 draw").
 */
import type { JobProgress } from '../../src/queue/job.ts';
import type { TaskContext } from '../engine.ts';

/** "1 draw", "2 draws and 1 blend": how many quick jobs of each kind, in order of first appearance. */
export function countOf(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const parts = [...counts].map(([l, n]) => `${n} ${l}${n === 1 ? '' : 's'}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? 'nothing');
}

export interface TrainingPauses {
  /** Sends the training's progress, noting the quick jobs it already paused for. */
  progress(p: JobProgress): void;
  /** A pause point: runs the quick jobs waiting, if any (their user's wait is one step at most). */
  pause(): Promise<void>;
}

export function trainingPauses(ctx: TaskContext | undefined): TrainingPauses {
  let last: JobProgress = { step: 0, steps: 0 };
  const ranAll: string[] = [];
  let pausing: Promise<void> | undefined;
  const noted = (p: JobProgress): JobProgress => (ranAll.length ? { ...p, phase: `${p.phase ?? 'training'}; resumed after ${countOf(ranAll)}` } : p);
  return {
    progress(p) {
      last = p;
      ctx?.progress(noted(p));
    },
    pause() {
      if (!ctx?.quickWaiting) return Promise.resolve();
      // Sample trajectories drawn together reach their pause points together: one pause serves them all.
      pausing ??= (async () => {
        const ran = await ctx.yieldToQuick((pausedFor) => ctx.progress({ ...last, phase: `paused for ${countOf(pausedFor)}`, paused: true }));
        if (ran.length === 0) return;
        ranAll.push(...ran);
        ctx.progress(noted(last));
      })().finally(() => (pausing = undefined));
      return pausing;
    },
  };
}
