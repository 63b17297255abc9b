/**
 * A store that has no room left: SQLite's "database or disk is full" (SQLITE_FULL), a file system's
 * ENOSPC or EDQUOT, Redis' "OOM command not allowed" under maxmemory. Such a failure is the operator's
 * to fix, and the user must hear it plainly (and keep what they were about to lose), not read a raw
 * "database or disk is full".
 */
import { UserError } from '../errors/user-error.ts';
import type { Text } from '../i18n/message.ts';

export class StoreFullError extends UserError {
  override name = 'StoreFullError';
  constructor(message: Text, options: { cause?: unknown } = {}) {
    super(message, 'unavailable', options);
  }
}

/** Whether `e` (or an error in its cause chain) says the store is out of space. */
export function isStoreFull(e: unknown): boolean {
  for (let x = e as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 5; x = x.cause as typeof x, depth++) {
    if (x instanceof StoreFullError) return true;
    if (x.code === 'SQLITE_FULL' || x.code === 'ENOSPC' || x.code === 'EDQUOT') return true;
    if (typeof x.message === 'string' && /database or disk is full|no space left on device|OOM command not allowed/i.test(x.message)) return true;
  }
  return false;
}
