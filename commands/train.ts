/** /pairstyle train content style name [subject] [steps] [overwrite]: learn a style from one pair. */
import { checkStyleName } from '../src/store/style-directory.ts';
import { aspectNotice, readImageUpload } from './attachments.ts';
import { finalizeJob } from './finalize.ts';
import { describeJob } from './render.ts';
import { CommandError, type Command, type Attachment } from './types.ts';

export const train: Command = {
  name: 'train',
  description: 'Learn a style from one before/after pair of images',
  ephemeral: false,
  options: [
    { name: 'content', type: 'attachment', required: true, description: 'the "before" image (the plain picture)' },
    { name: 'style', type: 'attachment', required: true, description: 'the "after" image (the same picture in the new style)' },
    { name: 'name', type: 'string', required: true, maxLength: 32, description: 'a name for the style (letters, digits, - or _)' },
    { name: 'subject', type: 'string', maxLength: 60, description: 'what the pair shows, e.g. "cat face"' },
    { name: 'steps', type: 'integer', min: 10, max: 2000, description: 'training steps (default: 300 on the embedded model, 750 on Stable Diffusion)' },
    { name: 'overwrite', type: 'boolean', description: 'replace your style of the same name' },
  ],
  async run(ctx, o) {
    const name = checkStyleName(o.name as string);
    const overwrite = o.overwrite === true;
    const exists = await ctx.registry.has(ctx.who, name);
    if (!overwrite && exists) throw new CommandError(`you already have a style named '${name}': choose another name, or add overwrite:true`);
    const room = await ctx.registry.roomFor(ctx.who);
    if (!exists && room.full) throw new CommandError(`you already keep ${room.count} styles, the most one person may keep here (${room.limit}): delete one (/pairstyle delete) before training another`);
    const steps = o.steps as number | undefined;
    if (steps !== undefined && steps > ctx.limits.maxTrainSteps) throw new CommandError(`'steps' is at most ${ctx.limits.maxTrainSteps} here`);
    const [before, after] = await Promise.all([
      readImageUpload(o.content as Attachment, 'content', ctx.limits.maxUploadBytes),
      readImageUpload(o.style as Attachment, 'style', ctx.limits.maxUploadBytes),
    ]);
    const [content, style] = [before.bytes, after.bytes];
    // Told with the result: an animated picture's first frame is used, a far-from-square pair is centre-cropped.
    const notes = [...before.notices, ...after.notices, aspectNotice(before.check, after.check)].filter((n): n is string => !!n);
    const job = await ctx.queue.submit(
      ctx.who,
      { kind: 'train', args: { content, style, name, subject: o.subject as string | undefined, steps, overwrite, ...(notes.length ? { notices: notes } : {}) } },
      { route: ctx.route },
    );
    return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
  },
};

export { describeJob };
