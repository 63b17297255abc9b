/** The catalogue's types, derived from the English source (en.ts): its keys and each key's parameters. */
import type { en } from './en.ts';

/** A key of the catalogue: a typo or a key missing from en.ts is a type error. */
export type Key = keyof typeof en;

/** The parameter names of a text: `{name}` → 'name'. */
export type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;

/** A parameter's value: text (shown as it is), a number, or another message (said in the same language). */
export type Param = string | number | Message;

/** The parameters a key takes, by name: exactly those of its English text. */
export type ParamsOf<K extends Key> = { [P in Placeholders<(typeof en)[K]>]: Param };

/** A text to say, not yet in a language: a key and its parameters. Plain data: it crosses threads, queues and journals. */
export interface Message {
  key: Key;
  params?: Record<string, Param>;
}

/** A language other than English: any key of en.ts, with the same parameters (checked by test/i18n/catalogue.test.ts). */
export type Translation = { readonly [K in Key]?: string };
