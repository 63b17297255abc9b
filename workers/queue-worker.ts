/**
 * The consuming side of the BullMQ backend (src/queue/bullmq.ts): per device, two BullMQ Workers with
 * concurrency 1 over one executor (an engine thread that keeps its model loaded between jobs): the
 * training lane (queue `jobs`) and the quick lane (queue `quick`: draw, blend, stylize). A quick job
 * taken while the device trains runs at the training's next step (the executor pauses trainings, see
 * workers/engine-thread.ts). An executor that cannot pause a training (JobExecutor.pausesTrainings
 * unset) gets one job at a time through a p-queue of concurrency 1 (deviceGate), quick jobs first.
 * A job's styles arrive as hashes; their bytes come from Redis once and stay in a small cache by hash,
 * checked against the hash on every load. Progress goes out as BullMQ job progress (at most every
 * `progressEveryMs`, always the first and the last of a phase); the result is written under
 * result:<jobId> for the bot that follows the job (bytes stay out of BullMQ's event stream).
 *
 * The job itself runs through runJob (src/queue/run-job.ts), as in the in-process queue. Failures: a
 * cancelled, timed-out or invalid job fails at once with an UnrecoverableError (retrying would fail the
 * same way; a user error keeps its kind on the wire); an engine-thread crash is retried by BullMQ with
 * backoff. A worker process
 * that dies leaves its job's lock to expire: BullMQ's stalled check in the other workers requeues it.
 */
