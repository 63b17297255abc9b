/**
 * Discord HTTP interactions endpoint (for hosts that prefer webhooks to a gateway connection):
 * verifies Ed25519 signatures (401 otherwise), answers PING with PONG, autocomplete at once (type 8),
 * commands and buttons with a deferred response (type 5), then edits the reply through @discordjs/rest.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { REST } from '@discordjs/rest';
import { InteractionResponseType, InteractionType, MessageFlags, type APIInteraction } from 'discord-api-types/v10';
import { afterPendingAcks } from '../after-acks.ts';
import type { DiscordFileAccess } from './attachments.ts';
import { autocompleteChoices, discordRoute, ephemeralFor, handleInteraction, restResponder, type DiscordDeps } from './flow.ts';
import { parseRawInteraction } from './parse.ts';
import { discordPublicKey, SignatureVerifier } from './verify.ts';

export interface DiscordHttpOptions extends DiscordDeps {
  publicKey: string;
  applicationId: string;
  /** REST client with the bot token (channel fallback); interaction edits go without auth. */
  rest: REST;
  fileAccess?: DiscordFileAccess;
  maxBodyBytes?: number;
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

export function discordInteractionsHandler(opts: DiscordHttpOptions) {
  const verifier = new SignatureVerifier(discordPublicKey(opts.publicKey));
  const log = opts.log ?? ((m: string, e?: unknown) => console.error(`[discord-http] ${m}`, e ?? ''));
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return json(res, 405, { error: 'POST interactions here' });
    const body = await readBody(req, opts.maxBodyBytes ?? 1_000_000).catch(() => undefined);
    if (!body) return json(res, 413, { error: 'body too large' });
    const sig = req.headers['x-signature-ed25519'];
    const ts = req.headers['x-signature-timestamp'];
    if (!verifier.check(typeof sig === 'string' ? sig : undefined, typeof ts === 'string' ? ts : undefined, body))
      return json(res, 401, { error: 'invalid request signature' });
    let interaction: APIInteraction;
    try {
      interaction = JSON.parse(body.toString('utf8')) as APIInteraction;
    } catch {
      return json(res, 400, { error: 'body is not JSON' });
    }
    if (interaction.type === InteractionType.Ping) return json(res, 200, { type: InteractionResponseType.Pong });
    const parsed = parseRawInteraction(interaction, opts.fileAccess);
    if (!parsed) return json(res, 400, { error: 'unsupported interaction' });
    if (parsed.kind === 'autocomplete') {
      const choices = await autocompleteChoices(opts, parsed.who, parsed.value).catch(() => []);
      return json(res, 200, { type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices } });
    }
    const channelId = interaction.channel?.id ?? (interaction as { channel_id?: string }).channel_id;
    const route = discordRoute(opts.applicationId, interaction.token, channelId, parsed.who.user);
    // The first answer is this request's response: a deferral, or a refusal only the user sees
    // (flow.ts runs the command first, within its acknowledgment deadline).
    const initial = {
      defer: async (ephemeral: boolean) => {
        if (!res.headersSent)
          json(res, 200, { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: ephemeral ? MessageFlags.Ephemeral : 0 } });
      },
      refuse: async (text: string) => {
        if (!res.headersSent)
          json(res, 200, {
            type: InteractionResponseType.ChannelMessageWithSource,
            data: { content: text, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } },
          });
      },
    };
    try {
      await afterPendingAcks();
      await handleInteraction(opts, parsed, restResponder(opts.rest, route, initial), { route });
    } catch (e) {
      log('interaction failed', e);
    } finally {
      // Never leave Discord without an answer.
      await initial.defer(ephemeralFor(parsed));
    }
  };
}

export async function startDiscordHttp(opts: DiscordHttpOptions, port: number, host = '0.0.0.0'): Promise<{ server: Server; port: number }> {
  const handler = discordInteractionsHandler(opts);
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
