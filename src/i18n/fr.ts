/** French (français): tutoiement, as chat bots speak on Discord and Slack. "PairStyle" and style names stay as they are. */
import type { Translation } from './types.ts';

export const fr: Translation = {
  'error.internal': 'un problème est survenu de notre côté ; réessaie (l’erreur a été enregistrée)',
  'error.line': '⚠️ {message}',
};
