/**
 * /pairstyle train content style name [subject] [steps] [overwrite] [content2 style2 … content4 style4]:
 * learn a style from one before/after pair, or from up to four pairs of the same style.
 */
import { checkStyleName } from '../src/store/style-directory.ts';
import { aspectNotice, readImageUpload } from './attachments.ts';
import { printable } from './options.ts';
import { msg, say } from '../src/i18n/message.ts';
import { finalizeJob } from './finalize.ts';
import { describeJob } from './render.ts';
import { CommandError, defineCommand, type Attachment, type CommandContext } from './types.ts';
import { MAX_PAIRS } from '../src/queue/job.ts';

/** The options of pairs 2..MAX_PAIRS: content2/style2 … (pair 1 is content/style). */
const extraPairOptions = Array.from({ length: MAX_PAIRS - 1 }, (_, i) => i + 2).flatMap((k) => [
  { name: `content${k}` as `content${number}`, type: 'attachment' as const, description: msg('describe.train.contentN', { k }) },
  { name: `style${k}` as `style${number}`, type: 'attachment' as const, description: msg('describe.train.styleN', { k }) },
]);

/** The pairs of a training's options: pair 1 always, pairs 2..MAX_PAIRS when given. */
type PairOptions = { content: Attachment; style: Attachment } & { [k: `content${number}` | `style${number}`]: Attachment | undefined };

/** The pairs' attachments in order, refusing a half pair or a gap (pair 3 without pair 2). */
export function pairAttachments(o: PairOptions): { content: Attachment; style: Attachment; role: string }[] {
  const pairs = [{ content: o.content, style: o.style, role: '' }];
  let gap = 0;
  for (let k = 2; k <= MAX_PAIRS; k++) {
    const [c, s] = [o[`content${k}`], o[`style${k}`]];
    if (!c && !s) {
      gap = gap || k;
      continue;
    }
    if (!c || !s) throw new CommandError(msg('train.half-pair', { k }));
    if (gap) throw new CommandError(msg('train.pair-gap', { k, gap }));
    pairs.push({ content: c, style: s, role: String(k) });
  }
  return pairs;
}

/**
 * What a training request must pass before any picture is downloaded: a valid name that is free (or
 * overwrite), room for another style, steps within this bot's limit. Also checked by a platform that
 * asks its user to confirm the pair first (Slack), so a doomed request is refused before that.
 */
export async function checkTrainRequest(
  ctx: CommandContext,
  o: { name: string; overwrite?: boolean; steps?: number },
): Promise<{ name: string; overwrite: boolean }> {
  const name = checkStyleName(o.name);
  const overwrite = o.overwrite === true;
  const exists = await ctx.registry.has(ctx.who, name);
  if (!overwrite && exists) throw new CommandError(msg('train.name-taken', { name }));
  const room = await ctx.registry.roomFor(ctx.who);
  if (!exists && room.full) throw new CommandError(msg('train.too-many', { count: room.count, limit: String(room.limit) }));
  if (o.steps !== undefined && o.steps > ctx.limits.maxTrainSteps) throw new CommandError(msg('train.steps-limit', { max: ctx.limits.maxTrainSteps }));
  return { name, overwrite };
}

export const train = defineCommand({
  name: 'train',
  description: msg('describe.train'),
  ephemeral: false,
  recentUploads: {
    options: ['content', 'style'],
    missing: msg('describe.train.missing'),
  },
  options: [
    { name: 'content', type: 'attachment', required: true, description: msg('describe.train.content') },
    { name: 'style', type: 'attachment', required: true, description: msg('describe.train.style') },
    { name: 'name', type: 'string', required: true, maxLength: 32, description: msg('describe.train.name') },
    { name: 'subject', type: 'string', maxLength: 60, description: msg('describe.train.subject') },
    { name: 'steps', type: 'integer', min: 10, max: 2000, description: msg('describe.train.steps') },
    { name: 'overwrite', type: 'boolean', description: msg('describe.train.overwrite') },
    ...extraPairOptions,
  ],
  async run(ctx, o) {
    const { name, overwrite } = await checkTrainRequest(ctx, o);
    const steps = o.steps;
    const uploads = await Promise.all(
      pairAttachments(o).map(async (p) => {
        const [before, after] = await Promise.all([
          readImageUpload(p.content, `content${p.role}`, ctx.limits.maxUploadBytes),
          readImageUpload(p.style, `style${p.role}`, ctx.limits.maxUploadBytes),
        ]);
        return { before, after, label: `${printable(p.content.name, 40)} → ${printable(p.style.name, 40)}` };
      }),
    );
    const [{ before, after }, ...more] = uploads;
    // Told with the result: an animated picture's first frame is used, a far-from-square pair is centre-cropped.
    // the same picture twice teaches nothing.
    const notes = uploads
      .flatMap((u) => [
        ...u.before.notices,
        ...u.after.notices,
        aspectNotice(u.before.check, u.after.check),
        Buffer.from(u.before.bytes).equals(Buffer.from(u.after.bytes)) ? msg('train.same-picture') : undefined,
      ])
      .filter((n) => n !== undefined)
      // The job keeps them as text, in the user's language.
      .map((n) => say(n, ctx.locale));
    const extra = more.length
      ? { extraPairs: more.map((u) => ({ content: u.before.bytes, style: u.after.bytes })), pairLabels: uploads.map((u) => u.label) }
      : {};
    const job = await ctx.queue.submit(
      ctx.who,
      {
        kind: 'train',
        args: {
          content: before.bytes,
          style: after.bytes,
          name,
          subject: o.subject,
          steps,
          overwrite,
          ...extra,
          ...(notes.length ? { notices: notes } : {}),
        },
      },
      { route: ctx.route },
    );
    return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
  },
});

/**
 * The content and style images are one file: nothing changes between them, so there is no style to
 * learn. Trained anyway (the person may be trying the bot out) with this warning in the reply; the
 * command line, with no such reply, refuses the pair (src/bot/cli.ts).
 */
export const SAME_PICTURE_NOTICE = say(msg('train.same-picture'));

export { describeJob };
