/** /pairstyle draw prompt [strength] [style] [seed] [steps]: the stylized image beside its unstyled twin. */
import type { DrawArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { defineCommand, type CommandContext, type Outcome } from './types.ts';
import { DRAW_DEFAULTS, userDefaults } from './user-defaults.ts';

export { DRAW_DEFAULTS };

export const draw = defineCommand({
  name: 'draw',
  description: 'Draw a prompt in one of your styles (or a style shared here)',
  ephemeral: false,
  options: [
    { name: 'prompt', type: 'string', required: true, maxLength: 200, description: 'what to draw, e.g. "dog face"' },
    { name: 'strength', type: 'number', min: 0, max: 10, description: 'style strength 0-10 (default 3)' },
    { name: 'style', type: 'string', autocomplete: true, maxLength: 32, description: 'style name (default: your last trained)' },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: 'random seed (same seed, same picture)' },
    { name: 'steps', type: 'integer', min: 1, max: 100, description: 'sampler steps (default 30)' },
  ],
  async run(ctx, o) {
    // Options not given: the user's defaults (/pairstyle settings), else the bot's.
    const mine = await userDefaults(ctx);
    const strength = o.strength ?? mine.strength;
    const loaded = strength > 0 ? await mine.loadStyle(o.style) : undefined;
    const styles = loaded ? [{ style: { name: loaded.entry.name, bytes: loaded.bytes }, weight: strength }] : [];
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
