/**
 * Discord's HTTP interactions as the tests send them to a bot: the bot's environment for an Ed25519 key
 * pair, /pairstyle commands signed with its private key, and the edits of the deferred reply that the
 * loopback fake Discord records.
 */
import { sign, type KeyObject } from 'node:crypto';
import type { Recorded } from '../../testing/fake-discord.ts';

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

/** POSTs a signed /pairstyle `sub` command of guild g1, channel c1 to a bot's interactions URL. */
export function postDiscordCommand(url: string, privateKey: KeyObject, c: DiscordCommand, timeoutMs = 15_000): Promise<Response> {
  const body = JSON.stringify({
    id: `i-${c.token}`,
    application_id: DISCORD_APP_ID,
    token: c.token,
    version: 1,
    type: 2,
    guild_id: 'g1',
    channel_id: 'c1',
    member: { user: { id: c.user, username: c.user }, permissions: '0' },
    data: { id: 'cmd', name: 'pairstyle', type: 1, options: [{ type: 1, name: c.sub, options: c.options }], ...(c.resolved ? { resolved: c.resolved } : {}) },
  });
  const ts = String(Math.floor(Date.now() / 1000));
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-signature-ed25519': sign(null, Buffer.from(ts + body), privateKey).toString('hex'),
      'x-signature-timestamp': ts,
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** An edit of the deferred reply of interaction `token`. */
export const replyEdit = (token: string) => (r: Recorded) => r.method === 'PATCH' && r.path.includes(`/${token}/messages/@original`);
/** Its final edit (no progress mark). */
export const finalReplyEdit = (token: string) => (r: Recorded) => replyEdit(token)(r) && !/⏳|⚙️/.test(String(r.json?.content));
