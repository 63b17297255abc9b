/**
 * What happens to a Discord interaction after it is parsed, whichever way it arrived (gateway or HTTP):
 * run the command first, then acknowledge: a refusal (bad options, a style the user cannot use, the rate
 * limit, a queue cap, someone else's button) is the interaction's first answer, ephemeral (flags 64),
 * so only its user sees it; an accepted command is deferred (publicly unless the command is ephemeral)
 * and its reply edited in with progress and the final images. Discord wants the first answer within 3 s:
 * a command still running after `ackDeadlineMs` is deferred then, and a refusal that comes after a
 * public deferral goes to its user as an ephemeral follow-up while the public placeholder ("thinking…")
 * is deleted. An interaction token lives 15 minutes: past `tokenLifetimeMs` (or when an edit is refused
 * as expired) updates go to the channel as new bot messages instead.
 */
import {
  autocompleteStyles,
  errorText,
  followJob,
  isUserError,
  runButton,
  runCommand,
  findCommand,
  type CommandContext,
  type OptionValue,
  type Outcome,
  type Reply,
} from '../../../commands/index.ts';
import type { REST } from '@discordjs/rest';
import { MessageFlags, Routes } from 'discord-api-types/v10';
import type { Job, JobQueue, ReplyRoute } from '../../queue/job.ts';
import { finalizeJob } from '../../../commands/finalize.ts';
import { restMessage } from './messages.ts';
import type { StyleRegistry, Scope } from '../../store/style-registry.ts';
import type { CommandLimits } from '../../../commands/types.ts';
import { localeOf } from '../../i18n/message.ts';

export interface DiscordDeps {
  registry: StyleRegistry;
  queue: JobQueue;
  limits: CommandLimits;
  /** Progress edits at most this often (default 2000 ms). */
  minEditIntervalMs?: number;
  /** When to stop using the interaction token (default 14 min: Discord's 15 minus a margin). */
  tokenLifetimeMs?: number;
  /** A command still running this long after the interaction arrived is acknowledged (deferred) anyway (default 2000 ms; Discord allows 3 s). */
  ackDeadlineMs?: number;
  log?: (msg: string, e?: unknown) => void;
}

/** How a reply reaches Discord: the gateway and HTTP adapters each implement this. */
export interface DiscordResponder {
  /** The first answer: "thinking…", replaced later by edit(). */
  defer(ephemeral: boolean): Promise<void>;
  /** The first answer instead of defer(): a refusal only the user sees. */
  refuse(text: string): Promise<void>;
  /** After a public defer(): a refusal only the user sees (an ephemeral follow-up message). */
  followUpPrivately(text: string): Promise<void>;
  /** Deletes the deferred reply (the public placeholder of a command refused after it). */
  deleteOriginal(): Promise<void>;
  /** Edits the deferred reply; replaces its files. */
  edit(reply: Reply): Promise<void>;
  /** A new message in the channel with the bot token (after the token expired). */
  channelSend(reply: Reply): Promise<void>;
}

/** Where an interaction came from: its channel and the member's role ids (none in DMs); server settings act on them. */
export interface InteractionPlace {
  channel?: string;
  roles?: readonly string[];
}

/** `locale`: the user's Discord locale code (interaction.locale, e.g. 'de', 'fr', 'en-US'). */
export type ParsedInteraction =
  | ({
      kind: 'command';
      who: Scope;
      isAdmin: boolean;
      subcommand: string;
      options: Record<string, OptionValue | undefined>;
      locale?: string;
    } & InteractionPlace)
  | ({ kind: 'button'; who: Scope; isAdmin: boolean; customId: string; locale?: string } & InteractionPlace)
  | { kind: 'autocomplete'; who: Scope; value: string };

/** The style scope of a Discord user: the guild, or a private scope in DMs. */
export const discordScope = (guildId: string | undefined | null, userId: string): Scope => ({
  platform: 'discord',
  workspace: guildId ?? `dm-${userId}`,
  user: userId,
});

