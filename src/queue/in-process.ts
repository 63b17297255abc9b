/**
 * The in-process queue: one job at a time per device, draws ahead of trainings, round-robin between
 * users, per-user and global caps, cancellation, progress events.
 *
 * Scheduling is late-bound: whenever a job is submitted or ends, the pending job that is next by policy
 * starts on a free device. Policy: quick jobs (draw, blend, stylize) before trainings; within a class,
 * the user served least recently first; then submission order. A quick job that finds no free device
 * does not wait for a training to end: it starts on a device that runs a training (and no quick job)
 * if that device's executor pauses trainings (JobExecutor.pausesTrainings): the training pauses at
 * its next step, lends the device to the quick job and goes on where it was (workers/engine-thread.ts).
 *
 * With a journal (src/queue/journal.ts) every job is recorded before submit() resolves, its state is
 * written as it starts and ends, and recover() brings the journaled jobs back after a restart. A job
 * whose engine thread crashes is started once more; close() then leaves waiting and running jobs to the
 * next start instead of cancelling them.
 */
import { busyError, standingOf } from './estimator.ts';
import { JobBook, type JobBookOptions } from './job-book.ts';
import type { JobJournal } from './journal.ts';
import { engineCrashedError, runJob } from './run-job.ts';
import {
  isQuick,
  JobNotFoundError,
  ownerKey,
  personKey,
  QueueLimitError,
  trainingsCap,
  type Job,
  type JobArgs,
  type JobEvent,
  type JobExecutor,
  type JobOwner,
  type JobQueue,
  type JobStanding,
  type ResumeJob,
  type SubmitOptions,
} from './job.ts';
import { msg } from '../i18n/message.ts';

export { DEFAULT_LIMITS, type QueueLimits } from './job-book.ts';

export interface InProcessQueueOptions extends JobBookOptions {
  /** One executor per device; each runs one job at a time (and a quick one beside a training it pauses). */
  executors: JobExecutor[];
  /** Durable record of the jobs, for crash recovery (journal write failures go to `log` and never stop a job). */
  journal?: JobJournal;
}

/** Times a job is started at most: once, and once more after a crash interrupted it. */
export const MAX_ATTEMPTS = 2;

const SHUTDOWN = new Error('shutdown');

export class InProcessQueue extends JobBook implements JobQueue {
  private readonly free: JobExecutor[];
  private readonly pending: Job[] = [];
  private readonly running = new Map<string, { job: Job; abort: AbortController; executor: JobExecutor }>();
  /** The runs in progress, for close(). */
  private readonly runs = new Set<Promise<void>>();
  private readonly lastServed = new Map<string, number>();
  private serveCount = 0;
  private orderCache: Job[] | undefined;
  private closed = false;

  constructor(private readonly opts: InProcessQueueOptions) {
    super(opts);
    if (opts.executors.length === 0) throw new Error('InProcessQueue needs at least one executor');
    this.free = [...opts.executors];
  }

  async submit(owner: JobOwner, request: JobArgs, opts: SubmitOptions = {}): Promise<Job> {
    this.admit(owner, request);
    const job = this.newJob(owner, request, opts);
    const journal = this.opts.journal;
    if (journal) {
      try {
        await journal.record(job);
      } catch (e) {
        this.log('could not journal a job', e);
        throw new QueueLimitError(msg('queue.not-recorded'), 60, 'unavailable');
      }
      // The caps again: other submissions may have been admitted while this one was being written.
      try {
        this.admit(owner, request);
      } catch (e) {
        await journal.remove(job.id).catch(() => undefined);
        throw e;
      }
    }
    this.enqueue(job, opts.listener);
    return job;
  }

  private admit(owner: JobOwner, request: JobArgs): void {
    if (this.closed) throw new QueueLimitError(msg('queue.shutting-down'), 60);
    const mine = [...this.pending, ...[...this.running.values()].map((r) => r.job)].filter((j) => personKey(j.owner) === personKey(owner));
    if (request.kind === 'train') {
      if (mine.filter((j) => j.kind === 'train').length >= this.limits.perUserTrainings) {
        throw new QueueLimitError(trainingsCap(this.limits.perUserTrainings));
      }
    } else if (mine.filter((j) => isQuick(j.kind)).length >= this.limits.perUserDraws) {
      throw new QueueLimitError(msg('queue.draws-cap', { count: this.limits.perUserDraws }));
    }
    if (this.pending.length >= this.limits.maxQueued) throw busyError(this.pending.length, this.etaOfPosition(this.pending.length));
  }

