/**
 * The Keyv behind the style registries, chosen by PAIRSTYLE_STORE_URL:
 *   (unset)                 a SQLite file at ./data/pairstyle.sqlite
 *   sqlite:///abs/path.db   sqlite://./rel/path.db   or a plain file path: a SQLite file
 *   memory:                 a Map (tests, throwaway runs)
 *   redis://… / rediss://…  @keyv/redis (install it first)
 *   postgres://… / postgresql://…  @keyv/postgres (install it first)
 */
import Keyv from 'keyv';
import { SqliteStore } from './sqlite-store.ts';

export class StoreConfigError extends Error {
  override name = 'StoreConfigError';
}

export const DEFAULT_STORE_PATH = './data/pairstyle.sqlite';

async function optionalStore(pkg: string, url: string): Promise<unknown> {
  try {
    const mod = (await import(pkg)) as { default: new (url: string) => unknown };
    return new mod.default(url);
  } catch (e) {
    throw new StoreConfigError(`PAIRSTYLE_STORE_URL=${url.replace(/\/\/[^@]*@/, '//***@')} needs the package ${pkg}: npm install ${pkg} (${(e as Error).message})`);
  }
}

export async function openKeyv(url: string | undefined, namespace = 'pairstyle'): Promise<Keyv> {
  const u = url?.trim() || DEFAULT_STORE_PATH;
  let store: unknown;
  if (u === 'memory:' || u === 'memory://') store = new Map();
  else if (/^rediss?:\/\//.test(u)) store = await optionalStore('@keyv/redis', u);
  else if (/^postgres(ql)?:\/\//.test(u)) store = await optionalStore('@keyv/postgres', u);
  else if (u.startsWith('sqlite://')) store = new SqliteStore(u.slice('sqlite://'.length) || DEFAULT_STORE_PATH);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) throw new StoreConfigError(`PAIRSTYLE_STORE_URL: unsupported scheme in '${u.split('://')[0]}://…' (use sqlite://, redis://, postgres:// or memory:)`);
  else store = new SqliteStore(u);
  // A failed read or write must reach the caller: a style or a job that silently was not stored is
  // exactly what the registry and the journal promise never to do.
  const keyv = new Keyv({ store: store as never, namespace, throwOnErrors: true });
  keyv.on('error', () => undefined);
  return keyv;
}
