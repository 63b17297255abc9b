/**
 * Beyond one machine, on loopback: a real redis-server, 2 bot processes (Discord HTTP interactions
 * against the loopback fake, BullMQ queue, registry in Redis) and 3 worker processes (BullMQ workers,
 * engine threads, the tiny model), each its own `node --import tsx` process.
 *  - 100 mixed train / draw / blend jobs from 10 users, commands spread over both bots (a style trained
 *    through one bot is drawn through the other): every job completes exactly once (one `done` per
 *    job id on the workers, one final reply per interaction) and its reply reaches its own interaction.
 *  - kill -9 of the worker running a training: the job completes on another worker.
 *  - Redis stopped: both bots answer with a clear "unavailable, try again" line; once it is back they
 *    take and finish jobs again.
 */
import { generateKeyPairSync } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngOf } from '../helpers/bot-fixture.ts';
import { discordHttpEnv, finalReplyEdit, postDiscordCommand, replyEdit } from '../../testing/discord-interactions.ts';
import { spawnHelperProcess, type HelperProcess } from '../helpers/helper-process.ts';
import { FakeDiscord } from '../../testing/fake-discord.ts';
import { RedisServer } from '../../testing/redis-server.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const keys = generateKeyPairSync('ed25519');
const discord = new FakeDiscord();
const redis = new RedisServer();

interface WorkerEvent {
  type: 'start' | 'done' | 'failed';
  id: string;
  kind: string;
  pid: number;
  reason?: string;
}

const procs: HelperProcess[] = [];
const botPorts: number[] = [];
const workerPids: number[] = [];
const events: WorkerEvent[] = [];
let modelDir = '';

/** Spawns a helper process (bounded READY wait) and records its worker events. */
function spawnHelper(script: string, arg: unknown): HelperProcess {
  const proc = spawnHelperProcess(script, arg);
  proc.lines.on('line', (line) => line.startsWith('EVENT ') && events.push(JSON.parse(line.slice(6)) as WorkerEvent));
  procs.push(proc);
  return proc;
}

const sharedEnv = () => ({ REDIS_URL: redis.url, PAIRSTYLE_MODEL: modelDir, PAIRSTYLE_QUEUE_PREFIX: 'mp' });

function startWorker(): HelperProcess {
  return spawnHelper('testing/worker-process.ts', {
    env: { ...sharedEnv(), PAIRSTYLE_LOCK_SECONDS: '5', PAIRSTYLE_STALLED_CHECK_SECONDS: '1' },
    overrides: { task: { sampleSteps: 2 } },
  });
}

function startBot(): HelperProcess {
  const env = {
    ...sharedEnv(),
    ...discordHttpEnv(keys.publicKey),
    PAIRSTYLE_PLAYGROUND: '0',
    PAIRSTYLE_COMMANDS_PER_MINUTE: '600',
    PAIRSTYLE_MAX_QUEUED: '500',
  };
  return spawnHelper('test/helpers/bot-process.ts', {
    env,
    overrides: { discordApi: discord.api, fileOrigins: [discord.origin], minEditIntervalMs: 200, host: '127.0.0.1' },
  });
}

let n = 0;
/** Refusals answered in the POST's own response (ephemeral, seen only by the user), by interaction token. */
const refusals = new Map<string, string>();
/** Sends a signed /pairstyle command to bot `bot` as `user`; returns its interaction token. */
async function command(bot: number, user: string, sub: string, options: unknown[], resolved?: unknown): Promise<string> {
  const token = `mp${++n}`;
  const res = await postDiscordCommand(`http://127.0.0.1:${botPorts[bot]}/`, keys.privateKey, { token, user, sub, options, resolved });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { type: number; data?: { content?: string; flags?: number } };
  if (answer.type === 4 && answer.data?.flags === 64) refusals.set(token, String(answer.data.content));
  return token;
}

/** The command's last answer: its refusal (the first answer, ephemeral), or the final edit of its deferred reply. */
const finalOf = async (token: string, ms = 120_000) => refusals.get(token) ?? discord.waitFor(finalReplyEdit(token), ms).then((r) => String(r.json?.content));

