/** Option checking shared by every adapter: types, ranges, required options, prompts. */
import { printable } from '../src/errors/user-error.ts';
import { msg, type Message } from '../src/i18n/message.ts';
import { CommandError, type Attachment, type OptionSpec, type Options, type OptionValue } from './types.ts';

export function isAttachment(v: unknown): v is Attachment {
  return typeof v === 'object' && v !== null && 'download' in v;
}

/** A number as people type it: decimal, optional sign, fraction and exponent (no hex, no 'Infinity'). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** Characters refused in text options: C0/C1 controls and DEL, bidirectional overrides, broken (lone surrogate) characters. */
const CONTROL = /\p{Cc}/u;
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /\p{Cs}/u;
/** Characters that show nothing: zero-width space / joiners, word joiner, byte-order mark. */
const INVISIBLE = /[\u200b-\u200d\u2060\ufeff]/g;

/** A typed number (surrounding spaces allowed), NaN unless it is a plain decimal: '' , '0x10', 'Infinity' are not. */
export const parseDecimal = (text: string): number => (DECIMAL.test(text.trim()) ? Number(text.trim()) : NaN);

/** What is wrong with a piece of typed text (it "contains ..."), or undefined: controls, bidi overrides, broken characters. */
export function textProblem(v: string): Message | undefined {
  if (CONTROL.test(v)) return msg('text.control-characters');
  if (BIDI.test(v)) return msg('text.direction-characters');
  if (LONE_SURROGATE.test(v)) return msg('text.broken-characters');
  return undefined;
}

/** Text trimmed, or '' when nothing visible is left (only spaces and zero-width characters). */
export const visibleText = (v: string): string => (v.replace(INVISIBLE, '').trim() ? v.trim() : '');

export { printable };
const shown = printable;

/** Checks raw option values (strings from Slack text, typed values from Discord) against the spec. */
export function checkOptions(specs: readonly OptionSpec[], raw: Record<string, OptionValue | undefined>): Options {
  const out: Options = {};
  for (const key of Object.keys(raw)) {
    if (!specs.some((s) => s.name === key))
      throw new CommandError(msg('options.unknown', { name: shown(key, 30), options: specs.map((s) => s.name).join(', ') || msg('options.none') }));
  }
  for (const s of specs) {
    const v = raw[s.name];
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '' && s.type !== 'string')) {
      if (s.required) throw new CommandError(msg('options.required', { name: s.name, description: s.description }));
      continue;
    }
    switch (s.type) {
      case 'attachment':
        if (!isAttachment(v)) throw new CommandError(msg('options.attachment', { name: s.name }));
        out[s.name] = v;
        break;
      case 'boolean':
        if (typeof v === 'boolean') out[s.name] = v;
        else if (/^(true|yes|1)$/i.test(String(v))) out[s.name] = true;
        else if (/^(false|no|0)$/i.test(String(v))) out[s.name] = false;
        else throw new CommandError(msg('options.boolean', { name: s.name }));
        break;
      case 'integer':
      case 'number': {
        const n = typeof v === 'number' ? v : typeof v === 'string' ? parseDecimal(v) : NaN;
        const kind = msg(s.type === 'integer' ? 'options.whole-number' : 'options.number');
        if (
          typeof v === 'boolean' ||
          isAttachment(v) ||
          !Number.isFinite(n) ||
          (s.type === 'integer' && !Number.isInteger(n)) ||
          (s.min !== undefined && n < s.min) ||
          (s.max !== undefined && n > s.max)
        ) {
          const range = s.min !== undefined && s.max !== undefined ? msg('options.range', { min: s.min, max: s.max }) : '';
          throw new CommandError(msg('options.not-a-number', { name: s.name, kind, range, value: shown(isAttachment(v) ? v.name : v) }));
        }
        out[s.name] = n;
        break;
      }
      case 'string': {
        if (typeof v !== 'string') throw new CommandError(msg('options.text', { name: s.name }));
        const problem = textProblem(v);
        if (problem) throw new CommandError(msg('options.text-problem', { name: s.name, problem }));
        const t = visibleText(v);
        if (s.maxLength !== undefined && t.length > s.maxLength)
          throw new CommandError(msg('options.too-long', { name: s.name, length: t.length, max: s.maxLength }));
        if (!t && s.required) throw new CommandError(msg('options.required', { name: s.name, description: s.description }));
        if (t) out[s.name] = t;
        break;
      }
    }
  }
  return out;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);
