/**
 * Every text PairStyle says to a chat user, in English: the source of the catalogue. A key names what
 * is said (`area.what`); `{name}` is a parameter, filled by name (see message.ts). Other languages
 * translate these keys (de.ts, fr.ts); a key they do not translate yet is said in English.
 */
export const en = {
  'error.internal': 'something went wrong on our side; please try again (the error was logged)',
  'error.line': '⚠️ {message}',
} as const;
