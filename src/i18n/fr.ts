/** French (français): tutoiement, as chat bots speak on Discord and Slack. "PairStyle" and style names stay as they are. */
import type { Translation } from './types.ts';

export const fr: Translation = {
  'error.internal': 'un problème est survenu de notre côté ; réessaie (l’erreur a été enregistrée)',
  'error.line': '⚠️ {message}',
  'options.unknown': "option inconnue '{name}' (options : {options})",
  'options.none': 'aucune',
  'options.required': "'{name}' est obligatoire : {description}",
  'options.attachment': "'{name}' doit être une image jointe",
  'options.boolean': "'{name}' doit valoir true ou false",
  'options.whole-number': 'un nombre entier',
  'options.number': 'un nombre',
  'options.range': ' de {min} à {max}',
  'options.not-a-number': "'{name}' doit être {kind}{range}, pas '{value}'",
  'options.text': "'{name}' doit être du texte",
  'options.text-problem': "'{name}' {problem}",
  'options.too-long': "'{name}' fait {length} caractères ; la limite est de {max}",
  'text.control-characters': 'contient des caractères de contrôle (comme des retours à la ligne ou des tabulations) ; écris-le sur une seule ligne',
  'text.direction-characters': 'contient des caractères invisibles de sens d’écriture ; tape-le simplement',
  'text.broken-characters': 'contient des caractères corrompus ; tape-le à nouveau',
  'command.too-long': 'la commande fait {length} caractères ; la limite est de {max}',
  'command.unknown-option': "option inconnue '{name}' pour {command} (options : {options})",
  'command.no-free-text': "'{words}' : {command} ne prend pas de texte libre ; utilise des options key:value",
  'command.too-many-words': '{command} prend {slots} ; mets un texte plus long entre guillemets ou écris key:"value"',
  'command.unknown': "sous-commande inconnue '{name}' (essaie : {commands})",
};
