/**
 * The worker-side executor: runs queue jobs as engine-thread tasks (one EngineWorker = one device, so
 * onnxruntime never runs on the bot's event loop). The queue owns scheduling; this only maps a job to
 * its task, forwards progress and cancellation, and returns the result bytes. Quick jobs go to the
 * engine as quick tasks: one given while a training runs starts at the training's next step.
 */
import { EngineCrashError, isQuick, type Job, type JobExecutor, type JobProgress, type JobResult } from '../src/queue/job.ts';
import { EngineWorker, type TaskRef } from './engine.ts';
import type { TaskOptions } from './tasks/bot-jobs.ts';

const TASKS = new URL('./tasks/bot-jobs.ts', import.meta.url);
const TASK_OF: Record<Job['kind'], TaskRef> = {
  train: { module: TASKS, exportName: 'trainStyle' },
  draw: { module: TASKS, exportName: 'draw' },
  blend: { module: TASKS, exportName: 'blend' },
  stylize: { module: TASKS, exportName: 'stylize' },
};

export class WorkerExecutor implements JobExecutor {
  /** A quick job runs at once, or at the running training's next step (EngineWorker's quick tasks). */
  readonly pausesTrainings = true;
  private engine: EngineWorker | undefined;

  constructor(private readonly options: TaskOptions = {}) {}

  async execute(job: Job, ctx: { signal: AbortSignal; onProgress: (p: JobProgress) => void }): Promise<JobResult> {
    this.engine ??= new EngineWorker();
    const engine = this.engine;
    try {
      return await engine.run<JobResult>(
        TASK_OF[job.kind],
        { job: job.args, ...this.options },
        { signal: ctx.signal, onProgress: (d) => ctx.onProgress(d as JobProgress), ...(isQuick(job.kind) ? { quick: job.kind } : {}) },
      );
    } catch (e) {
      // A thread that died (native crash, out of memory) is replaced for the next job; the queue may
      // start this one again.
      if (/engine thread (has )?exited/.test((e as Error).message)) {
        this.engine = undefined;
        throw new EngineCrashError((e as Error).message);
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.engine?.terminate();
    this.engine = undefined;
  }
}
