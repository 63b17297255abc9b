/** /pairstyle stylize image [style] [strength] [keep]: a picture of your own redrawn in a style, beside its plain reconstruction. */
import type { StylizeArgs } from '../src/queue/job.ts';
import { readImageUpload } from './attachments.ts';
import { DRAW_DEFAULTS } from './draw.ts';
import { finalizeJob } from './finalize.ts';
import { printable } from './options.ts';
import { loadStyleList, STYLE_LIST_DESCRIPTION, STYLE_LIST_LENGTH } from './weighted-styles.ts';
import { CommandError, defineCommand, type CommandContext, type Outcome } from './types.ts';

export const stylize = defineCommand({
  name: 'stylize',
  description: 'Redraw a picture of your own in one of your styles (or a style shared here)',
  ephemeral: false,
  // Slack has no file options: the user's latest picture in the channel, unless image:<file id> names one.
  recentUploads: { options: ['image'], missing: 'share a picture in this channel first, then run /pairstyle stylize style:<name>' },
  options: [
    { name: 'image', type: 'attachment', required: true, description: 'the picture to redraw' },
    { name: 'style', type: 'string', autocomplete: true, maxLength: STYLE_LIST_LENGTH, description: STYLE_LIST_DESCRIPTION },
    { name: 'strength', type: 'number', min: 0, max: 10, description: `style strength 0-10 (default ${DRAW_DEFAULTS.strength})` },
    { name: 'keep', type: 'number', min: 0, max: 0.95, description: 'how much of the picture to keep, 0-0.95 (default 0.8; more keeps more of its shapes)' },
  ],
  async run(ctx, o) {
    const styleList = o.style ?? (await ctx.registry.lastTrained(ctx.who));
    if (!styleList) throw new CommandError('you have no style yet: train one first (/pairstyle train), or name a shared one with style:');
    const strength = o.strength ?? DRAW_DEFAULTS.strength;
    const styles = await loadStyleList(ctx, styleList, strength);
    const attachment = o.image;
    const upload = await readImageUpload(attachment, 'picture', ctx.limits.maxUploadBytes);
    const args: StylizeArgs = {
      image: upload.bytes,
      imageName: printable(attachment.name, 60),
      styles,
      ...(o.keep !== undefined ? { keep: o.keep } : {}),
      ...(upload.notices.length ? { notices: upload.notices } : {}),
    };
    return submitStylize(ctx, args);
  },
});

export async function submitStylize(ctx: CommandContext, args: StylizeArgs): Promise<Outcome> {
  const job = await ctx.queue.submit(ctx.who, { kind: 'stylize', args }, { route: ctx.route });
  return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
}
