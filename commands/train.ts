/** /pairstyle train content style name [subject] [steps] [overwrite]: learn a style from one pair. */
import { checkStyleName } from '../src/store/style-directory.ts';
import { readImageAttachment } from './attachments.ts';
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
    { name: 'steps', type: 'integer', min: 10, max: 2000, description: 'training steps (default 300)' },
    { name: 'overwrite', type: 'boolean', description: 'replace your style of the same name' },
  ],
  async run(ctx, o) {
    const name = checkStyleName(o.name as string);
    const overwrite = o.overwrite === true;
    if (!overwrite && (await ctx.registry.has(ctx.who, name))) throw new CommandError(`you already have a style named '${name}': choose another name, or add overwrite:true`);
    const steps = o.steps as number | undefined;
    if (steps !== undefined && steps > ctx.limits.maxTrainSteps) throw new CommandError(`'steps' is at most ${ctx.limits.maxTrainSteps} here`);
    const [content, style] = await Promise.all([
      readImageAttachment(o.content as Attachment, 'content', ctx.limits.maxUploadBytes),
      readImageAttachment(o.style as Attachment, 'style', ctx.limits.maxUploadBytes),
    ]);
    const job = ctx.queue.submit(ctx.who, { kind: 'train', args: { content, style, name, subject: o.subject as string | undefined, steps } });
    return {
      type: 'job',
      job,
      async finalize(j) {
        const r = j.result!;
        await ctx.registry.put(ctx.who, name, r.style!.bytes, r.style!.info, { overwrite });
        return {
          text: `✅ learned style **${name}** in ${r.seconds.toFixed(0)} s. The pair, then sample prompts unstyled and in the style. Draw with \`/pairstyle draw prompt:… style:${name}\``,
          images: r.images,
        };
      },
    };
  },
};

export { describeJob };
