/**
 * Images for /pairstyle train on Slack: slash commands carry no files, so the pair is the two most recent
 * images the user shared in the channel (older = content/"before", newer = style/"after"), or the files
 * named by id (content:F0123 style:F0456; more pairs of the same style: content2:F… style2:F… up to 4).
 * Downloaded from url_private_download with the bot token, from Slack's file host only, size-capped.
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
  /** Who uploaded it. */
  user?: string;
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
      return fetchCapped(url, {
        hosts: SLACK_FILE_HOSTS,
        maxBytes,
        headers: { Authorization: `Bearer ${access.botToken}` },
        allowInsecureOrigins: access.allowInsecureOrigins,
      });
    },
  };
}

/** A Slack file id as Slack writes them (F followed by capitals and digits). */
const FILE_ID = /^F[A-Z0-9]{5,20}$/;

/** A Slack Web API refusal (file_not_found, missing_scope, …) as a message for the user. */
function slackRefusal(e: unknown, what: string): CommandError {
  const code = (e as { data?: { error?: string } })?.data?.error;
  if (code === 'file_not_found' || code === 'file_deleted')
    return new CommandError(`${what}: Slack cannot find that file (was it deleted, or shared where I cannot see it?)`);
  if (code === 'missing_scope' || code === 'not_allowed_token_type')
    return new CommandError(`${what}: this app is not allowed to read files here (it needs the files:read scope); ask a workspace admin`);
  return new CommandError(`${what}: Slack answered ${code ? `'${String(code).slice(0, 40)}'` : 'with an error'}; try again in a moment`);
}

async function fileInfo(client: WebClient, id: string, role: string, user: string): Promise<SlackFile> {
  if (!FILE_ID.test(String(id)))
    throw new CommandError(
      `'${role}' must be a Slack file id like F0123ABCD (got '${String(id)
        .replace(/[^\w-]/g, '?')
        .slice(0, 30)}')`,
    );
  let file: SlackFile;
  try {
    file = (await client.files.info({ file: id })).file as SlackFile;
  } catch (e) {
    throw slackRefusal(e, `the ${role} file ${id}`);
  }
  // The bot can read more files than the person asking: only their own uploads may be used.
  if (!file || file.user !== user) throw new CommandError(`the ${role} file ${id} was not shared by you; upload your own pair, then run the command again`);
  return file;
}

export async function pairFromChannel(
  client: WebClient,
  access: SlackFileAccess,
  where: { channel: string; user: string },
  ids: { content?: string; style?: string },
): Promise<{ content: Attachment; style: Attachment }> {
  if (ids.content || ids.style) {
    if (!ids.content || !ids.style)
      throw new CommandError('give both content:<file id> and style:<file id>, or neither (then your two latest images here are used)');
    const [c, s] = await Promise.all([fileInfo(client, ids.content, 'content', where.user), fileInfo(client, ids.style, 'style', where.user)]);
    return { content: attachmentOf(c, access), style: attachmentOf(s, access) };
  }
  const files = await latestImages(client, where);
  if (files.length < 2)
    throw new CommandError('share two images in this channel first (the "before", then the "after"), then run /pairstyle train name:<name>');
  return { content: attachmentOf(files[1], access), style: attachmentOf(files[0], access) };
}

/** The user's images in the channel, newest first (at most 10). */
async function latestImages(client: WebClient, where: { channel: string; user: string }): Promise<SlackFile[]> {
  let res: Awaited<ReturnType<WebClient['files']['list']>>;
  try {
    res = await client.files.list({ channel: where.channel, user: where.user, types: 'images', count: 10 });
  } catch (e) {
    throw slackRefusal(e, 'listing your images in this channel');
  }
  return ((res.files ?? []) as SlackFile[]).sort((a, b) => (b.created ?? 0) - (a.created ?? 0));
}

/** The picture for /pairstyle stylize: the file named by id (image:F…), else the user's latest image in the channel. */
export async function pictureFromChannel(
  client: WebClient,
  access: SlackFileAccess,
  where: { channel: string; user: string },
  id?: string,
): Promise<Attachment> {
  if (id) return attachmentOf(await fileInfo(client, id, 'image', where.user), access);
  const [latest] = await latestImages(client, where);
  if (!latest) throw new CommandError('share a picture in this channel first, then run /pairstyle stylize style:<name>');
  return attachmentOf(latest, access);
}

/**
 * Pairs 2..4 named by file id (content2:F… style2:F…, …) as attachments under the same option names;
 * the command checks that pairs are whole and in order. Only the user's own uploads are used.
 */
export async function extraPairsFromIds(
  client: WebClient,
  access: SlackFileAccess,
  user: string,
  options: Record<string, unknown>,
  maxPairs: number,
): Promise<Record<string, Attachment>> {
  const out: Record<string, Attachment> = {};
  for (let k = 2; k <= maxPairs; k++) {
    for (const role of [`content${k}`, `style${k}`]) {
      const id = options[role];
      if (typeof id === 'string') out[role] = attachmentOf(await fileInfo(client, id, role, user), access);
    }
  }
  return out;
}
