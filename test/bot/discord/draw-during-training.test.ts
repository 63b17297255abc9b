/**
 * A draw sent on Discord while a training runs does not wait for it: the Discord HTTP interactions
 * endpoint (@discordjs/rest against the loopback fake) over the in-process queue and the engine thread
 * on the tiny model. The draw's picture arrives while the training still runs, and the training's
 * message tells its user that it paused for the draw and resumed.
 */
import type { Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { REST } from '@discordjs/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_COMMAND_LIMITS } from '../../../commands/types.ts';
import { startDiscordHttp } from '../../../src/bot/discord/http.ts';
import { InProcessQueue } from '../../../src/queue/in-process.ts';
import { openKeyv } from '../../../src/store/open-keyv.ts';
import { StyleRegistry } from '../../../src/store/style-registry.ts';
import { discordSignatureHeaders, interactionBody, pairstyleCommandData } from '../../../testing/discord-interactions.ts';
import { FakeDiscord, type Recorded } from '../../../testing/fake-discord.ts';
import { WorkerExecutor } from '../../../workers/executor.ts';
import { pngOf } from '../../helpers/bot-fixture.ts';
import { writeTinyModelFolder } from '../../helpers/tiny-model.ts';

const keys = generateKeyPairSync('ed25519');
const fake = new FakeDiscord();
let queue: InProcessQueue;
let server: Server;
let url = '';
let n = 0;

beforeAll(async () => {
  await fake.start();
  queue = new InProcessQueue({ executors: [new WorkerExecutor({ model: { dir: await writeTinyModelFolder() }, sampleSteps: 2 })] });
  const registry = new StyleRegistry(await openKeyv('memory:'));
  const rest = new REST({ api: fake.api, version: '10', retries: 0, timeout: 5000 }).setToken('bot-token');
  const publicKey = keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  const started = await startDiscordHttp(
    {
      queue,
      registry,
      limits: DEFAULT_COMMAND_LIMITS,
      minEditIntervalMs: 0,
      log: () => undefined,
      publicKey,
      applicationId: 'app1',
      rest,
      fileAccess: { allowInsecureOrigins: [fake.origin] },
    },
    0,
    '127.0.0.1',
  );
  server = started.server;
  url = `http://127.0.0.1:${started.port}/`;
});
afterAll(async () => {
  server?.close();
  await queue.close();
  await fake.close();
});

async function command(sub: string, options: unknown[], user: string, resolved?: unknown): Promise<string> {
  const token = `tok${++n}`;
  const body = interactionBody({ appId: 'app1', id: `i${n}`, token, type: 2, user, data: pairstyleCommandData(sub, options, resolved) });
  const res = await fetch(url, { method: 'POST', headers: discordSignatureHeaders(body, keys.privateKey), body, signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return token;
}
const edits = (token: string) => (r: Recorded) => r.method === 'PATCH' && r.path === `/webhooks/app1/${token}/messages/@original`;
const isFinal = (r: Recorded) => !/⏳|⚙️/.test(String(r.json?.content));
const content = (r: Recorded) => String(r.json?.content ?? '');

describe('Discord: a draw during a training', () => {
  it("gets its picture while the training still runs; the training's message says it paused for the draw and resumed", async () => {
    fake.cdn.set('before.png', await pngOf('#d22', 40, 40));
    fake.cdn.set('after.png', await pngOf('#22d', 40, 40));
    const train = await command(
      'train',
      [
        { type: 11, name: 'content', value: 'a1' },
        { type: 11, name: 'style', value: 'a2' },
        { type: 3, name: 'name', value: 'reds' },
        { type: 4, name: 'steps', value: 60 },
      ],
      'trainer',
      { attachments: { a1: fake.attachment('a1', 'before.png'), a2: fake.attachment('a2', 'after.png') } },
    );
    await fake.waitFor((r) => edits(train)(r) && /\((content warm-up|training)\)/.test(content(r)), 60_000);
    const draw = await command(
      'draw',
      [
        { type: 3, name: 'prompt', value: 'red apple' },
        { type: 4, name: 'seed', value: 3 },
        { type: 4, name: 'steps', value: 4 },
      ],
      'drawer',
    );
    const picture = await fake.waitFor((r) => edits(draw)(r) && isFinal(r) && r.files.length > 0, 60_000);
    expect(content(picture)).toMatch(/'red apple', no style, seed 3/);
    const trainingEditsSoFar = fake.requests.filter(edits(train));
    expect(trainingEditsSoFar.some(isFinal)).toBe(false);
    const learned = await fake.waitFor((r) => edits(train)(r) && isFinal(r), 120_000);
    expect(content(learned)).toMatch(/learned style \*\*reds\*\*/);
    const progress = fake.requests.filter((r) => edits(train)(r) && !isFinal(r)).map(content);
    expect(progress.some((t) => /; resumed after 1 draw\)/.test(t))).toBe(true);
  });
});
