/**
 * Running one job on one executor, the same for both queue backends: the in-process queue
 * (in-process.ts) and the BullMQ worker (workers/queue-worker.ts). It starts the job's time limit
 * (which stands still while the job is paused for quick jobs),
 * runs the executor with the caller's abort signal, and says how the run ended, in one vocabulary:
 * done, cancelled (the user's cancel, or the caller's own abort such as a shutdown: see `reason`),
 * or failed (timed out, the engine crashed, or the task's own error, a user error keeping its kind).
 * What to do next (retry, journal, report to BullMQ) stays with the backend.
 */
import { cancelled, errorRecord, isCancelled, type ErrorRecord } from '../errors/user-error.ts';
import type { Job, JobExecutor, JobKind, JobProgress, JobResult } from './job.ts';

export type RunOutcome =
  | { status: 'done'; result: JobResult }
  /** `reason`: what the caller aborted with (undefined when the task stopped by itself as cancelled). */
  | { status: 'cancelled'; reason: unknown }
  /** `crashed`: the engine thread died under the job (not the job's fault: it may be started again). */
  | { status: 'failed'; error: ErrorRecord; crashed: boolean };

export interface RunJobOptions {
  /** The caller's handle on the run (cancel, shutdown); the time limit aborts it too. */
  abort: AbortController;
  timeoutSeconds: number;
  onProgress: (p: JobProgress) => void;
}

const TIMEOUT = new Error('timeout');

/** A job stopped at its time limit. */
export const timeoutError = (kind: JobKind, timeoutSeconds: number): ErrorRecord => ({
  name: 'TimeoutError',
  message: `the ${kind} took longer than ${Math.round(timeoutSeconds / 60)} min and was stopped`,
});

/** The engine crashed under a job once more after its retry: the message its user reads. */
export const engineCrashedError = (crash: ErrorRecord): ErrorRecord => ({
  name: crash.name,
  message: `the engine crashed twice while running this job (${crash.message}); please try again, perhaps with smaller settings`,
});

/** Runs `job` on `executor` until it ends, and classifies the end. Never throws. */
export async function runJob(executor: JobExecutor, job: Job, opts: RunJobOptions): Promise<RunOutcome> {
  const { abort } = opts;
  // The time limit stands still while the job is paused for quick jobs (JobProgress.paused).
  let left = opts.timeoutSeconds * 1000;
  let since = 0;
  let timeout: NodeJS.Timeout | undefined;
  let ended = false;
  const arm = () => {
    since = performance.now();
    timeout = setTimeout(() => abort.abort(TIMEOUT), left);
  };
  const onProgress = (p: JobProgress) => {
    if (p.paused && timeout) {
      clearTimeout(timeout);
      timeout = undefined;
      left -= performance.now() - since;
    } else if (!p.paused && !timeout && !ended) arm();
    opts.onProgress(p);
  };
  arm();
  try {
    const result = await executor.execute(job, { signal: abort.signal, onProgress });
    // Finished just as it was stopped: the stop wins (the user was told it is cancelling).
    if (abort.signal.aborted) throw cancelled();
    return { status: 'done', result };
  } catch (e) {
    if (abort.signal.reason === TIMEOUT) return { status: 'failed', error: timeoutError(job.kind, opts.timeoutSeconds), crashed: false };
    if (abort.signal.aborted || isCancelled(e)) return { status: 'cancelled', reason: abort.signal.aborted ? abort.signal.reason : undefined };
    const error = errorRecord(e);
    return { status: 'failed', error, crashed: error.name === 'EngineCrashError' };
  } finally {
    ended = true;
    clearTimeout(timeout);
  }
}
