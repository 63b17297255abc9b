/**
 * The Slack adapter over Bolt's HTTP receiver on 127.0.0.1, wired to the in-process bot backend of
 * bot-fixture.ts and a loopback fake of Slack's Web API; and requests signed as Slack signs them (v0:
 * HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret).
 */
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '@slack/bolt';
import { createSlackApp } from '../../src/bot/slack/app.ts';
import type { FakeSlack } from '../../testing/fake-slack.ts';
import { botBackend } from './bot-fixture.ts';

export interface SlackAppFixture {
  app: App;
  /** The receiver's events URL (http://127.0.0.1:<port>/slack/events). */
  url: string;
  backend: Awaited<ReturnType<typeof botBackend>>;
  /** Stops the app, the backend's queue and the fake. */
  close(): Promise<void>;
}

/** Starts `fake` and a Slack app that talks to it (token verification off, its file origin allowed). */
export async function startSlackApp(fake: FakeSlack, opts: { botToken: string; signingSecret: string }): Promise<SlackAppFixture> {
  await fake.start(opts.botToken);
  const backend = await botBackend();
  const app = createSlackApp({
    ...backend,
    botToken: opts.botToken,
    signingSecret: opts.signingSecret,
    clientOptions: { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } },
    tokenVerificationEnabled: false,
    allowInsecureFileOrigins: [fake.origin],
  });
  const server = (await app.start({ port: 0, host: '127.0.0.1' })) as Server;
  return {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
    backend,
    close: async () => {
      await app.stop();
      await backend.queue.close();
      await fake.close();
    },
  };
}

/** The x-slack-signature of `body` sent at `ts` (seconds, as text). */
export const slackSignature = (secret: string, ts: string, body: string): string =>
  `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;

export interface SignedPostOptions {
  /** Request time in seconds (default now). */
  ts?: number;
  /** Changes the body after it was signed. */
  alter?: (body: string) => string;
  contentType?: string;
  timeoutMs?: number;
}

/** POSTs `body` to a Slack receiver, signed with `secret`. */
export function postSignedToSlack(url: string, secret: string, body: string, opts: SignedPostOptions = {}): Promise<Response> {
  const ts = String(opts.ts ?? Math.floor(Date.now() / 1000));
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-signature': slackSignature(secret, ts, body),
      'x-slack-request-timestamp': ts,
    },
    body: opts.alter ? opts.alter(body) : body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  });
}
