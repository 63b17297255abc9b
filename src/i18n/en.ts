/**
 * Every text PairStyle says to a chat user, in English: the source of the catalogue. A key names what
 * is said (`area.what`); `{name}` is a parameter, filled by name (see message.ts). Other languages
 * translate these keys (de.ts, fr.ts); a key they do not translate yet is said in English.
 */
export const en = {
  'error.internal': 'something went wrong on our side; please try again (the error was logged)',
  'error.line': '⚠️ {message}',
  'options.unknown': "unknown option '{name}' (options: {options})",
  'options.none': 'none',
  'options.required': "'{name}' is required: {description}",
  'options.attachment': "'{name}' must be an attached image",
  'options.boolean': "'{name}' must be true or false",
  'options.whole-number': 'a whole number',
  'options.number': 'a number',
  'options.range': ' from {min} to {max}',
  'options.not-a-number': "'{name}' must be {kind}{range}, got '{value}'",
  'options.text': "'{name}' must be text",
  'options.text-problem': "'{name}' {problem}",
  'options.too-long': "'{name}' is {length} characters long; keep it under {max}",
  'text.control-characters': 'contains control characters (such as line breaks or tabs); write it on one line',
  'text.direction-characters': 'contains invisible text-direction characters; type it plainly',
  'text.broken-characters': 'contains broken characters; type it again',
  'command.too-long': 'the command is {length} characters long; keep it under {max}',
  'command.unknown-option': "unknown option '{name}' for {command} (options: {options})",
  'command.no-free-text': "'{words}': {command} takes no free text; use key:value options",
  'command.too-many-words': '{command} takes {slots}; put longer text in quotes or use key:"value"',
  'command.unknown': "unknown subcommand '{name}' (try: {commands})",
} as const;
