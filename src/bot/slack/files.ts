/**
 * Images for /pairstyle train on Slack: slash commands carry no files, so the pair is the two most recent
 * images the user shared in the channel (older = content/"before", newer = style/"after"), or the files
 * named by id (content:F0123 style:F0456). Downloaded from url_private_download with the bot token,
 * from Slack's file host only, size-capped.
 */
import type { webApi } from '@slack/bolt';

type WebClient = webApi.WebClient;
import type { Attachment } from '../../../commands/types.ts';
import { CommandError } from '../../../commands/types.ts';
import { fetchCapped } from '../fetch-capped.ts';

export const SLACK_FILE_HOSTS = ['files.slack.com'];

export interface SlackFileAccess {
  botToken: string;
  allowInsecureOrigins?: readonly string[];
}

interface SlackFile {
  id?: string;
  name?: string;
  size?: number;
  mimetype?: string;
  url_private_download?: string;
  created?: number;
}

function attachmentOf(f: SlackFile, access: SlackFileAccess): Attachment {
  const url = f.url_private_download;
  return {
    name: f.name ?? f.id ?? 'file',
    size: f.size ?? 0,
    contentType: f.mimetype,
    download: async (maxBytes) => {
      if (!url) throw new Error('the file has no download link (is it an external file?)');
      return fetchCapped(url, { hosts: SLACK_FILE_HOSTS, maxBytes, headers: { Authorization: `Bearer ${access.botToken}` }, allowInsecureOrigins: access.allowInsecureOrigins });
    },
  };
}

export async function pairFromChannel(
  client: WebClient,
  access: SlackFileAccess,
  where: { channel: string; user: string },
  ids: { content?: string; style?: string },
): Promise<{ content: Attachment; style: Attachment }> {
  if (ids.content || ids.style) {
    if (!ids.content || !ids.style) throw new CommandError('give both content:<file id> and style:<file id>, or neither (then your two latest images here are used)');
    const [c, s] = await Promise.all([ids.content, ids.style].map((file) => client.files.info({ file })));
    return { content: attachmentOf(c.file as SlackFile, access), style: attachmentOf(s.file as SlackFile, access) };
  }
  const res = await client.files.list({ channel: where.channel, user: where.user, types: 'images', count: 10 });
  const files = ((res.files ?? []) as SlackFile[]).sort((a, b) => (b.created ?? 0) - (a.created ?? 0));
  if (files.length < 2) throw new CommandError('share two images in this channel first (the "before", then the "after"), then run /pairstyle train name:<name>');
  return { content: attachmentOf(files[1], access), style: attachmentOf(files[0], access) };
}
