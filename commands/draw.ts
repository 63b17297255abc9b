/** /pairstyle draw prompt [strength] [style] [seed] [steps]: the stylized image beside its unstyled twin; `style` may weigh several (openmoji::2 crayon::1). */
import { msg } from '../src/i18n/message.ts';
import type { DrawArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { STYLE_LIST_DESCRIPTION, STYLE_LIST_LENGTH } from './weighted-styles.ts';
import { defineCommand, type CommandContext, type Outcome } from './types.ts';
import { DRAW_DEFAULTS, userDefaults } from './user-defaults.ts';

export { DRAW_DEFAULTS };

export const draw = defineCommand({
  name: 'draw',
  description: msg('describe.draw'),
  ephemeral: false,
  options: [
    { name: 'prompt', type: 'string', required: true, maxLength: 200, description: msg('describe.draw.prompt') },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.draw.strength') },
    { name: 'style', type: 'string', autocomplete: true, maxLength: STYLE_LIST_LENGTH, description: STYLE_LIST_DESCRIPTION },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: msg('describe.draw.seed') },
    { name: 'steps', type: 'integer', min: 1, max: 100, description: msg('describe.draw.steps') },
  ],
  async run(ctx, o) {
    // Options not given: the user's defaults (/pairstyle settings), else the bot's.
    const mine = await userDefaults(ctx);
    const strength = o.strength ?? mine.strength;
    const styles = strength > 0 ? await mine.loadStyles(o.style, strength) : [];
    const args: DrawArgs = {
      prompt: o.prompt,
      styles,
      seed: o.seed ?? mine.seed(),
      steps: Math.min(o.steps ?? mine.steps, ctx.limits.maxDrawSteps),
      cfg: DRAW_DEFAULTS.cfg,
    };
    return submitDraw(ctx, args);
  },
});

export async function submitDraw(ctx: CommandContext, args: DrawArgs): Promise<Outcome> {
  const job = await ctx.queue.submit(ctx.who, { kind: 'draw', args }, { route: ctx.route });
  return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
}
