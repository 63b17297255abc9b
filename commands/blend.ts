/** /pairstyle blend style_a style_b [prompt] [ratio] [strength] [seed]: mix two styles, or a strip from A to B. */
import { msg } from '../src/i18n/message.ts';
import type { BlendArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { loadStyle } from './style-names.ts';
import { defineCommand, type CommandContext, type Outcome } from './types.ts';
import { DRAW_DEFAULTS } from './draw.ts';
import { userDefaults } from './user-defaults.ts';

export const blend = defineCommand({
  name: 'blend',
  description: msg('describe.blend'),
  ephemeral: false,
  options: [
    { name: 'style_a', type: 'string', required: true, autocomplete: true, maxLength: 32, description: msg('describe.blend.style_a') },
    { name: 'style_b', type: 'string', required: true, autocomplete: true, maxLength: 32, description: msg('describe.blend.style_b') },
    { name: 'prompt', type: 'string', maxLength: 200, description: msg('describe.blend.prompt') },
    { name: 'ratio', type: 'number', min: 0, max: 1, description: msg('describe.blend.ratio') },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.blend.strength') },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: msg('describe.blend.seed') },
  ],
  async run(ctx, o) {
    const a = await loadStyle(ctx, o.style_a);
    const b = await loadStyle(ctx, o.style_b);
    // Options not given: the user's defaults (/pairstyle settings), else the bot's.
    const mine = await userDefaults(ctx);
    const args: BlendArgs = {
      prompt: o.prompt ?? String(a.entry.info.subject ?? 'picture'),
      a: { name: a.entry.name, bytes: a.bytes },
      b: { name: b.entry.name, bytes: b.bytes },
      ratio: o.ratio,
      strength: o.strength ?? mine.strength,
      strip: 5,
      seed: o.seed ?? mine.seed(),
      steps: mine.steps,
      cfg: DRAW_DEFAULTS.cfg,
    };
    return submitBlend(ctx, args);
  },
});

export async function submitBlend(ctx: CommandContext, args: BlendArgs): Promise<Outcome> {
  const job = await ctx.queue.submit(ctx.who, { kind: 'blend', args }, { route: ctx.route });
  return { type: 'job', job, finalize: (j) => finalizeJob(ctx.registry, j) };
}
