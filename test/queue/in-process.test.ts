/** Queue policy: draws first, round-robin between users, caps, cancellation, progress events. */
import { describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { JobNotFoundError, QueueLimitError, type DrawArgs, type JobArgs, type JobEvent, type JobExecutor, type JobOwner } from '../../src/queue/job.ts';
import { FakeExecutor, tick } from './fake-executor.ts';

const user = (u: string, workspace = 'w1'): JobOwner => ({ platform: 'test', workspace, user: u });
const draw = (prompt = 'cat'): JobArgs => ({ kind: 'draw', args: { prompt, styles: [], seed: 0, steps: 2, cfg: 5 } satisfies DrawArgs });
const train = (name = 's'): JobArgs => ({ kind: 'train', args: { content: new Uint8Array(), style: new Uint8Array(), name } });

async function drain(q: InProcessQueue, ex: FakeExecutor, n: number): Promise<string[]> {
  const order: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 100 && ex.waiting.length === 0; k++) await tick();
    const id = ex.waiting[0];
    order.push(id);
    ex.release(id);
    await q.finished(id);
  }
  return order;
}

describe('InProcessQueue', () => {
  it('runs draws ahead of trainings and rotates between users', async () => {
    const ex = new FakeExecutor();
    const q = new InProcessQueue({ executors: [ex] });
    const blocker = await q.submit(user('z'), train('first'));
    await tick();
    const a1 = await q.submit(user('a'), draw('a1'));
    const a2 = await q.submit(user('a'), draw('a2'));
    const a3 = await q.submit(user('a'), draw('a3'));
    const t = await q.submit(user('b'), train('bt'));
    const b1 = await q.submit(user('b'), draw('b1'));
    const c1 = await q.submit(user('c'), draw('c1'));
    expect(q.order().map((j) => j.id)).toEqual([a1.id, b1.id, c1.id, a2.id, a3.id, t.id]);
    expect(q.positionOf(t.id)).toBe(6);
    const order = await drain(q, ex, 7);
    expect(order).toEqual([blocker.id, a1.id, b1.id, c1.id, a2.id, a3.id, t.id]);
    await q.close();
  });

  it('holds per-user caps and a global cap with a clear busy message', async () => {
    const ex = new FakeExecutor();
    const q = new InProcessQueue({ executors: [ex], limits: { maxQueued: 5 } });
    await q.submit(user('a'), train());
    await tick();
    await expect(q.submit(user('a'), train('again'))).rejects.toThrow(/already have a training/);
    for (let i = 0; i < 3; i++) await q.submit(user('a'), draw());
    await expect(q.submit(user('a'), draw())).rejects.toThrow(/already have 3 draws/);
    await q.submit(user('b'), draw());
    await q.submit(user('c'), draw());
    // 1 running + 5 waiting: the global cap answers with a wait in minutes.
    await expect(q.submit(user('d'), draw())).rejects.toThrow(/busy \(5 jobs waiting\); try again in a few minutes$/);
    // The same user id in another workspace (server, DM) is the same person: their cap holds there too.
    await expect(q.submit(user('a', 'w2'), train())).rejects.toThrow(/already have a training/);
    await expect(q.submit({ ...user('a'), platform: 'other' }, train())).rejects.toThrow(/busy/);
    await q.close();
  });

  it('cancels queued and running jobs, reports progress and results to listeners', async () => {
    const ex = new FakeExecutor({ steps: 3 });
    const q = new InProcessQueue({ executors: [ex] });
    const events: JobEvent['type'][] = [];
    const running = await q.submit(user('a'), draw(), { listener: (e) => events.push(e.type) });
    const queued = await q.submit(user('b'), draw());
    await tick();
    expect(running.status).toBe('running');
    expect(() => q.cancel(queued.id, user('a'))).toThrow(/not yours/);
    q.cancel(queued.id, user('b'));
    expect((await q.finished(queued.id)).status).toBe('cancelled');
    q.cancel(running.id);
    const j = await q.finished(running.id);
    expect(j.status).toBe('cancelled');
    expect(events).toEqual(['queued', 'started', 'progress', 'progress', 'progress', 'cancelled']);
    const ok = await q.submit(user('a'), draw());
    await tick();
    ex.release(ok.id);
    const done = await q.finished(ok.id);
    expect(done.status).toBe('done');
    expect(done.result?.images[0].name).toBe('draw.png');
    await q.close();
  });

  it('stops a job that runs past its timeout and reports it', async () => {
    const ex = new FakeExecutor();
    const q = new InProcessQueue({ executors: [ex], limits: { timeoutSeconds: { train: 1, draw: 0.05, blend: 1, stylize: 1 } } });
    const j = await q.submit(user('a'), draw());
    const f = await q.finished(j.id);
    expect(f.status).toBe('failed');
    expect(f.error?.message).toMatch(/took longer than/);
    await q.close();
  });

  it('does not count the time a training spends paused for quick jobs against its time limit', async () => {
    // A training that pauses (lending its device to draws) for longer than its whole limit, then ends.
    const ex: JobExecutor = {
      async execute(_job, ctx) {
        ctx.onProgress({ step: 1, steps: 2, phase: 'training' });
        ctx.onProgress({ step: 1, steps: 2, phase: 'training', paused: true, pausedFor: ['draw'] });
        await new Promise((r) => setTimeout(r, 600));
        ctx.onProgress({ step: 2, steps: 2, phase: 'training', resumedAfter: ['draw'] });
        return { images: [], seconds: 0.6 };
      },
    };
    const q = new InProcessQueue({ executors: [ex], limits: { timeoutSeconds: { train: 0.3, draw: 1, blend: 1, stylize: 1 } } });
    const t = await q.finished((await q.submit(user('a'), train())).id);
    expect(t.error).toBeUndefined();
    expect(t.status).toBe('done');
    await q.close();
  });

  it("keeps a user error's kind on the failed job, and any other error's name and message (one runner: src/queue/run-job.ts)", async () => {
    const errors = [new QueueLimitError('try later', 30), new JobNotFoundError('not yours', 'not-allowed'), new RangeError('bad index')];
    const q = new InProcessQueue({ executors: [{ execute: async (job) => Promise.reject(errors[Number(job.kind === 'draw' && job.args.seed)]) }] });
    const failed = await Promise.all(
      errors.map(async (_, i) =>
        q.finished((await q.submit(user(`u${i}`), { kind: 'draw', args: { prompt: 'x', styles: [], seed: i, steps: 1, cfg: 5 } })).id),
      ),
    );
    expect(failed.map((j) => [j.status, j.error])).toEqual([
      ['failed', { name: 'QueueLimitError', message: 'try later', kind: 'limit' }],
      ['failed', { name: 'JobNotFoundError', message: 'not yours', kind: 'not-allowed' }],
      ['failed', { name: 'RangeError', message: 'bad index' }],
    ]);
    await q.close();
  });

  it('tells no wait before a job of the kind has finished, then the measured one (src/queue/estimator.ts)', async () => {
    const ex = new FakeExecutor();
    const q = new InProcessQueue({ executors: [ex] });
    const first = await q.submit(user('a'), draw());
    const waiting = await q.submit(user('b'), draw());
    await tick();
    const standing = () => q.jobsOf(user('b')).find((s) => s.job.id === waiting.id)!;
    expect(standing().position).toBe(1);
    expect(standing().etaSeconds).toBeUndefined();
    ex.release(first.id);
    await q.finished(first.id);
    await tick();
    // The second draw runs now; a third waits behind it, with a wait measured from the first.
    const third = await q.submit(user('c'), draw());
    const s = q.jobsOf(user('c')).find((j) => j.job.id === third.id)!;
    expect(s.position).toBe(1);
    expect(s.etaSeconds).toBeGreaterThanOrEqual(0);
    expect(q.stats.durations.draw).toBeGreaterThanOrEqual(0);
    expect(q.stats.durations.train).toBeUndefined();
    ex.release(waiting.id);
    await q.finished(waiting.id);
    await q.close();
  });

  it('uses every device: two executors run two jobs at once', async () => {
    const e1 = new FakeExecutor();
    const e2 = new FakeExecutor();
    const q = new InProcessQueue({ executors: [e1, e2] });
    await q.submit(user('a'), draw());
    await q.submit(user('b'), draw());
    await tick();
    expect(e1.waiting.length + e2.waiting.length).toBe(2);
    expect(q.jobsOf(user('a'))[0].position).toBe(0);
    await q.close();
  });
});
