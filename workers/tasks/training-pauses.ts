/**
 * A training's pause points for quick jobs (see workers/engine-thread.ts): between two steps, the
 * draws, blends and stylizes that wait for the device run, and the training's progress says why it
 * paused (`paused`, `pausedFor`) and, from then on, what it resumed after (`resumedAfter`); the reply
 * words them in the user's language ("paused for 1 draw", "training; resumed after 1 draw":
 * commands/render.ts).
 */
import type { JobKind, JobProgress } from '../../src/queue/job.ts';
import type { TaskContext } from '../engine.ts';

export interface TrainingPauses {
  /** Sends the training's progress, noting the quick jobs it already paused for. */
  progress(p: JobProgress): void;
  /** A pause point: runs the quick jobs waiting, if any (their user's wait is one step at most). */
  pause(): Promise<void>;
}

export function trainingPauses(ctx: TaskContext | undefined): TrainingPauses {
  let last: JobProgress = { step: 0, steps: 0 };
  const ranAll: JobKind[] = [];
  let pausing: Promise<void> | undefined;
  const noted = (p: JobProgress): JobProgress => (ranAll.length ? { ...p, phase: p.phase ?? 'training', resumedAfter: [...ranAll] } : p);
  return {
    progress(p) {
      last = p;
      ctx?.progress(noted(p));
    },
    pause() {
      if (!ctx?.quickWaiting) return Promise.resolve();
      // Sample trajectories drawn together reach their pause points together: one pause serves them all.
      pausing ??= (async () => {
        const ran = await ctx.yieldToQuick((pausedFor) => ctx.progress({ ...last, paused: true, pausedFor: pausedFor as JobKind[] }));
        if (ran.length === 0) return;
        ranAll.push(...(ran as JobKind[]));
        ctx.progress(noted(last));
      })().finally(() => (pausing = undefined));
      return pausing;
    },
  };
}