/** Bitfield: ADMINISTRATOR (1 << 3) or MANAGE_GUILD (1 << 5). */
export const isGuildAdmin = (permissions: string | bigint | undefined | null): boolean => {
  if (permissions === undefined || permissions === null) return false;
  const p = BigInt(permissions);
  return (p & (1n << 3n)) !== 0n || (p & (1n << 5n)) !== 0n;
};

export async function autocompleteChoices(deps: DiscordDeps, who: Scope, value: string) {
  return autocompleteStyles({ who, registry: deps.registry }, value);
}

/** Whether the reply to this interaction should be ephemeral (decided before deferring). */
export function ephemeralFor(p: ParsedInteraction): boolean {
  if (p.kind === 'command') {
    try {
      return findCommand(p.subcommand).ephemeral;
    } catch {
      return true;
    }
  }
  return p.kind === 'button' && p.customId.startsWith('ps:cancel:');
}

/**
 * A job's reply route on Discord: the interaction token (edits for 15 minutes, no bot auth needed)
 * and the channel for later. Journaled with the job, so a restarted bot can still answer.
 */
export interface DiscordRoute extends ReplyRoute {
  platform: 'discord';
  applicationId: string;
  token: string;
  channelId?: string;
  user: string;
  /** When the interaction arrived (ms since the epoch): its token's clock. */
  at: number;
}

export const discordRoute = (applicationId: string, token: string, channelId: string | undefined, user: string, at = Date.now()): DiscordRoute => ({
  platform: 'discord',
  applicationId,
  token,
  ...(channelId ? { channelId } : {}),
  user,
  at,
});

/** The first answer to an interaction received over HTTP: the body of the POST's response. */
export interface InitialResponse {
  defer(ephemeral: boolean): Promise<void>;
  refuse(text: string): Promise<void>;
}

/**
 * Replies through REST: the interaction's webhook (no auth), the channel with the bot token. The first
 * answer goes through `initial` (the HTTP endpoint's response); without one (a job resumed after a
 * restart), the interaction was answered long ago.
 */
export function restResponder(rest: REST, route: Pick<DiscordRoute, 'applicationId' | 'token' | 'channelId'>, initial?: InitialResponse): DiscordResponder {
  const answered = async () => undefined;
  return {
    defer: initial ? (ephemeral) => initial.defer(ephemeral) : answered,
    refuse: initial ? (text) => initial.refuse(text) : answered,
    followUpPrivately: async (text) => {
      await rest.post(Routes.webhook(route.applicationId, route.token), {
        body: { content: text, flags: MessageFlags.Ephemeral, allowed_mentions: { parse: [] } },
        auth: false,
      });
    },
    deleteOriginal: async () => {
      await rest.delete(Routes.webhookMessage(route.applicationId, route.token, '@original'), { auth: false });
    },
    edit: async (reply) => {
      const m = restMessage(reply);
      await rest.patch(Routes.webhookMessage(route.applicationId, route.token), { body: m.body, files: m.files, auth: false });
    },
    channelSend: async (reply) => {
      if (!route.channelId) throw new Error('no channel to post the late result in');
      const m = restMessage(reply);
      await rest.post(Routes.channelMessages(route.channelId), { body: m.body, files: m.files });
    },
  };
}

