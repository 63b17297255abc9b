/**
 * kill -9 of the whole bot process (engine thread included) mid-training and mid-draw, then a restart
 * on the same SQLite store: the journaled jobs run again and every user gets their answer through
 * Discord (the real HTTP interactions endpoint and @discordjs/rest against the loopback fake), the
 * trained style is stored once and intact. A third start after a second kill under the same training
 * tells its user the job was given up. Killed at every point of a training's finalisation (style about
 * to be stored, bytes written, stored, reply sent): after the restart its user reads that the style
 * was learned, never "you already have a style named …", and the style is stored once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StyleRegistry } from '../../src/store/style-registry.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { pngOf } from '../helpers/bot-fixture.ts';
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
  const arg = JSON.stringify({
    env,
    crashAt,
    overrides: { discordApi: discord.api, fileOrigins: [discord.origin], task: { sampleSteps: 2 }, minEditIntervalMs: 100, host: '127.0.0.1' },
  });
  const p = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/bot-process.ts', arg], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = p;
  let errText = '';
  p.stderr!.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-4000)));
  const lines = createInterface({ input: p.stdout! });
  stopped = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no crash point reached in 300 s: ${errText}`)), 300_000);
    lines.on('line', (line) => line.startsWith('CRASHPOINT ') && (clearTimeout(t), resolve(line.slice(11))));
    p.once('exit', () => clearTimeout(t));
  });
  stopped.catch(() => undefined);
  return new Promise<Ready>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bot process not ready in 240 s: ${errText}`)), 240_000);
    p.once('exit', (code) => reject(new Error(`bot process exited (${code}): ${errText}`)));
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      clearTimeout(t);
      const ready = JSON.parse(line.slice(6)) as Ready;
      port = ready.ports.discord;
      resolve(ready);
    });
  });
}

async function kill9(): Promise<void> {
  const p = child!;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
  child = undefined;
}

/** Sends a signed /pairstyle command as `user`; returns its interaction token. */
async function command(user: string, sub: string, options: unknown[], resolved?: unknown): Promise<string> {
  const token = `kill${++n}`;
  const body = JSON.stringify({
    id: `i${n}`,
    application_id: '123456789012345678',
    token,
    version: 1,
    type: 2,
    guild_id: 'g1',
    channel_id: 'c1',
    member: { user: { id: user, username: user }, permissions: '0' },
    data: { id: 'cmd', name: 'pairstyle', type: 1, options: [{ type: 1, name: sub, options }], ...(resolved ? { resolved } : {}) },
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature-ed25519': sign(null, Buffer.from(ts + body), keys.privateKey).toString('hex'),
      'x-signature-timestamp': ts,
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(200);
  return token;
}

const edits = (token: string) => (r: Recorded) => r.method === 'PATCH' && r.path.includes(`/${token}/messages/@original`);
const finalEdit = (token: string) => (r: Recorded) => edits(token)(r) && !/⏳|⚙️/.test(String(r.json?.content));
const progressWith = (token: string, re: RegExp) => (r: Recorded) => edits(token)(r) && re.test(String(r.json?.content));

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
    DISCORD_TOKEN: 'bot-token',
    DISCORD_APP_ID: '123456789012345678',
    DISCORD_MODE: 'http',
    DISCORD_PUBLIC_KEY: keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    DISCORD_HTTP_PORT: '0',
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
  it('mid-training with a draw waiting: after the restart the draw and the training finish and both users are answered', async () => {
    await startBotProcess();
    const train = await trainCommand('alice', 'blue', 400);
    await discord.waitFor(progressWith(train, /training/), 60_000);
    const draw = await command('bob', 'draw', [
      { type: 3, name: 'prompt', value: 'cat face' },
      { type: 4, name: 'steps', value: 2 },
      { type: 4, name: 'seed', value: 7 },
    ]);
    await discord.waitFor(progressWith(draw, /in the queue/), 10_000);
    await kill9();

    const ready = await startBotProcess();
    expect(ready.recovered).toMatchObject({ retried: 1, queued: 1, failed: 0 });
    const drawn = await discord.waitFor(finalEdit(draw), 60_000);
    expect(drawn.json?.content).toMatch(/'cat face', no style, seed 7/);
    expect(drawn.files.map((f) => f.name)).toEqual(['image.png']);
    const trained = await discord.waitFor(finalEdit(train), 120_000);
    expect(trained.json?.content).toMatch(/learned style \*\*blue\*\*/);
    // The style is stored once, intact, for its owner.
    const listed = await command('alice', 'list', []);
    expect(String((await discord.waitFor(finalEdit(listed), 10_000)).json?.content)).toMatch(/blue/);
    await kill9();
    const registry = new StyleRegistry(await openKeyv(`sqlite://${storePath}`));
    const stored = await registry.load({ platform: 'discord', workspace: 'g1', user: 'alice' }, 'blue');
    expect(decodeStyle(stored.bytes).info.name).toBe('blue');
    await registry.close();
    report.row({
      section: 'Faults injected',
      pass: true,
      case: 'kill -9 of the bot process mid-training (400 steps), a draw from another user waiting',
      expected: 'both run after the restart and both users are answered; the style is stored once, intact',
      result: 'restart: draw answered first, training started again and answered; the style stored once and loads (hash checked)',
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
    const drawn = await discord.waitFor(finalEdit(draw), 60_000);
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
    const told = await discord.waitFor(finalEdit(train), 20_000);
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
      const told = await discord.waitFor((r) => discord.requests.indexOf(r) >= since && finalEdit(token)(r), 300_000);
      await new Promise((r) => setTimeout(r, 500));
      const afterRestart = discord.requests.filter((r, k) => k >= since && finalEdit(token)(r)).map((r) => String(r.json?.content));
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