  private enqueue(job: Job, listener?: (e: JobEvent) => void, first = false): void {
    this.jobs.set(job.id, job);
    if (listener) this.jobListeners.set(job.id, listener);
    if (first) this.pending.unshift(job);
    else this.pending.push(job);
    this.orderCache = undefined;
    this.trimHistory();
    const position = this.positionOf(job.id);
    this.emit({ type: 'queued', job, position, etaSeconds: this.etaOfPosition(position) });
    this.dispatch();
  }

  /**
   * Reads the journal back after a start: waiting jobs are queued again (ahead of new ones, in their
   * old order), a job that was running when the process stopped is retried once (a second interruption
   * fails it with a message for its user), and finished jobs whose reply never went out are handed over
   * as they are. `resume` is called for every job, so its adapter can follow it to its user.
   */
  async recover(resume: ResumeJob): Promise<{ queued: number; retried: number; failed: number; finished: number; unreadable: number }> {
    const journal = this.opts.journal;
    const counts = { queued: 0, retried: 0, failed: 0, finished: 0, unreadable: 0 };
    if (!journal) return counts;
    const { jobs, unreadable } = await journal.load();
    counts.unreadable = unreadable.length;
    const fresh = jobs.filter((j) => !this.jobs.has(j.id));
    for (const job of fresh) {
      if (job.status === 'running') {
        delete job.startedAt;
        delete job.progress;
        if ((job.attempts ?? 1) < MAX_ATTEMPTS) {
          job.status = 'queued';
          counts.retried++;
        } else {
          job.status = 'failed';
          job.finishedAt = Date.now();
          job.error = {
            name: 'InterruptedError',
            message: 'the bot stopped twice while this job was running, so it was not started a third time; please run it again',
          };
          counts.failed++;
        }
        await journal.update(job).catch((e) => this.log('could not journal a job', e));
      } else if (job.status === 'queued') counts.queued++;
      else counts.finished++;
      this.jobs.set(job.id, job);
      if (job.status === 'queued') this.pending.push(job);
      this.orderCache = undefined;
    }
    // All of them are pending before any starts, so the policy (draws first) orders them.
    const queued = fresh.filter((j) => j.status === 'queued');
    for (const job of queued) {
      const position = this.positionOf(job.id);
      this.emit({ type: 'queued', job, position, etaSeconds: this.etaOfPosition(position) });
    }
    this.dispatch();
    for (const job of fresh) resume(job);
    return counts;
  }

  async delivered(id: string): Promise<void> {
    await this.opts.journal?.remove(id).catch((e) => this.log('could not clear a delivered job from the journal', e));
  }

  jobsOf(owner: JobOwner) {
    const key = ownerKey(owner);
    const out: JobStanding[] = [];
    for (const { job } of this.running.values()) if (ownerKey(job.owner) === key) out.push({ job, position: 0, ...standingOf(this.remainingOf(job)) });
    const order = this.order();
    order.forEach((job, i) => {
      if (ownerKey(job.owner) === key) out.push({ job, position: i + 1, etaSeconds: this.etaOfPosition(i + 1) });
    });
    return out;
  }

  cancel(id: string, by?: JobOwner): Job {
    const job = this.jobs.get(id);
    if (!job) throw new JobNotFoundError(msg('queue.no-such-job'));
    if (by && ownerKey(by) !== ownerKey(job.owner)) throw new JobNotFoundError(msg('queue.not-yours'), 'not-allowed');
    if (job.status === 'queued') {
      this.pending.splice(this.pending.indexOf(job), 1);
      this.orderCache = undefined;
      job.status = 'cancelled';
      job.finishedAt = Date.now();
      void this.opts.journal?.update(job).catch((e) => this.log('could not journal a job', e));
      this.finish(job);
    } else if (job.status === 'running') {
      this.running.get(id)?.abort.abort();
    }
    return job;
  }

  /** Pending jobs in the order they would run (cached until the pending set or the serving record changes). */
  order(): Job[] {
    this.orderCache ??= this.computeOrder();
    return [...this.orderCache];
  }

  private computeOrder(): Job[] {
    const pending = [...this.pending];
    const served = new Map(this.lastServed);
    let count = this.serveCount;
    const out: Job[] = [];
    while (pending.length) {
      const next = this.pick(pending, served);
      pending.splice(pending.indexOf(next), 1);
      served.set(ownerKey(next.owner), ++count);
      out.push(next);
    }
    return out;
  }

  positionOf(id: string): number {
    return this.order().findIndex((j) => j.id === id) + 1;
  }

  /** Seconds until the job at 1-based queue position `position` starts, from measured times (undefined before there are any). */
  etaOfPosition(position: number): number | undefined {
    const order = this.order();
    const ahead = order.slice(0, position - 1);
    const wait = this.estimator.wait(
      [...this.running.values()].map((r) => r.job),
      ahead,
      this.opts.executors.length,
      Math.max(0, position - 1 - ahead.length),
    );
    return wait === undefined ? undefined : Math.round(wait);
  }

