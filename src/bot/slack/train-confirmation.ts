/**
 * A training on Slack starts with a confirmation: slash commands carry no files, so the pictures are
 * the user's latest images in the channel or files named by id, and a long training should not start
 * on the wrong pair. `/pairstyle train` checks the request (options, name, room; nothing downloaded),
 * then posts a message that shows each pair, before and after, as thumbnails (image accessories naming
 * the user's own Slack files) with Train / Swap / Cancel buttons. Only the person who asked may press
 * them (anyone else is refused privately). Swap exchanges before and after in every pair; Cancel deletes
 * the message; Train runs the command (download, checks, queue) and the same message then follows the
 * job. Nothing is queued before Train. Waiting confirmations live in memory for 30 minutes (a restart
 * forgets them: their buttons then say so).
 */
import { randomUUID } from 'node:crypto';
import type { webApi } from '@slack/bolt';
import type { types } from '@slack/bolt';
import { checkOptions } from '../../../commands/options.ts';
import { checkTrainRequest, pairAttachments, train } from '../../../commands/train.ts';
import { CommandError, type CommandContext, type Options, type Reply } from '../../../commands/index.ts';
import { msg, t, type Locale } from '../../i18n/message.ts';
import type { Job } from '../../queue/job.ts';
import type { Scope } from '../../store/style-registry.ts';
import { slackText } from './blocks.ts';
import type { SlackAttachment } from './files.ts';

type WebClient = webApi.WebClient;

/** The action ids of a confirmation's buttons: `pst:<train|swap|cancel>:<confirmation id>`. */
export const CONFIRMATION_ACTION = /^pst:(train|swap|cancel):([0-9a-f-]{36})$/;

interface PendingTraining {
  id: string;
  who: Scope;
  channel: string;
  /** The confirmation message. */
  ts: string;
  /** The training's checked options, its pictures as Slack attachments. */
  options: Options;
  /** Whether the message shows the pictures (Slack refused them once: listed by name only). */
  thumbnails: boolean;
  createdAt: number;
}

/** Confirmations waiting for their user's press, for `ttlMs` each, at most `max` (the oldest are forgotten first). */
export class PendingTrainings {
  private readonly byId = new Map<string, PendingTraining>();
  constructor(
    private readonly ttlMs = 30 * 60_000,
    private readonly max = 1000,
  ) {}

  add(p: PendingTraining): void {
    const now = Date.now();
    for (const [id, q] of this.byId) if (now - q.createdAt > this.ttlMs || this.byId.size >= this.max) this.byId.delete(id);
    this.byId.set(p.id, p);
  }

  get(id: string): PendingTraining | undefined {
    const p = this.byId.get(id);
    if (p && Date.now() - p.createdAt > this.ttlMs) this.byId.delete(id);
    return this.byId.get(id);
  }

  delete(id: string): void {
    this.byId.delete(id);
  }
}

/** The options with before and after exchanged in every pair. */
export function swapPairs(o: Options): Options {
  const swapped: Options = { ...o };
  for (const [c, s] of Object.keys(o).flatMap((k) => (/^content\d*$/.test(k) ? [[k, k.replace('content', 'style')]] : [])))
    [swapped[c], swapped[s]] = [o[s], o[c]];
  return swapped;
}

const sameUser = (a: Scope, b: Scope) => a.platform === b.platform && a.workspace === b.workspace && a.user === b.user;

/** The image types Slack shows in a block (png, jpeg, gif); any other picture is listed by name only. */
const SHOWABLE = /^image\/(png|jpe?g|gif)$/i;

/** A picture of a pair as a section with its thumbnail (the user's Slack file shown by id) when Slack can show it. */
function pictureBlock(label: string, a: SlackAttachment, thumbnails: boolean, locale: Locale): types.KnownBlock {
  const thumbnail = thumbnails && a.fileId && SHOWABLE.test(a.contentType ?? '');
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: slackText(t(locale, 'slack.confirm.picture', { label, name: a.name })) },
    ...(thumbnail
      ? {
          accessory: {
            type: 'image' as const,
            slack_file: { id: a.fileId! },
            alt_text: t(locale, 'slack.confirm.alt', { label, name: a.name }).slice(0, 2000),
          },
        }
      : {}),
  };
}

