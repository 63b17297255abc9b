/**
 * /pairstyle retrain name: trains one of the user's styles again, on the model the bot runs now, from
 * the pictures the store kept with it (src/store/kept-pairs.ts) and with the settings it was trained
 * with (subject, steps). Meant for when the bot's operator has changed its model: a style trained on
 * another model is refused at drawing time, and the refusal names this command. Only the style's owner
 * may retrain it (its pictures are theirs); the style keeps its name and whether it is shared.
 */
import { decodeKeptPairs } from '../src/store/kept-pairs.ts';
import { msg, say } from '../src/i18n/message.ts';
import { finalizeJob } from './finalize.ts';
import { styleNameOption, withStyleSuggestions } from './style-names.ts';
import { checkTrainRequest } from './train.ts';
import { defineCommand } from './types.ts';

export const retrain = defineCommand({
  name: 'retrain',
  description: msg('describe.retrain'),
  ephemeral: false,
  options: [styleNameOption(msg('describe.retrain.name'))],
  async run(ctx, o) {
    const { entry, bytes } = await withStyleSuggestions(ctx, o.name, () => ctx.registry.keptPairs(ctx.who, o.name));
    const kept = decodeKeptPairs(bytes, entry.name);
    const { name } = await checkTrainRequest(ctx, { name: entry.name, overwrite: true, steps: kept.steps });
    const [first, ...more] = kept.pairs;
    const job = await ctx.queue.submit(
      ctx.who,
      {
        kind: 'train',
        args: {
          content: first!.content,
          style: first!.style,
          ...(more.length ? { extraPairs: more, ...(kept.labels ? { pairLabels: kept.labels } : {}) } : {}),
          name,
          subject: kept.subject,
          steps: kept.steps,
          overwrite: true,
          notices: [say(msg('retrain.notice'), ctx.locale)],
        },
      },
      { route: ctx.route },
    );
    return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
  },
});
