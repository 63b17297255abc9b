/**
 * Discord over the gateway with discord.js: slash commands, autocomplete and buttons arrive as
 * interactions; replies go through the interaction (deferReply / editReply with `attachments: []` so
 * final images replace the progress message), and through the channel with the bot token once the
 * interaction token has expired.
 */
import { Client, Events, GatewayIntentBits, MessageFlags, Routes, type ChatInputCommandInteraction, type Interaction } from 'discord.js';
import type { OptionValue } from '../../../commands/types.ts';
import { discordAttachment, type DiscordFileAccess } from './attachments.ts';
import {
  autocompleteChoices,
  discordRoute,
  discordScope,
  handleInteraction,
  isGuildAdmin,
  type DiscordDeps,
  type DiscordResponder,
  type ParsedInteraction,
} from './flow.ts';
import { discordMessage, restMessage } from './messages.ts';

export interface DiscordGatewayOptions extends DiscordDeps {
  fileAccess?: DiscordFileAccess;
}

function commandOptions(i: ChatInputCommandInteraction, access: DiscordFileAccess): Record<string, OptionValue | undefined> {
  const out: Record<string, OptionValue | undefined> = {};
  const sub = i.options.data[0];
  for (const o of sub?.options ?? []) {
    if (o.attachment) out[o.name] = discordAttachment(o.attachment, access);
    else if (o.value !== undefined && o.value !== null) out[o.name] = o.value as OptionValue;
  }
  return out;
}

/**
 * The member's role ids: a cached GuildMember keeps them in its role manager (the server's roles it
 * knows), an uncached one is the interaction's raw member with the ids themselves.
 */
function memberRoles(m: NonNullable<Interaction['member']>): string[] {
  return Array.isArray(m.roles) ? [...m.roles] : [...m.roles.cache.keys()];
}

/** Adds the /pairstyle handlers to a discord.js client (logged in by the caller, or driven in tests). */
export function attachPairStyle(client: Client, opts: DiscordGatewayOptions): void {
  const log = opts.log ?? ((m: string, e?: unknown) => console.error(`[discord] ${m}`, e ?? ''));
  client.on(Events.InteractionCreate, (interaction: Interaction) => {
    void onInteraction(client, opts, interaction).catch((e) => log('interaction failed', e));
  });
}

async function onInteraction(client: Client, opts: DiscordGatewayOptions, i: Interaction): Promise<void> {
  if (i.isAutocomplete()) {
    if (i.commandName !== 'pairstyle') return;
    const who = discordScope(i.guildId, i.user.id);
    const focused = i.options.getFocused();
    await i.respond(await autocompleteChoices(opts, who, String(focused)).catch(() => []));
    return;
  }
  let parsed: ParsedInteraction & { kind: 'command' | 'button' };
  const who = discordScope(i.guildId, i.user.id);
  const isAdmin = isGuildAdmin(i.memberPermissions?.bitfield);
  const place = { ...(i.channelId ? { channel: i.channelId } : {}), ...(i.member ? { roles: memberRoles(i.member) } : {}) };
  if (i.isChatInputCommand()) {
    if (i.commandName !== 'pairstyle') return;
    parsed = {
      kind: 'command',
      who,
      isAdmin,
      subcommand: i.options.getSubcommand(),
      options: commandOptions(i, opts.fileAccess ?? {}),
      locale: i.locale,
      ...place,
    };
  } else if (i.isButton()) {
    if (!i.customId.startsWith('ps:')) return;
    parsed = { kind: 'button', who, isAdmin, customId: i.customId, locale: i.locale, ...place };
  } else return;
  const channelId = i.channelId;
  const responder: DiscordResponder = {
    defer: async (ephemeral) => {
      await i.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    },
    refuse: async (text) => {
      await i.reply({ content: text, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    },
    followUpPrivately: async (text) => {
      await i.followUp({ content: text, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    },
    deleteOriginal: async () => {
      await i.deleteReply();
    },
    edit: async (reply) => {
      const m = discordMessage(reply);
      await i.editReply({
        content: m.content,
        components: m.components,
        files: m.files.map((f) => ({ attachment: f.data, name: f.name })),
        attachments: [],
        allowedMentions: m.allowedMentions,
      });
    },
    channelSend: async (reply) => {
      if (!channelId) throw new Error('no channel to post the late result in');
      const m = restMessage(reply);
      await client.rest.post(Routes.channelMessages(channelId), { body: m.body, files: m.files });
    },
  };
  const route = discordRoute(i.applicationId, i.token, channelId ?? undefined, who.user);
  await handleInteraction(opts, parsed, responder, { route });
}

/** A logged-in gateway client with PairStyle attached (REST at `api` when given). */
export async function startDiscordGateway(token: string, opts: DiscordGatewayOptions, api?: string): Promise<Client> {
  // `api`: another Discord-compatible REST API (DISCORD_API_URL); the gateway's address comes from it.
  const client = new Client({ intents: [GatewayIntentBits.Guilds], ...(api ? { rest: { api } } : {}) });
  attachPairStyle(client, opts);
  await client.login(token);
  return client;
}
