/** Discord attachments as command Attachments: read from Discord's CDN/media hosts only. */
import type { Attachment } from '../../../commands/types.ts';
import { fetchCapped } from '../fetch-capped.ts';

export const DISCORD_FILE_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];

export interface DiscordFileAccess {
  /** Test fakes: extra origins (loopback) allowed over http. */
  allowInsecureOrigins?: readonly string[];
}

export function discordAttachment(
  a: { filename?: string; name?: string; size: number; url: string; content_type?: string | null; contentType?: string | null },
  access: DiscordFileAccess = {},
): Attachment {
  return {
    name: a.filename ?? a.name ?? 'file',
    size: a.size,
    contentType: a.content_type ?? a.contentType ?? undefined,
    download: (maxBytes) => fetchCapped(a.url, { hosts: DISCORD_FILE_HOSTS, maxBytes, allowInsecureOrigins: access.allowInsecureOrigins }),
  };
}
