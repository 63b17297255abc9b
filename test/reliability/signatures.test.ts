/**
 * Signed webhooks. Discord's Ed25519 interactions endpoint and Slack's HMAC-signed
 * requests (Bolt's HTTP receiver) refuse wrong keys, altered bodies, stale and future timestamps,
 * missing or malformed headers, and replays of a validly signed request (also re-spelled: hex case,
 * a zero-padded timestamp), answering 401 and running nothing.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discordInteractionsHandler } from '../../src/bot/discord/http.ts';
import { botBackend } from '../helpers/bot-fixture.ts';
import { FakeSlack } from '../../testing/fake-slack.ts';
import { slackSignature, startSlackApp, type SlackAppFixture } from '../helpers/slack-app.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const now = () => Math.floor(Date.now() / 1000);

describe('Discord Ed25519 interactions', () => {
  const keys = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const rawHex = (k: KeyObject) => k.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  let server: Server;
  let url = '';
  let backend: Awaited<ReturnType<typeof botBackend>>;
  let n = 0;

  beforeAll(async () => {
    backend = await botBackend();
    const rest = { patch: async () => undefined, post: async () => undefined };
    const handler = discordInteractionsHandler({ ...backend, publicKey: rawHex(keys.publicKey), applicationId: 'app1', rest: rest as never });
    server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await backend.queue.close();
  });

  const ping = () => JSON.stringify({ id: `p${++n}`, application_id: 'app1', type: 1, token: 't', version: 1 });
  const signature = (ts: string, body: string, key = keys.privateKey) => sign(null, Buffer.from(ts + body), key).toString('hex');
  const post = (body: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(5000) });

  async function expectStatus(what: string, res: Promise<Response>, status: number) {
    const got = (await res).status;
    report.row({
      section: 'Signatures',
      case: `Discord: ${what}`,
      expected: status === 200 ? 'accepted (200)' : `refused (${status})`,
      result: `HTTP ${got}`,
      pass: got === status,
    });
    expect(got, what).toBe(status);
  }

  it('accepts a correctly signed PING and refuses every forged, stale or replayed request', async () => {
    const ts = String(now());
    const body = ping();
    const sig = signature(ts, body);
    await expectStatus('a correctly signed PING', post(body, { 'x-signature-ed25519': sig, 'x-signature-timestamp': ts }), 200);
    await expectStatus(
      'the same request again (replay within the 5-minute window)',
      post(body, { 'x-signature-ed25519': sig, 'x-signature-timestamp': ts }),
      401,
    );
    await expectStatus(
      'the same request again with the signature in upper-case hex',
      post(body, { 'x-signature-ed25519': sig.toUpperCase(), 'x-signature-timestamp': ts }),
      401,
    );
    const b2 = ping();
    await expectStatus('signed with another key', post(b2, { 'x-signature-ed25519': signature(ts, b2, other.privateKey), 'x-signature-timestamp': ts }), 401);
    await expectStatus(
      'body altered after signing',
      post(b2.replace('"type":1', '"type":2'), { 'x-signature-ed25519': signature(ts, b2), 'x-signature-timestamp': ts }),
      401,
    );
    await expectStatus(
      'timestamp altered after signing',
      post(b2, { 'x-signature-ed25519': signature(ts, b2), 'x-signature-timestamp': String(Number(ts) + 1) }),
      401,
    );
    const stale = String(now() - 301);
    await expectStatus(
      'a correct signature over a timestamp 301 s old',
      post(b2, { 'x-signature-ed25519': signature(stale, b2), 'x-signature-timestamp': stale }),
      401,
    );
    const future = String(now() + 330);
    await expectStatus(
      'a correct signature over a timestamp 330 s ahead',
      post(b2, { 'x-signature-ed25519': signature(future, b2), 'x-signature-timestamp': future }),
      401,
    );
    await expectStatus('no signature headers', post(b2, {}), 401);
    await expectStatus('a signature that is not hex', post(b2, { 'x-signature-ed25519': 'z'.repeat(128), 'x-signature-timestamp': ts }), 401);
    await expectStatus('a truncated signature', post(b2, { 'x-signature-ed25519': signature(ts, b2).slice(0, 100), 'x-signature-timestamp': ts }), 401);
    await expectStatus('a timestamp that is not a number', post(b2, { 'x-signature-ed25519': signature('soon', b2), 'x-signature-timestamp': 'soon' }), 401);
    // Over the 1 MB body cap the endpoint stops reading: the client sees 413, or the connection closed under it.
    const big = JSON.stringify({ type: 1, pad: 'x'.repeat(1_100_000) });
    const bigResult = await post(big, { 'x-signature-ed25519': signature(ts, big), 'x-signature-timestamp': ts }).then(
      (r) => `HTTP ${r.status}`,
      () => 'connection closed before the body was read',
    );
    report.row({
      section: 'Signatures',
      case: 'Discord: a correctly signed 1.1 MB body (cap 1 MB)',
      expected: 'refused unread (413 or connection closed)',
      result: bigResult,
      pass: /^HTTP 413|^connection closed/.test(bigResult),
    });
    expect(bigResult).toMatch(/^HTTP 413|^connection closed/);
    await expectStatus(
      'a new correctly signed PING still works',
      (() => {
        const b3 = ping();
        return post(b3, { 'x-signature-ed25519': signature(ts, b3), 'x-signature-timestamp': ts });
      })(),
      200,
    );
  });
});

describe('Slack HMAC requests (Bolt HTTP receiver)', () => {
  const SECRET = 'reliability-signing-secret';
  const fake = new FakeSlack();
  let slack: SlackAppFixture;
  let n = 0;

  beforeAll(async () => {
    slack = await startSlackApp(fake, { botToken: 'xoxb-test', signingSecret: SECRET });
  });
  afterAll(() => slack.close());

  const slash = (text: string) => {
    const path = `/respond/rel${++n}`;
    return {
      path,
      body: new URLSearchParams({
        command: '/pairstyle',
        text,
        user_id: 'U1',
        user_name: 'u',
        team_id: 'T1',
        team_domain: 't',
        channel_id: 'C1',
        channel_name: 'c',
        response_url: `${fake.origin}${path}`,
        trigger_id: `tr${n}`,
        token: 'x',
        api_app_id: 'A1',
      }).toString(),
    };
  };
  const hmac = (ts: string, body: string, secret = SECRET) => slackSignature(secret, ts, body);
  const post = (body: string, headers: Record<string, string>) =>
    fetch(slack.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body, signal: AbortSignal.timeout(8000) });
  const responses = (path: string) => fake.calls.filter((c) => c.method === path.slice(1)).length;

  async function expectStatus(what: string, res: Promise<Response>, status: number, ran?: { path: string; times: number }) {
    const got = (await res).status;
    let times: number | undefined;
    if (ran) {
      await new Promise((r) => setTimeout(r, 150));
      times = responses(ran.path);
    }
    const pass = got === status && (ran === undefined || times === ran.times);
    report.row({
      section: 'Signatures',
      case: `Slack: ${what}`,
      expected: status === 200 ? 'accepted (200), the command runs once' : `refused (${status}), nothing runs`,
      result: `HTTP ${got}${ran ? `; the command answered ${times} time(s) in all` : ''}`,
      pass,
    });
    expect(got, what).toBe(status);
    if (ran) expect(times, `${what}: command runs`).toBe(ran.times);
  }

  it('accepts a signed command once and refuses forged, stale, future-dated and replayed requests', async () => {
    const ts = String(now());
    const first = slash('help');
    await expectStatus(
      'a correctly signed /pairstyle help',
      post(first.body, { 'x-slack-signature': hmac(ts, first.body), 'x-slack-request-timestamp': ts }),
      200,
      { path: first.path, times: 1 },
    );
    await expectStatus(
      'the same request again (replay within the 5-minute window)',
      post(first.body, { 'x-slack-signature': hmac(ts, first.body), 'x-slack-request-timestamp': ts }),
      401,
      { path: first.path, times: 1 },
    );
    await expectStatus(
      'the same request again with the timestamp zero-padded (same HMAC)',
      post(first.body, { 'x-slack-signature': hmac(ts, first.body), 'x-slack-request-timestamp': `0${ts}` }),
      401,
      { path: first.path, times: 1 },
    );
    const s = slash('help');
    await expectStatus('signed with a wrong secret', post(s.body, { 'x-slack-signature': hmac(ts, s.body, 'wrong'), 'x-slack-request-timestamp': ts }), 401, {
      path: s.path,
      times: 0,
    });
    await expectStatus(
      'body altered after signing (help -> list)',
      post(s.body.replace('help', 'list'), { 'x-slack-signature': hmac(ts, s.body), 'x-slack-request-timestamp': ts }),
      401,
      { path: s.path, times: 0 },
    );
    const stale = String(now() - 301);
    await expectStatus(
      'a correct HMAC over a timestamp 301 s old',
      post(s.body, { 'x-slack-signature': hmac(stale, s.body), 'x-slack-request-timestamp': stale }),
      401,
      { path: s.path, times: 0 },
    );
    const future = String(now() + 600);
    await expectStatus(
      'a correct HMAC over a timestamp 10 min ahead',
      post(s.body, { 'x-slack-signature': hmac(future, s.body), 'x-slack-request-timestamp': future }),
      401,
      { path: s.path, times: 0 },
    );
    await expectStatus('no signature headers', post(s.body, {}), 401, { path: s.path, times: 0 });
    await expectStatus(
      'the signature in upper-case hex',
      post(s.body, { 'x-slack-signature': hmac(ts, s.body).toUpperCase().replace('V0=', 'v0='), 'x-slack-request-timestamp': ts }),
      401,
      { path: s.path, times: 0 },
    );
    await expectStatus(
      'a fresh correctly signed command after all that',
      post(s.body, { 'x-slack-signature': hmac(ts, s.body), 'x-slack-request-timestamp': ts }),
      200,
      { path: s.path, times: 1 },
    );
  });
});
