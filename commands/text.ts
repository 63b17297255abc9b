/**
 * A typed command line -> subcommand + raw options, for adapters whose users type commands as text
 * (Slack's slash command, the playground's command line): `draw dog face strength:4 seed:7`.
 * `key:value` (or key=value, quotes for spaces: subject:"cat face") sets an option; the remaining words
 * fill the command's text options (`textOptionsOf`: all of them into one when it takes one, e.g. the
 * prompt; one word each when it takes several, e.g. blend's two styles).
 */
import { msg } from '../src/i18n/message.ts';
import { findCommand } from './index.ts';
import { printable } from './options.ts';
import { CommandError, textOptionsOf, type OptionValue } from './types.ts';

export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /(\S+?[:=])?(?:"([^"]*)"|“([^”]*)”|(\S+))/g;
  for (const m of text.matchAll(re)) out.push(`${m[1] ?? ''}${m[2] ?? m[3] ?? m[4] ?? ''}`);
  return out;
}

/** Longer command texts are refused before parsing (Slack itself sends at most a few thousand characters). */
export const MAX_COMMAND_TEXT = 4000;

export function parseCommandText(text: string): { subcommand: string; options: Record<string, OptionValue | undefined> } {
  if (text.length > MAX_COMMAND_TEXT) throw new CommandError(msg('command.too-long', { length: text.length, max: MAX_COMMAND_TEXT }));
  const [sub = 'help', ...rest] = tokenize(text.trim());
  const command = findCommand(sub.toLowerCase());
  const options: Record<string, OptionValue | undefined> = {};
  const words: string[] = [];
  let last = '';
  for (const t of rest) {
    const m = /^([a-z_][a-z0-9_]*)[:=](.*)$/s.exec(t);
    if (m && command.options.some((o) => o.name === m[1])) {
      options[m[1]] = m[2];
      last = m[1];
    } else if (/^[\w-]+::/.test(t)) {
      // `style:openmoji::2 crayon::1`: the second entry of a weighted list, outside the option's value.
      const list = last ? `${last}:"${printable(options[last], 60)} ${printable(t)}"` : `style:"${printable(t)}"`;
      throw new CommandError(msg('command.weighted-unquoted', { entry: printable(t), list }));
    } else if (m && !/^https?$/.test(m[1]))
      throw new CommandError(
        msg('command.unknown-option', { name: m[1]!, command: command.name, options: command.options.map((o) => o.name).join(', ') || msg('options.none') }),
      );
    else words.push(t);
  }
  const slots = textOptionsOf(command)
    .filter((name) => options[name] === undefined)
    .map((name) => ({ name }));
  if (words.length) {
    if (slots.length === 0) throw new CommandError(msg('command.no-free-text', { words: words.join(' ').slice(0, 40), command: command.name }));
    if (slots.length === 1) options[slots[0].name] = words.join(' ');
    else {
      if (words.length > slots.length)
        throw new CommandError(msg('command.too-many-words', { command: command.name, slots: slots.map((s) => s.name).join(' ') }));
      words.forEach((w, i) => (options[slots[i].name] = w));
    }
  }
  return { subcommand: command.name, options };
}
