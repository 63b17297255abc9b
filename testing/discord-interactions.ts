/**
 * Discord's HTTP interactions as tests and benchmarks send them to a bot: the bot's environment for an
 * Ed25519 key pair, interaction bodies (guild g1, channel c1) and /pairstyle commands, Discord's
 * signature headers, and the edits of the deferred reply that the loopback fake Discord records.
 */
import { sign, type KeyObject } from 'node:crypto';
import type { Recorded } from './fake-discord.ts';

export const DISCORD_APP_ID = '123456789012345678';

/** An Ed25519 public key as Discord shows it: the raw 32 bytes in hex. */
export const discordPublicKeyHex = (k: KeyObject): string => k.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');

/** The settings of a bot on Discord's HTTP interactions (any free port) that trusts `publicKey`. */
export const discordHttpEnv = (publicKey: KeyObject): Record<string, string> => ({
  DISCORD_TOKEN: 'bot-token',
  DISCORD_APP_ID,
  DISCORD_MODE: 'http',
  DISCORD_PUBLIC_KEY: discordPublicKeyHex(publicKey),
  DISCORD_HTTP_PORT: '0',
});

export interface DiscordCommand {
  /** Interaction token (the reply's webhook path names it); also the interaction id's suffix. */
  token: string;
  user: string;
  sub: string;
  options: unknown[];
  resolved?: unknown;
}

export interface InteractionFields {
  /** The application the interaction is for (the reply's webhook path names it). */
  appId: string;
  id: string;
  token: string;
  /** 2 a command, 3 a component (button). */
  type: number;
  user: string;
  data: unknown;
  /** More top-level fields (e.g. the `message` of a button press). */
  extra?: Record<string, unknown>;
}

/** The JSON body of an interaction in guild g1, channel c1, by `user` (no permissions). */
export const interactionBody = (f: InteractionFields): string =>
  JSON.stringify({
    id: f.id,
    application_id: f.appId,
    token: f.token,
    version: 1,
    type: f.type,
    guild_id: 'g1',
    channel_id: 'c1',
    channel: { id: 'c1', type: 0 },
    member: { user: { id: f.user, username: f.user }, permissions: '0' },
    data: f.data,
    ...f.extra,
  });

/** The `data` of a /pairstyle `sub` command with its options (and the resolved attachments they name). */
export const pairstyleCommandData = (sub: string, options: unknown[], resolved?: unknown) => ({
  id: 'cmd',
  name: 'pairstyle',
  type: 1,
  options: [{ type: 1, name: sub, options }],
  ...(resolved ? { resolved } : {}),
});

/** Discord's signature headers of `body` sent at `ts` (seconds, as text): Ed25519 over timestamp + body. */
export const discordSignatureHeaders = (body: string, privateKey: KeyObject, ts = String(Math.floor(Date.now() / 1000))): Record<string, string> => ({
  'content-type': 'application/json',
  'x-signature-ed25519': sign(null, Buffer.from(ts + body), privateKey).toString('hex'),
  'x-signature-timestamp': ts,
});

/** POSTs a signed /pairstyle `sub` command of guild g1, channel c1 to a bot's interactions URL. */
export function postDiscordCommand(url: string, privateKey: KeyObject, c: DiscordCommand, timeoutMs = 15_000): Promise<Response> {
  const body = interactionBody({
    appId: DISCORD_APP_ID,
    id: `i-${c.token}`,
    token: c.token,
    type: 2,
    user: c.user,
    data: pairstyleCommandData(c.sub, c.options, c.resolved),
  });
  return fetch(url, { method: 'POST', headers: discordSignatureHeaders(body, privateKey), body, signal: AbortSignal.timeout(timeoutMs) });
}

/** An edit of the deferred reply of interaction `token`. */
export const replyEdit = (token: string) => (r: Recorded) => r.method === 'PATCH' && r.path.includes(`/${token}/messages/@original`);
/** Its final edit (no progress mark). */
export const finalReplyEdit = (token: string) => (r: Recorded) => replyEdit(token)(r) && !/⏳|⚙️/.test(String(r.json?.content));
