/**
 * The Bolt adapter in Socket Mode (app token, no signing secret) against the loopback fake Slack: the
 * real @slack/socket-mode client calls apps.connections.open with the app token, opens the returned
 * ws:// URL, waits for Slack's `hello`, then acks `slash_commands` envelopes by envelope_id; replies go
 * through response_url and the fake Web API as over HTTP.
 */
import type { App } from '@slack/bolt';
import type { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackApp } from '../../../src/bot/slack/app.ts';
import { botBackend } from '../../helpers/bot-fixture.ts';
import { FakeSlack } from '../../../testing/fake-slack.ts';

const BOT = 'xoxb-socket';
const APP_TOKEN = 'xapp-1-A1-socket';
const fake = new FakeSlack();
let app: App;
let socket: WebSocket;
let backend: Awaited<ReturnType<typeof botBackend>>;
let n = 0;

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);

beforeAll(async () => {
  await fake.start(BOT);
  backend = await botBackend();
  app = createSlackApp({
    ...backend,
    botToken: BOT,
    appToken: APP_TOKEN,
    clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
    tokenVerificationEnabled: false,
    allowInsecureFileOrigins: [fake.origin],
  });
  // start() resolves only once Slack says hello on the socket.
  const started = app.start();
  socket = await fake.waitForSocket();
  socket.send(
    JSON.stringify({
      type: 'hello',
      num_connections: 1,
      debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: 'A1' },
    }),
  );
  await within(started, 10_000, 'app.start() in Socket Mode');
});
afterAll(async () => {
  await app?.stop().catch(() => undefined);
  await backend.queue.close();
  await fake.close();
});

/** Sends a slash_commands envelope as Slack does; resolves with the client's ack and how long it took. */
async function slash(text: string, user = 'U7') {
  const envelopeId = `env-${++n}`;
  const respondPath = `/respond/sm${n}`;
  const t0 = performance.now();
  socket.send(
    JSON.stringify({
      envelope_id: envelopeId,
      payload: {
        token: 'x',
        team_id: 'T1',
        team_domain: 'fake',
        channel_id: 'C1',
        channel_name: 'art',
        user_id: user,
        user_name: user,
        command: '/pairstyle',
        text,
        api_app_id: 'A1',
        is_enterprise_install: 'false',
        response_url: `${fake.origin}${respondPath}`,
        trigger_id: `tr${n}`,
      },
      type: 'slash_commands',
      accepts_response_payload: true,
    }),
  );
  const ack = await fake.waitForSocketMessage((m) => m.envelope_id === envelopeId);
  return { ack, ms: performance.now() - t0, respondPath };
}

describe('Slack adapter (Bolt, Socket Mode)', () => {
  it('opens the connection with the app token through apps.connections.open', () => {
    const open = fake.calls.filter((c) => c.method === 'apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0].auth).toBe(`Bearer ${APP_TOKEN}`);
    expect(fake.sockets).toHaveLength(1);
  });

  it('acks a /pairstyle help envelope by its envelope_id and answers through response_url', async () => {
    const { ack, ms, respondPath } = await slash('help');
    expect(ack).toEqual({ envelope_id: `env-${n}`, payload: {} });
    expect(ms).toBeLessThan(3000);
    const r = await fake.waitFor((c) => c.method === respondPath.slice(1));
    expect(r.body).toMatchObject({ response_type: 'ephemeral' });
    // Escaped for Slack (shown as `prompt:<text>`; a raw `<text>` would be read as a Slack link).
    expect(String(r.body.text)).toMatch(/\/pairstyle draw prompt:&lt;text&gt;/);
  });

  it('answers /pairstyle list (no styles yet) and a bad command ephemerally', async () => {
    const list = await slash('list');
    expect(list.ack.envelope_id).toBe(`env-${n}`);
    expect(String((await fake.waitFor((c) => c.method === list.respondPath.slice(1))).body.text)).toMatch(/You have no styles yet/);
    const bad = await slash('draw cat strength:99');
    expect(String((await fake.waitFor((c) => c.method === bad.respondPath.slice(1))).body.text)).toMatch(/'strength' must be a number from 0 to 10/);
  });

  it('runs a draw job: progress message with the bot token, then the image through files.uploadV2', async () => {
    const before = fake.calls.length;
    await slash('draw red apple seed:3');
    const post = await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.postMessage');
    expect(post.auth).toBe(`Bearer ${BOT}`);
    expect(post.body.channel).toBe('C1');
    await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'files.completeUploadExternal');
    await fake.waitFor((c) => fake.calls.indexOf(c) >= before && c.method === 'chat.update' && /red apple', no style, seed 3/.test(String(c.body.text)));
  });
});
