/**
 * Weighted style lists, as Midjourney users write them: `openmoji::2 crayon::1` (entries separated by
 * spaces or commas; a name without `::` weighs 1). Weights are relative: a draw spreads its total
 * strength over the styles in their proportions, so `openmoji::2 crayon::1` at strength 3 guides with
 * openmoji at 2 and crayon at 1. One parser for every place a list is typed: the bot's `style` options
 * (Discord, Slack, the playground) and the command line's `--style`. Autocomplete completes the last
 * entry of a list and keeps the earlier ones and the weights as typed.
 */
import { msg } from '../src/i18n/message.ts';
import { checkStyleName } from '../src/store/style-directory.ts';
import { parseDecimal, printable } from './options.ts';
import type { StyleRef } from '../src/queue/job.ts';
import { loadStyle } from './style-names.ts';
import { CommandError, type CommandContext } from './types.ts';

/** At most this many styles in one draw or stylization (each adds a row per trajectory to every UNet batch). */
export const MAX_STYLES = 4;
/** The largest relative weight (weights only count relative to each other). */
export const MAX_WEIGHT = 100;

export interface WeightedName {
  /** The style name, checked and lower-cased (checkStyleName). */
  name: string;
  /** Relative weight, > 0 (1 when none was written). */
  weight: number;
  /** Whether the entry had `::weight`. */
  weighted: boolean;
}

/** An example of the syntax, for messages. */
export const LIST_EXAMPLE = 'openmoji::2 crayon::1';

/** `name  ::  2` as `name::2`: spaces around `::` belong to the entry. */
const tightened = (text: string): string => text.trim().replace(/\s*::\s*/g, '::');

/** The entries of a list as typed: split at spaces and commas ('' for an empty entry between two commas). */
const entriesOf = (text: string): string[] => {
  const t = tightened(text);
  return t ? t.split(/\s*,\s*|\s+/) : [];
};

function parseEntry(entry: string, position: number, count: number): WeightedName {
  const example = LIST_EXAMPLE;
  const where = count > 1 ? msg('styles.entry', { position }) : msg('styles.the-style');
  if (!entry) throw new CommandError(msg('styles.empty-entry', { where, example }));
  const parts = entry.split('::');
  const [rawName, rawWeight] = parts;
  const shown = printable(entry);
  if (parts.length > 2) throw new CommandError(msg('styles.two-weights', { entry: shown, example }));
  if (!rawName) throw new CommandError(msg('styles.no-name', { entry: shown, example }));
  if (parts.length === 1 && /^[^:]+:[^:]*$/.test(entry)) throw new CommandError(msg('styles.one-colon', { entry: shown, example }));
  const name = checkStyleName(rawName);
  if (rawWeight === undefined) return { name, weight: 1, weighted: false };
  if (!rawWeight) throw new CommandError(msg('styles.no-weight', { entry: shown, name }));
  const weight = parseDecimal(rawWeight);
  const typed = printable(rawWeight, 20);
  if (!Number.isFinite(weight)) throw new CommandError(msg('styles.weight-not-number', { name, weight: typed, example }));
  if (weight < 0) throw new CommandError(msg('styles.weight-negative', { name, weight: typed }));
  if (weight === 0) throw new CommandError(msg('styles.weight-zero', { name }));
  if (weight > MAX_WEIGHT) throw new CommandError(msg('styles.weight-too-big', { name, weight: typed, max: MAX_WEIGHT }));
  return { name, weight, weighted: true };
}

/**
 * A typed style list, checked: every entry a valid style name with an optional weight above 0, no name
 * twice, at most `max` entries. Refusals are CommandErrors (a StyleNameError for a malformed name)
 * that tell the user what to write. Whether the styles exist is the caller's to check.
 */
export function parseStyleList(text: string, max = MAX_STYLES): WeightedName[] {
  const entries = entriesOf(text);
  if (!entries.length) throw new CommandError(msg('styles.none', { example: LIST_EXAMPLE }));
  if (entries.length > max) throw new CommandError(msg('styles.too-many', { count: entries.length, max }));
  const list = entries.map((e, i) => parseEntry(e, i + 1, entries.length));
  const seen = new Set<string>();
  for (const s of list) {
    if (seen.has(s.name)) throw new CommandError(msg('styles.twice', { name: s.name }));
    seen.add(s.name);
  }
  return list;
}

/** The guidance weight of each style: `strength` shared in proportion to the relative weights (to 2 decimals). */
export function styleWeights(list: readonly WeightedName[], strength: number): number[] {
  const total = list.reduce((s, x) => s + x.weight, 0);
  return list.map((x) => Math.round(((strength * x.weight) / total) * 100) / 100);
}

/**
 * The list as typed split around its last entry, for autocomplete: `head` (the earlier entries, kept
 * verbatim), the name `prefix` being typed, and the `tail` (`::weight` when the last entry has one).
 */
export function splitLastEntry(text: string): { head: string; prefix: string; tail: string } {
  const m = /^(.*?)([^\s,]*)$/s.exec(text)!;
  const [head, last] = [m[1], m[2]];
  const cut = last.indexOf('::');
  return cut < 0 ? { head, prefix: last, tail: '' } : { head, prefix: last.slice(0, cut), tail: last.slice(cut) };
}

/** The names of the complete entries before the last one (those autocomplete should not offer again). */
export function namesBefore(head: string): string[] {
  return entriesOf(head)
    .map((e) => e.split('::')[0].trim().toLowerCase())
    .filter(Boolean);
}

/**
 * The styles of a typed list as a job carries them: each loaded for the requester (a name they cannot
 * use is refused, with the close names they can), weighted to share `strength`.
 */
export async function loadStyleList(
  ctx: Pick<CommandContext, 'who' | 'registry'>,
  text: string,
  strength: number,
): Promise<{ style: StyleRef; weight: number }[]> {
  const list = parseStyleList(text);
  const weights = styleWeights(list, strength);
  const out: { style: StyleRef; weight: number }[] = [];
  for (const [i, s] of list.entries()) {
    const { entry, bytes } = await loadStyle(ctx, s.name);
    out.push({ style: { name: entry.name, bytes }, weight: weights[i] });
  }
  return out;
}

/** The `style` option of draw and stylize: one name or a weighted list (Discord: at most 100 characters, its autocomplete values' limit). */
export const STYLE_LIST_LENGTH = 100;
export const STYLE_LIST_DESCRIPTION = msg('describe.style-list', { example: LIST_EXAMPLE });
