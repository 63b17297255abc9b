/**
 * kill -9 of the whole bot process (engine thread included) mid-training and mid-draw, then a restart
 * on the same SQLite store: the journaled jobs run again and every user gets their answer through
 * Discord (the real HTTP interactions endpoint and @discordjs/rest against the loopback fake), the
 * trained style is stored once and intact. A third start after a second kill under the same training
 * tells its user the job was given up. Killed at every point of a training's finalisation (style about
 * to be stored, bytes written, stored, reply sent): after the restart its user reads that the style
 * was learned, never "you already have a style named …", and the style is stored once.
 */
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StyleRegistry } from '../../src/store/style-registry.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { pngOf } from '../helpers/bot-fixture.ts';
import { discordHttpEnv, finalReplyEdit, postDiscordCommand, replyEdit } from '../../testing/discord-interactions.ts';
import { kill9 as killProcess, spawnHelperProcess } from '../helpers/helper-process.ts';
import { CRASH_POINTS, type CrashPoint } from '../helpers/crash-points.ts';
import { FakeDiscord, type Recorded } from '../../testing/fake-discord.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

const keys = generateKeyPairSync('ed25519');
const discord = new FakeDiscord();
const storePath = join(mkdtempSync(join(tmpdir(), 'pairstyle-kill-')), 'bot.sqlite');
let env: Record<string, string>;
let child: ChildProcess | undefined;
let port = 0;
let n = 0;
/** Resolves with the point where the process started with `crashAt` stopped for its kill. */
let stopped: Promise<string> = Promise.resolve('');

interface Ready {
  ports: { discord: number };
  recovered: { queued: number; retried: number; failed: number; finished: number; unreadable: number };
}

/** Starts the bot process and waits for its READY line (bounded). */
async function startBotProcess(crashAt?: { point: CrashPoint; name: string }): Promise<Ready> {
  const h = spawnHelperProcess(
    'test/helpers/bot-process.ts',
    {
      env,
      crashAt,
      overrides: { discordApi: discord.api, fileOrigins: [discord.origin], task: { sampleSteps: 2 }, minEditIntervalMs: 100, host: '127.0.0.1' },
    },
    240_000,
  );
  child = h.p;
  stopped = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no crash point reached in 300 s: ${h.stderr()}`)), 300_000);
    h.lines.on('line', (line) => line.startsWith('CRASHPOINT ') && (clearTimeout(t), resolve(line.slice(11))));
    h.p.once('exit', () => clearTimeout(t));
  });
  stopped.catch(() => undefined);
  const ready = (await h.ready) as unknown as Ready;
  port = ready.ports.discord;
  return ready;
}

async function kill9(): Promise<void> {
  await killProcess(child!);
  child = undefined;
}

/** Sends a signed /pairstyle command as `user`; returns its interaction token. */
async function command(user: string, sub: string, options: unknown[], resolved?: unknown): Promise<string> {
  const token = `kill${++n}`;
  const res = await postDiscordCommand(`http://127.0.0.1:${port}/`, keys.privateKey, { token, user, sub, options, resolved }, 10_000);
  expect(res.status).toBe(200);
  return token;
}

const progressWith = (token: string, re: RegExp) => (r: Recorded) => replyEdit(token)(r) && re.test(String(r.json?.content));

async function trainCommand(user: string, name: string, steps: number) {
  const att = (id: string, file: string) => ({
    id,
    filename: file,
    size: discord.cdn.get(file)!.length,
    url: `${discord.origin}/cdn/${file}`,
    content_type: 'image/png',
  });
  return command(
    user,
    'train',
    [
      { type: 11, name: 'content', value: 'a' },
      { type: 11, name: 'style', value: 'b' },
      { type: 3, name: 'name', value: name },
      { type: 4, name: 'steps', value: steps },
    ],
    {
      attachments: { a: att('a', 'before.png'), b: att('b', 'after.png') },
    },
  );
}

