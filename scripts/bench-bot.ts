/**
 * Bot benchmark: npm run bench:bot [-- --quick] [--commands 200] [--users 80] [--train-steps N]
 *
 * The real bot (startBot: Discord HTTP interactions endpoint + Slack Bolt HTTP receiver, SQLite store,
 * in-process queue, engine thread, the embedded emoji-mini model) runs in a child process, as it would
 * on its own host; this process plays Discord and Slack (the loopback fakes of test/helpers) and the
 * users. Steps:
 *   1. a pair training from two uploads (Noto and Twemoji dog face on the fake CDN) starts, and the burst
 *      waits until its training steps are running, so the engine thread is busy;
 *   2. all commands are signed first (Ed25519 for Discord, HMAC v0 for Slack), then fired at once, half
 *      on each platform, from many users: 40% draw, 20% list, 20% status, 20% help;
 *   3. each command's acknowledgment latency is the time until the HTTP response to its POST arrives
 *      (Discord: the deferred type-5 response after the command's checks, or its refusal as the
 *      ephemeral type-4 response; Slack: Bolt's ack), the goal is p99 < 200 ms; the bot's event-loop
 *      delay (perf_hooks.monitorEventLoopDelay, in the child) is read for the burst and for the
 *      follow-ups after it; the first answer of each command (Discord: the refusal in the response, or
 *      the edit of the deferred reply; Slack: response_url or the job's chat.postMessage) says whether
 *      a draw was queued or refused by the caps (per user, global "busy", rate limit);
 *   4. the training is cancelled with its Cancel button, the bot stopped, everything removed.
 * Before the burst (and its warm-up), the wait of a draw sent while the training runs (a training
 * pauses between two steps for it), timed in the bot process from its queue's events: wait_s from
 * the draw's submission to the training's pause for it (the draw starts then), training_step_s
 * the median time between two training steps, draw_alone_s a draw's time from submission to result
 * with the engine idle (before the training; the second of two, the first loads the model),
 * draw_during_training_s the same for the draw sent during the training. Goals: wait_s <= one
 * training step (ratio = wait_s / training_step_s <= 1), and draw_during_training_s <= training_step_s
 * + draw_alone_s.
 * Every wait is bounded; the run fails (exit 1) when a deadline passes. --quick: 40 commands, 16 users;
 * --cpu-prof DIR: a V8 CPU profile of the bot process (to find what blocks its event loop).
 * The ack latency is measured by this process, which also serves the fakes: its own event-loop delay
 * is printed beside the bot's so a slow client would show.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { discordSignatureHeaders, interactionBody, pairstyleCommandData } from '../testing/discord-interactions.ts';
import { FakeDiscord, type Recorded } from '../testing/fake-discord.ts';
import { FakeSlack, type SlackCall } from '../testing/fake-slack.ts';

/** Event-loop delay sampling interval (ms); reported delays are the lateness beyond it. */
const ELD_RESOLUTION_MS = 2;

interface EldStats {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  samples: number;
}

function eldStats(h: ReturnType<typeof monitorEventLoopDelay>): EldStats {
  const ms = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  return { p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count };
}

/** Times (Date.now() ms) from the bot's queue events, for the wait of a draw sent during a training. */
interface JobTimes {
  /** Every draw: its user, when it was queued, when it ended. */
  draws: { user: string; createdAt: number; doneAt?: number }[];
  /** When the training's progress said it paused (for quick jobs). */
  pauses: number[];
  /** Time between two consecutive training steps with no pause between them. */
  stepMs: number[];
}

type ToChild =
  | { type: 'start'; env: Record<string, string>; overrides: Record<string, unknown> }
  | { type: 'job-times' }
  | { type: 'eld-reset' }
  | { type: 'eld-read' }
  | { type: 'stop' };
type FromChild =
  | { type: 'ready'; ports: { discord?: number; slack?: number } }
  | { type: 'eld-reset' }
  | { type: 'eld'; stats: EldStats; serverAckMs: number[] }
  | { type: 'job-times'; times: JobTimes }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

// ---------------------------------------------------------------------------------------------------
// The bot process.