const opt = (name: string, value: unknown, type = 3) => ({ type, name, value });
const att = (id: string, file: string) => ({
  id,
  filename: file,
  size: discord.cdn.get(file)!.length,
  url: `${discord.origin}/cdn/${file}`,
  content_type: 'image/png',
});

function train(bot: number, user: string, name: string, steps: number) {
  return command(bot, user, 'train', [opt('content', 'a', 11), opt('style', 'b', 11), opt('name', name), opt('steps', steps, 4)], {
    attachments: { a: att('a', 'before.png'), b: att('b', 'after.png') },
  });
}

/** One job of the workload: its command and what its final reply must say. */
interface Sent {
  token: string;
  user: string;
  expect: RegExp;
}

beforeAll(async () => {
  await redis.start();
  modelDir = await writeTinyModelFolder();
  await discord.start();
  discord.cdn.set('before.png', await pngOf('#d22', 24, 24));
  discord.cdn.set(
    'after.png',
    new Uint8Array(
      await sharp({ create: { width: 24, height: 24, channels: 3, background: '#22d' } })
        .png()
        .toBuffer(),
    ),
  );
  const workers = [startWorker(), startWorker(), startWorker()];
  const bots = [startBot(), startBot()];
  for (const w of workers) workerPids.push(Number((await w.ready).pid));
  for (const b of bots) botPorts.push(((await b.ready).ports as { discord: number }).discord);
}, 180_000);

