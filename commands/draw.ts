/** /pairstyle draw prompt [strength] [style] [seed] [steps]: the stylized image beside its unstyled twin. */
import { msg } from '../src/i18n/message.ts';
import type { DrawArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { randomSeed } from './options.ts';
import { loadStyle } from './style-names.ts';
import { defineCommand, type CommandContext, type Outcome } from './types.ts';

export const DRAW_DEFAULTS = { strength: 3, steps: 30, cfg: 5 };

export const draw = defineCommand({
  name: 'draw',
  description: msg('describe.draw'),
  ephemeral: false,
  options: [
    { name: 'prompt', type: 'string', required: true, maxLength: 200, description: msg('describe.draw.prompt') },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.draw.strength') },
    { name: 'style', type: 'string', autocomplete: true, maxLength: 32, description: msg('describe.draw.style') },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: msg('describe.draw.seed') },
    { name: 'steps', type: 'integer', min: 1, max: 100, description: msg('describe.draw.steps') },
  ],
  async run(ctx, o) {
    const styleName = o.style ?? (await ctx.registry.lastTrained(ctx.who));
    const strength = o.strength ?? DRAW_DEFAULTS.strength;
    const loaded = styleName && strength > 0 ? await loadStyle(ctx, styleName) : undefined;
    const styles = loaded ? [{ style: { name: loaded.entry.name, bytes: loaded.bytes }, weight: strength }] : [];
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
