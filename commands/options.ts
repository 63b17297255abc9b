/** Option checking shared by every adapter: types, ranges, required options, prompts. */
import { CommandError, type Attachment, type OptionSpec, type Options, type OptionValue } from './types.ts';

export function isAttachment(v: unknown): v is Attachment {
  return typeof v === 'object' && v !== null && 'download' in v;
}

/** Checks raw option values (strings from Slack text, typed values from Discord) against the spec. */
export function checkOptions(specs: readonly OptionSpec[], raw: Record<string, OptionValue | undefined>): Options {
  const out: Options = {};
  for (const key of Object.keys(raw)) {
    if (!specs.some((s) => s.name === key)) throw new CommandError(`unknown option '${key}' (options: ${specs.map((s) => s.name).join(', ') || 'none'})`);
  }
  for (const s of specs) {
    const v = raw[s.name];
    if (v === undefined || v === '') {
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
        const n = typeof v === 'number' ? v : Number(String(v).trim());
        const kind = s.type === 'integer' ? 'a whole number' : 'a number';
        if (typeof v === 'boolean' || isAttachment(v) || !Number.isFinite(n) || (s.type === 'integer' && !Number.isInteger(n)) || (s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
          const range = s.min !== undefined && s.max !== undefined ? ` from ${s.min} to ${s.max}` : '';
          throw new CommandError(`'${s.name}' must be ${kind}${range}, got '${String(isAttachment(v) ? v.name : v).slice(0, 40)}'`);
        }
        out[s.name] = n;
        break;
      }
      case 'string': {
        if (typeof v !== 'string') throw new CommandError(`'${s.name}' must be text`);
        if (/[\u0000-\u001f\u007f]/.test(v)) throw new CommandError(`'${s.name}' contains control characters`);
        const t = v.trim();
        if (s.maxLength !== undefined && t.length > s.maxLength) throw new CommandError(`'${s.name}' is ${t.length} characters long; keep it under ${s.maxLength}`);
        if (!t && s.required) throw new CommandError(`'${s.name}' is required: ${s.description}`);
        if (t) out[s.name] = t;
        break;
      }
    }
  }
  return out;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);
