/**
 * /pairstyle blend style_a style_b [prompt] [ratio] [strength] [seed]: mix two styles, or a strip from A
 * to B. Weights on the names (style_a:openmoji::2 style_b:crayon::1) choose one picture at that mix, as ratio does.
 */
import { msg } from '../src/i18n/message.ts';
import type { BlendArgs } from '../src/queue/job.ts';
import { finalizeJob } from './finalize.ts';
import { loadStyle } from './style-names.ts';
import { CommandError, defineCommand, type CommandContext, type Outcome } from './types.ts';
import { parseStyleList, type WeightedName } from './weighted-styles.ts';
import { DRAW_DEFAULTS } from './draw.ts';
import { userDefaults } from './user-defaults.ts';

export const blend = defineCommand({
  name: 'blend',
  description: msg('describe.blend'),
  ephemeral: false,
  options: [
    { name: 'style_a', type: 'string', required: true, autocomplete: true, maxLength: 40, description: msg('describe.blend.style_a') },
    { name: 'style_b', type: 'string', required: true, autocomplete: true, maxLength: 40, description: msg('describe.blend.style_b') },
    { name: 'prompt', type: 'string', maxLength: 200, description: msg('describe.blend.prompt') },
    { name: 'ratio', type: 'number', min: 0, max: 1, description: msg('describe.blend.ratio') },
    { name: 'strength', type: 'number', min: 0, max: 10, description: msg('describe.blend.strength') },
    { name: 'seed', type: 'integer', min: 0, max: 2 ** 31 - 1, description: msg('describe.blend.seed') },
  ],
  async run(ctx, o) {
    const [wa, wb] = [blendEntry(o.style_a, 'style_a'), blendEntry(o.style_b, 'style_b')];
    const weighted = wa.weighted || wb.weighted;
    if (weighted && o.ratio !== undefined) throw new CommandError(msg('blend.weights-or-ratio', { a: wa.name, b: wb.name }));
    const a = await loadStyle(ctx, wa.name);
    const b = await loadStyle(ctx, wb.name);
    // Options not given: the user's defaults (/pairstyle settings), else the bot's.
    const mine = await userDefaults(ctx);
    const args: BlendArgs = {
      prompt: o.prompt ?? String(a.entry.info.subject ?? 'picture'),
      a: { name: a.entry.name, bytes: a.bytes },
      b: { name: b.entry.name, bytes: b.bytes },
      // Weights make one picture with B's share of the total, as ratio does.
      ratio: weighted ? Math.round((wb.weight / (wa.weight + wb.weight)) * 1000) / 1000 : o.ratio,
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

/** One style of a blend, with its optional weight (the list syntax of draw, one entry). */
function blendEntry(text: string, option: string): WeightedName {
  const list = parseStyleList(text);
  if (list.length !== 1) throw new CommandError(msg('blend.one-style', { option, list: `${list.map((s) => s.name).join('::1 ')}::1` }));
  return list[0];
}