async function botChild(): Promise<void> {
  const h = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  h.enable();
  const send = (m: FromChild) => process.send!(m);
  // The acknowledgment as the bot sees it: from a POST's arrival (headers parsed) to its response
  // written, whoever sent it; recorded between eld-reset and the next eld-read (the burst).
  const serverAckMs: number[] = [];
  let recording = false;
  const { Server } = await import('node:http');
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (this: InstanceType<typeof Server>, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' && recording) {
      const [req, res] = args as [{ method?: string }, { once(e: 'finish', f: () => void): void }];
      if (req.method === 'POST') {
        const t = performance.now();
        res.once('finish', () => serverAckMs.push(performance.now() - t));
      }
    }
    return emit.call(this, event, ...args);
  } as typeof emit;
  let bot: { stop(): Promise<void> } | undefined;
  const times: JobTimes = { draws: [], pauses: [], stepMs: [] };
  const stop = async () => {
    await bot?.stop().catch(() => undefined);
    bot = undefined;
  };
  // If the benchmark goes away, so does the bot.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  process.on('message', async (m: ToChild) => {
    try {
      if (m.type === 'start') {
        const { loadBotConfig } = await import('../config/bot.ts');
        const { startBot } = await import('../src/bot/main.ts');
        const b = await startBot(loadBotConfig(m.env), m.overrides as Parameters<typeof startBot>[1]);
        bot = b;
        let lastStep: { at: number; step: number } | undefined;
        b.queue.on((e) => {
          const at = Date.now();
          if (e.job.kind === 'draw') {
            if (e.type === 'queued') times.draws.push({ user: e.job.owner.user, createdAt: e.job.createdAt });
            const d = times.draws.find((x) => x.createdAt === e.job.createdAt && x.user === e.job.owner.user);
            if (d && e.type === 'done') d.doneAt = at;
          } else if (e.type === 'progress') {
            if (e.progress.paused) {
              times.pauses.push(at);
              lastStep = undefined;
            } else if (/^(content warm-up|training)/.test(e.progress.phase ?? '')) {
              if (lastStep && e.progress.step === lastStep.step + 1) times.stepMs.push(at - lastStep.at);
              lastStep = { at, step: e.progress.step };
            }
          }
        });
        send({ type: 'ready', ports: b.ports });
      } else if (m.type === 'job-times') {
        send({ type: 'job-times', times });
      } else if (m.type === 'eld-reset') {
        h.reset();
        serverAckMs.length = 0;
        recording = true;
        send({ type: 'eld-reset' });
      } else if (m.type === 'eld-read') {
        recording = false;
        send({ type: 'eld', stats: eldStats(h), serverAckMs: serverAckMs.splice(0) });
        h.reset();
      } else if (m.type === 'stop') {
        h.disable();
        await stop();
        send({ type: 'stopped' });
        process.disconnect?.();
        process.exit(0);
      }
    } catch (e) {
      send({ type: 'error', message: (e as Error).stack ?? String(e) });
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// The benchmark: platforms, users, figures.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))];
}

function summary(xs: readonly number[]) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const r1 = (x: number) => Math.round(x * 10) / 10;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

type Kind = 'draw' | 'list' | 'status' | 'help';
/** 40% draw, 20% list, 20% status, 20% help. */
const MIX: readonly Kind[] = ['draw', 'list', 'draw', 'status', 'help', 'draw', 'list', 'status', 'draw', 'help'];
const PROMPTS = ['cat face', 'dog face', 'red apple', 'rocket', 'smiling face', 'pine tree', 'star', 'hot beverage'];
const REFUSED = /already have .* in the queue|the bot is busy|slow down|try again in/i;

