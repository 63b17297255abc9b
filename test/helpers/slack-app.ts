/**
 * The Slack adapter over Bolt's HTTP receiver on 127.0.0.1, wired to the in-process bot backend of
 * bot-fixture.ts and a loopback fake of Slack's Web API; and requests signed as Slack signs them (v0:
 * HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret).
 */
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '@slack/bolt';
import { createSlackApp, type SlackOptions } from '../../src/bot/slack/app.ts';
import type { FakeSlack } from '../../testing/fake-slack.ts';
import { botBackend } from './bot-fixture.ts';

/** What the Slack app runs on: bot-fixture's backend, or one with another queue (the real engine). */
export type SlackBackend = Omit<Awaited<ReturnType<typeof botBackend>>, 'executor' | 'log'> & Pick<SlackOptions, 'log'>;

export interface SlackAppFixture {
  app: App;
  /** The receiver's events URL (http://127.0.0.1:<port>/slack/events). */
  url: string;
  backend: SlackBackend;
  /** Stops the app, the backend's queue and the fake. */
  close(): Promise<void>;
}

/**
 * Starts `fake` and a Slack app that talks to it (token verification off, its file origin allowed), on
 * `backend` (default: bot-fixture's, a fake executor); `slack` adds options of the Slack adapter.
 */
export async function startSlackApp(
  fake: FakeSlack,
  opts: { botToken: string; signingSecret: string; backend?: SlackBackend; slack?: Partial<SlackOptions> },
): Promise<SlackAppFixture> {
  await fake.start(opts.botToken);
  const backend = opts.backend ?? (await botBackend());
  const app = createSlackApp({
    ...backend,
    ...opts.slack,
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

/** A `/pairstyle <text>` slash command from `user` in `channel` (C1, #art, by default) of team T1, as Slack posts it; its response URL is on `fake`. */
export function slashCommand(fake: FakeSlack, text: string, user: string, n: number, channel = 'C1'): { body: string; respondPath: string } {
  const respondPath = `/respond/${n}`;
  const body = new URLSearchParams({
    command: '/pairstyle',
    text,
    user_id: user,
    user_name: user,
    team_id: 'T1',
    team_domain: 't',
    channel_id: channel,
    channel_name: channel === 'C1' ? 'art' : channel.toLowerCase(),
    response_url: `${fake.origin}${respondPath}`,
    trigger_id: `tr${n}`,
    token: 'x',
    api_app_id: 'A1',
  }).toString();
  return { body, respondPath };
}

/** A press of the button `actionId` by `user` on the message `messageTs` of channel C1, as Slack posts a block_actions payload. */
export function buttonPress(fake: FakeSlack, actionId: string, user: string, n: number, messageTs = '1.1'): { body: string; respondPath: string } {
  const respondPath = `/respond/${n}`;
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 't' },
    user: { id: user, team_id: 'T1' },
    api_app_id: 'A1',
    token: 'x',
    trigger_id: `tr${n}`,
    channel: { id: 'C1', name: 'art' },
    container: { type: 'message', message_ts: messageTs, channel_id: 'C1' },
    message: { type: 'message', ts: messageTs },
    response_url: `${fake.origin}${respondPath}`,
    actions: [{ type: 'button', action_id: actionId, block_id: 'b', value: 'v', action_ts: '1.2' }],
  };
  return { body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), respondPath };
}

/** A submission of the modal `view` (as views.open got it) by `user`, its inputs set to `values` (block_id -> action_id -> value), as Slack posts a view_submission payload. */
export function viewSubmission(view: Record<string, unknown>, user: string, values: Record<string, Record<string, unknown>>, n: number): { body: string } {
  const payload = {
    type: 'view_submission',
    team: { id: 'T1', domain: 't' },
    user: { id: user, team_id: 'T1' },
    api_app_id: 'A1',
    token: 'x',
    trigger_id: `tr${n}`,
    view: { id: `V${n}`, team_id: 'T1', app_id: 'A1', bot_id: 'B1', ...view, state: { values } },
  };
  return { body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString() };
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