afterAll(async () => {
  for (const { p } of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
  await redis.stop();
  await discord.close();
});

describe('2 bots + 3 workers on one Redis', () => {
  const sent: Sent[] = [];

  it('100 mixed jobs from 10 users: each completes exactly once and its reply reaches its user', async () => {
    const t0 = Date.now();
    const USERS = 10;
    // Per user: 1 training; then 3 draws in its style + a second training; then 2 blends + a draw in
    // the second style; then a plain draw and a strong draw = 10 jobs. Bots alternate per command.
    const user = async (u: number) => {
      const who = `user${u}`;
      let k = u;
      const bot = () => k++ % 2;
      const seed = (i: number) => 1000 * (u + 1) + i;
      const run = async (token: Promise<string>, re: RegExp) => {
        const s = { token: await token, user: who, expect: re };
        sent.push(s);
        return finalOf(s.token, 150_000);
      };
      const draw = (i: number, extra: unknown[]) =>
        run(
          command(bot(), who, 'draw', [opt('prompt', 'cat face'), opt('steps', 2, 4), opt('seed', seed(i), 4), ...extra]),
          new RegExp(`'cat face', .*seed ${seed(i)}, 2 steps`),
        );
      const blend = (i: number, extra: unknown[]) =>
        run(
          command(bot(), who, 'blend', [opt('style_a', 'one'), opt('style_b', 'two'), opt('prompt', 'rocket'), opt('seed', seed(i), 4), ...extra]),
          new RegExp(`'rocket' blended .*seed ${seed(i)}`),
        );
      await run(train(bot(), who, 'one', 10), /learned style \*\*one\*\*/);
      await Promise.all([
        run(train(bot(), who, 'two', 10), /learned style \*\*two\*\*/),
        draw(1, [opt('style', 'one')]),
        draw(2, [opt('style', 'one'), opt('strength', 5, 10)]),
        draw(3, [opt('style', 'one')]),
      ]);
      await Promise.all([blend(4, [opt('ratio', 0.5, 10)]), blend(5, []), draw(6, [opt('style', 'two')])]);
      await Promise.all([draw(7, [opt('strength', 0, 10)]), draw(8, [opt('style', 'two'), opt('strength', 8, 10)])]);
    };
    await Promise.all(Array.from({ length: USERS }, (_, u) => user(u)));
    const seconds = (Date.now() - t0) / 1000;
    expect(sent.length).toBe(100);
    // Every reply at its own interaction, saying what that job asked for.
    for (const s of sent) {
      const finals = discord.requests.filter(finalReplyEdit(s.token));
      expect(finals.length, `final replies of ${s.token}`).toBe(1);
      expect(String(finals[0].json?.content)).toMatch(s.expect);
      expect(finals[0].files.length).toBeGreaterThan(0);
    }
    // Exactly once on the workers: 100 distinct job ids done, none twice; the work was spread.
    const done = events.filter((e) => e.type === 'done');
    expect(done.length).toBe(100);
    expect(new Set(done.map((e) => e.id)).size).toBe(100);
    const perWorker = workerPids.map((pid) => done.filter((e) => e.pid === pid).length);
    expect(perWorker.every((c) => c > 0)).toBe(true);
    report.row({
      section: 'Several machines',
      pass: true,
      case: '2 bot processes + 3 worker processes on one Redis (BullMQ); 100 mixed train/draw/blend jobs from 10 users, commands alternating between the bots',
      expected: 'every job completes exactly once and its reply reaches its own interaction; styles trained through one bot are drawn through the other',
      result: `100 of 100 answered once each with the right content; 100 distinct jobs done once on the workers, spread over all 3`,
    });
    console.log(`100 jobs in ${seconds.toFixed(1)} s; per worker: ${perWorker.join(', ')}`);
  }, 240_000);

  it('kill -9 of the worker running a training: the job completes on another worker', async () => {
    const before = events.length;
    const token = await train(0, 'victim', 'survivor', 400);
    await discord.waitFor((r) => replyEdit(token)(r) && /training/.test(String(r.json?.content)), 60_000);
    // The worker's own 'start' line travels over its stdout pipe and may arrive after the progress edit.
    let start: WorkerEvent | undefined;
    for (let t0 = Date.now(); !start && Date.now() - t0 < 20_000; await new Promise((r) => setTimeout(r, 50))) {
      start = events.slice(before).find((e) => e.type === 'start' && e.kind === 'train');
    }
    expect(start).toBeTruthy();
    const victim = procs.find((x) => x.p.pid === start!.pid)!;
    const exited = new Promise((r) => victim.p.once('exit', r));
    victim.p.kill('SIGKILL');
    await exited;
    const text = await finalOf(token, 120_000);
    expect(text).toMatch(/learned style \*\*survivor\*\*/);
    const doneBy = events.slice(before).filter((e) => e.type === 'done' && e.id === start!.id);
    expect(doneBy.length).toBe(1);
    expect(doneBy[0].pid).not.toBe(start!.pid);
    expect(discord.requests.filter(finalReplyEdit(token)).length).toBe(1);
    report.row({
      section: 'Several machines',
      pass: true,
      case: 'kill -9 of the worker process running a training (400 steps)',
      expected: 'the lock expires, BullMQ requeues the job and another worker completes it; the user gets one reply',
      result: 'completed on another worker and answered once',
    });
  }, 180_000);

  it('Redis stopped: the bots answer "unavailable, try again"; after it is back they serve again', async () => {
    await redis.stop();
    for (const bot of [0, 1]) {
      const text = await finalOf(await command(bot, 'user0', 'draw', [opt('prompt', 'cat face'), opt('steps', 2, 4)]), 30_000);
      expect(text).toMatch(/unavailable.*try again in a minute/);
    }
    await redis.start();
    // No persistence in this test Redis: its data is gone; the clients reconnect by themselves.
    for (const bot of [0, 1]) {
      const deadline = Date.now() + 60_000;
      let text = '';
      while (Date.now() < deadline) {
        text = await finalOf(await command(bot, 'user1', 'draw', [opt('prompt', 'cat face'), opt('steps', 2, 4), opt('seed', 77, 4)]), 60_000);
        if (!/unavailable/.test(text)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(text).toMatch(/'cat face', no style, seed 77/);
    }
    report.row({
      section: 'Several machines',
      pass: true,
      case: 'Redis stopped while 2 bots and 2 workers run, then started again',
      expected: 'commands answered with a clear "unavailable, try again" line; after the restart both bots take and finish jobs',
      result: 'both bots answered "…unavailable right now (its Redis server does not answer); try again in a minute", then drew again after the restart',
    });
  }, 180_000);
});
