/**
 * The catalogue of texts (src/i18n): every language translates only keys of the English source, with
 * the same parameters; the keys a language leaves to English are listed here, so a new English text
 * (a merge, a new command) is either translated or added to UNTRANSLATED knowingly. Also: platform
 * locale codes to languages, and saying a message.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, ROOT_COMMAND } from '../../commands/index.ts';
import { en } from '../../src/i18n/en.ts';
import { CATALOGUE, DISCORD_LOCALES, LOCALES, localeOf, msg, placeholdersOf, say, t, type Key, type Locale } from '../../src/i18n/message.ts';

/** The keys each language says in English for now (translate them, then remove them here). */
const UNTRANSLATED: Record<Exclude<Locale, 'en'>, Key[]> = { de: [], fr: [] };

const keys = Object.keys(en) as Key[];
const others = LOCALES.filter((l): l is Exclude<Locale, 'en'> => l !== 'en');

describe('the catalogue', () => {
  it('has English, German and French, and every other language translates only keys of English, with the same parameters', () => {
    expect(LOCALES).toEqual(['en', 'de', 'fr']);
    for (const locale of others) {
      const table = CATALOGUE[locale] as Record<string, string>;
      expect(
        Object.keys(table).filter((k) => !(k in en)),
        `${locale}: keys English does not have`,
      ).toEqual([]);
      const mismatched = Object.entries(table)
        .filter(([k, text]) => placeholdersOf(text).join() !== placeholdersOf(en[k as Key]).join())
        .map(([k, text]) => `${k}: {${placeholdersOf(text)}} where English has {${placeholdersOf(en[k as Key])}}`);
      expect(mismatched, `${locale}: parameters differ from English`).toEqual([]);
      const empty = Object.entries(table).filter(([, text]) => !text.trim());
      expect(empty, `${locale}: empty texts`).toEqual([]);
    }
  });

  it('lists the keys each language still says in English', () => {
    for (const locale of others) {
      const missing = keys.filter((k) => CATALOGUE[locale][k] === undefined);
      expect(missing, `${locale}: translate these, or list them in UNTRANSLATED`).toEqual(UNTRANSLATED[locale]);
    }
  });

  it('holds the description of every command and option, and what Slack tells a user who shared too few images', () => {
    const texts = [
      ['pairstyle', ROOT_COMMAND.description],
      ...COMMANDS.flatMap((c) => [
        [c.name, c.description],
        ...c.options.map((o) => [`${c.name} ${o.name}`, o.description]),
        ...(c.recentUploads ? [[`${c.name} (no images)`, c.recentUploads.missing]] : []),
      ]),
    ] as const;
    expect(
      texts.filter(([, text]) => typeof text === 'string').map(([where]) => where),
      'plain strings: give them a key in src/i18n/en.ts',
    ).toEqual([]);
  });

  it('holds every refusal of the commands and the chat adapters: no user error is made from a plain string', () => {
    const root = join(import.meta.dirname, '../..');
    const files = ['commands', 'src/bot/discord', 'src/bot/slack'].flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${dir}/${f}`),
    );
    expect(files).toContain('commands/settings.ts');
    // `new CommandError('…')`, `new RegistryError(\`…\`)`, across lines too: a refusal English alone would say.
    const plain = /\b(CommandError|RegistryError|UserError)\(\s*['"`]/g;
    const found = files.flatMap((file) => {
      const source = readFileSync(join(root, file), 'utf8');
      return [...source.matchAll(plain)].map((m) => `${file}:${source.slice(0, m.index).split('\n').length} ${m[1]}`);
    });
    expect(found, 'refusals in plain English: give them a key in src/i18n/en.ts and throw msg(key, params)').toEqual([]);
  });

  it('says an untranslated key in English', () => {
    const saved = CATALOGUE.de;
    try {
      CATALOGUE.de = {};
      expect(say(msg('error.internal'), 'de')).toBe(en['error.internal']);
    } finally {
      CATALOGUE.de = saved;
    }
    expect(say(msg('error.internal'), 'de')).not.toBe(en['error.internal']);
  });

  it('fills parameters by name, saying a message parameter in the same language and a plain string as it is', () => {
    const inner = msg('error.internal');
    expect(t('fr', 'error.line', { message: inner })).toBe(`⚠️ ${CATALOGUE.fr['error.internal']}`);
    expect(t('de', 'error.line', { message: 'as typed {x}' })).toBe('⚠️ as typed {x}');
    expect(say('plain text', 'de')).toBe('plain text');
  });

  it("maps the platforms' locale codes to a language, English when it speaks none of them", () => {
    const cases: [string | undefined, Locale][] = [
      ['de', 'de'],
      ['de-DE', 'de'],
      ['fr', 'fr'],
      ['fr-CA', 'fr'],
      ['fr_FR', 'fr'],
      ['en-US', 'en'],
      ['en-GB', 'en'],
      ['es-ES', 'en'],
      ['pt-BR', 'en'],
      ['', 'en'],
      [undefined, 'en'],
      ['nl-BE,fr;q=0.8,en;q=0.5', 'fr'],
    ];
    for (const [code, locale] of cases) expect(localeOf(code), String(code)).toBe(locale);
    // Discord's own codes for each language (https://discord.com/developers/docs/reference#locales).
    expect(DISCORD_LOCALES).toEqual({ de: ['de'], fr: ['fr'] });
  });
});