export async function handleInteraction(
  deps: DiscordDeps,
  p: ParsedInteraction & { kind: 'command' | 'button' },
  r: DiscordResponder,
  opts: { route?: DiscordRoute } = {},
): Promise<void> {
  const log = deps.log ?? ((m, e) => console.error(`[discord] ${m}`, e ?? ''));
  const t0 = opts.route?.at ?? Date.now();
  const ephemeral = ephemeralFor(p);
  // The command runs before the first answer, so that a refusal can be that answer; past the deadline
  // the interaction is deferred while it runs on.
  let deferred: Promise<void> | undefined;
  const defer = () => (deferred ??= r.defer(ephemeral));
  const deadline = setTimeout(() => void defer().catch((e) => log('could not acknowledge', e)), Math.max(0, (deps.ackDeadlineMs ?? 2000) - (Date.now() - t0)));
  // Replies and refusals in the user's language; the job's route carries it to the progress and final replies.
  const locale = localeOf(p.locale);
  const route = opts.route && { ...opts.route, locale };
  const ctx: CommandContext = {
    who: p.who,
    isAdmin: p.isAdmin,
    registry: deps.registry,
    queue: deps.queue,
    limits: deps.limits,
    route,
    locale,
    ...(p.channel ? { channel: p.channel } : {}),
    ...(p.roles ? { roles: p.roles } : {}),
  };
  let outcome: Outcome;
  try {
    outcome = p.kind === 'command' ? await runCommand(ctx, p.subcommand, p.options) : await runButton(ctx, p.customId);
  } catch (e) {
    clearTimeout(deadline);
    if (!isUserError(e)) log('command failed', e);
    await refusePrivately(r, errorText(e, locale), ephemeral, deferred).catch((err) => log('could not send an error reply', err));
    return;
  }
  clearTimeout(deadline);
  await defer();
  if (outcome.type === 'reply') {
    await r.edit(outcome.reply).catch((err) => log('could not send a reply', err));
    return;
  }
  await followDiscordJob(deps, outcome.job, outcome.finalize, r, p.who.user, t0);
}

/**
 * A refusal only its user sees: the first answer when the interaction is not acknowledged yet; after an
 * ephemeral deferral, the edit of that private reply; after a public one, an ephemeral follow-up, then
 * the public placeholder is deleted (so the channel keeps no trace of the refused command).
 */
async function refusePrivately(r: DiscordResponder, text: string, ephemeral: boolean, deferred: Promise<void> | undefined): Promise<void> {
  if (!deferred) return r.refuse(text);
  await deferred;
  if (ephemeral) return r.edit({ text });
  await r.followUpPrivately(text);
  await r.deleteOriginal();
}

/** Follows a job to its user on Discord, after a restart: through the journaled route. */
export function resumeDiscordJob(deps: DiscordDeps, rest: REST, job: Job): Promise<void> {
  const route = job.route as DiscordRoute;
  return followDiscordJob(deps, job, (j) => finalizeJob(deps.registry, j), restResponder(rest, route), route.user, route.at);
}

/** Progress edits through the interaction while its token lives; after that only the final result, in the channel. */
async function followDiscordJob(
  deps: DiscordDeps,
  job: Job,
  finalize: (j: Job) => Promise<Reply>,
  r: DiscordResponder,
  user: string,
  t0: number,
): Promise<void> {
  const log = deps.log ?? ((m, e) => console.error(`[discord] ${m}`, e ?? ''));
  const lifetime = deps.tokenLifetimeMs ?? 14 * 60_000;
  let tokenDead = false;
  await followJob(deps.queue, job, finalize, {
    minIntervalMs: deps.minEditIntervalMs,
    onError: (e) => log('job reply failed', e),
    update: async (reply, final) => {
      if (!tokenDead && Date.now() - t0 < lifetime) {
        try {
          await r.edit(reply);
          return;
        } catch (e) {
          if (!isExpiredToken(e)) throw e;
          tokenDead = true;
        }
      }
      tokenDead = true;
      // Past the token's life only the final result is posted (no progress spam in the channel).
      if (final) await r.channelSend({ ...reply, text: `<@${user}> ${reply.text}`, mentions: [user] });
    },
  });
}

/** Discord's answer to an expired interaction token: 401 Invalid Webhook Token (50027) or 404 Unknown Webhook (10015). */
export function isExpiredToken(e: unknown): boolean {
  const err = e as { code?: number; status?: number };
  return err?.code === 50027 || err?.code === 10015 || err?.status === 401;
}
