/** Option checking shared by every adapter: types, ranges, required options, prompts. */
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
export function textProblem(v: string): string | undefined {
  if (CONTROL.test(v)) return 'contains control characters (such as line breaks or tabs); write it on one line';
  if (BIDI.test(v)) return 'contains invisible text-direction characters; type it plainly';
  if (LONE_SURROGATE.test(v)) return 'contains broken characters; type it again';
  return undefined;
}

/** Text trimmed, or '' when nothing visible is left (only spaces and zero-width characters). */
export const visibleText = (v: string): string => (v.replace(INVISIBLE, '').trim() ? v.trim() : '');

/** A value quoted back in a message: short, on one line, nothing invisible (controls, bidi overrides, broken characters become '?'). */
export const printable = (v: unknown, max = 40): string =>
  String(v)
    .replace(/[\p{Cc}\p{Cs}\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]/gu, '?')
    .slice(0, max);
const shown = printable;

/** Checks raw option values (strings from Slack text, typed values from Discord) against the spec. */
export function checkOptions(specs: readonly OptionSpec[], raw: Record<string, OptionValue | undefined>): Options {
  const out: Options = {};
  for (const key of Object.keys(raw)) {
    if (!specs.some((s) => s.name === key))
      throw new CommandError(`unknown option '${shown(key, 30)}' (options: ${specs.map((s) => s.name).join(', ') || 'none'})`);
  }
  for (const s of specs) {
    const v = raw[s.name];
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '' && s.type !== 'string')) {
      if (s.required) throw new CommandError(`'${s.name}' is required: ${s.description}`);
      continue;
    }
    switch (s.type) {
      case 'attachment':
        if (!isAttachment(v)) throw new CommandError(`'${s.name}' must be an attached image`);
        out[s.name] = v;
        break;
      case 'boolean':
        if (typeof v === 'boolean') out[s.name] = v;
        else if (/^(true|yes|1)$/i.test(String(v))) out[s.name] = true;
        else if (/^(false|no|0)$/i.test(String(v))) out[s.name] = false;
        else throw new CommandError(`'${s.name}' must be true or false`);
        break;
      case 'integer':
      case 'number': {
        const n = typeof v === 'number' ? v : typeof v === 'string' ? parseDecimal(v) : NaN;
        const kind = s.type === 'integer' ? 'a whole number' : 'a number';
        if (
          typeof v === 'boolean' ||
          isAttachment(v) ||
          !Number.isFinite(n) ||
          (s.type === 'integer' && !Number.isInteger(n)) ||
          (s.min !== undefined && n < s.min) ||
          (s.max !== undefined && n > s.max)
        ) {
          const range = s.min !== undefined && s.max !== undefined ? ` from ${s.min} to ${s.max}` : '';
          throw new CommandError(`'${s.name}' must be ${kind}${range}, got '${shown(isAttachment(v) ? v.name : v)}'`);
        }
        out[s.name] = n;
        break;
      }
      case 'string': {
        if (typeof v !== 'string') throw new CommandError(`'${s.name}' must be text`);
        const problem = textProblem(v);
        if (problem) throw new CommandError(`'${s.name}' ${problem}`);
        const t = visibleText(v);
        if (s.maxLength !== undefined && t.length > s.maxLength)
          throw new CommandError(`'${s.name}' is ${t.length} characters long; keep it under ${s.maxLength}`);
        if (!t && s.required) throw new CommandError(`'${s.name}' is required: ${s.description}`);
        if (t) out[s.name] = t;
        break;
      }
    }
  }
  return out;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);