  get stats() {
    return { queued: this.pending.length, running: this.running.size, durations: this.estimator.durations() };
  }

  /**
   * Stops taking jobs. Without a journal, waiting jobs are cancelled and running ones aborted. With one,
   * they are left in the journal as they were (a running job as not yet started), for the next start.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.opts.journal) {
      this.pending.length = 0;
      this.orderCache = undefined;
      for (const r of this.running.values()) r.abort.abort(SHUTDOWN);
    } else {
      for (const job of [...this.pending]) this.cancel(job.id);
      for (const r of this.running.values()) r.abort.abort();
    }
    while (this.runs.size) await Promise.all(this.runs);
    await Promise.all(this.opts.executors.map((e) => e.close?.()));
  }

  private pick(pending: readonly Job[], served: ReadonlyMap<string, number>): Job {
    const quick = pending.filter((j) => isQuick(j.kind));
    const pool = quick.length ? quick : pending;
    let best = pool[0];
    let bestServed = served.get(ownerKey(best.owner)) ?? -1;
    for (const j of pool) {
      const s = served.get(ownerKey(j.owner)) ?? -1;
      if (s < bestServed) {
        best = j;
        bestServed = s;
      }
    }
    return best;
  }

  /** Starts pending jobs, next by policy first, while a device can take them. */
  private dispatch(): void {
    while (!this.closed && this.pending.length) {
      const job = this.pick(this.pending, this.lastServed);
      const executor = this.free.shift() ?? (isQuick(job.kind) ? this.trainingToPause() : undefined);
      if (!executor) return;
      this.pending.splice(this.pending.indexOf(job), 1);
      this.lastServed.set(ownerKey(job.owner), ++this.serveCount);
      this.orderCache = undefined;
      const run = this.run(job, executor).finally(() => {
        this.runs.delete(run);
        this.dispatch();
      });
      this.runs.add(run);
    }
  }

  /** A device whose only job is a training that pauses for a quick job (undefined: none). */
  private trainingToPause(): JobExecutor | undefined {
    const busy = new Map<JobExecutor, Job[]>();
    for (const r of this.running.values()) busy.set(r.executor, [...(busy.get(r.executor) ?? []), r.job]);
    for (const [executor, jobs] of busy) if (executor.pausesTrainings && jobs.length === 1 && jobs[0].kind === 'train') return executor;
    return undefined;
  }

  private async run(job: Job, executor: JobExecutor): Promise<void> {
    const abort = new AbortController();
    this.running.set(job.id, { job, abort, executor });
    job.status = 'running';
    job.startedAt = Date.now();
    job.attempts = (job.attempts ?? 0) + 1;
    await this.opts.journal?.update(job).catch((e) => this.log('could not journal a job', e));
    this.emit({ type: 'started', job });
    const outcome = await runJob(executor, job, {
      abort,
      timeoutSeconds: this.limits.timeoutSeconds[job.kind],
      onProgress: (progress) => {
        if (job.status !== 'running') return;
        job.progress = progress;
        this.emit({ type: 'progress', job, progress });
      },
    });
    this.running.delete(job.id);
    // The device is free once no job runs on it (a training's quick guest, or the training it paused).
    if (![...this.running.values()].some((r) => r.executor === executor)) this.free.push(executor);
    // Not the job's fault: it runs again, after the restart (shutdown) or now (the thread crashed).
    const again =
      (outcome.status === 'cancelled' && outcome.reason === SHUTDOWN) || (outcome.status === 'failed' && outcome.crashed && job.attempts! < MAX_ATTEMPTS);
    if (outcome.status === 'done') {
      job.status = 'done';
      job.result = outcome.result;
    } else if (outcome.status === 'cancelled') job.status = 'cancelled';
    else {
      job.status = 'failed';
      job.error = outcome.crashed ? engineCrashedError(outcome.error) : outcome.error;
    }
    if (again) {
      job.status = 'queued';
      delete job.startedAt;
      delete job.progress;
      delete job.error;
      if (abort.signal.reason === SHUTDOWN) job.attempts! -= 1;
      await this.opts.journal?.update(job).catch((e) => this.log('could not journal a job', e));
      if (!this.closed) {
        this.log(`the engine crashed under job ${job.id}; starting it again`);
        this.enqueue(job, undefined, true);
      }
      return;
    }
    job.finishedAt = Date.now();
    await this.opts.journal?.update(job).catch((e) => this.log('could not journal a job', e));
    this.finish(job);
  }
}
