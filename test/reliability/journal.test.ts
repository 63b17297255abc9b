/**
 * Crash safety of the queue with its journal (SQLite file, the production store): jobs are journaled
 * before submit() resolves; after an abandoned process (no close, as after kill -9) a new queue on the
 * same file runs the waiting jobs, retries the interrupted one once, fails it after a second
 * interruption with a message for its user, and hands over finished-but-undelivered results without
 * running them again. An engine thread that dies under a job gets the job started once more.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import {
  EngineCrashError,
  type DrawArgs,
  type Job,
  type JobArgs,
  type JobExecutor,
  type JobOwner,
  type JobProgress,
  type JobResult,
} from '../../src/queue/job.ts';
import { JobJournal, jobFromJson, jobToJson } from '../../src/queue/journal.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { FakeExecutor, tick } from '../queue/fake-executor.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

const dir = mkdtempSync(join(tmpdir(), 'pairstyle-journal-'));
let files = 0;
const storeUrl = () => `sqlite://${join(dir, `store-${++files}.sqlite`)}`;
const journals: JobJournal[] = [];
async function journalAt(url: string) {
  const j = new JobJournal(await openKeyv(url, 'pairstyle-jobs'));
  journals.push(j);
  return j;
}
afterAll(async () => {
  for (const j of journals) await j.close().catch(() => undefined);
});

const user = (u: string): JobOwner => ({ platform: 'test', workspace: 'w', user: u });
const draw = (prompt: string): JobArgs => ({ kind: 'draw', args: { prompt, styles: [], seed: 0, steps: 2, cfg: 5 } satisfies DrawArgs });
const train = (name: string): JobArgs => ({ kind: 'train', args: { content: new Uint8Array([1, 2, 3]), style: new Uint8Array([4, 5]), name } });
const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await tick();
  }
};

/** Resolves each job after a short while; ignores aborts (like a process that simply vanishes). */
class Hanging implements JobExecutor {
  readonly started: string[] = [];
  execute(job: Job): Promise<JobResult> {
    this.started.push(job.id);
    return new Promise(() => undefined);
  }
}

