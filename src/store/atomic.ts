/**
 * Atomic updates of a few Keyv keys, so that several bot processes on one store never lose each
 * other's updates (two shares at once, two saves for one user, two overwrites of one style).
 *
 * `transact(keyv, keys, fn)` reads the keys, lets `fn` decide their new values, then writes them only if
 * none of the keys changed meanwhile (one compare-and-swap over all of them on the store itself); when
 * another process got there first it reads again and retries. The compare-and-swap is:
 *   SQLite file  one IMMEDIATE transaction (SqliteStore.compareAndSwap; SQLite locks the file)
 *   Redis        one Lua script (atomic on the server)
 *   Map          synchronous code in this process (memory: stores are never shared)
 * Values are compared as stored (Keyv's serialized text), written in Keyv's format, so plain
 * keyv.get() reads them. Other stores (Postgres) have no compare-and-swap here: updates are serialised
 * in this process only, and several processes on them can still lose updates.
 */
import type Keyv from 'keyv';
import { StoreUnavailableError } from './open-keyv.ts';
import { SqliteStore } from './sqlite-store.ts';
import { UserError } from '../errors/user-error.ts';
import { msg, type Text } from '../i18n/message.ts';

/** One key's expected stored text (undefined: absent) and its next value (undefined: delete; KEEP: unchanged). */
export interface KeyChange {
  key: string;
  expected: string | undefined;
  next: string | undefined | typeof KEEP;
}
export const KEEP = Symbol('keep');

/** Another process kept changing the same keys (only under extreme contention). */
export class StoreBusyError extends UserError {
  override name = 'StoreBusyError';
  constructor(message: Text) {
    super(message, 'unavailable');
  }
}

/** What `fn` sees: the keys' values as read, and the writes it wants. */
export interface Transaction {
  get<T>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): void;
}

interface RedisLikeStore {
  getClient(): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
  createKeyPrefix(key: string, namespace?: string): string;
  namespace?: string;
}

const isRedisStore = (s: unknown): s is RedisLikeStore =>
  typeof (s as RedisLikeStore)?.getClient === 'function' && typeof (s as RedisLikeStore)?.createKeyPrefix === 'function';

/** KEYS: the keys; ARGV per key: expected flag ('0' absent, '1' text), expected text, next flag ('0' delete, '1' set, '2' keep), next text. */
const CAS_SCRIPT = `
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local base = (i - 1) * 4
  if ARGV[base + 1] == '0' then
    if cur then return 0 end
  elseif cur ~= ARGV[base + 2] then
    return 0
  end
end
for i = 1, #KEYS do
  local base = (i - 1) * 4
  if ARGV[base + 3] == '0' then redis.call('DEL', KEYS[i])
  elseif ARGV[base + 3] == '1' then redis.call('SET', KEYS[i], ARGV[base + 4]) end
end
return 1`;

/** Compare-and-swap on the store under `keyv` (keys as the store sees them). False: a key had changed. */
async function compareAndSwap(store: unknown, changes: KeyChange[]): Promise<boolean> {
  if (store instanceof SqliteStore) return store.compareAndSwap(changes);
  if (store instanceof Map) {
    if (changes.some((c) => store.get(c.key) !== c.expected)) return false;
    for (const c of changes) {
      if (c.next === KEEP) continue;
      if (c.next === undefined) store.delete(c.key);
      else store.set(c.key, c.next);
    }
    return true;
  }
  if (isRedisStore(store)) {
    const client = await store.getClient();
    const keys = changes.map((c) => store.createKeyPrefix(c.key, store.namespace));
    const args = changes.flatMap((c) => [
      c.expected === undefined ? '0' : '1',
      c.expected ?? '',
      c.next === KEEP ? '2' : c.next === undefined ? '0' : '1',
      typeof c.next === 'string' ? c.next : '',
    ]);
    try {
      return Number(await client.sendCommand(['EVAL', CAS_SCRIPT, String(keys.length), ...keys, ...args])) === 1;
    } catch (e) {
      throw new StoreUnavailableError(msg('store.unavailable'), { cause: e });
    }
  }
  // No compare-and-swap on this store: plain writes (atomic within this process only, see above).
  const s = store as { set(k: string, v: string): Promise<unknown>; delete(k: string): Promise<unknown> };
  for (const c of changes) {
    if (c.next === KEEP) continue;
    if (c.next === undefined) await s.delete(c.key);
    else await s.set(c.key, c.next);
  }
  return true;
}

const storeKey = (keyv: Keyv, key: string) => (keyv.useKeyPrefix && keyv.namespace ? `${keyv.namespace}:${key}` : key);

/**
 * Runs `fn` on the current values of `keys` and writes what it asks, all or nothing, only if no key
 * changed since it was read (else reads again and reruns `fn`, which must therefore have no other
 * effects). An error thrown by `fn` aborts with nothing written. Returns what `fn` returned.
 */
export async function transact<T>(keyv: Keyv, keys: string[], fn: (tx: Transaction) => T, opts: { attempts?: number } = {}): Promise<T> {
  const store = keyv.store as { get(k: string): Promise<unknown> };
  const attempts = opts.attempts ?? 200;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const raw = await Promise.all(
      keys.map(async (k) => {
        const v = await store.get(storeKey(keyv, k));
        return v === undefined || v === null ? undefined : String(v);
      }),
    );
    const values = new Map<string, unknown>();
    for (const [i, k] of keys.entries()) values.set(k, raw[i] === undefined ? undefined : (await keyv.deserializeData<unknown>(raw[i]!))?.value);
    const writes = new Map<string, { value: unknown } | undefined>();
    const tx: Transaction = {
      get: <V>(k: string) => {
        if (!values.has(k)) throw new Error(`transact: key '${k}' was not declared`);
        return (writes.has(k) ? writes.get(k)?.value : values.get(k)) as V | undefined;
      },
      set: (k, value) => {
        if (!values.has(k)) throw new Error(`transact: key '${k}' was not declared`);
        writes.set(k, { value });
      },
      delete: (k) => {
        if (!values.has(k)) throw new Error(`transact: key '${k}' was not declared`);
        writes.set(k, undefined);
      },
    };
    const result = fn(tx);
    const changes: KeyChange[] = [];
    for (const [i, k] of keys.entries()) {
      const w = writes.has(k) ? writes.get(k) : KEEP;
      const next = w === KEEP ? KEEP : w === undefined ? undefined : String(await keyv.serializeData({ value: w.value, expires: undefined }));
      changes.push({ key: storeKey(keyv, k), expected: raw[i], next });
    }
    if (await compareAndSwap(keyv.store, changes)) return result;
    // Another process wrote one of the keys: wait a little (more each time, with jitter) and redo.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 + attempt * 2)));
  }
  throw new StoreBusyError(msg('store.busy'));
}
