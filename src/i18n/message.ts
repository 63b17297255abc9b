/**
 * Saying a catalogue text in a user's language. Code names what to say as a Message (`msg('key',
 * params)`, typed from en.ts) and the edge that knows the user (an adapter) says it with `say`, in the
 * language of their locale; a key a language does not translate yet is said in English. A plain string
 * where a Text is expected is said as it is in every language.
 *
 * A leaf module with the catalogue beside it: it imports nothing else of the repository.
 */
import { de } from './de.ts';
import { en } from './en.ts';
import { fr } from './fr.ts';
import type { Key, Message, Param, ParamsOf, Placeholders, Translation } from './types.ts';

export type { Key, Message, Param, ParamsOf, Translation } from './types.ts';

/** The languages PairStyle speaks: English (the source) first. */
export const LOCALES = ['en', 'de', 'fr'] as const;
export type Locale = (typeof LOCALES)[number];

/** Each language's texts; English is complete, the others may leave keys to English. */
export const CATALOGUE: Record<Locale, Translation> = { en, de, fr };

/** Whether `key` is in the catalogue (a message read back from a journal or another process may name one that is gone). */
export const isKey = (key: unknown): key is Key => typeof key === 'string' && Object.hasOwn(en, key);

/** What may be said: a catalogue message, or a plain string (said as it is in every language). */
export type Text = string | Message;

/** The arguments after a key: its parameters when its text has any, nothing otherwise. */
export type ParamArgs<K extends Key> = [Placeholders<(typeof en)[K]>] extends [never] ? [] : [params: ParamsOf<K>];

/** A message to say later, in whichever language its reader speaks. */
export function msg<K extends Key>(key: K, ...params: ParamArgs<K>): Message {
  return params.length ? { key, params: params[0] as Record<string, Param> } : { key };
}

/** `{name}` in a template, filled by name. */
const PLACEHOLDER = /\{(\w+)\}/g;

/** The parameter names of a template (the catalogue test compares them across languages). */
export const placeholdersOf = (template: string): string[] => [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))].sort();

/** A template with its parameters filled in: a message parameter is said in the same language. */
export function fill(template: string, params: Record<string, Param> | undefined, locale: Locale): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const v = params?.[name];
    return v === undefined ? whole : paramText(v, locale);
  });
}

const paramText = (v: Param, locale: Locale): string => (typeof v === 'object' ? say(v, locale) : String(v));

/** A text in `locale`: its translation when there is one, else the English; a plain string as it is. */
export function say(text: Text, locale: Locale = 'en'): string {
  if (typeof text === 'string') return text;
  return fill(CATALOGUE[locale][text.key] ?? en[text.key], text.params, locale);
}

/** `msg` and `say` at once: a catalogue text in `locale` now (English when none is given). */
export function t<K extends Key>(locale: Locale | undefined, key: K, ...params: ParamArgs<K>): string {
  return say(msg(key, ...params), locale);
}

/**
 * The language for a platform's locale code: Discord's ('de', 'fr', 'en-US', 'es-ES', 'pt-BR'), Slack's
 * ('de-DE', 'fr-FR', 'fr-CA'), a browser's ('fr-CH,fr;q=0.9'): the first language PairStyle speaks, by
 * its language subtag; English when none (or none given).
 */
export function localeOf(code: string | undefined | null): Locale {
  for (const part of String(code ?? '').split(',')) {
    const lang = part.trim().split(/[-_;]/)[0]!.toLowerCase();
    if ((LOCALES as readonly string[]).includes(lang)) return lang as Locale;
  }
  return 'en';
}

/** Discord's locale codes for each language but English (its default): what name/description_localizations are keyed by. */
export const DISCORD_LOCALES: Record<Exclude<Locale, 'en'>, readonly string[]> = { de: ['de'], fr: ['fr'] };

/**
 * A text in every language that translates it, keyed by Discord's locale codes (for name_localizations /
 * description_localizations), each cut to `max` characters; a plain string or an untranslated key has none.
 */
export function discordLocalizations(text: Text, max = 100): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof text === 'string') return out;
  for (const [locale, codes] of Object.entries(DISCORD_LOCALES) as [Exclude<Locale, 'en'>, readonly string[]][]) {
    if (CATALOGUE[locale][text.key] === undefined) continue;
    for (const code of codes) out[code] = say(text, locale).slice(0, max);
  }
  return out;
}
