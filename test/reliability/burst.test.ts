/**
 * Load: a burst of 500 commands from 50 users through the real commands, the per-user
 * rate limit and the real InProcessQueue over a fake executor. Caps hold at every moment (global
 * waiting cap, per-user draws and trainings), every command gets either a job or a clear refusal,
 * nothing is dropped silently, and every accepted job finishes with its final reply.
 */
import { describe, expect, it } from 'vitest';
import { followJob, isUserError, runCommand, UserRateLimiter, type Outcome } from '../../commands/index.ts';
import { isQuick, ownerKey, type Job } from '../../src/queue/job.ts';
import { attached, backend, png, seeded, who, type Seeded } from './fixture.ts';
import { isClearMessage, reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const CAPS = { maxQueued: 50, perUserDraws: 3, perUserTrainings: 1 };

/** Watches the queue's events: the most jobs ever waiting, and per user the most draws / trainings ever active. */
function capWatch(queue: Awaited<ReturnType<typeof backend>>['queue']) {
  const active = new Map<string, { quick: number; train: number }>();
  const peak = { waiting: 0, quick: 0, train: 0 };
  const seen = new Set<string>();
  queue.on((e) => {
    const k = ownerKey(e.job.owner);
    const a = active.get(k) ?? { quick: 0, train: 0 };
    const cls = isQuick(e.job.kind) ? 'quick' : 'train';
    if (e.type === 'queued' && !seen.has(e.job.id)) {
      seen.add(e.job.id);
      a[cls]++;
    }
    if (e.type === 'done' || e.type === 'failed' || e.type === 'cancelled') a[cls]--;
    active.set(k, a);
    peak.waiting = Math.max(peak.waiting, queue.stats.queued);
    peak.quick = Math.max(peak.quick, a.quick);
    peak.train = Math.max(peak.train, a.train);
  });
  return peak;
}

type Answer =
  | { kind: 'job'; job: Job; outcome: Outcome & { type: 'job' } }
  | { kind: 'reply' }
  | { kind: 'refused'; name: string; message: string }
  | { kind: 'crash'; message: string };

async function answer(p: () => Promise<Outcome>): Promise<Answer> {
  try {
    const o = await p();
    return o.type === 'job' ? { kind: 'job', job: o.job, outcome: o } : { kind: 'reply' };
  } catch (e) {
    const err = e as Error;
    if (isUserError(err) && isClearMessage(err.message)) return { kind: 'refused', name: err.name, message: err.message };
    return { kind: 'crash', message: `${err?.name}: ${err?.message}` };
  }
}

async function mix(r: Seeded, good: ReturnType<typeof attached>) {
  const STYLES = ['ink', 'crayon', 'nope'];
  const roll = r.next();
  if (roll < 0.55)
    return { sub: 'draw', options: { prompt: `thing ${r.int(0, 999)}`, ...(r.chance(0.5) ? { style: r.pick(STYLES) } : {}), seed: r.int(0, 1000) } };
  if (roll < 0.65) return { sub: 'train', options: { content: good, style: good, name: `style${r.int(0, 9)}`, overwrite: true } };
  if (roll < 0.75) return { sub: 'blend', options: { style_a: 'ink', style_b: 'crayon', prompt: 'cat' } };
  if (roll < 0.85) return { sub: r.pick(['list', 'status', 'help']), options: {} };
  return { sub: 'draw', options: { prompt: 'cat', strength: r.pick([99, -3, 'lots']) } };
}

/** Follows every accepted job to its final reply (as an adapter would), after the executor is let go. */
async function finishAll(b: Awaited<ReturnType<typeof backend>>, jobs: (Answer & { kind: 'job' })[]) {
  const finals = new Map<string, string>();
  const follows = jobs.map((a) =>
    followJob(b.queue, a.job, a.outcome.finalize, {
      minIntervalMs: 0,
      update: async (reply, final) => {
        if (final) {
          if (finals.has(a.job.id)) throw new Error(`two final replies for ${a.job.id}`);
          finals.set(a.job.id, reply.text);
        }
      },
    }),
  );
  const pump = setInterval(() => b.executor.waiting.forEach((id) => b.executor.release(id)), 1);
  try {
    await Promise.race([Promise.all(follows), new Promise((_, rej) => setTimeout(() => rej(new Error('jobs did not all finish within 30 s')), 30_000))]);
  } finally {
    clearInterval(pump);
  }
  return finals;
}

async function setup(perMinute: number) {
  const b = await backend({ queue: CAPS, limits: { userRate: new UserRateLimiter({ perMinute, now: () => 0 }) } });
  for (const [user, name] of [
    ['owner1', 'ink'],
    ['owner2', 'crayon'],
  ] as const) {
    await b.registry.put(who(user), name, new Uint8Array([1]), { subject: 'dog' });
    await b.registry.setShared(who(user), name, true);
  }
  return b;
}

describe('burst of 500 commands from 50 users', () => {
  it('back to back, seeded order: caps and the rate limit hold, every command is answered, every job finishes (seed 301)', async () => {
    const b = await setup(8);
    const peak = capWatch(b.queue);
    const r = seeded(301);
    const good = attached('p.png', await png(32, 32));
    const answers: Answer[] = [];
    for (let i = 0; i < 500; i++) {
      const user = `user${r.int(0, 49)}`;
      const { sub, options } = await mix(r, good);
      answers.push(await answer(() => runCommand(b.ctx(user), sub, options)));
      expect(b.queue.stats.queued).toBeLessThanOrEqual(CAPS.maxQueued);
    }
    const jobs = answers.filter((a): a is Answer & { kind: 'job' } => a.kind === 'job');
    const refused = answers.filter((a): a is Answer & { kind: 'refused' } => a.kind === 'refused');
    const crashes = answers.filter((a) => a.kind === 'crash');
    const by = (name: string) => refused.filter((a) => a.name === name).length;
    const finals = await finishAll(b, jobs);
    const allDone = jobs.every((a) => a.job.status === 'done') && jobs.every((a) => /^(🎨|✅)/u.test(finals.get(a.job.id) ?? ''));
    const answered = jobs.length + answers.filter((a) => a.kind === 'reply').length + refused.length + crashes.length;
    const pass =
      answered === 500 &&
      crashes.length === 0 &&
      allDone &&
      peak.waiting <= CAPS.maxQueued &&
      peak.quick <= CAPS.perUserDraws &&
      peak.train <= CAPS.perUserTrainings &&
      b.queue.stats.queued === 0 &&
      b.queue.stats.running === 0;
    report.row({
      section: 'Load',
      case: '500 commands back to back from 50 users (draw, train, blend, list/status/help, bad values; seed 301), 1 fake device, rate limit 8/min, caps: 50 waiting, 3 draws + 1 training per user',
      expected: 'every command answered (job or clear refusal), caps never exceeded, every accepted job finishes with a final reply, queue empty at the end',
      result: `${answered} answered: ${jobs.length} jobs, ${answers.length - jobs.length - refused.length - crashes.length} replies, refused: ${by('QueueLimitError')} queue caps, ${by('RateLimitError')} rate limit, ${refused.length - by('QueueLimitError') - by('RateLimitError')} bad values/names; ${crashes.length} crashes. Peaks: ${peak.waiting} waiting, ${peak.quick} draws and ${peak.train} training per user. ${finals.size} of ${jobs.length} jobs finished with a final reply`,
      pass,
    });
    expect(crashes).toEqual([]);
    expect(answered).toBe(500);
    expect(by('QueueLimitError')).toBeGreaterThan(0);
    expect(by('RateLimitError')).toBeGreaterThan(0);
    expect(refused.some((a) => /the bot is busy \(50 jobs waiting\); try again in (about \d+ min|a few minutes)/.test(a.message))).toBe(true);
    expect(refused.some((a) => /slow down: you can send 8 commands a minute.*try again in \d+ s/.test(a.message))).toBe(true);
    expect(allDone).toBe(true);
    expect(pass).toBe(true);
  });

  it('all at once (500 concurrent commands): the same guarantees under interleaving (seed 302)', async () => {
    const b = await setup(8);
    const peak = capWatch(b.queue);
    const r = seeded(302);
    const good = attached('p.png', await png(32, 32));
    const calls = [];
    for (let i = 0; i < 500; i++) {
      const user = `user${r.int(0, 49)}`;
      const { sub, options } = await mix(r, good);
      calls.push(answer(() => runCommand(b.ctx(user), sub, options)));
    }
    const answers = await Promise.all(calls);
    const jobs = answers.filter((a): a is Answer & { kind: 'job' } => a.kind === 'job');
    const crashes = answers.filter((a) => a.kind === 'crash');
    const finals = await finishAll(b, jobs);
    const pass =
      answers.length === 500 &&
      crashes.length === 0 &&
      finals.size === jobs.length &&
      jobs.every((a) => a.job.status === 'done') &&
      peak.waiting <= CAPS.maxQueued &&
      peak.quick <= CAPS.perUserDraws &&
      peak.train <= CAPS.perUserTrainings;
    // Counts vary with interleaving; the report states the guarantees only.
    report.row({
      section: 'Load',
      case: '500 commands from 50 users all at once (concurrent; seed 302), same caps and rate limit',
      expected: 'the same guarantees under interleaving',
      result: pass
        ? 'all 500 answered (job or clear refusal), no crash, caps never exceeded, every job finished with one final reply'
        : `FAILED: ${crashes.length} crashes, ${finals.size}/${jobs.length} final replies, peaks ${JSON.stringify(peak)}`,
      pass,
    });
    expect(crashes).toEqual([]);
    expect(pass).toBe(true);
  });
});