/** The confirmation message in the asker's language: the pairs, before then after, and the three buttons. */
export function confirmationMessage(
  p: Pick<PendingTraining, 'id' | 'options' | 'thumbnails'>,
  locale: Locale = 'en',
): { text: string; blocks: types.KnownBlock[] } {
  const pairs = pairAttachments(p.options as Parameters<typeof pairAttachments>[0]);
  const what = pairs.length === 1 ? msg('slack.confirm.this-pair') : msg('slack.confirm.these-pairs', { count: pairs.length });
  const text = slackText(t(locale, 'slack.confirm.ask', { name: String(p.options.name), pairs: what }));
  const blocks: types.KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  pairs.forEach((pair, i) => {
    const n = i + 1;
    const [before, after] =
      pairs.length === 1
        ? [t(locale, 'slack.confirm.before'), t(locale, 'slack.confirm.after')]
        : [t(locale, 'slack.confirm.pair-before', { n }), t(locale, 'slack.confirm.pair-after', { n })];
    blocks.push(
      pictureBlock(before, pair.content as SlackAttachment, p.thumbnails, locale),
      pictureBlock(after, pair.style as SlackAttachment, p.thumbnails, locale),
    );
  });
  const button = (action: string, label: string, style?: 'primary' | 'danger') => ({
    type: 'button' as const,
    action_id: `pst:${action}:${p.id}`,
    text: { type: 'plain_text' as const, text: label },
    ...(style ? { style } : {}),
  });
  blocks.push({
    type: 'actions',
    elements: [
      button('train', t(locale, 'slack.confirm.train'), 'primary'),
      button('swap', t(locale, 'slack.confirm.swap')),
      button('cancel', t(locale, 'slack.confirm.cancel'), 'danger'),
    ],
  });
  return { text, blocks };
}

/**
 * A training request checked as the command would before downloading anything (the user's rate
 * limit, the options, the pairs, the name and room): its checked options, or a UserError.
 */
export async function checkTraining(ctx: CommandContext, raw: Options): Promise<Options> {
  ctx.limits.userRate?.take(ctx.who, train.name);
  const options = checkOptions(train.options, raw);
  pairAttachments(options as Parameters<typeof pairAttachments>[0]);
  await checkTrainRequest(ctx, options as { name: string; overwrite?: boolean; steps?: number });
  return options;
}

/**
 * `/pairstyle train` on Slack: checks the request (checkTraining), then posts the confirmation in
 * `channel`. Nothing is queued.
 */
export async function askToTrain(client: WebClient, pending: PendingTrainings, ctx: CommandContext, raw: Options, channel: string): Promise<void> {
  await postConfirmation(client, pending, ctx.who, await checkTraining(ctx, raw), channel, ctx.locale);
}

/** Posts the confirmation of a checked training request in `channel`, in `who`'s language, its buttons for `who` alone. */
export async function postConfirmation(
  client: WebClient,
  pending: PendingTrainings,
  who: Scope,
  options: Options,
  channel: string,
  locale: Locale = 'en',
): Promise<void> {
  const id = randomUUID();
  const post = (thumbnails: boolean) => {
    const message = confirmationMessage({ id, options, thumbnails }, locale);
    return client.chat.postMessage({ channel, text: message.text, blocks: message.blocks });
  };
  let thumbnails = true;
  // Slack refuses blocks naming a file it cannot show here (not visible to the bot in this channel): then names only.
  const posted = await post(true).catch((e) => {
    if ((e as { data?: { error?: string } })?.data?.error !== 'invalid_blocks') throw e;
    thumbnails = false;
    return post(false);
  });
  if (!posted.ts) throw new Error('Slack gave the confirmation message no ts');
  pending.add({ id, who, channel, ts: posted.ts, options, thumbnails, createdAt: Date.now() });
}

/**
 * A press on a confirmation's button by `ctx.who`. Train hands the queued job to `follow` with the
 * confirmation's message, which then shows its progress and result. Refusals are CommandErrors, for
 * the presser alone.
 */
export async function pressConfirmation(
  client: WebClient,
  pending: PendingTrainings,
  ctx: CommandContext,
  actionId: string,
  follow: (job: Job, finalize: (job: Job) => Promise<Reply>, where: { channel: string; ts: string }) => Promise<void>,
): Promise<void> {
  const [, action, id] = CONFIRMATION_ACTION.exec(actionId) ?? [];
  const p = id ? pending.get(id) : undefined;
  if (!p) throw new CommandError(msg('slack.confirm.gone'));
  if (!sameUser(p.who, ctx.who)) throw new CommandError(msg('slack.confirm.not-yours'));
  if (action === 'swap') {
    ctx.limits.userRate?.take(ctx.who, 'swap');
    const options = swapPairs(p.options);
    const message = confirmationMessage({ id: p.id, options, thumbnails: p.thumbnails }, ctx.locale);
    await client.chat.update({ channel: p.channel, ts: p.ts, text: message.text, blocks: message.blocks });
    p.options = options;
    return;
  }
  pending.delete(p.id);
  if (action === 'cancel') {
    await client.chat.delete({ channel: p.channel, ts: p.ts });
    return;
  }
  let outcome: Awaited<ReturnType<typeof train.run>>;
  try {
    outcome = await train.run(ctx, p.options);
  } catch (e) {
    // Refused (a picture that is not an image, the queue full, …): the confirmation stays for another try or Cancel.
    pending.add(p);
    throw e;
  }
  if (outcome.type !== 'job') throw new Error('a training gave no job');
  await follow(outcome.job, outcome.finalize, { channel: p.channel, ts: p.ts });
}
