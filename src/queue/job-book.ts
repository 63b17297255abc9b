/**
 * What every queue backend keeps in the process that follows its jobs: the jobs' latest state, the
 * listeners (all jobs, or one job), the callers waiting for a job to end, the limits, and the
 * estimator that every event feeds (estimator.ts: the measured times behind every ETA). The in-process
 * queue and the BullMQ queue extend it; they differ in where jobs wait and run, not in how their
 * followers hear about them.
 */
import { randomUUID } from 'node:crypto';
import type { Job, JobArgs, JobEvent, JobKind, JobOwner, JobStatus, SubmitOptions } from './job.ts';
import { JobNotFoundError } from './job.ts';
import { msg } from '../i18n/message.ts';
import { DurationEstimator, type TimeEstimate } from './estimator.ts';

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
  /** The model the jobs run on, by name: measured times are kept per job kind and model. */
  model?: string;
  /** Finished jobs kept for get() / buttons. */
  history?: number;
  log?: (msg: string, e?: unknown) => void;
}

export abstract class JobBook {
  readonly limits: QueueLimits;
  protected readonly jobs = new Map<string, Job>();
  protected readonly jobListeners = new Map<string, (e: JobEvent) => void>();
  protected readonly estimator: DurationEstimator;
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private readonly waiters = new Map<string, ((j: Job) => void)[]>();

  protected constructor(private readonly bookOpts: JobBookOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...bookOpts.limits, timeoutSeconds: { ...DEFAULT_LIMITS.timeoutSeconds, ...bookOpts.limits?.timeoutSeconds } };
    this.estimator = new DurationEstimator(bookOpts.model);
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
    // Measured first, so that a listener asking for the job's time left sees this event counted.
    this.estimator.observe(e);
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

  /** Time a running job still needs, from measured rates (estimator.ts); undefined until one is measured. */
  protected remainingOf(job: Job): TimeEstimate | undefined {
    return this.estimator.remaining(job);
  }

  protected log(msg: string, e?: unknown): void {
    (this.bookOpts.log ?? ((m: string, err?: unknown) => console.error(`[queue] ${m}`, err ?? '')))(msg, e);
  }
}
