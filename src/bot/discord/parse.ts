/** Raw interaction payloads (HTTP delivery) -> ParsedInteraction. */
import { ApplicationCommandOptionType, InteractionType, type APIInteraction } from 'discord-api-types/v10';
import type { OptionValue } from '../../../commands/types.ts';
import { discordAttachment, type DiscordFileAccess } from './attachments.ts';
import { discordScope, isGuildAdmin, type ParsedInteraction } from './flow.ts';

interface RawOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: RawOption[];
  focused?: boolean;
}

export function parseRawInteraction(i: APIInteraction, access: DiscordFileAccess = {}): ParsedInteraction | undefined {
  const user = i.member?.user ?? i.user;
  if (!user) return undefined;
  const who = discordScope(i.guild_id, user.id);
  const isAdmin = isGuildAdmin(i.member?.permissions);
  const channel = i.channel?.id ?? (i as { channel_id?: string }).channel_id;
  const place = { ...(channel ? { channel } : {}), ...(Array.isArray(i.member?.roles) ? { roles: i.member.roles } : {}) };
  const locale = 'locale' in i ? i.locale : undefined;
  if (i.type === InteractionType.MessageComponent) return { kind: 'button', who, isAdmin, customId: i.data.custom_id, locale, ...place };
  if (i.type !== InteractionType.ApplicationCommand && i.type !== InteractionType.ApplicationCommandAutocomplete) return undefined;
  const data = i.data as unknown as {
    name: string;
    options?: RawOption[];
    resolved?: { attachments?: Record<string, { filename: string; size: number; url: string; content_type?: string }> };
  };
  const sub = data.options?.find((o) => o.type === ApplicationCommandOptionType.Subcommand);
  if (!sub) return undefined;
  if (i.type === InteractionType.ApplicationCommandAutocomplete) {
    const focused = sub.options?.find((o) => o.focused);
    return { kind: 'autocomplete', who, value: String(focused?.value ?? '') };
  }
  const options: Record<string, OptionValue | undefined> = {};
  for (const o of sub.options ?? []) {
    if (o.type === ApplicationCommandOptionType.Attachment) {
      const a = data.resolved?.attachments?.[String(o.value)];
      if (a) options[o.name] = discordAttachment(a, access);
    } else options[o.name] = o.value;
  }
  return { kind: 'command', who, isAdmin, subcommand: sub.name, options, locale, ...place };
}
