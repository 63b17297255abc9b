/**
 * Images for commands on Slack: slash commands carry no files, so a command's files are named by id
 * (content:F0123 style:F0456; a training's further pairs content2:F… style2:F… up to 4) or, for a
 * command that takes recent uploads (/pairstyle train), are the most recent images the user shared in
 * the channel (older = content/"before", newer = style/"after"; images of one message uploaded in the
 * same second are ordered as the message attached them, read with conversations.history).
 * Downloaded from url_private_download with the bot token, from Slack's file host only, size-capped.
 */
import type { webApi } from '@slack/bolt';

type WebClient = webApi.WebClient;
import { CommandError, type Attachment, type Command, type OptionValue } from '../../../commands/types.ts';
import { fetchCapped } from '../fetch-capped.ts';
import { msg, type Message } from '../../i18n/message.ts';

export const SLACK_FILE_HOSTS = ['files.slack.com'];

export interface SlackFileAccess {
  botToken: string;
  allowInsecureOrigins?: readonly string[];
}

export interface SlackFile {
  id?: string;
  /** Who uploaded it. */
  user?: string;
  name?: string;
  size?: number;
  mimetype?: string;
  url_private_download?: string;
  created?: number;
}

/** An attachment read from a Slack file, with the file's id (a message may show the file by it: an image block's slack_file). */
export interface SlackAttachment extends Attachment {
  fileId?: string;
}

/** A Slack file object (files.info, files.list, a modal's file input) as an attachment, downloaded only from Slack's file host. */
export function attachmentOf(f: SlackFile, access: SlackFileAccess): SlackAttachment {
  const url = f.url_private_download;
  return {
    fileId: f.id,
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
function slackRefusal(e: unknown, what: Message): CommandError {
  const code = (e as { data?: { error?: string } })?.data?.error;
  if (code === 'file_not_found' || code === 'file_deleted') return new CommandError(msg('slack.file-not-found', { what }));
  if (code === 'missing_scope' || code === 'not_allowed_token_type') return new CommandError(msg('slack.no-files-scope', { what }));
  return new CommandError(
    msg('slack.error', { what, answer: code ? msg('slack.error-code', { code: String(code).slice(0, 40) }) : msg('slack.error-unknown') }),
  );
}

async function fileInfo(client: WebClient, id: string, role: string, user: string): Promise<SlackFile> {
  if (!FILE_ID.test(String(id)))
    throw new CommandError(
      msg('slack.bad-file-id', {
        role,
        id: String(id)
          .replace(/[^\w-]/g, '?')
          .slice(0, 30),
      }),
    );
  let file: SlackFile;
  try {
    file = (await client.files.info({ file: id })).file as SlackFile;
  } catch (e) {
    throw slackRefusal(e, msg('slack.file', { role, id }));
  }
  // The bot can read more files than the person asking: only their own uploads may be used.
  if (!file || file.user !== user) throw new CommandError(msg('slack.not-your-file', { role, id }));
  return file;
}

/**
 * The files of a command on Slack, as attachments under their option names: every attachment option
 * given a file id (content:F0123) is that file; a command that takes recent uploads (the Command's
 * `recentUploads`) gets, when none of those options is given, the user's latest images in the channel,
 * oldest first. Only the user's own uploads are used. Options that are not files are returned as given.
 */
export async function slackAttachments(
  client: WebClient,
  access: SlackFileAccess,
  where: { channel: string; user: string },
  command: Pick<Command, 'options' | 'recentUploads'>,
  options: Record<string, OptionValue | undefined>,
): Promise<Record<string, OptionValue | undefined>> {
  const out = { ...options };
  const recent = command.recentUploads;
  if (recent) {
    const given = recent.options.filter((o) => options[o] !== undefined);
    if (given.length > 0 && given.length < recent.options.length) {
      const ids = recent.options.map((o) => `${o}:<file id>`);
      throw new CommandError(
        recent.options.length === 2
          ? msg('slack.both-or-neither', { a: ids[0]!, b: ids[1]! })
          : msg('slack.all-or-none', { ids: ids.join(', '), count: recent.options.length }),
      );
    }
    if (given.length === 0) {
      const latest = await latestImages(client, where, recent.options.length);
      if (latest.length < recent.options.length) throw new CommandError(recent.missing);
      // Oldest first: the newest image fills the last option.
      recent.options.forEach((o, i) => (out[o] = attachmentOf(latest[recent.options.length - 1 - i], access)));
    }
  }
  for (const spec of command.options) {
    const id = out[spec.name];
    if (spec.type === 'attachment' && typeof id === 'string') out[spec.name] = attachmentOf(await fileInfo(client, id, spec.name, where.user), access);
  }
  return out;
}

/**
 * The user's images in the channel, newest first. Slack's `created` counts seconds, and files.list
 * promises no order within one: when the `wanted` newest include files of the same second, the
 * messages of that moment tell their order (a message's files in the order it attached them).
 */
async function latestImages(client: WebClient, where: { channel: string; user: string }, wanted: number): Promise<SlackFile[]> {
  let res: Awaited<ReturnType<WebClient['files']['list']>>;
  try {
    res = await client.files.list({ channel: where.channel, user: where.user, types: 'images', count: 10 });
  } catch (e) {
    throw slackRefusal(e, msg('slack.listing'));
  }
  const files = ((res.files ?? []) as SlackFile[]).sort((a, b) => (b.created ?? 0) - (a.created ?? 0));
  const newest = files.slice(0, wanted);
  const tied = files.filter((f) => newest.some((g) => g !== f && g.created === f.created));
  if (!tied.length) return files;
  const order = await messageOrder(client, where, tied);
  // Unknown to the messages read (no history scope, or an old message): by id, at least the same every time.
  const rank = (f: SlackFile) => order.get(f.id ?? '') ?? -1;
  return files.sort((a, b) => (b.created ?? 0) - (a.created ?? 0) || rank(b) - rank(a) || String(b.id).localeCompare(String(a.id)));
}

/**
 * Each of `files` ranked by when the user's messages around their upload attached it (higher = later);
 * empty when the history cannot be read (the app lacks the channels:history / groups:history scope).
 */
async function messageOrder(client: WebClient, where: { channel: string; user: string }, files: SlackFile[]): Promise<Map<string, number>> {
  const times = files.map((f) => f.created ?? 0);
  const order = new Map<string, number>();
  try {
    // A message is posted once its files are uploaded: a minute either side finds it.
    const res = await client.conversations.history({
      channel: where.channel,
      oldest: String(Math.min(...times) - 60),
      latest: String(Math.max(...times) + 60),
      inclusive: true,
      limit: 100,
    });
    const messages = (res.messages ?? []).filter((m) => m.user === where.user && m.files?.length).sort((a, b) => Number(a.ts) - Number(b.ts));
    let rank = 0;
    for (const m of messages) for (const f of m.files ?? []) if (f.id) order.set(f.id, rank++);
  } catch {
    // Without the history the order falls back to the file ids; the confirmation shows it, and Swap fixes it.
  }
  return order;
}
