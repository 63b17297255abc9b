/** /pairstyle stylize image [style] [strength] [keep]: a picture of your own redrawn in a style, beside its plain reconstruction. */
import type { StylizeArgs } from '../src/queue/job.ts';
import { readImageUpload } from './attachments.ts';
import { finalizeJob } from './finalize.ts';
import { printable } from './options.ts';
import { msg, say } from '../src/i18n/message.ts';
import { STYLE_LIST_DESCRIPTION, STYLE_LIST_LENGTH } from './weighted-styles.ts';
import { CommandError, defineCommand, type CommandContext, type Outcome } from './types.ts';
import { STYLIZE_OPTION_DEFAULTS } from '../src/pair/stylize-defaults.ts';
import { userDefaults } from './user-defaults.ts';

export const stylize = defineCommand({
  name: 'stylize',
  description: msg('describe.stylize'),
  ephemeral: false,
  // Slack has no file options: the user's latest picture in the channel, unless image:<file id> names one.
  recentUploads: { options: ['image'], missing: msg('describe.stylize.missing') },
  options: [
    { name: 'image', type: 'attachment', required: true, description: msg('describe.stylize.image') },
    { name: 'style', type: 'string', autocomplete: true, maxLength: STYLE_LIST_LENGTH, description: STYLE_LIST_DESCRIPTION },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.stylize.strength', { strength: STYLIZE_OPTION_DEFAULTS.strength }) },
    { name: 'keep', type: 'number', min: 0, max: 0.95, description: msg('describe.stylize.keep', { keep: STYLIZE_OPTION_DEFAULTS.keep }) },
  ],
  async run(ctx, o) {
    // Options not given: the user's defaults (/pairstyle settings), else the bot's.
    const mine = await userDefaults(ctx);
    const strength = o.strength ?? mine.stylizeStrength;
    const styles = await mine.loadStyles(o.style, strength);
    if (!styles.length) throw new CommandError(msg('stylize.no-style'));
    const attachment = o.image;
    const upload = await readImageUpload(attachment, msg('upload.role-picture'), ctx.limits.maxUploadBytes);
    const args: StylizeArgs = {
      image: upload.bytes,
      imageName: printable(attachment.name, 60),
      styles,
      ...(o.keep !== undefined ? { keep: o.keep } : {}),
      // Told with the result, in the user's language (the job keeps them as text).
      ...(upload.notices.length ? { notices: upload.notices.map((n) => say(n, ctx.locale)) } : {}),
    };
    return submitStylize(ctx, args);
  },
});

export async function submitStylize(ctx: CommandContext, args: StylizeArgs): Promise<Outcome> {
  const job = await ctx.queue.submit(ctx.who, { kind: 'stylize', args }, { route: ctx.route });
  return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
}
