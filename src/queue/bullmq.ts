/**
 * The BullMQ backend of the JobQueue, for several machines: bot processes enqueue into BullMQ queues
 * on Redis, worker processes (workers/queue-worker.ts, one per GPU) consume them. Two queues, one per
 * class: trainings, and quick jobs (draw, blend, stylize). Each device takes from both, one job of each
 * at most: a quick job that comes while the device trains runs at the training's next step, the
 * training paused meanwhile (the engine's quick tasks, workers/engine-thread.ts), so draws never wait
 * behind a training here either.
 * Progress comes back as BullMQ job progress through QueueEvents to whichever bot process follows the
 * job; the result (PNG and style bytes) is written by the worker under its own key and read by that
 * bot, which stores a trained style (finalizeJob) and delivers the reply.
 *
 * Fairness and caps (BullMQ's free edition has no per-group fairness, so it is designed here):
 *  - Admission control in the bot, with the counts in Redis so every bot process sees the same ones:
 *    per user and class (quick = draw/blend, train) a sorted set of admitted, unfinished job ids.
 *    One Lua script adds a job only while the set is under the cap (1 training, 3 draws), so two bot
 *    processes cannot both admit a user's fourth draw. Ids of finished or vanished jobs are pruned
 *    before each admission (by their BullMQ state), so a bot or worker that died never leaks a slot.
 *  - Global cap: at most `maxQueued` jobs waiting (BullMQ's wait + prioritized + delayed counts); over
 *    it the user is told "busy, try again in about N min".
 *  - Order through BullMQ priorities (src/queue/bullmq-wire.ts priorityOf) within each queue: quick jobs
 *    before trainings (their own queue and lane); within a class a job's priority is its user's number of already-admitted jobs of that class, and
 *    equal priorities run in submission order, so every user's first job runs before anyone's second
 *    (round-robin between users, as the in-process queue does by "served least recently").
 *
 * Reliability:
 *  - A worker that dies (kill -9, machine lost) stops renewing its job's lock; BullMQ's stalled-job
 *    check on the other workers puts the job back in the queue and another worker runs it (once more:
 *    maxStalledCount 1). An engine-thread crash is retried with exponential backoff (attempts 2).
 *    Failed jobs are kept (7 days, 5,000 jobs) for inspection; completed ones a day.
 *  - Redis is the durable record (no journal here): every job with a reply route is listed in `open`
 *    with the bot process that follows it, and each bot keeps a heartbeat. recover() (at start) and a
 *    sweep every few seconds adopt the open jobs of bot processes whose heartbeat is gone: queued and
 *    running jobs are followed to their user, finished ones are delivered from their stored result.
 *    delivered() drops the job from `open` and deletes its stored result. So a reply reaches its user
 *    even when the bot that took the command died, as long as some bot serves that platform.
 *  - Redis unreachable: submit() fails within a few seconds with a QueueLimitError the user reads
 *    ("the job queue is unavailable ... try again in a minute"); clients reconnect by themselves, and
 *    a reconciliation poll catches any QueueEvents missed meanwhile.
 *
 * Not covered: get() and jobsOf() are synchronous in the JobQueue interface, so they see the jobs this
 * bot process submitted or follows (buttons and /pairstyle status work on the process that took the
 * command; Discord's gateway sharding keeps a guild on one process). A Redis without persistence
 * loses its queue when it restarts (run production Redis with AOF).
 */
