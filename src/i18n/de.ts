/** German (Deutsch): du-Form, as chat bots speak on Discord and Slack. "PairStyle" and style names stay as they are. */
import type { Translation } from './types.ts';

export const de: Translation = {
  'error.internal': 'bei uns ist etwas schiefgegangen; bitte versuch es noch einmal (der Fehler wurde protokolliert)',
  'error.line': '⚠️ {message}',
};
