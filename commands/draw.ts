/** /pairstyle draw prompt [strength] [style] [seed] [steps]: the stylized image beside its unstyled twin; `style` may weigh several (openmoji::2 crayon::1). */
import type { DrawArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { randomSeed } from './options.ts';
import { loadStyleList, STYLE_LIST_DESCRIPTION, STYLE_LIST_LENGTH } from './weighted-styles.ts';
import { defineCommand, type CommandContext, type Outcome } from './types.ts';

export const DRAW_DEFAULTS = { strength: 3, steps: 30, cfg: 5 };

export const draw = defineCommand({
  name: 'draw',
  description: 'Draw a prompt in one of your styles (or a style shared here)',
  ephemeral: false,
  options: [
    { name: 'prompt', type: 'string', required: true, maxLength: 200, description: 'what to draw, e.g. "dog face"' },
    { name: 'strength', type: 'number', min: 0, max: 10, description: 'style strength 0-10 (default 3)' },
    { name: 'style', type: 'string', autocomplete: true, maxLength: STYLE_LIST_LENGTH, description: STYLE_LIST_DESCRIPTION },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: 'random seed (same seed, same picture)' },
    { name: 'steps', type: 'integer', min: 1, max: 100, description: 'sampler steps (default 30)' },
  ],
  async run(ctx, o) {
    const styleList = o.style ?? (await ctx.registry.lastTrained(ctx.who));
    const strength = o.strength ?? DRAW_DEFAULTS.strength;
    const styles = styleList && strength > 0 ? await loadStyleList(ctx, styleList, strength) : [];
    const args: DrawArgs = {
      prompt: o.prompt,
      styles,
      seed: o.seed ?? randomSeed(),
      steps: Math.min(o.steps ?? DRAW_DEFAULTS.steps, ctx.limits.maxDrawSteps),
      cfg: DRAW_DEFAULTS.cfg,
    };
    return submitDraw(ctx, args);
  },
});

export async function submitDraw(ctx: CommandContext, args: DrawArgs): Promise<Outcome> {
  const job = await ctx.queue.submit(ctx.who, { kind: 'draw', args }, { route: ctx.route });
  return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
}
