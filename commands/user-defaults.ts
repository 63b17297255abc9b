/**
 * What draw, stylize and blend use for an option the user did not give: their own default from
 * /pairstyle settings (src/store/settings.ts) when they set one, else the bot's (DRAW_DEFAULTS, and
 * STYLIZE_OPTION_DEFAULTS for a stylization; for the style, their last trained one). A default style
 * that is no longer theirs to use is refused with how to change it. A style list the user types
 * (`openmoji::2 crayon::1`, weighted-styles.ts) wins over their default style.
 */
import { msg } from '../src/i18n/message.ts';
import type { StyleRef } from '../src/queue/job.ts';
import { SettingsStore } from '../src/store/settings.ts';
import { randomSeed } from './options.ts';
import { loadStyle } from './style-names.ts';
import { CommandError, type CommandContext } from './types.ts';
import { loadStyleList } from './weighted-styles.ts';
import { STYLIZE_OPTION_DEFAULTS } from '../src/pair/stylize-defaults.ts';

export const DRAW_DEFAULTS = { strength: 3, steps: 30, cfg: 5 };

export interface UserDefaults {
  /** The style to use when none is named: the user's default style, else their last trained one. */
  styleName(): Promise<string | undefined>;
  strength: number;
  /** The strength of a stylization: the user's default strength when they set one, else stylize's own. */
  stylizeStrength: number;
  /** Sampler steps, within the bot's limit. */
  steps: number;
  /** A fresh seed each call, unless the user fixed theirs. */
  seed(): number;
  /** `name` given by the user, else the default style, loaded with the user's rights now. */
  loadStyle(name: string | undefined): Promise<Awaited<ReturnType<typeof loadStyle>> | undefined>;
  /**
   * The styles of a draw or stylization at total `strength`: the list `typed` by the user, its weights
   * sharing the strength, else the default style alone; none when the user has no style.
   */
  loadStyles(typed: string | undefined, strength: number): Promise<{ style: StyleRef; weight: number }[]>;
}

export async function userDefaults(ctx: CommandContext): Promise<UserDefaults> {
  const s = await SettingsStore.beside(ctx.registry).user(ctx.who);
  const styleName = async () => s.style ?? (await ctx.registry.lastTrained(ctx.who));
  const defaults: UserDefaults = {
    styleName,
    strength: s.strength ?? DRAW_DEFAULTS.strength,
    stylizeStrength: s.strength ?? STYLIZE_OPTION_DEFAULTS.strength,
    steps: Math.min(s.steps ?? DRAW_DEFAULTS.steps, ctx.limits.maxDrawSteps),
    seed: () => (typeof s.seed === 'number' ? s.seed : randomSeed()),
    async loadStyle(name) {
      if (name !== undefined) return loadStyle(ctx, name);
      const chosen = await styleName();
      if (chosen === undefined) return undefined;
      if (chosen !== s.style) return loadStyle(ctx, chosen);
      if (!(await ctx.registry.resolve(ctx.who, chosen))) {
        throw new CommandError(msg('defaults.style-gone', { name: chosen }), 'not-found');
      }
      return loadStyle(ctx, chosen);
    },
    async loadStyles(typed, strength) {
      if (typed !== undefined) return loadStyleList(ctx, typed, strength);
      const loaded = await defaults.loadStyle(undefined);
      return loaded ? [{ style: { name: loaded.entry.name, bytes: loaded.bytes }, weight: strength }] : [];
    },
  };
  return defaults;
}
