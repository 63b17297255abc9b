/**
 * Buttons under results: `ps:<action>:<jobId>` — reroll (a new seed), vary (the same picture with
 * another seed's noise mixed in: a close variation), weaker / stronger style, cancel. A button
 * never reuses the style bytes copied into the old job: every press looks each style up again by name
 * with the presser's rights now, so a style its owner has since unshared or deleted is refused.
 */
import { msg, t } from '../src/i18n/message.ts';
import type { DrawArgs, StyleRef } from '../src/queue/job.ts';
import { submitBlend } from './blend.ts';
import { submitDraw } from './draw.ts';
import { submitStylize } from './stylize.ts';
import { randomSeed } from './options.ts';
import { withServerRules } from './server-rules.ts';
import { reply, CommandError, type CommandContext, type Outcome } from './types.ts';

export const BUTTON_PREFIX = 'ps:';

export function parseButton(id: string): { action: string; jobId: string } | undefined {
  const m = /^ps:(reroll|vary|weaker|stronger|cancel):([0-9a-f-]{36})$/.exec(id);
  return m ? { action: m[1], jobId: m[2] } : undefined;
}

export async function runButton(ctx: CommandContext, id: string): Promise<Outcome> {
  const b = parseButton(id);
  if (!b) throw new CommandError(msg('button.not-mine'));
  // Cancelling is never rate limited: it only frees work.
  if (b.action !== 'cancel') ctx.limits.userRate?.take(ctx.who, b.action);
  // The server's rules (allowed channels, quotas) hold for buttons too; cancelling only frees work.
  if (b.action !== 'cancel') ctx = await withServerRules(ctx, 'button');
  const job = ctx.queue.get(b.jobId);
  if (!job) throw new CommandError(msg('button.expired'));
  if (b.action === 'cancel') {
    ctx.queue.cancel(b.jobId, ctx.who);
    return reply(t(ctx.locale, 'button.cancelling'));
  }
  if (job.owner.platform !== ctx.who.platform || job.owner.workspace !== ctx.who.workspace || job.owner.user !== ctx.who.user) {
    throw new CommandError(msg('button.not-yours'));
  }
  const vary = b.action === 'vary' ? { variation: { seed: randomSeed(), strength: VARY_STRENGTH[job.kind as keyof typeof VARY_STRENGTH] } } : {};
  if (job.kind === 'blend') {
    const styles = { a: await currentStyle(ctx, job.args.a), b: await currentStyle(ctx, job.args.b) };
    if (b.action === 'vary') return submitBlend(ctx, { ...job.args, ...styles, ...vary });
    return submitBlend(ctx, { ...job.args, ...styles, seed: randomSeed(), variation: undefined });
  }
  if (job.kind === 'stylize') {
    if (b.action === 'reroll') throw new CommandError(msg('button.nothing-to-reroll'));
    const styles = await Promise.all(job.args.styles.map(async (s) => ({ ...s, style: await currentStyle(ctx, s.style) })));
    return submitStylize(ctx, { ...job.args, styles: b.action === 'vary' ? styles : restrength(styles, b.action), ...vary });
  }
  if (job.kind !== 'draw') throw new CommandError(msg('button.drawings-only'));
  const args: DrawArgs = { ...job.args, styles: await Promise.all(job.args.styles.map(async (s) => ({ ...s, style: await currentStyle(ctx, s.style) }))) };
  if (b.action === 'reroll') Object.assign(args, { seed: randomSeed(), variation: undefined });
  else if (b.action === 'vary') Object.assign(args, vary);
  else args.styles = restrength(args.styles, b.action);
  return submitDraw(ctx, args);
}

/**
 * How far the vary button moves from the picture: for draws and blends the share of the new seed's
 * noise (slerp), for stylizations DDIM's eta from the kept start (whose structure stays).
 */
export const VARY_STRENGTH = { draw: 0.3, blend: 0.3, stylize: 1 } as const;

/** The styles one step weaker or stronger: the total strength moves by 1 (within 0-10), the styles keep their proportions. */
function restrength<S extends { weight: number }>(styles: S[], action: string): S[] {
  const total = styles.reduce((t, s) => t + s.weight, 0);
  const next = Math.max(0, Math.min(10, total + (action === 'stronger' ? 1 : -1)));
  return styles.map((s) => ({ ...s, weight: Math.round((total > 0 ? (s.weight * next) / total : next / styles.length) * 100) / 100 }));
}

/** A style of the old job as the presser may use it now (own first, else shared in their workspace), with its current bytes. */
async function currentStyle(ctx: CommandContext, ref: StyleRef): Promise<StyleRef> {
  if (!(await ctx.registry.resolve(ctx.who, ref.name))) {
    throw new CommandError(msg('button.style-gone', { name: ref.name }));
  }
  const { entry, bytes } = await ctx.registry.load(ctx.who, ref.name);
  return { name: entry.name, bytes };
}