import PQueue from 'p-queue';
import { Redis } from 'ioredis';
import { Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { DEFAULT_LIMITS } from '../src/queue/job-book.ts';
import {
  decodeJobData,
  DEFAULT_PREFIX,
  encodeFailure,
  encodeProgress,
  encodeResult,
  QUICK_QUEUE_NAME,
  queueNameOf,
  redisKeys,
  RESULT_TTL_SECONDS,
  resolveStyles,
  sha256Hex,
  type WireJobData,
  type JobClass,
  type WireReturn,
} from '../src/queue/bullmq-wire.ts';
import type { Job, JobExecutor, JobKind, JobProgress } from '../src/queue/job.ts';
import { runJob } from '../src/queue/run-job.ts';
import { cancelled, errorRecord, type ErrorRecord } from '../src/errors/user-error.ts';

export interface QueueWorkerOptions {
  redisUrl: string;
  prefix?: string;
  /** One per device; each runs one job at a time (and a quick one beside a training it pauses). */
  executors: JobExecutor[];
  /** A job's lock; a worker silent this long is presumed dead and its job requeued (default 30 s). */
  lockMs?: number;
  /** How often this worker checks for stalled jobs of dead workers (default 15 s). */
  stalledIntervalMs?: number;
  timeoutSeconds?: Partial<Record<JobKind, number>>;
  /** Progress to Redis at most this often (default 500 ms). */
  progressEveryMs?: number;
  /** Style files kept in memory by hash (default 64). */
  styleCacheSize?: number;
  /** Job lifecycle lines: `start <id> <kind> attempt <n>`, `done <id>`, `failed <id> <reason>`. */
  onEvent?: (e: { type: 'start' | 'done' | 'failed'; id: string; kind: string; device: number; attempt: number; reason?: string }) => void;
  log?: (msg: string, e?: unknown) => void;
}

export interface QueueWorkers {
  /** Two per device: its training lane and its quick lane. */
  workers: Worker[];
  /** Ids of the jobs running now. */
  running(): string[];
  /** Stops taking jobs, waits for the running ones (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

class StyleCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly size: number) {}
  get(sha: string): Uint8Array | undefined {
    const b = this.map.get(sha);
    if (b) {
      this.map.delete(sha);
      this.map.set(sha, b);
    }
    return b;
  }
  set(sha: string, b: Uint8Array): void {
    this.map.set(sha, b);
    while (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
  }
}

/**
 * One job at a time on a device whose executor cannot pause a training: a p-queue of concurrency 1 in
 * which a quick job waiting for the device goes first (priority), and a training enters only once no
 * quick job waits (`quickWaiting`, asked again every 50 ms), as when both classes shared one queue.
 */
type DeviceGate = <T>(lane: JobClass, run: () => Promise<T>) => Promise<T>;

function deviceGate(quickWaiting: () => Promise<boolean>): DeviceGate {
  const device = new PQueue({ concurrency: 1 });
  return async (lane, run) => {
    if (lane === 'train') while (await quickWaiting().catch(() => false)) await new Promise((r) => setTimeout(r, 50));
    return device.add(run, { priority: lane === 'quick' ? 1 : 0 });
  };
}

export async function startQueueWorkers(opts: QueueWorkerOptions): Promise<QueueWorkers> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const keys = redisKeys(prefix);
  const log = opts.log ?? ((m: string, e?: unknown) => console.error(`[worker] ${m}`, e ?? ''));
  const timeouts = { ...DEFAULT_LIMITS.timeoutSeconds, ...opts.timeoutSeconds };
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 3 });
  const sub = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  sub.on('error', () => undefined);
  const styles = new StyleCache(opts.styleCacheSize ?? 64);
  const running = new Map<string, AbortController>();

  await sub.subscribe(keys.cancelChannel);
  sub.on('message', (_channel: string, id: string) => running.get(id)?.abort(new Error('cancelled')));

  const loadStyle = async (sha: string): Promise<Uint8Array | undefined> => {
    const hit = styles.get(sha);
    if (hit) return hit;
    const b64 = await redis.get(keys.style(sha));
    if (b64 === null) return undefined;
    const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
    // Only bytes that match their hash are cached (resolveStyles reports the mismatch).
    if (sha256Hex(bytes) === sha) styles.set(sha, bytes);
    return bytes;
  };

  // For DeviceGate: quick jobs waiting, or taken and about to start.
  const quickQueue = new Queue(QUICK_QUEUE_NAME, { prefix, connection: { url: opts.redisUrl, maxRetriesPerRequest: 3 } });
  quickQueue.on('error', () => undefined);
  const quickWaiting = async () => {
    const c = await quickQueue.getJobCounts('wait', 'prioritized', 'active');
    return (c.wait ?? 0) + (c.prioritized ?? 0) + (c.active ?? 0) > 0;
  };

  const processor =
    (executor: JobExecutor, device: number, gate: DeviceGate | undefined, lane: JobClass) =>
    async (bj: BullJob): Promise<WireReturn> => {
      if (!gate) return processJob(executor, device, bj);
      return gate(lane, () => processJob(executor, device, bj));
    };

  const processJob = async (executor: JobExecutor, device: number, bj: BullJob): Promise<WireReturn> => {
    const attempt = bj.attemptsStarted;
    let kind = bj.name;
    const fail = (error: ErrorRecord): never => {
      opts.onEvent?.({ type: 'failed', id: bj.id!, kind, device, attempt, reason: error.name });
      throw new UnrecoverableError(encodeFailure(error));
    };
    let job: Job;
    try {
      job = await resolveStyles(decodeJobData(bj.data as WireJobData), loadStyle);
    } catch (e) {
      return fail(errorRecord(e));
    }
    kind = job.kind;
    opts.onEvent?.({ type: 'start', id: job.id, kind, device, attempt });
    if (await redis.exists(keys.cancel(job.id))) return fail(errorRecord(cancelled()));
    const abort = new AbortController();
    running.set(job.id, abort);
    // Progress: the newest state at most every progressEveryMs; a phase change goes out at once.
    const every = opts.progressEveryMs ?? 500;
    let last = 0;
    let lastPhase: string | undefined;
    let pending: JobProgress | undefined;
    let flush: NodeJS.Timeout | undefined;
    const send = (p: JobProgress) => {
      last = Date.now();
      lastPhase = p.phase;
      pending = undefined;
      void bj.updateProgress(encodeProgress(p)).catch(() => undefined);
    };
    const onProgress = (p: JobProgress) => {
      if (abort.signal.aborted) return;
      if (p.phase !== lastPhase || Date.now() - last >= every) return send(p);
      pending = p;
      flush ??= setTimeout(() => {
        flush = undefined;
        if (pending && !abort.signal.aborted) send(pending);
      }, every);
    };
    try {
      const outcome = await runJob(executor, job, { abort, timeoutSeconds: timeouts[job.kind], onProgress });
      if (outcome.status === 'cancelled') return fail(errorRecord(cancelled()));
      if (outcome.status === 'failed') {
        if (!outcome.crashed) return fail(outcome.error);
        // Retried by BullMQ (attempts, backoff); the bot words the final failure.
        opts.onEvent?.({ type: 'failed', id: job.id, kind, device, attempt, reason: outcome.error.name });
        throw new Error(encodeFailure(outcome.error));
      }
      await redis.set(keys.result(job.id), encodeResult(outcome.result), 'EX', RESULT_TTL_SECONDS);
      opts.onEvent?.({ type: 'done', id: job.id, kind, device, attempt });
      return { stored: true, seconds: outcome.result.seconds };
    } finally {
      if (flush) clearTimeout(flush);
      running.delete(job.id);
      await redis.del(keys.cancel(job.id)).catch(() => undefined);
    }
  };

  const lockDuration = opts.lockMs ?? 30_000;
  const workers = opts.executors.flatMap((executor, device) => {
    const gate = executor.pausesTrainings ? undefined : deviceGate(quickWaiting);
    return (['train', 'quick'] as const).map((lane) => laneWorker(executor, device, gate, lane));
  });
  function laneWorker(executor: JobExecutor, device: number, gate: DeviceGate | undefined, lane: JobClass): Worker {
    const w = new Worker(queueNameOf(lane), processor(executor, device, gate, lane), {
      prefix,
      connection: { url: opts.redisUrl, maxRetriesPerRequest: null },
      concurrency: 1,
      lockDuration,
      stalledInterval: opts.stalledIntervalMs ?? Math.max(1000, Math.round(lockDuration / 2)),
      maxStalledCount: 1,
    });
    w.on('error', (e) => log(`device ${device} (${lane} lane): ${e.message}`));
    return w;
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  return {
    workers,
    running: () => [...running.keys()],
    async close(graceMs = 30_000) {
      // Graceful: finish the running jobs (bounded), then stop; past the grace the job's lock expires
      // and another worker runs it.
      const closing = Promise.all(workers.map((w) => w.close()));
      const timedOut = await Promise.race([closing.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
      if (timedOut) await Promise.all(workers.map((w) => w.close(true)));
      await Promise.all(opts.executors.map((e) => e.close?.()));
      await quickQueue.close().catch(() => undefined);
      sub.disconnect();
      redis.disconnect();
    },
  };
}