import { randomUUID } from 'node:crypto';
import { Job as BullJob, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { isCancelled } from '../errors/user-error.ts';
import { busyError, standingOf } from './estimator.ts';
import { JobBook, TERMINAL, type JobBookOptions } from './job-book.ts';
import { engineCrashedError } from './run-job.ts';
import {
  classOf,
  decodeFailure,
  decodeJobData,
  decodeProgress,
  decodeResult,
  DEFAULT_PREFIX,
  encodeJobData,
  priorityOf,
  queueNameOf,
  redactUrl,
  redisKeys,
  sha256Hex,
  STYLE_TTL_SECONDS,
  stylesOf,
  type JobClass,
  type RedisKeys,
  type WireJobData,
} from './bullmq-wire.ts';
import {
  JobNotFoundError,
  ownerKey,
  personKey,
  QueueLimitError,
  trainingsCap,
  type Job,
  type JobArgs,
  type JobOwner,
  type JobQueue,
  type JobStanding,
  type ResumeJob,
  type SubmitOptions,
} from './job.ts';
import { msg } from '../i18n/message.ts';

export interface BullmqQueueOptions extends JobBookOptions {
  /** redis://[user:password@]host:port[/db] */
  redisUrl: string;
  /** Key prefix shared by the bots and workers of one deployment (default 'pairstyle'). */
  prefix?: string;
  /** This bot process's id (default: random per start). A stable id adopts its own open jobs at once after a restart. */
  botId?: string;
  /** A Redis command that takes longer fails the submission (default 5000 ms). */
  commandTimeoutMs?: number;
  /** Heartbeat period; a bot is presumed gone 3 periods after its last beat (default 5000 ms). */
  heartbeatMs?: number;
  /** How often open jobs of gone bots are adopted and missed events reconciled (default 3000 ms). */
  sweepMs?: number;
}

/** An admitted id whose BullMQ job does not exist yet is kept this long (it is being added). */
const ADMISSION_GRACE_MS = 30_000;

/** Adds a job id to a user's admitted set if the set is under the cap; returns its rank, or -1 when full. */
const ADMIT_LUA = `
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], 172800000)
return n`;

/** Moves an open job to a new follower if it is still followed by `expected` (or by nobody). */
const ADOPT_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur == false then return 0 end
if cur == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0`;

type Counts = { queued: number; retried: number; failed: number; finished: number; unreadable: number };

export class BullmqQueue extends JobBook implements JobQueue {
  readonly botId: string;
  private readonly keys: RedisKeys;
  private readonly prefix: string;
  private readonly positions = new Map<string, number>();
  private readonly settling = new Set<string>();
  private workers = 1;
  private timers: NodeJS.Timeout[] = [];
  private resume: ResumeJob | undefined;
  private sweeping = false;
  private closed = false;

  private constructor(
    private readonly opts: BullmqQueueOptions,
    /** The queue of each class (bullmq-wire.ts queueNameOf). */
    private readonly queues: Record<JobClass, Queue>,
    private readonly events: QueueEvents[],
    private readonly redis: Redis,
  ) {
    super(opts);
    this.botId = opts.botId ?? randomUUID();
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.keys = redisKeys(this.prefix);
  }

  /** Connects to Redis (waits until the event listener is subscribed) and starts the heartbeat. */
  static async open(opts: BullmqQueueOptions): Promise<BullmqQueue> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX;
    const timeout = opts.commandTimeoutMs ?? 5000;
    // Commands fail at once while Redis is unreachable (no offline queue) or after `timeout` when it
    // hangs, so a user hears "unavailable" instead of waiting on a command that may never run.
    const failFast = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: timeout, connectTimeout: timeout };
    const redis = new Redis(opts.redisUrl, { ...failFast, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await withTimeout(redis.connect(), timeout, `Redis at ${redactUrl(opts.redisUrl)} did not answer in ${timeout / 1000} s`);
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    const classes: JobClass[] = ['quick', 'train'];
    const queueOf = (cls: JobClass) => {
      const q = new Queue(queueNameOf(cls), { prefix, connection: { url: opts.redisUrl, ...failFast }, streams: { events: { maxLen: 2000 } } });
      q.on('error', () => undefined);
      return q;
    };
    const queues = { quick: queueOf('quick'), train: queueOf('train') };
    const events = classes.map((cls) => new QueueEvents(queueNameOf(cls), { prefix, connection: { url: opts.redisUrl, maxRetriesPerRequest: null } }));
    const self = new BullmqQueue(opts, queues, events, redis);
    for (const e of events) e.on('error', (err) => self.log('queue events', err));
    await Promise.all(events.map((e) => e.waitUntilReady()));
    self.listen();
    await self.beat();
    self.timers.push(setInterval(() => void self.beat(), opts.heartbeatMs ?? 5000));
    self.timers.push(setInterval(() => void self.sweep(), opts.sweepMs ?? 3000));
    for (const t of self.timers) t.unref();
    return self;
  }

  async submit(owner: JobOwner, request: JobArgs, opts: SubmitOptions = {}): Promise<Job> {
    if (this.closed) throw new QueueLimitError(msg('queue.shutting-down'), 60);
    const job = this.newJob(owner, request, opts);
    const cls = classOf(job.kind);
    const setKey = this.keys.outstanding(cls, personKey(owner));
    let admitted = false;
    try {
      await this.checkGlobalCap();
      await this.prune(setKey, cls);
      const cap = cls === 'train' ? this.limits.perUserTrainings : this.limits.perUserDraws;
      const rank = Number(await this.redis.eval(ADMIT_LUA, 1, setKey, cap, Date.now(), job.id));
      if (rank < 0) {
        throw new QueueLimitError(cls === 'train' ? trainingsCap(cap) : msg('queue.draws-cap', { count: cap }));
      }
      admitted = true;
      // Styles travel by hash: their bytes once under style:<sha256>, not in every job.
      const styles = stylesOf(job);
      if (styles.length) {
        const m = this.redis.multi();
        for (const s of styles) m.set(this.keys.style(sha256Hex(s.bytes)), Buffer.from(s.bytes).toString('base64'), 'EX', STYLE_TTL_SECONDS);
        await m.exec();
      }
      if (job.route) await this.redis.hset(this.keys.open, job.id, this.botId);
      this.jobs.set(job.id, job);
      if (opts.listener) this.jobListeners.set(job.id, opts.listener);
      await this.queues[cls].add(job.kind, encodeJobData(job), {
        jobId: job.id,
        priority: priorityOf(job.kind, rank),
        attempts: 2,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: { age: 24 * 3600, count: 2000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
      });
    } catch (e) {
      this.jobs.delete(job.id);
      this.jobListeners.delete(job.id);
      if (admitted) {
        // Best effort: a slot left behind is pruned later (its job never appeared).
        void this.redis.zrem(setKey, job.id).catch(() => undefined);
        void this.redis.hdel(this.keys.open, job.id).catch(() => undefined);
      }
      if (e instanceof QueueLimitError) throw e;
      this.log('could not queue a job', e);
      throw new QueueLimitError(msg('queue.unavailable'), 60, 'unavailable');
    }
    this.trimHistory();
    await this.refreshPositions().catch(() => undefined);
    const position = this.positions.get(job.id) ?? 1;
    if (job.status === 'queued') this.emit({ type: 'queued', job, position, etaSeconds: this.etaOfPosition(position) });
    return job;
  }

  /** Over the global cap: "busy, try again in N min". */
  private async checkGlobalCap(): Promise<void> {
    let waiting = 0;
    for (const q of Object.values(this.queues)) {
      const c = await q.getJobCounts('wait', 'prioritized', 'delayed');
      waiting += (c.wait ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
    }
    if (waiting < this.limits.maxQueued) return;
    throw busyError(waiting, this.etaOfPosition(waiting + 1));
  }

  /** Drops ids of finished (or never-added, after a grace period) jobs from a user's admitted set. */
  private async prune(setKey: string, cls: JobClass): Promise<void> {
    const entries = await this.redis.zrange(setKey, 0, -1, 'WITHSCORES');
    const now = Date.now();
    const gone: string[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const id = entries[i];
      const local = this.jobs.get(id);
      if (local && !TERMINAL.has(local.status)) continue;
      const state = await this.queues[cls].getJobState(id);
      if (state === 'completed' || state === 'failed' || (state === 'unknown' && now - Number(entries[i + 1]) > ADMISSION_GRACE_MS)) gone.push(id);
    }
    if (gone.length) await this.redis.zrem(setKey, ...gone);
  }

  jobsOf(owner: JobOwner) {
    const key = ownerKey(owner);
    const out: JobStanding[] = [];
    for (const job of this.jobs.values()) {
      if (ownerKey(job.owner) !== key || TERMINAL.has(job.status)) continue;
      if (job.status === 'running') out.push({ job, position: 0, ...standingOf(this.remainingOf(job)) });
      else {
        const position = this.positions.get(job.id) ?? 1;
        out.push({ job, position, etaSeconds: this.etaOfPosition(position) });
      }
    }
    return out.sort((a, b) => a.position - b.position);
  }

  cancel(id: string, by?: JobOwner): Job {
    const job = this.jobs.get(id);
    if (!job) throw new JobNotFoundError(msg('queue.no-such-job'));
    if (by && ownerKey(by) !== ownerKey(job.owner)) throw new JobNotFoundError(msg('queue.not-yours'), 'not-allowed');
    if (TERMINAL.has(job.status)) return job;
    void (async () => {
      // A waiting job is removed from the queue; a running one (or one that just started) is told to
      // stop through Redis, whichever worker runs it.
      const removed =
        job.status === 'queued'
          ? await this.queueOf(job)
              .remove(id)
              .catch(() => 0)
          : 0;
      if (removed === 1) {
        this.settleCancelled(job);
        return;
      }
      await this.redis.set(this.keys.cancel(id), '1', 'EX', 3600);
      await this.redis.publish(this.keys.cancelChannel, id);
    })().catch((e) => this.log(`could not cancel job ${id}`, e));
    return job;
  }

  async delivered(id: string): Promise<void> {
    try {
      await this.redis.multi().hdel(this.keys.open, id).del(this.keys.result(id)).exec();
    } catch (e) {
      this.log(`could not mark job ${id} delivered (it may be delivered again by another bot)`, e);
    }
  }

  /**
   * Adopts the open jobs of bot processes that are gone (no heartbeat) and follows each to its user
   * through `resume`; keeps doing so every few seconds (sweepMs) for bots that die later.
   */
  async recover(resume: ResumeJob): Promise<Counts> {
    this.resume = resume;
    return this.adopt();
  }

  private async adopt(): Promise<Counts> {
    const counts: Counts = { queued: 0, retried: 0, failed: 0, finished: 0, unreadable: 0 };
    const resume = this.resume;
    if (!resume || this.closed) return counts;
    const open = await this.redis.hgetall(this.keys.open);
    for (const [id, follower] of Object.entries(open)) {
      if (this.jobs.has(id)) continue;
      if (follower !== this.botId && (await this.redis.exists(this.keys.alive(follower)))) continue;
      if (!Number(await this.redis.eval(ADOPT_LUA, 1, this.keys.open, id, follower, this.botId))) continue;
      const job = await this.readJob(id);
      if (!job) {
        counts.unreadable++;
        await this.redis.hdel(this.keys.open, id);
        continue;
      }
      if (job.status === 'queued') counts.queued++;
      else if (job.status === 'running') counts.retried++;
      else if (job.status === 'failed') counts.failed++;
      else counts.finished++;
      this.jobs.set(id, job);
      try {
        resume(job);
      } catch (e) {
        this.log(`could not resume job ${id}`, e);
      }
    }
    return counts;
  }

  private queueOf(job: Job): Queue {
    return this.queues[classOf(job.kind)];
  }

  /** A job as Redis knows it now, from whichever queue holds it (undefined: gone, or not a PairStyle job). */
  private async readJob(id: string): Promise<Job | undefined> {
    const bj = (await BullJob.fromId(this.queues.quick, id)) ?? (await BullJob.fromId(this.queues.train, id));
    if (!bj) return undefined;
    let job: Job;
    try {
      job = decodeJobData(bj.data as WireJobData);
    } catch {
      return undefined;
    }
    // The bot keeps a job's style bytes only for buttons; an adopted job's are not needed.
    const state = await bj.getState();
    job.attempts = bj.attemptsStarted;
    if (state === 'completed') await this.applyResult(job);
    else if (state === 'failed') this.applyFailure(job, bj.failedReason);
    else if (state === 'active') {
      job.status = 'running';
      job.startedAt = bj.processedOn ?? Date.now();
    } else job.status = 'queued';
    return job;
  }

  private listen(): void {
    for (const events of this.events) this.listenTo(events);
  }

  private listenTo(events: QueueEvents): void {
    events.on('active', ({ jobId }) => {
      const job = this.jobs.get(jobId);
      if (!job || TERMINAL.has(job.status)) return;
      job.status = 'running';
      job.startedAt = Date.now();
      job.attempts = (job.attempts ?? 0) + 1;
      delete job.progress;
      this.positions.delete(jobId);
      this.emit({ type: 'started', job });
    });
    events.on('progress', ({ jobId, data }) => {
      const job = this.jobs.get(jobId);
      const progress = decodeProgress(data);
      if (!job || !progress || job.status !== 'running') return;
      job.progress = progress;
      this.emit({ type: 'progress', job, progress });
    });
    events.on('stalled', ({ jobId }) => {
      const job = this.jobs.get(jobId);
      if (!job || TERMINAL.has(job.status)) return;
      // Its worker stopped answering: BullMQ put it back in the queue for another worker.
      job.status = 'queued';
      delete job.startedAt;
      delete job.progress;
      this.emit({ type: 'queued', job, position: 1, etaSeconds: this.etaOfPosition(1) });
    });
    events.on('completed', ({ jobId }) => void this.settle(jobId));
    events.on('failed', ({ jobId }) => void this.settle(jobId));
    events.on('removed', ({ jobId }) => {
      const job = this.jobs.get(jobId);
      if (job && job.status === 'queued') this.settleCancelled(job);
    });
  }

  /** Reads a finished job's outcome from Redis and finishes it here (once). */
  private async settle(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job || TERMINAL.has(job.status) || this.settling.has(id)) return;
    this.settling.add(id);
    try {
      const bj = await BullJob.fromId(this.queueOf(job), id);
      if (!bj) {
        // Removed without our event (cancelled from another bot, or cleaned up).
        this.settleCancelled(job);
        return;
      }
      const state = await bj.getState();
      if (state === 'completed') await this.applyResult(job);
      else if (state === 'failed') this.applyFailure(job, bj.failedReason);
      else return;
      job.finishedAt = bj.finishedOn ?? Date.now();
      this.finish(job);
    } catch (e) {
      // Redis hiccup: the next sweep tries again.
      this.log(`could not read the outcome of job ${id}`, e);
    } finally {
      this.settling.delete(id);
    }
  }

  private async applyResult(job: Job): Promise<void> {
    const text = await this.redis.get(this.keys.result(job.id));
    if (text === null) {
      job.status = 'failed';
      job.error = { name: 'ResultMissingError', message: 'the result of this job was lost (it expired before it could be delivered); please run it again' };
      return;
    }
    job.status = 'done';
    job.result = decodeResult(text);
  }

  private applyFailure(job: Job, reason: string | undefined): void {
    const err = decodeFailure(reason);
    if (isCancelled(err) || err.name === 'CancelledError') {
      job.status = 'cancelled';
      return;
    }
    job.status = 'failed';
    // An engine crash reaches here only after BullMQ's retry failed too.
    job.error = err.name === 'EngineCrashError' ? engineCrashedError(err) : err;
  }

  private settleCancelled(job: Job): void {
    if (TERMINAL.has(job.status)) return;
    job.status = 'cancelled';
    job.finishedAt = Date.now();
    void this.redis.zrem(this.keys.outstanding(classOf(job.kind), personKey(job.owner)), job.id).catch(() => undefined);
    this.finish(job);
  }

  protected override finish(job: Job): void {
    this.positions.delete(job.id);
    super.finish(job);
    // Frees the user's slot at once (admission would also prune it).
    void this.redis.zrem(this.keys.outstanding(classOf(job.kind), personKey(job.owner)), job.id).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    await this.redis.set(this.keys.alive(this.botId), String(Date.now()), 'PX', 3 * (this.opts.heartbeatMs ?? 5000)).catch(() => undefined);
  }

  /** Periodic: adopt orphans, catch up on outcomes whose events were missed, refresh queue positions. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      for (const job of [...this.jobs.values()]) {
        if (TERMINAL.has(job.status)) continue;
        // Only a job that finished (or vanished) without our hearing of it is read in full.
        const state = await this.queueOf(job).getJobState(job.id);
        if (state === 'completed' || state === 'failed' || state === 'unknown') await this.settle(job.id);
      }
      await this.refreshPositions();
      await this.adopt();
      // Every device has one worker on the training queue.
      this.workers = Math.max(1, await this.queues.train.getWorkersCount().catch(() => this.workers));
    } catch {
      // Redis unreachable: try again at the next sweep.
    } finally {
      this.sweeping = false;
    }
  }

  private async refreshPositions(): Promise<void> {
    if (![...this.jobs.values()].some((j) => j.status === 'queued')) return;
    // Quick jobs run before trainings: their queue comes first.
    const order = [
      ...(await this.queues.quick.getRanges(['prioritized', 'wait'], 0, -1, true)),
      ...(await this.queues.train.getRanges(['prioritized', 'wait'], 0, -1, true)),
    ];
    this.positions.clear();
    order.forEach((id, i) => {
      if (this.jobs.has(id)) this.positions.set(id, i + 1);
    });
  }

  /**
   * Seconds until the job at 1-based position `position` starts: the jobs ahead over the workers, from
   * measured times (undefined before there are any); jobs ahead that other bot processes follow count as draws.
   */
  etaOfPosition(position: number): number | undefined {
    const all = [...this.jobs.values()];
    const ahead = all.filter((j) => j.status === 'queued' && (this.positions.get(j.id) ?? Number.POSITIVE_INFINITY) < position);
    const wait = this.estimator.wait(
      all.filter((j) => j.status === 'running'),
      ahead,
      this.workers,
      Math.max(0, position - 1 - ahead.length),
    );
    return wait === undefined ? undefined : Math.round(wait);
  }

  get stats() {
    const all = [...this.jobs.values()];
    return {
      queued: all.filter((j) => j.status === 'queued').length,
      running: all.filter((j) => j.status === 'running').length,
      durations: this.estimator.durations(),
    };
  }

  /** Stops following jobs: they stay open in Redis, and another bot (or this one restarted) adopts them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.redis.del(this.keys.alive(this.botId)).catch(() => undefined);
    for (const e of this.events) await e.close().catch(() => undefined);
    for (const q of Object.values(this.queues)) await q.close().catch(() => undefined);
    this.redis.disconnect();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}