describe('job journal', () => {
  it('round-trips jobs with their bytes', () => {
    const job = { ...train('x'), id: 'a', owner: user('u'), status: 'queued', createdAt: 1, route: { platform: 'discord', token: 't' } } as Job;
    const back = jobFromJson(jobToJson(job));
    expect(back).toEqual(job);
    expect(back.kind === 'train' && back.args.content).toBeInstanceOf(Uint8Array);
  });

  it('after a crash: waiting jobs run, the interrupted one is retried once, then reported; nothing is run twice once done', async () => {
    const url = storeUrl();
    // Process 1: a training runs, two draws wait; then the process "dies" (the queue is abandoned).
    const hang = new Hanging();
    const q1 = new InProcessQueue({ executors: [hang], journal: await journalAt(url) });
    const t = await q1.submit(user('a'), train('style1'), { route: { platform: 'test' } });
    await until(() => hang.started.length === 1);
    const d1 = await q1.submit(user('b'), draw('d1'));
    const d2 = await q1.submit(user('c'), draw('d2'));

    // Process 2 on the same store: everything comes back; draws run ahead of the retried training.
    const ex2 = new FakeExecutor({ auto: true });
    const q2 = new InProcessQueue({ executors: [ex2], journal: await journalAt(url) });
    const resumed: Job[] = [];
    const counts = await q2.recover((j) => resumed.push(j));
    expect(counts).toEqual({ queued: 2, retried: 1, failed: 0, finished: 0, unreadable: 0 });
    expect(resumed.map((j) => j.id).sort()).toEqual([t.id, d1.id, d2.id].sort());
    expect(resumed.find((j) => j.id === t.id)?.route).toEqual({ platform: 'test' });
    const done = await Promise.all([t, d1, d2].map((j) => q2.finished(j.id)));
    expect(done.map((j) => j.status)).toEqual(['done', 'done', 'done']);
    expect(ex2.started.map((j) => j.id)).toEqual([d1.id, d2.id, t.id]);
    expect(q2.get(t.id)?.attempts).toBe(2);
    // Not yet delivered: still journaled. Delivered: gone.
    for (const j of [d1, d2]) await q2.delivered(j.id);
    const q3 = new InProcessQueue({ executors: [new FakeExecutor({ auto: true })], journal: await journalAt(url) });
    const again: Job[] = [];
    expect(await q3.recover((j) => again.push(j))).toMatchObject({ queued: 0, retried: 0, finished: 1 });
    expect(again.map((j) => [j.id, j.status])).toEqual([[t.id, 'done']]);
    expect(again[0].result?.style?.bytes).toEqual(new Uint8Array([1, 2, 3]));
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'process killed with 1 training running and 2 draws waiting (journal on SQLite)',
      expected: 'all three run after the restart, the training once more; nothing runs twice once done',
      result: 'after restart the draws ran, then the training (attempt 2); finished but undelivered results were handed over without running again',
    });
  });

  it('a job interrupted twice is not started a third time: its user is told', async () => {
    const url = storeUrl();
    const h1 = new Hanging();
    const q1 = new InProcessQueue({ executors: [h1], journal: await journalAt(url) });
    const t = await q1.submit(user('a'), train('s'));
    await until(() => h1.started.length === 1);
    const h2 = new Hanging();
    const q2 = new InProcessQueue({ executors: [h2], journal: await journalAt(url) });
    expect((await q2.recover(() => undefined)).retried).toBe(1);
    await until(() => h2.started.length === 1);
    const q3 = new InProcessQueue({ executors: [new FakeExecutor({ auto: true })], journal: await journalAt(url) });
    const resumed: Job[] = [];
    expect((await q3.recover((j) => resumed.push(j))).failed).toBe(1);
    const j = await q3.finished(t.id);
    expect(j.status).toBe('failed');
    expect(j.error?.message).toMatch(/stopped twice while this job was running/);
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'process killed twice under the same training',
      expected: 'not started a third time; its user is told',
      result: `third start reports to the user: "${j.error?.message}"`,
    });
  });

  it('a graceful stop leaves waiting and running jobs for the next start, without using up the retry', async () => {
    const url = storeUrl();
    const ex = new FakeExecutor();
    const q1 = new InProcessQueue({ executors: [ex], journal: await journalAt(url) });
    const running = await q1.submit(user('a'), draw('r'));
    const waiting = await q1.submit(user('b'), draw('w'));
    await until(() => ex.waiting.length === 1);
    await q1.close();
    const q2 = new InProcessQueue({ executors: [new FakeExecutor({ auto: true })], journal: await journalAt(url) });
    expect(await q2.recover(() => undefined)).toMatchObject({ queued: 2, retried: 0 });
    const r = await q2.finished(running.id);
    expect([r.status, r.attempts]).toEqual(['done', 1]);
    expect((await q2.finished(waiting.id)).status).toBe('done');
  });

  it('starts a job once more when the engine thread dies under it, and fails it with a clear message the second time', async () => {
    let crashes = 0;
    const flaky: JobExecutor = {
      async execute(job: Job, ctx: { onProgress: (p: JobProgress) => void }) {
        ctx.onProgress({ step: 1, steps: 2 });
        if (job.kind === 'draw' && job.args.prompt.startsWith('crash') && crashes++ < (job.args.prompt === 'crash-twice' ? 2 : 1))
          throw new EngineCrashError('engine thread exited (code 1)');
        return { images: [], seconds: 0 };
      },
    };
    const q = new InProcessQueue({ executors: [flaky], journal: await journalAt(storeUrl()), log: () => undefined });
    const once = await q.submit(user('a'), draw('crash-once'));
    const ok = await q.finished(once.id);
    expect([ok.status, ok.attempts]).toEqual(['done', 2]);
    crashes = 0;
    const twice = await q.submit(user('a'), draw('crash-twice'));
    const bad = await q.finished(twice.id);
    expect(bad.status).toBe('failed');
    expect(bad.error?.message).toMatch(/engine crashed twice/);
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'engine thread dies under a draw (once / twice)',
      expected: 'started once more; a second crash fails it with a clear message',
      result: `once: started again and done (attempt 2); twice: "${bad.error?.message}"`,
    });
  });

  it('refuses a job it cannot record, with a message, and keeps the queue empty', async () => {
    const journal = await journalAt(storeUrl());
    const q = new InProcessQueue({ executors: [new FakeExecutor({ auto: true })], journal, log: () => undefined });
    await journal.close(); // the database is gone
    await expect(q.submit(user('a'), draw('x'))).rejects.toThrow(/could not record your job/);
    expect(q.stats.queued + q.stats.running).toBe(0);
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'job storage unavailable at submit',
      expected: 'the command is refused with a message; nothing is queued unrecorded',
      result: 'the command is refused with "could not record your job … try again in a minute"; nothing queued',
    });
  });
});
