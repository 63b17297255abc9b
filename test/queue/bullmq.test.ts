/**
 * The BullMQ backend against a real redis-server (started here on a random loopback port, no
 * persistence): bot-side BullmqQueue instances and queue workers over fake executors in this process.
 * Bytes survive the trip, fairness and caps hold across two bot instances, cancel, failures kept for
 * inspection, adoption of a gone bot's jobs, and a Redis outage answered "unavailable" then recovered.
 */
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BullmqQueue } from '../../src/queue/bullmq.ts';
import { QUEUE_NAME } from '../../src/queue/bullmq-wire.ts';
import { QueueLimitError, type Job, type JobArgs, type JobExecutor, type JobOwner, type JobProgress, type JobResult } from '../../src/queue/job.ts';
import { startQueueWorkers, type QueueWorkers } from '../../workers/queue-worker.ts';
import { FakeExecutor } from './fake-executor.ts';
import { RedisServer } from '../../testing/redis-server.ts';
import { isUserError, userErrorOf } from '../../src/errors/user-error.ts';
import { ImageInputError } from '../../src/images/io.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';

const redis = new RedisServer();
let n = 0;
/** A fresh key prefix per test: each test sees an empty queue. */
let prefix = '';
const opened: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  await redis.start();
}, 30_000);
afterAll(async () => {
  await redis.stop();
});
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const owner = (user: string): JobOwner => ({ platform: 'test', workspace: 'w', user });
const draw = (prompt: string, styles: { name: string; bytes: Uint8Array }[] = []): JobArgs => ({
  kind: 'draw',
  args: { prompt, styles: styles.map((s) => ({ style: s, weight: 3 })), seed: 1, steps: 2, cfg: 5 },
});
const train = (name: string): JobArgs => ({ kind: 'train', args: { content: new Uint8Array([1, 2, 3]), style: new Uint8Array([4, 5, 6]), name } });

async function bot(extra: Partial<Parameters<typeof BullmqQueue.open>[0]> = {}): Promise<BullmqQueue> {
  const q = await BullmqQueue.open({ redisUrl: redis.url, prefix, sweepMs: 300, heartbeatMs: 300, log: () => undefined, ...extra });
  opened.push(q);
  return q;
}

async function workers(executors: JobExecutor[], extra: Partial<Parameters<typeof startQueueWorkers>[0]> = {}): Promise<QueueWorkers> {
  const w = await startQueueWorkers({ redisUrl: redis.url, prefix, executors, progressEveryMs: 0, log: () => undefined, ...extra });
  opened.push({ close: () => w.close(2000) });
  return w;
}