interface Cmd {
  i: number;
  platform: 'discord' | 'slack';
  kind: Kind;
  user: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Discord interaction token / Slack response_url path and channel: how its follow-up is found. */
  token?: string;
  respondPath?: string;
  channel?: string;
  sentAt?: number;
  ackMs?: number;
  ackStatus?: number;
  ackOk?: boolean;
  ackError?: string;
  replyMs?: number;
  replyText?: string;
  outcome?: 'queued' | 'refused' | 'answered' | 'error' | 'no reply';
  /** Discord: a refusal answered in the POST's response itself. */
  answeredInAck?: (text: string) => void;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      commands: { type: 'string' },
      users: { type: 'string' },
      'train-steps': { type: 'string' },
      'deadline-s': { type: 'string' },
      'max-queued': { type: 'string' },
      /** Write a V8 CPU profile of the bot process into this folder (node --cpu-prof). */
      'cpu-prof': { type: 'string' },
    },
  });
  const quick = Boolean(a.quick);
  const N = Number(a.commands ?? (quick ? 40 : 200));
  const USERS = Number(a.users ?? (quick ? 16 : 80));
  const trainSteps = a['train-steps'] ? Number(a['train-steps']) : undefined;
  // The global queue cap (PAIRSTYLE_MAX_QUEUED, default 50), scaled with the command count so that a
  // --quick run meets the caps as often as the full one (200 commands: 80 draws for 50 places).
  const maxQueued = Number(a['max-queued'] ?? Math.max(2, Math.round((50 * N) / 200)));
  const deadlineS = Number(a['deadline-s'] ?? (quick ? 240 : 420));
  if (!(N >= 2 && USERS >= 2)) throw new Error('--commands and --users must be at least 2');

  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
  const log = (s: string) => console.log(`[bench ${elapsed()}] ${s}`);
  const cleanups: (() => Promise<void> | void)[] = [];
  let child: ChildProcess | undefined;
  const home = mkdtempSync(join(tmpdir(), 'pairstyle-bench-bot-'));
  const deadline = setTimeout(() => {
    console.error(`bench:bot: the run passed its deadline of ${deadlineS} s; stopping`);
    child?.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
    process.exit(1);
  }, deadlineS * 1000);
  deadline.unref();

  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const discord = await new FakeDiscord().start();
  cleanups.push(() => discord.close());
  const SLACK_BOT = 'xoxb-bench';
  const slack = await new FakeSlack().start(SLACK_BOT);
  cleanups.push(() => slack.close());

  const keys = generateKeyPairSync('ed25519');
  const APP_ID = '123456789012345678';
  const SLACK_SECRET = 'bench-signing-secret';
  const env = {
    DISCORD_TOKEN: 'bench-bot-token',
    DISCORD_APP_ID: APP_ID,
    DISCORD_MODE: 'http',
    DISCORD_PUBLIC_KEY: keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'),
    DISCORD_HTTP_PORT: '0',
    SLACK_BOT_TOKEN: SLACK_BOT,
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    SLACK_PORT: '0',
    PAIRSTYLE_PLAYGROUND: '0',
    PAIRSTYLE_MAX_QUEUED: String(maxQueued),
    PAIRSTYLE_STORE_URL: `sqlite://${join(home, 'bot.sqlite')}`,
  };

  // The bot, in its own process (the model: the embedded default, as no PAIRSTYLE_MODEL is given).
  const execArgv = [...process.execArgv, ...(a['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${a['cpu-prof']}`] : [])];
  const c = fork(fileURLToPath(import.meta.url), ['--bot-child'], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  child = c;
  const prefix = (chunk: Buffer) =>
    String(chunk)
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => `  [bot] ${l}`)
      .join('\n');
  c.stdout!.on('data', (d: Buffer) => console.log(prefix(d)));
  c.stderr!.on('data', (d: Buffer) => console.error(prefix(d)));
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  const ask = <T extends FromChild['type']>(m: ToChild, answer: T, ms: number): Promise<Extract<FromChild, { type: T }>> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => (c.off('message', on), reject(new Error(`the bot process did not answer '${m.type}' within ${ms / 1000} s`))), ms);
      const on = (r: FromChild) => {
        if (r.type === 'error') return void (clearTimeout(t), c.off('message', on), reject(new Error(`bot process: ${r.message}`)));
        if (r.type === answer) clearTimeout(t), c.off('message', on), resolve(r as Extract<FromChild, { type: T }>);
      };
      c.on('message', on);
      c.send(m);
    });
  cleanups.unshift(async () => {
    if (c.exitCode === null && c.connected) await ask({ type: 'stop' }, 'stopped', 20_000).catch((e) => log(`stop: ${(e as Error).message}`));
    await Promise.race([exited, sleep(5000)]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  let failed = false;
  try {
    const { ports } = await ask(
      { type: 'start', env, overrides: { discordApi: discord.api, slackApiUrl: slack.apiUrl, fileOrigins: [discord.origin, slack.origin], host: '127.0.0.1' } },
      'ready',
      60_000,
    );
    const discordUrl = `http://127.0.0.1:${ports.discord}/`;
    const slackUrl = `http://127.0.0.1:${ports.slack}/slack/events`;
    log(`bot up: Discord interactions on :${ports.discord}, Slack events on :${ports.slack}`);

    let n = 0;
    const discordRequest = (type: number, data: unknown, user: string) => {
      const token = `bench-${++n}-${Math.random().toString(36).slice(2)}`;
      const body = interactionBody({ appId: APP_ID, id: `i${n}`, token, type, user, data });
      return { token, body, headers: discordSignatureHeaders(body, keys.privateKey) };
    };
    const discordCommand = (sub: string, options: unknown[], user: string, resolved?: unknown) =>
      discordRequest(2, pairstyleCommandData(sub, options, resolved), user);
    const postDiscord = (r: { body: string; headers: Record<string, string> }) =>
      fetch(discordUrl, { method: 'POST', headers: r.headers, body: r.body, signal: AbortSignal.timeout(10_000) });
    const edits = (token: string) => (r: Recorded) => r.method === 'PATCH' && r.path === `/webhooks/${APP_ID}/${token}/messages/@original`;
    const text = (r: Recorded) => String(r.json?.content ?? '');

    /** A Discord draw, from its POST to its final reply (the edit that is neither queued nor progress). */
    const drawOnDiscord = async (user: string, prompt: string) => {
      const cmd = discordCommand(
        'draw',
        [
          { type: 3, name: 'prompt', value: prompt },
          { type: 4, name: 'seed', value: 7 },
        ],
        user,
      );
      const res = await postDiscord(cmd);
      if (res.status !== 200) throw new Error(`a draw was answered ${res.status}: ${await res.text()}`);
      const end = await discord.waitFor((r) => edits(cmd.token)(r) && !/^(⏳|⚙️)/.test(text(r)), 120_000);
      if (/⚠️/u.test(text(end))) throw new Error(`a draw failed: ${text(end)}`);
    };
    const jobTimes = async () => (await ask({ type: 'job-times' }, 'job-times', 10_000)).times;
    /** The last draw of `user`, from its submission to its result, in seconds. */
    const drawSeconds = (t: JobTimes, user: string) => {
      const d = t.draws.filter((x) => x.user === user).at(-1);
      return d?.doneAt ? (d.doneAt - d.createdAt) / 1000 : NaN;
    };
    // A draw with the engine idle: the first loads the model, the second is the figure.
    await drawOnDiscord('solo', 'cat face');
    await drawOnDiscord('solo', 'red apple');
    const drawAloneS = drawSeconds(await jobTimes(), 'solo');
    log(`a draw alone: ${drawAloneS.toFixed(2)} s`);

    // 1. One training, from two uploads; the burst starts once its training steps run.
    const { renderIcon } = await import('../src/data/render.ts');
    const png = async (set: 'noto' | 'twemoji') =>
      new Uint8Array(
        await sharp(Buffer.from(await renderIcon(set, 'dog-face', 32)), { raw: { width: 32, height: 32, channels: 3 } })
          .png()
          .toBuffer(),
      );
    discord.cdn.set('before.png', await png('noto'));
    discord.cdn.set('after.png', await png('twemoji'));
    const att = (id: string, name: string) => ({
      id,
      filename: name,
      size: discord.cdn.get(name)!.length,
      url: `${discord.origin}/cdn/${name}`,
      content_type: 'image/png',
    });
    const trainOptions = [
      { type: 11, name: 'content', value: 'a' },
      { type: 11, name: 'style', value: 'b' },
      { type: 3, name: 'name', value: 'bench' },
      { type: 3, name: 'subject', value: 'dog face' },
      ...(trainSteps ? [{ type: 4, name: 'steps', value: trainSteps }] : []),
    ];
    const train = discordCommand('train', trainOptions, 'trainer', { attachments: { a: att('a', 'before.png'), b: att('b', 'after.png') } });
    const trainRes = await postDiscord(train);
    if (trainRes.status !== 200) throw new Error(`the training command was answered ${trainRes.status}: ${await trainRes.text()}`);
    log('training submitted; waiting for its training steps to run (model load and graph compile come first)');
    const running = await discord.waitFor((r) => edits(train.token)(r) && /^⚙️ .*\((content warm-up|training)\)/.test(text(r)), 150_000);
    const trainAtStart = /(\d+)\/(\d+)/.exec(text(running))?.slice(1).join('/') ?? '?';
    log(`training is running (step ${trainAtStart})`);

    /** A signed command (Discord users d<u> in guild g1; Slack users U<u> in team T1, one channel per command). */
    const makeCommand = (i: number, platform: Cmd['platform'], kind: Kind, u: string): Cmd => {
      const prompt = PROMPTS[Math.abs(i) % PROMPTS.length];
      if (platform === 'discord') {
        const user = `d${u}`;
        const opts =
          kind === 'draw'
            ? [
                { type: 3, name: 'prompt', value: prompt },
                { type: 4, name: 'seed', value: Math.abs(i) },
              ]
            : [];
        const r = discordCommand(kind, opts, user);
        return { i, platform, kind, user, url: discordUrl, headers: r.headers, body: r.body, token: r.token };
      }
      const user = `U${u}`;
      const respondPath = `/respond/bench${i < 0 ? `w${-i}` : i}`;
      const channel = i < 0 ? `CW${-i}` : `C${i}`;
      const line = kind === 'draw' ? `draw ${prompt} seed:${Math.abs(i)}` : kind;
      const body = new URLSearchParams({
        command: '/pairstyle',
        text: line,
        user_id: user,
        user_name: user,
        team_id: 'T1',
        team_domain: 'bench',
        channel_id: channel,
        channel_name: 'bench',
        response_url: `${slack.origin}${respondPath}`,
        trigger_id: `tr${i}`,
        token: 'x',
        api_app_id: 'A1',
      }).toString();
      const ts = String(Math.floor(Date.now() / 1000));
      const sig = `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
      return {
        i,
        platform,
        kind,
        user,
        url: slackUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-signature': sig, 'x-slack-request-timestamp': ts },
        body,
        respondPath,
        channel,
      };
    };
    /** The command's first follow-up, timed when the fake receives it (never rejects). */
    const followUp = (cmd: Cmd, ms: number): Promise<void> => {
      const seen = (textOf: string) => {
        cmd.replyMs = performance.now() - cmd.sentAt!;
        cmd.replyText = textOf;
      };
      if (cmd.platform === 'discord')
        // A refusal is the POST's own response (ephemeral, flags 64), else the first edit of the deferred reply.
        return Promise.race([
          discord.waitFor(edits(cmd.token!), ms).then((r) => seen(text(r))),
          new Promise<void>((resolve) => {
            cmd.answeredInAck = (t) => {
              seen(t);
              resolve();
            };
          }),
        ]).catch(() => undefined);
      const mine = (c: SlackCall) => c.method === cmd.respondPath!.slice(1) || (c.method === 'chat.postMessage' && c.body.channel === cmd.channel);
      return slack.waitFor(mine, ms).then(
        (c) => seen(String(c.body.text ?? '')),
        () => undefined,
      );
    };
    const fire = async (cmd: Cmd): Promise<void> => {
      cmd.sentAt = performance.now();
      try {
        const res = await fetch(cmd.url, { method: 'POST', headers: cmd.headers, body: cmd.body, signal: AbortSignal.timeout(10_000) });
        const body = await res.text();
        cmd.ackMs = performance.now() - cmd.sentAt;
        cmd.ackStatus = res.status;
        if (cmd.platform === 'slack') cmd.ackOk = res.status === 200;
        else {
          const answer = JSON.parse(body) as { type?: number; data?: { content?: string; flags?: number } };
          const privateRefusal = answer.type === 4 && answer.data?.flags === 64;
          cmd.ackOk = res.status === 200 && (answer.type === 5 || privateRefusal);
          if (privateRefusal) cmd.answeredInAck?.(String(answer.data?.content ?? ''));
        }
      } catch (e) {
        cmd.ackError = (e as Error).message;
        cmd.ackOk = false;
      }
    };

    // The wait of a draw sent during the training, once a few of its steps have been timed.
    for (let k = 0; k < 600 && (await jobTimes()).stepMs.length < 5; k++) await sleep(100);
    await drawOnDiscord('waiter', 'rocket');
    const measured = await jobTimes();
    const waiter = measured.draws.filter((x) => x.user === 'waiter').at(-1)!;
    const pausedAt = measured.pauses.find((p) => p >= waiter.createdAt);
    const sortedSteps = [...measured.stepMs].sort((x, y) => x - y);
    const trainingStepS = percentile(sortedSteps, 50) / 1000;
    const waitS = pausedAt === undefined ? NaN : (pausedAt - waiter.createdAt) / 1000;
    const drawDuringS = drawSeconds(measured, 'waiter');
    const trainEdits = discord.requests.filter(edits(train.token)).map(text);
    const during = {
      wait_s: r3(waitS),
      training_step_s: r3(trainingStepS),
      draw_alone_s: r3(drawAloneS),
      draw_during_training_s: r3(drawDuringS),
      ratio: r3(waitS / trainingStepS),
      training_steps_timed: measured.stepMs.length,
      training_still_running: !trainEdits.some((x) => !/^(⏳|⚙️)/.test(x)),
      resumed_shown: trainEdits.some((x) => /resumed after \d+ draw/.test(x)),
    };
    log(
      `a draw during the training: paused for it after ${waitS.toFixed(3)} s (a training step: ${trainingStepS.toFixed(3)} s); its result after ${drawDuringS.toFixed(2)} s (alone: ${drawAloneS.toFixed(2)} s)`,
    );

    // Warm-up, not measured: one command of each kind per platform, one after the other, so that the
    // burst meets a bot that has served before (lazy module loads, first SQL statements, JIT).
    log('warm-up: one command of each kind per platform');
    let warmed = 0;
    for (const platform of ['discord', 'slack'] as const) {
      for (const kind of ['help', 'list', 'status', 'draw'] as const) {
        const cmd = makeCommand(-++warmed, platform, kind, 'warm');
        const replied = followUp(cmd, 20_000);
        await fire(cmd);
        await replied;
      }
    }

    // 2. The commands, signed before the burst so that signing costs nothing during it.
    const perPlatform = Math.max(1, Math.ceil(USERS / 2));
    const cmds: Cmd[] = [];
    for (let i = 0; i < N; i++) {
      // Per platform, command k goes to user k mod U; the mix shifts by one each round of users, so a
      // user's commands are of different kinds.
      const k = Math.floor(i / 2);
      cmds.push(makeCommand(i, i % 2 === 0 ? 'discord' : 'slack', MIX[(k + Math.floor(k / perPlatform)) % MIX.length], String(k % perPlatform)));
    }
    const followUps = cmds.map((cmd) => followUp(cmd, (deadlineS + 60) * 1000));

    // 3. The burst.
    const trainAtBurst =
      /(\d+)\/(\d+)/
        .exec(text(discord.requests.filter(edits(train.token)).at(-1)!))
        ?.slice(1)
        .join('/') ?? '?';
    const clientEld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    await ask({ type: 'eld-reset' }, 'eld-reset', 10_000);
    clientEld.enable();
    const burstStart = performance.now();
    await Promise.all(cmds.map(fire));
    const burstMs = performance.now() - burstStart;
    clientEld.disable();
    const botBurst = await ask({ type: 'eld-read' }, 'eld', 10_000);
    const botBurstEld = botBurst.stats;
    const serverAck = summary(botBurst.serverAckMs);
    const clientBurstEld = eldStats(clientEld);
    const trainFinishedEarly = discord.requests.some((r) => edits(train.token)(r) && !/^(⏳|⚙️)/.test(text(r)));
    log(`burst: ${N} commands acknowledged in ${burstMs.toFixed(0)} ms; waiting for their first follow-ups`);

    // Follow-ups (queued / refused / answered), bounded.
    await Promise.race([Promise.all(followUps), sleep(quick ? 30_000 : 60_000)]);
    const botFollowEld = (await ask({ type: 'eld-read' }, 'eld', 10_000)).stats;
    for (const cmd of cmds) {
      if (cmd.replyText === undefined) cmd.outcome = 'no reply';
      else if (/^(⏳|⚙️)/u.test(cmd.replyText)) cmd.outcome = 'queued';
      else if (/⚠️/u.test(cmd.replyText) && REFUSED.test(cmd.replyText)) cmd.outcome = 'refused';
      else if (cmd.kind !== 'draw' && !/⚠️/u.test(cmd.replyText)) cmd.outcome = 'answered';
      else cmd.outcome = 'error';
    }

    // 4. Cancel the training with its button, then stop (the cleanups).
    const lastTrainEdit = discord.requests.filter(edits(train.token)).at(-1);
    const cancelId = ((lastTrainEdit?.json?.components as { components: { custom_id: string }[] }[] | undefined) ?? [])
      .flatMap((row) => row.components.map((b) => b.custom_id))
      .find((id) => id.startsWith('ps:cancel:'));
    let trainEnd = 'finished before the cleanup';
    if (!trainFinishedEarly && !discord.requests.some((r) => edits(train.token)(r) && !/^(⏳|⚙️)/.test(text(r)))) {
      if (!cancelId) trainEnd = 'no Cancel button found';
      else {
        const press = discordRequest(3, { custom_id: cancelId, component_type: 2 }, 'trainer');
        await postDiscord(press);
        const end = await discord.waitFor((r) => edits(train.token)(r) && !/^(⏳|⚙️)/.test(text(r)), 60_000).catch(() => undefined);
        trainEnd = end
          ? /cancelled/.test(text(end))
            ? 'cancelled with its button'
            : `ended: ${text(end).slice(0, 60)}`
          : 'cancel pressed; no final edit within 60 s';
      }
    }
    log(`training ${trainEnd}`);

    // The figures.
    const ack = (f: (c: Cmd) => boolean) => summary(cmds.filter(f).map((c) => c.ackMs ?? NaN));
    const reply = (f: (c: Cmd) => boolean) => summary(cmds.filter(f).map((c) => c.replyMs ?? NaN));
    const count = (o: Cmd['outcome'], f: (c: Cmd) => boolean = () => true) => cmds.filter((c) => c.outcome === o && f(c)).length;
    const all = ack(() => true);
    const ackFailures = cmds.filter((c) => !c.ackOk);
    const rows: [string, ReturnType<typeof summary>][] = [
      ['all commands', all],
      ['Discord (Ed25519-signed, deferred type 5)', ack((c) => c.platform === 'discord')],
      ['Slack (HMAC-signed slash command, ack)', ack((c) => c.platform === 'slack')],
      ...(['draw', 'list', 'status', 'help'] as const).map((k): [string, ReturnType<typeof summary>] => [`  ${k}`, ack((c) => c.kind === k)]),
      ['  draws queued', ack((c) => c.outcome === 'queued')],
      ['  draws refused by the caps', ack((c) => c.outcome === 'refused')],
    ];
    const line = (label: string, s: ReturnType<typeof summary>) =>
      `${label.padEnd(46)}${String(s.n).padStart(5)}${[s.p50, s.p90, s.p99, s.max].map((x) => f1(x).padStart(9)).join('')}`;
    const eldLine = (label: string, e: EldStats) =>
      `${label.padEnd(46)}${String(e.samples).padStart(5)}${[e.p50, e.p90, e.p99, e.max].map((x) => (e.samples ? f1(x) : '-').padStart(9)).join('')}`;
    const goalMet = ackFailures.length === 0 && all.p99 < 200;
    console.log('');
    console.log(
      `PairStyle bot benchmark${quick ? ' (--quick)' : ''}: ${N} concurrent /pairstyle commands from ${perPlatform * 2} users on loopback while a pair training runs`,
    );
    console.log(`mix: 40% draw, 20% list, 20% status, 20% help, half Discord, half Slack; global queue cap ${maxQueued}, per user 1 training + 3 draws`);
    console.log(
      `model: embedded emoji-mini; machine: ${cpus().length} CPUs, Node ${process.version}; training at step ${trainAtBurst} (last progress edit) when the burst began, ${trainFinishedEarly ? 'FINISHED during the burst' : 'still running after it'}`,
    );
    console.log('');
    console.log(`${'acknowledgment latency, ms'.padEnd(46)}${'n'.padStart(5)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`);
    for (const [label, s] of rows) console.log(line(label, s));
    console.log(line('as the bot sees it (arrival to response sent)', serverAck));
    console.log('');
    console.log(
      line(
        'first follow-up after the POST, ms',
        reply((c) => c.replyMs !== undefined),
      ),
    );
    console.log('');
    console.log(
      `${`event-loop delay, ms beyond ${ELD_RESOLUTION_MS} ms sampling`.padEnd(46)}${'samp.'.padStart(5)}${['p50', 'p90', 'p99', 'max'].map((h) => h.padStart(9)).join('')}`,
    );
    console.log(eldLine(`bot, during the burst (${burstMs.toFixed(0)} ms)`, botBurstEld));
    console.log(eldLine('bot, during the follow-ups after it', botFollowEld));
    console.log(eldLine('load generator + fakes, during the burst', clientBurstEld));
    console.log('');
    console.log(
      `outcomes: ${N} acked (${ackFailures.length} not: ${ackFailures.map((c) => `#${c.i} ${c.ackStatus ?? c.ackError}`).join(', ') || 'none'}); draws queued ${count('queued')}, refused by caps ${count('refused')}; list/status/help answered ${count('answered')}; errors ${count('error')}; no follow-up ${count('no reply')}`,
    );
    for (const cmd of cmds.filter((c) => c.outcome === 'error').slice(0, 3))
      console.log(`  error example: #${cmd.i} ${cmd.platform} ${cmd.kind}: ${cmd.replyText?.slice(0, 120)}`);
    console.log(`goal p99 < 200 ms: ${goalMet ? 'met' : 'NOT met'}`);
    console.log('');
    console.log(
      `a draw sent during the training (before the burst${during.training_still_running ? '' : '; the training had ENDED, so this is no measure'}): wait_s ${during.wait_s} (until the training paused for it), training_step_s ${during.training_step_s} (median of ${during.training_steps_timed}), ratio ${during.ratio}; draw_during_training_s ${during.draw_during_training_s}, draw_alone_s ${during.draw_alone_s}; goals wait_s <= 1 training step: ${during.ratio <= 1 ? 'met' : 'NOT met'}, draw_during_training_s <= training_step_s + draw_alone_s: ${during.draw_during_training_s <= during.training_step_s + during.draw_alone_s ? 'met' : 'NOT met'}; the training's message ${during.resumed_shown ? 'said "resumed after 1 draw"' : 'did not say "resumed after" (no edit since?)'}`,
    );
    console.log(
      JSON.stringify({
        bench: 'bot',
        quick,
        commands: N,
        users: perPlatform * 2,
        maxQueued,
        cpus: cpus().length,
        trainingStepAtBurst: trainAtBurst,
        trainingRunningThroughBurst: !trainFinishedEarly,
        burstMs: Math.round(burstMs),
        ackMs: { p50: r1(all.p50), p90: r1(all.p90), p99: r1(all.p99), max: r1(all.max) },
        ackMsDiscord: Object.fromEntries(Object.entries(ack((c) => c.platform === 'discord')).map(([k, v]) => [k, r1(v)])),
        ackMsSlack: Object.fromEntries(Object.entries(ack((c) => c.platform === 'slack')).map(([k, v]) => [k, r1(v)])),
        firstFollowUpMs: Object.fromEntries(Object.entries(reply((c) => c.replyMs !== undefined)).map(([k, v]) => [k, r1(v)])),
        botEventLoopDelayMs: { p50: r1(botBurstEld.p50), p99: r1(botBurstEld.p99), max: r1(botBurstEld.max) },
        botEventLoopDelayFollowUpsMs: { p50: r1(botFollowEld.p50), p99: r1(botFollowEld.p99), max: r1(botFollowEld.max) },
        clientEventLoopDelayMs: { p99: r1(clientBurstEld.p99), max: r1(clientBurstEld.max) },
        serverAckMs: { n: serverAck.n, p50: r1(serverAck.p50), p99: r1(serverAck.p99), max: r1(serverAck.max) },
        acked: N - ackFailures.length,
        drawsQueued: count('queued'),
        drawsRefused: count('refused'),
        answered: count('answered'),
        errors: count('error'),
        noFollowUp: count('no reply'),
        training: trainEnd,
        goalP99Under200Ms: goalMet,
        drawDuringTraining: during,
      }),
    );
  } catch (e) {
    failed = true;
    console.error(`bench:bot failed: ${(e as Error).stack ?? e}`);
  } finally {
    for (const f of cleanups) await Promise.resolve(f()).catch((e) => console.error(`cleanup: ${(e as Error).message}`));
    clearTimeout(deadline);
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv.includes('--bot-child')) await botChild();
else await main();
