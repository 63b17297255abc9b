/**
 * The /pairstyle command set: one module per subcommand; `runCommand` checks the options against the
 * subcommand's spec and runs it. Autocomplete of style names lives here too (own + shared, never
 * another user's private style).
 */
import { msg } from '../src/i18n/message.ts';
import { blend } from './blend.ts';
import { draw } from './draw.ts';
import { del } from './delete.ts';
import { exportStyle } from './export.ts';
import { help } from './help.ts';
import { list } from './list.ts';
import { retrain } from './retrain.ts';
import { settings } from './settings.ts';
import { share } from './share.ts';
import { unshare } from './unshare.ts';
import { checkOptions, printable } from './options.ts';
import { withServerRules } from './server-rules.ts';
import { namesBefore, splitLastEntry } from './weighted-styles.ts';
import { status } from './status.ts';
import { stylize } from './stylize.ts';
import { train } from './train.ts';
import { CommandError, type Command, type CommandContext, type OptionValue, type Outcome } from './types.ts';

export const COMMANDS: readonly Command[] = [train, draw, stylize, blend, list, del, share, unshare, exportStyle, retrain, status, settings, help];
export const ROOT_COMMAND = { name: 'pairstyle', description: msg('describe.pairstyle') };

export function findCommand(name: string): Command {
  const c = COMMANDS.find((c) => c.name === name);
  if (!c) throw new CommandError(msg('command.unknown', { name: printable(name, 30), commands: COMMANDS.map((c) => c.name).join(', ') }));
  return c;
}

/**
 * Checks the options against the subcommand's spec and runs it under the server's rules
 * (commands/server-rules.ts); the user's rate limit (when set) is taken first.
 */
export async function runCommand(ctx: CommandContext, name: string, raw: Record<string, OptionValue | undefined>): Promise<Outcome> {
  ctx.limits.userRate?.take(ctx.who, name);
  const command = findCommand(name);
  const options = checkOptions(command.options, raw);
  return command.run(await withServerRules(ctx, command.name, options), options);
}

/**
 * Choices for an autocompleted style option (at most 25, as Discord allows). In a weighted list
 * (`openmoji::2 cr`) the last entry is completed: the earlier entries and the weights stay as typed,
 * and names already in the list are not offered again. Choices longer than Discord's 100 characters are left out.
 */
export async function autocompleteStyles(ctx: Pick<CommandContext, 'who' | 'registry'>, typed: string): Promise<{ name: string; value: string }[]> {
  const { head, prefix, tail } = splitLastEntry(typed);
  const taken = new Set(namesBefore(head));
  const found = await ctx.registry.autocomplete(ctx.who, prefix.slice(0, 32), 25 + taken.size);
  return found
    .filter((f) => !taken.has(f.name))
    .map((f) => ({ name: `${head}${f.name}${tail}${f.label.slice(f.name.length)}`, value: `${head}${f.name}${tail}` }))
    .filter((c) => c.name.length <= 100 && c.value.length <= 100)
    .slice(0, 25);
}

export * from './types.ts';
export { followJob } from './follow.ts';
export { errorText, isUserError } from './render.ts';
export { runButton, parseButton, BUTTON_PREFIX } from './buttons.ts';
export { HELP } from './help.ts';
export { RateLimitError, UserRateLimiter } from './rate-limit.ts';