beforeAll(async () => {
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
  env = {
    ...discordHttpEnv(keys.publicKey),
    PAIRSTYLE_MODEL: await writeTinyModelFolder(),
    PAIRSTYLE_STORE_URL: `sqlite://${storePath}`,
    PAIRSTYLE_PLAYGROUND: '0',
  };
});
afterAll(async () => {
  if (child) await kill9();
  await discord.close();
});

describe('kill -9 and restart', () => {
  it('mid-training with a draw beside it and a training waiting: after the restart all finish and every user is answered', async () => {
    await startBotProcess();
    const train = await trainCommand('alice', 'blue', 400);
    await discord.waitFor(progressWith(train, /training/), 60_000);
    // Another training waits behind it; a draw does not (the training pauses for it at its next step).
    const waiting = await trainCommand('erin', 'green', 20);
    await discord.waitFor(progressWith(waiting, /in the queue/), 10_000);
    const draw = await command('bob', 'draw', [
      { type: 3, name: 'prompt', value: 'cat face' },
      { type: 4, name: 'steps', value: 2 },
      { type: 4, name: 'seed', value: 7 },
    ]);
    await discord.waitFor(progressWith(draw, /drawing|starting|cat face/), 10_000);
    await kill9();

    const ready = await startBotProcess();
    // The draw was running beside the training (started again), or already finished (its reply
    // delivered from the journal, or out before the kill).
    expect(ready.recovered).toMatchObject({ queued: 1, failed: 0 });
    expect(ready.recovered.retried).toBeGreaterThanOrEqual(1);
    const drawn = await discord.waitFor(finalReplyEdit(draw), 60_000);
    expect(drawn.json?.content).toMatch(/'cat face', no style, seed 7/);
    expect(drawn.files.map((f) => f.name)).toEqual(['image.png']);
    const trained = await discord.waitFor(finalReplyEdit(train), 120_000);
    expect(trained.json?.content).toMatch(/learned style \*\*blue\*\*/);
    expect((await discord.waitFor(finalReplyEdit(waiting), 120_000)).json?.content).toMatch(/learned style \*\*green\*\*/);
    // The style is stored once, intact, for its owner.
    const listed = await command('alice', 'list', []);
    expect(String((await discord.waitFor(finalReplyEdit(listed), 10_000)).json?.content)).toMatch(/blue/);
    await kill9();
    const registry = new StyleRegistry(await openKeyv(`sqlite://${storePath}`));
    const stored = await registry.load({ platform: 'discord', workspace: 'g1', user: 'alice' }, 'blue');
    expect(decodeStyle(stored.bytes).info.name).toBe('blue');
    await registry.close();
    report.row({
      section: 'Faults injected',
      pass: true,
      case: "kill -9 of the bot process mid-training (400 steps), a draw from another user running beside it (the training paused for it), a third user's training waiting",
      expected: 'all run after the restart and every user is answered; the style is stored once, intact',
      result: 'restart: the draw answered, both trainings answered; the style stored once and loads (hash checked)',
    });
  }, 300_000);

  it('mid-draw: the draw is answered after the restart', async () => {
    const ready0 = await startBotProcess();
    expect(ready0.recovered).toMatchObject({ queued: 0, retried: 0 });
    const draw = await command('carol', 'draw', [
      { type: 3, name: 'prompt', value: 'rocket' },
      { type: 4, name: 'steps', value: 100 },
      { type: 4, name: 'seed', value: 3 },
    ]);
    await discord.waitFor(progressWith(draw, /drawing|starting/), 30_000);
    await kill9();
    const ready = await startBotProcess();
    // Killed while drawing (started again) or just after it finished (delivered without running again).
    expect(ready.recovered.retried + ready.recovered.finished).toBe(1);
    const drawn = await discord.waitFor(finalReplyEdit(draw), 60_000);
    expect(drawn.json?.content).toMatch(/'rocket', no style, seed 3, 100 steps/);
    await kill9();
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'kill -9 of the bot process mid-draw (100 steps)',
      expected: 'the draw is answered after the restart',
      result: `restart: ${ready.recovered.retried ? 'draw started again' : 'draw had just finished; its result was delivered from the journal'} and answered`,
    });
  }, 300_000);

  it('killed twice under the same training: the third start tells its user', async () => {
    await startBotProcess();
    const train = await trainCommand('dave', 'twice', 400);
    await discord.waitFor(progressWith(train, /training/), 60_000);
    await kill9();
    const before = discord.requests.length;
    await startBotProcess();
    await discord.waitFor((r) => discord.requests.indexOf(r) >= before && progressWith(train, /training/)(r), 60_000);
    await kill9();
    const ready = await startBotProcess();
    expect(ready.recovered.failed).toBe(1);
    const told = await discord.waitFor(finalReplyEdit(train), 20_000);
    expect(told.json?.content).toMatch(/failed: the bot stopped twice while this job was running/);
    await kill9();
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'kill -9 twice under the same training',
      expected: 'the third start tells the user the job was given up',
      result: `third start answers: "${String(told.json?.content).slice(0, 120)}"`,
    });
  }, 300_000);

  it("killed at every point of a training's finalisation: after the restart its user reads that the style was learned, and it is stored once", async () => {
    // Each start stops the training of the next point's style at that point; the start after it finishes
    // the previous one (from the journal) and then stops the next.
    const names = CRASH_POINTS.map((p) => `s-${p}`);
    const owner = (i: number) => ({ platform: 'discord', workspace: 'g1', user: `fin-${CRASH_POINTS[i]}` });
    let train = '';
    let before = 0;
    for (let i = 0; i <= CRASH_POINTS.length; i++) {
      await startBotProcess(i < CRASH_POINTS.length ? { point: CRASH_POINTS[i], name: names[i] } : undefined);
      if (i > 0) await checkFinished(i - 1, train, before);
      if (i === CRASH_POINTS.length) break;
      train = await trainCommand(owner(i).user, names[i], 10);
      expect(await stopped).toBe(CRASH_POINTS[i]);
      await kill9();
      before = discord.requests.length;
    }
    await kill9();

    /** After the restart: the user of point i was told the style was learned (and nothing else); it is stored once. */
    async function checkFinished(i: number, token: string, since: number) {
      const point = CRASH_POINTS[i];
      const told = await discord.waitFor((r) => discord.requests.indexOf(r) >= since && finalReplyEdit(token)(r), 300_000);
      await new Promise((r) => setTimeout(r, 500));
      const afterRestart = discord.requests.filter((r, k) => k >= since && finalReplyEdit(token)(r)).map((r) => String(r.json?.content));
      const registry = new StyleRegistry(await openKeyv(`sqlite://${storePath}`));
      const stored = await registry.load(owner(i), names[i]).then(
        (s) => decodeStyle(s.bytes).info.name === names[i],
        () => false,
      );
      const listed = (await registry.list(owner(i))).own.map((e) => e.name);
      await registry.close();
      const db = new Database(storePath, { readonly: true });
      const copies = Number(
        db
          .prepare('SELECT count(*) FROM keyv WHERE key LIKE ?')
          .pluck()
          .get(`pairstyle:blob:discord:g1:${owner(i).user}:${names[i]}:%`),
      );
      db.close();
      const pass = afterRestart.length >= 1 && afterRestart.every((t) => /learned style \*\*/.test(t)) && stored && listed.join() === names[i] && copies === 1;
      report.row({
        section: 'Faults injected',
        case: `kill -9 of the bot process in a training's finalisation: ${point}`,
        expected: "after the restart the user reads that the style was learned (never 'you already have a style named …'); stored once",
        result: `after restart: "${String(told.json?.content)
          .replace(/ in \d+ s\./, '.')
          .slice(0, 60)}…"; stored: ${stored ? 'yes' : 'no'}, listed ${listed.length}x, ${copies} stored cop${copies === 1 ? 'y' : 'ies'}`,
        pass,
      });
      expect(
        afterRestart.filter((t) => !/learned style \*\*/.test(t)),
        point,
      ).toEqual([]);
      expect([stored, listed, copies], point).toEqual([true, [names[i]], 1]);
    }
  }, 1_800_000);
});