describe('BullMQ backend', () => {
  it('carries image, style and result bytes both ways, with progress and its preview', async () => {
    prefix = `t${++n}`;
    const q = await bot();
    const style = new Uint8Array(Array.from({ length: 5000 }, (_, i) => (i * 7) % 256));
    const preview = new Uint8Array([137, 80, 78, 71, 0, 255]);
    const png = new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 13) % 256));
    const seen: Job[] = [];
    const exec: JobExecutor = {
      async execute(job, ctx): Promise<JobResult> {
        seen.push(job);
        ctx.onProgress({ step: 1, steps: 2, phase: 'drawing', preview });
        await new Promise((r) => setTimeout(r, 50));
        return { images: [{ name: 'x.png', png }], seconds: 0.1, ...(job.kind === 'train' ? { style: { bytes: style, info: { a: 1 } } } : {}) };
      },
    };
    await workers([exec]);
    const progress: JobProgress[] = [];
    const job = await q.submit(owner('ann'), draw('cat face', [{ name: 'ink', bytes: style }]), {
      listener: (e) => e.type === 'progress' && progress.push(e.progress),
    });
    const done = await q.finished(job.id);
    expect(done.status).toBe('done');
    expect(done.result!.images[0].png).toEqual(png);
    expect(seen[0].kind === 'draw' && seen[0].args.styles[0].style.bytes).toEqual(style);
    expect(progress[0]?.preview).toEqual(preview);
    const t = await q.submit(owner('ann'), train('blue'));
    const trained = await q.finished(t.id);
    expect(trained.result!.style!.bytes).toEqual(style);
    expect(seen[1].kind === 'train' && seen[1].args.content).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('runs quick jobs before trainings and serves users in turn; caps hold across two bot processes', async () => {
    prefix = `t${++n}`;
    const a = await bot();
    const b = await bot();
    const sub = async (q: BullmqQueue, user: string, args: JobArgs) => (await q.submit(owner(user), args)).id;
    const ids: Record<string, string> = {};
    ids.annTrain = await sub(a, 'ann', train('s'));
    ids.ann1 = await sub(a, 'ann', draw('a1'));
    ids.ann2 = await sub(b, 'ann', draw('a2'));
    ids.ann3 = await sub(a, 'ann', draw('a3'));
    ids.bob1 = await sub(b, 'bob', draw('b1'));
    ids.bob2 = await sub(a, 'bob', draw('b2'));
    ids.cyTrain = await sub(b, 'cy', train('t'));
    ids.cy1 = await sub(a, 'cy', draw('c1'));
    // Caps, whichever bot process asks: 3 draws, 1 training per user.
    await expect(b.submit(owner('ann'), draw('a4'))).rejects.toThrow(/already have 3 draws/);
    await expect(a.submit(owner('ann'), train('s2'))).rejects.toThrow(/already have a training/);
    // The same person writing from another server or a DM: the same caps.
    await expect(a.submit({ ...owner('ann'), workspace: 'dm' }, draw('a4'))).rejects.toThrow(/already have 3 draws/);
    await expect(b.submit({ ...owner('ann'), workspace: 'other-server' }, train('s2'))).rejects.toThrow(/already have a training/);
    // Positions of the jobs this bot took (ann2 went through the other one): the order below.
    expect(a.jobsOf(owner('ann')).map((j) => j.position)).toEqual([1, 6, 7]);
    const exec = new FakeExecutor({ auto: true });
    await workers([exec]);
    await Promise.all(Object.values(ids).map((id) => (a.get(id) ? a : b).finished(id)));
    const order = exec.started.map((j) => j.id);
    const name = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
    expect(order.map((id) => name[id])).toEqual(['ann1', 'bob1', 'cy1', 'ann2', 'bob2', 'ann3', 'annTrain', 'cyTrain']);
    // Slots are free again.
    await expect(b.submit(owner('ann'), draw('a5'))).resolves.toBeTruthy();
  });

  it('answers "busy, try again in a few minutes" over the global cap before any job was timed', async () => {
    prefix = `t${++n}`;
    const q = await bot({ limits: { maxQueued: 2 } });
    await q.submit(owner('u1'), draw('x'));
    await q.submit(owner('u2'), draw('x'));
    const err = await q.submit(owner('u3'), draw('x')).catch((e) => e);
    expect(err).toBeInstanceOf(QueueLimitError);
    expect(err.message).toMatch(/busy \(2 jobs waiting\); try again in a few minutes$/);
  });

  it('cancels a waiting job and a running one; a failure is kept for inspection with its message, a user error with its kind', async () => {
    prefix = `t${++n}`;
    const q = await bot();
    const exec = new FakeExecutor();
    await workers([exec]);
    const running = await q.submit(owner('ann'), draw('long'));
    const waiting = await q.submit(owner('bob'), draw('next'));
    await expect.poll(() => exec.started.length, { timeout: 10_000 }).toBe(1);
    q.cancel(waiting.id, owner('bob'));
    expect((await q.finished(waiting.id)).status).toBe('cancelled');
    expect(() => q.cancel(running.id, owner('bob'))).toThrow(/not yours/);
    q.cancel(running.id, owner('ann'));
    expect((await q.finished(running.id)).status).toBe('cancelled');
    expect(exec.started.map((j) => j.id)).toEqual([running.id]);

    const failing: JobExecutor = {
      execute: async () => Promise.reject(new ImageInputError('the content image: not an image')),
    };
    await opened.pop()!.close();
    await workers([failing]);
    const bad = await q.submit(owner('cy'), train('x'));
    const failed = await q.finished(bad.id);
    expect(failed.status).toBe('failed');
    // Through the worker, BullMQ's failure reason and back, the user error keeps its name and kind.
    expect(failed.error).toEqual({ name: 'ImageInputError', message: 'the content image: not an image', kind: 'invalid' });
    expect(isUserError(userErrorOf(failed.error))).toBe(true);
    const inspect = new Queue(QUEUE_NAME, { prefix, connection: { url: redis.url } });
    const kept = await inspect.getFailed();
    expect(kept.map((j) => j.id)).toContain(bad.id);
    expect(kept.find((j) => j.id === bad.id)!.attemptsMade).toBe(1);
    await inspect.close();
  });

  it("adopts a gone bot's open jobs: the reply is delivered by another bot from the stored result", async () => {
    prefix = `t${++n}`;
    const first = await bot();
    const exec = new FakeExecutor();
    await workers([exec]);
    const job = await first.submit(owner('ann'), draw('orphan'), { route: { platform: 'test', to: 'ann' } });
    await expect.poll(() => exec.started.length, { timeout: 10_000 }).toBe(1);
    // The bot process goes away (its heartbeat with it); the job finishes meanwhile.
    await first.close();
    exec.release(job.id);
    const second = await bot();
    const resumed: Job[] = [];
    await expect.poll(async () => (resumed.length ? resumed : (await second.recover((j) => resumed.push(j)), resumed)).length, { timeout: 10_000 }).toBe(1);
    const got = await second.finished(job.id);
    expect(got.status).toBe('done');
    expect(got.route).toEqual({ platform: 'test', to: 'ann' });
    expect(got.result!.images[0].name).toBe('draw.png');
    await second.delivered(job.id);
    // Delivered: nobody adopts it again.
    const third = await bot();
    const again: Job[] = [];
    expect(await third.recover((j) => again.push(j))).toMatchObject({ finished: 0, queued: 0 });
  });

  it('Redis down: submit answers "unavailable" within seconds; after it is back, jobs run again', async () => {
    prefix = `t${++n}`;
    const q = await bot();
    const exec = new FakeExecutor({ auto: true });
    await workers([exec], { lockMs: 5000 });
    expect((await q.finished((await q.submit(owner('ann'), draw('before'))).id)).status).toBe('done');
    // The shared registry on the same Redis (@keyv/redis): any bot reads any style, hash-checked.
    const registry = new StyleRegistry(await openKeyv(redis.url));
    opened.push(registry);
    await registry.put(owner('ann'), 'ink', new Uint8Array([9, 8, 7]), {});
    const other = new StyleRegistry(await openKeyv(redis.url));
    opened.push(other);
    expect((await other.load(owner('ann'), 'ink')).bytes).toEqual(new Uint8Array([9, 8, 7]));
    await redis.stop();
    const storeErr = await other.load(owner('ann'), 'ink').catch((e) => e);
    expect(storeErr.name).toBe('StoreUnavailableError');
    expect(storeErr.message).toMatch(/style store is unavailable.*try again in a minute/);
    const t0 = Date.now();
    const err = await q.submit(owner('ann'), draw('during')).catch((e) => e);
    expect(err).toBeInstanceOf(QueueLimitError);
    expect(err.message).toMatch(/unavailable.*try again in a minute/);
    expect(Date.now() - t0).toBeLessThan(8000);
    await redis.start();
    let job: Job | undefined;
    await expect
      .poll(async () => (job ??= await q.submit(owner('ann'), draw('after')).catch(() => undefined)) !== undefined, { timeout: 20_000, interval: 500 })
      .toBe(true);
    expect((await q.finished(job!.id)).status).toBe('done');
    // The store reconnects by itself (the data is gone: this test Redis has no persistence).
    await expect.poll(() => other.has(owner('ann'), 'ink').catch(() => 'down'), { timeout: 10_000, interval: 300 }).toBe(false);
  }, 60_000);
});
