/**
 * What every queue backend keeps in the process that follows its jobs: the jobs' latest state, the
 * listeners (all jobs, or one job), the callers waiting for a job to end, the limits and the duration
 * estimates behind ETAs. The in-process queue and the BullMQ queue extend it; they differ in where jobs
 * wait and run, not in how their followers hear about them.
 */
import { randomUUID } from 'node:crypto';
import type { Job, JobArgs, JobEvent, JobKind, JobOwner, JobStatus, SubmitOptions } from './job.ts';
import { JobNotFoundError } from './job.ts';
import { msg } from '../i18n/message.ts';

export interface QueueLimits {
  /** Trainings a user may have queued or running. */
  perUserTrainings: number;
  /** Draws + blends a user may have queued or running. */
  perUserDraws: number;
  /** Jobs waiting (not running) across all users. */
  maxQueued: number;
  /** A running job is aborted after this long. */
  timeoutSeconds: Record<JobKind, number>;
}

export const DEFAULT_LIMITS: QueueLimits = {
  perUserTrainings: 1,
  perUserDraws: 3,
  maxQueued: 50,
  timeoutSeconds: { train: 30 * 60, draw: 5 * 60, blend: 5 * 60, stylize: 5 * 60 },
};

export const TERMINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(['done', 'failed', 'cancelled']);

export interface JobBookOptions {
  limits?: Partial<QueueLimits>;
  /** Initial duration estimates (seconds) per kind, refined as jobs finish. */
  estimates?: Partial<Record<JobKind, number>>;
  /** Finished jobs kept for get() / buttons. */
  history?: number;
  log?: (msg: string, e?: unknown) => void;
}

export abstract class JobBook {
  readonly limits: QueueLimits;
  protected readonly jobs = new Map<string, Job>();
  protected readonly jobListeners = new Map<string, (e: JobEvent) => void>();
  protected readonly estimates: Record<JobKind, number>;
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private readonly waiters = new Map<string, ((j: Job) => void)[]>();

  protected constructor(private readonly bookOpts: JobBookOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...bookOpts.limits, timeoutSeconds: { ...DEFAULT_LIMITS.timeoutSeconds, ...bookOpts.limits?.timeoutSeconds } };
    this.estimates = { train: 60, draw: 5, blend: 8, stylize: 8, ...bookOpts.estimates };
  }

  /** A new job as every backend makes it: a fresh id, its own copy of the owner, queued now, with its reply route. */
  protected newJob(owner: JobOwner, request: JobArgs, opts: Pick<SubmitOptions, 'route'> = {}): Job {
    return {
      ...request,
      id: randomUUID(),
      owner: { ...owner },
      status: 'queued',
      createdAt: Date.now(),
      ...(opts.route ? { route: opts.route } : {}),
    };
  }

  on(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  finished(id: string): Promise<Job> {
    const job = this.jobs.get(id);
    if (!job) return Promise.reject(new JobNotFoundError(msg('queue.no-job', { id })));
    if (TERMINAL.has(job.status)) return Promise.resolve(job);
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  /** A job reached done / failed / cancelled: its event, then its waiters; its own listener is dropped. */
  protected finish(job: Job): void {
    this.emit(job.status === 'done' ? { type: 'done', job } : job.status === 'cancelled' ? { type: 'cancelled', job } : { type: 'failed', job });
    this.jobListeners.delete(job.id);
    for (const w of this.waiters.get(job.id) ?? []) w(job);
    this.waiters.delete(job.id);
  }

  protected emit(e: JobEvent): void {
    try {
      this.jobListeners.get(e.job.id)?.(e);
    } catch {
      // A listener's failure is the adapter's problem, never the queue's.
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* same */
      }
    }
  }

  /** Forgets the oldest finished jobs beyond `history`. */
  protected trimHistory(): void {
    const max = this.bookOpts.history ?? 500;
    if (this.jobs.size <= max) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= max) break;
      if (TERMINAL.has(job.status)) this.jobs.delete(id);
    }
  }

  /** Seconds a job still needs: from its progress once it has some, else from the estimate for its kind. */
  protected remainingOf(job: Job): number {
    const est = this.estimates[job.kind];
    if (!job.startedAt) return est;
    const p = job.progress;
    const elapsed = (Date.now() - job.startedAt) / 1000;
    if (p && p.step > 0 && p.steps > 0) return Math.max(0, (elapsed / p.step) * (p.steps - p.step));
    return Math.max(0, est - elapsed);
  }

  protected log(msg: string, e?: unknown): void {
    (this.bookOpts.log ?? ((m: string, err?: unknown) => console.error(`[queue] ${m}`, err ?? '')))(msg, e);
  }
}
