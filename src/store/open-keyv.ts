/**
 * The Keyv behind the style registries, chosen by PAIRSTYLE_STORE_URL:
 *   (unset)                 a SQLite file at ./data/pairstyle.sqlite
 *   sqlite:///abs/path.db   sqlite://./rel/path.db   or a plain file path: a SQLite file
 *   memory:                 a Map (tests, throwaway runs)
 *   redis://… / rediss://…  @keyv/redis (a dependency of this package)
 *   postgres://… / postgresql://…  @keyv/postgres (not a dependency: install it first)
 */
import Keyv from 'keyv';
import { SqliteStore } from './sqlite-store.ts';
import { UserError } from '../errors/user-error.ts';
import { msg, type Text } from '../i18n/message.ts';

export class StoreConfigError extends Error {
  override name = 'StoreConfigError';
}

export const DEFAULT_STORE_PATH = './data/pairstyle.sqlite';

async function optionalStore(pkg: string, url: string): Promise<unknown> {
  try {
    const mod = (await import(pkg)) as { default: new (url: string) => unknown };
    return new mod.default(url);
  } catch (e) {
    throw new StoreConfigError(
      `PAIRSTYLE_STORE_URL=${url.replace(/\/\/[^@]*@/, '//***@')} needs the package ${pkg}: npm install ${pkg} (${(e as Error).message})`,
    );
  }
}

/**
 * @keyv/redis that fails fast while Redis is unreachable (no offline queue; reconnects in the
 * background) and reports errors instead of reading them as "not found".
 */
async function redisStore(url: string): Promise<unknown> {
  let mod: { default: new (connect: unknown, options?: unknown) => unknown };
  try {
    mod = (await import('@keyv/redis')) as typeof mod;
  } catch (e) {
    throw new StoreConfigError(
      `PAIRSTYLE_STORE_URL=${url.replace(/\/\/[^@]*@/, '//***@')} needs the package @keyv/redis: npm install @keyv/redis (${(e as Error).message})`,
    );
  }
  const store = new mod.default(
    { url, disableOfflineQueue: true, socket: { connectTimeout: 5000, reconnectStrategy: (n: number) => Math.min(100 * 2 ** n, 2000) } },
    { throwOnErrors: true, throwOnConnectError: true, connectionTimeout: 5000 },
  ) as { getClient(): Promise<unknown> };
  // Connected before first use: with no offline queue, commands sent while the first connection is
  // still being made would fail.
  try {
    await store.getClient();
  } catch (e) {
    throw new StoreConfigError(`PAIRSTYLE_STORE_URL=${url.replace(/\/\/[^@]*@/, '//***@')}: the Redis server does not answer (${(e as Error).message})`);
  }
  // Every failed store call reaches the user as one clear line (a user error, not "something went wrong").
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || prop === 'on' || prop === 'once' || prop === 'emit' || prop === 'off') return v;
      return (...args: unknown[]) => {
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(new StoreUnavailableError(msg('store.unavailable'), { cause: e }))) : r;
      };
    },
  });
}

/** The shared store (Redis) did not answer: a message for the user. */
export class StoreUnavailableError extends UserError {
  override name = 'StoreUnavailableError';
  constructor(message: Text, options: { cause?: unknown } = {}) {
    super(message, 'unavailable', options);
  }
}

export async function openKeyv(url: string | undefined, namespace = 'pairstyle'): Promise<Keyv> {
  const u = url?.trim() || DEFAULT_STORE_PATH;
  let store: unknown;
  if (u === 'memory:' || u === 'memory://') store = new Map();
  else if (/^rediss?:\/\//.test(u)) store = await redisStore(u);
  else if (/^postgres(ql)?:\/\//.test(u)) store = await optionalStore('@keyv/postgres', u);
  else if (u.startsWith('sqlite://')) store = new SqliteStore(u.slice('sqlite://'.length) || DEFAULT_STORE_PATH);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u))
    throw new StoreConfigError(`PAIRSTYLE_STORE_URL: unsupported scheme in '${u.split('://')[0]}://…' (use sqlite://, redis://, postgres:// or memory:)`);
  else store = new SqliteStore(u);
  // A failed read or write must reach the caller: a style or a job that silently was not stored is
  // exactly what the registry and the journal promise never to do.
  const keyv = new Keyv({ store: store as never, namespace, throwOnErrors: true });
  keyv.on('error', () => undefined);
  return keyv;
}
