/**
 * Style names the user typed that match nothing they can use: the registry's refusal, completed with
 * the closest names among the user's own and the styles shared in their workspace (never another
 * user's private style), e.g. "no style named 'opnmoji' that you can use (see /pairstyle list); did
 * you mean 'openmoji'?".
 */
import { checkStyleName } from '../src/store/style-directory.ts';
import type { UserError } from '../src/errors/user-error.ts';
import { msg, say, type Param, type Text } from '../src/i18n/message.ts';
import type { CommandContext } from './types.ts';

/** The `name` option of the commands that act on one style (delete, share, unshare, export). */
export const styleNameOption = (description: Text) =>
  ({ name: 'name', type: 'string', required: true, autocomplete: true, maxLength: 32, description }) as const;

/** Edit distance with transpositions (optimal string alignment), stopping early past `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur.push(d);
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `limit` of `candidates` close to `typed`: small edit distance, or one contains the other. */
export function closeNames(typed: string, candidates: readonly string[], limit = 3): string[] {
  const t = typed.trim().toLowerCase();
  if (!t) return [];
  const max = Math.max(1, Math.min(3, Math.floor(t.length / 3)));
  return [...new Set(candidates)]
    .filter((c) => c !== t)
    .map((c) => ({
      c,
      d: Math.min(t.length, c.length) >= 3 && (c.includes(t) || t.includes(c)) ? Math.min(editDistance(t, c, max), max) - 0.5 : editDistance(t, c, max),
    }))
    .filter((x) => x.d <= max)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, limit)
    .map((x) => x.c);
}

/** The close names to suggest ("'a' or 'b'") for a name the requester cannot use; undefined when nothing is close (or the name exists). */
export async function styleSuggestion(ctx: Pick<CommandContext, 'who' | 'registry'>, typed: string): Promise<Param | undefined> {
  const { own, shared } = await ctx.registry.list(ctx.who);
  const names = [...own, ...shared].map((e) => e.name);
  const close = closeNames(typed, names);
  if (!close.length || names.includes(typed.trim().toLowerCase())) return undefined;
  return orList(close.map((n) => `'${n}'`));
}

/** "a, b or c" in the reader's language (one item as it is). */
export const orList = (items: readonly string[]): Param =>
  items.length > 1 ? msg('list.or', { items: items.slice(0, -1).join(', '), last: items.at(-1)! }) : items[0]!;

/**
 * Runs a registry operation on the style `name`; when it is refused because no such style exists for
 * the requester (a RegistryError while the name is not among the names they can see), the refusal
 * gains the close names. A malformed name is refused by checkStyleName first.
 */
export async function withStyleSuggestions<T>(ctx: Pick<CommandContext, 'who' | 'registry'>, name: string, op: () => Promise<T>): Promise<T> {
  checkStyleName(name);
  try {
    return await op();
  } catch (e) {
    const err = e as Error;
    if (err?.name !== 'RegistryError') throw e;
    const names = await styleSuggestion(ctx, name).catch(() => undefined);
    if (names) {
      const text = msg('style.did-you-mean', { refusal: (err as UserError).text ?? err.message.replace(/[.\s]+$/, ''), names });
      Object.assign(err, { text, message: say(text) });
    }
    throw err;
  }
}

/** registry.load with suggestions for a name that matches nothing the requester can use. */
export function loadStyle(ctx: Pick<CommandContext, 'who' | 'registry'>, name: string) {
  return withStyleSuggestions(ctx, name, () => ctx.registry.load(ctx.who, name));
}
