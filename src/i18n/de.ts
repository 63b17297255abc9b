/** German (Deutsch): du-Form, as chat bots speak on Discord and Slack. "PairStyle" and style names stay as they are. */
import type { Translation } from './types.ts';

export const de: Translation = {
  'error.internal': 'bei uns ist etwas schiefgegangen; bitte versuch es noch einmal (der Fehler wurde protokolliert)',
  'error.line': '⚠️ {message}',
  'options.unknown': "unbekannte Option '{name}' (Optionen: {options})",
  'options.none': 'keine',
  'options.required': "'{name}' fehlt: {description}",
  'options.attachment': "'{name}' muss ein angehängtes Bild sein",
  'options.boolean': "'{name}' muss true oder false sein",
  'options.whole-number': 'eine ganze Zahl',
  'options.number': 'eine Zahl',
  'options.range': ' von {min} bis {max}',
  'options.not-a-number': "'{name}' muss {kind}{range} sein, nicht '{value}'",
  'options.text': "'{name}' muss Text sein",
  'options.text-problem': "'{name}' {problem}",
  'options.too-long': "'{name}' ist {length} Zeichen lang; es dürfen höchstens {max} sein",
  'text.control-characters': 'enthält Steuerzeichen (etwa Zeilenumbrüche oder Tabulatoren); schreib es in eine Zeile',
  'text.direction-characters': 'enthält unsichtbare Schreibrichtungszeichen; tipp es einfach neu',
  'text.broken-characters': 'enthält defekte Zeichen; tipp es noch einmal',
  'command.too-long': 'der Befehl ist {length} Zeichen lang; es dürfen höchstens {max} sein',
  'command.unknown-option': "unbekannte Option '{name}' für {command} (Optionen: {options})",
  'command.no-free-text': "'{words}': {command} nimmt keinen freien Text; nutze Optionen als key:value",
  'command.too-many-words': '{command} nimmt {slots}; setz längeren Text in Anführungszeichen oder schreib key:"value"',
  'command.unknown': "unbekannter Unterbefehl '{name}' (versuch: {commands})",
};
