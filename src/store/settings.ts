/**
 * /pairstyle settings in Keyv, beside the style registries (the same store): a person's defaults in
 * one server / workspace, the server's / workspace's rules, and the count of trainings a person
 * started there today.
 *
 * Keys (each id part URI-encoded, so ':' in an id cannot collide):
 *   settings:user:<platform>:<workspace>:<user>   -> UserSettings
 *   settings:server:<platform>:<workspace>        -> ServerSettings
 *   usage:trainings:<platform>:<workspace>:<user> -> { day: 'YYYY-MM-DD' (UTC), count }
 *
 * Every write is checked first (`checkUserSettings`, `checkServerSettings`: a SettingsError names each
 * bad value) and is one compare-and-swap over the keys it changes (src/store/atomic.ts): a refused
 * update writes nothing, and two admins saving at once lose neither change. What is read back is
 * checked too: a value that is not a valid setting (written by hand, or by another version) is left
 * out, so it reads as the default, and is dropped at the next write.
 */
import type Keyv from 'keyv';
import { UserError } from '../errors/user-error.ts';
import { transact } from './atomic.ts';
import { isStoreFull, StoreFullError } from './store-full.ts';
import { checkStyleName } from './style-directory.ts';
import type { Scope } from './style-registry.ts';

/** A person's defaults for draw / stylize / blend in one server or workspace. */
export interface UserSettings {
  /** Default style name (else their last trained style). */
  style?: string;
  /** Default style strength, 0-10. */
  strength?: number;
  /** Default sampler steps. */
  steps?: number;
  /** 'random' (a new seed each time) or the seed used every time. */
  seed?: 'random' | number;
}

/** Who may make a style usable by everyone in the server / workspace. */
export const SHARING = ['everyone', 'admins'] as const;
export type Sharing = (typeof SHARING)[number];

/** A server's / workspace's rules, set by its admins. */
export interface ServerSettings {
  /** Channel ids where the bot may be used (absent: everywhere). */
  channels?: string[];
  /** The role id needed to train (Discord). */
  trainRole?: string;
  /** Draws, blends and stylizes one person may have queued or running here. */
  queuedDraws?: number;
  /** Trainings one person may start here per day (UTC). */
  trainingsPerDay?: number;
  /** Styles one person may keep here. */
  maxStyles?: number;
  /** Who may share styles. */
  sharing?: Sharing;
}

export const USER_SETTING_NAMES = ['style', 'strength', 'steps', 'seed'] as const satisfies readonly (keyof UserSettings)[];
export const SERVER_SETTING_NAMES = [
  'channels',
  'trainRole',
  'queuedDraws',
  'trainingsPerDay',
  'maxStyles',
  'sharing',
] as const satisfies readonly (keyof ServerSettings)[];

/** The widest values a setting may ever hold (the commands narrow them to the bot's own limits). */
export const SETTING_BOUNDS = {
  strength: { min: 0, max: 10 },
  steps: { min: 1, max: 1000 },
  seed: { min: 0, max: 2 ** 31 - 1 },
  channels: { max: 50 },
  queuedDraws: { min: 1, max: 100 },
  trainingsPerDay: { min: 1, max: 10_000 },
  maxStyles: { min: 1, max: 100_000 },
} as const;

/** A setting value refused: the message says which and what is allowed. */
export class SettingsError extends UserError {
  override name = 'SettingsError';
}

const ID = /^[A-Za-z0-9_-]{1,40}$/;
const inRange = (v: unknown, b: { min: number; max: number }, whole: boolean): v is number =>
  typeof v === 'number' && Number.isFinite(v) && (!whole || Number.isInteger(v)) && v >= b.min && v <= b.max;

/** What is wrong with each field of a user-settings record (field -> problem). */
function userProblems(v: Record<string, unknown>): Map<string, string> {
  const p = new Map<string, string>();
  for (const k of Object.keys(v)) if (!(USER_SETTING_NAMES as readonly string[]).includes(k)) p.set(k, 'is not a setting');
  if (v.style !== undefined) {
    try {
      if (typeof v.style !== 'string' || checkStyleName(v.style) !== v.style) p.set('style', 'must be a style name');
    } catch (e) {
      p.set('style', (e as Error).message);
    }
  }
  const b = SETTING_BOUNDS;
  if (v.strength !== undefined && !inRange(v.strength, b.strength, false)) p.set('strength', `must be a number from ${b.strength.min} to ${b.strength.max}`);
  if (v.steps !== undefined && !inRange(v.steps, b.steps, true)) p.set('steps', `must be a whole number from ${b.steps.min} to ${b.steps.max}`);
  if (v.seed !== undefined && v.seed !== 'random' && !inRange(v.seed, b.seed, true))
    p.set('seed', `must be 'random' or a whole number from ${b.seed.min} to ${b.seed.max}`);
  return p;
}

/** What is wrong with each field of a server-settings record (field -> problem). */
function serverProblems(v: Record<string, unknown>): Map<string, string> {
  const p = new Map<string, string>();
  for (const k of Object.keys(v)) if (!(SERVER_SETTING_NAMES as readonly string[]).includes(k)) p.set(k, 'is not a setting');
  const b = SETTING_BOUNDS;
  if (v.channels !== undefined) {
    const c = v.channels;
    if (!Array.isArray(c) || c.length === 0 || c.length > b.channels.max || !c.every((x) => typeof x === 'string' && ID.test(x)))
      p.set('channels', `must be 1 to ${b.channels.max} channel ids`);
  }
  if (v.trainRole !== undefined && (typeof v.trainRole !== 'string' || !ID.test(v.trainRole))) p.set('trainRole', 'must be a role id');
  for (const k of ['queuedDraws', 'trainingsPerDay', 'maxStyles'] as const) {
    if (v[k] !== undefined && !inRange(v[k], b[k], true)) p.set(k, `must be a whole number from ${b[k].min} to ${b[k].max}`);
  }
  if (v.sharing !== undefined && !(SHARING as readonly unknown[]).includes(v.sharing)) p.set('sharing', `must be one of ${SHARING.join(', ')}`);
  return p;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checked<T>(v: unknown, problems: (v: Record<string, unknown>) => Map<string, string>, what: string): T {
  if (!isRecord(v)) throw new SettingsError(`${what} must be a record of settings`);
  const p = problems(v);
  if (p.size) throw new SettingsError([...p].map(([k, why]) => `'${k}' ${why}`).join('; '));
  // Only the fields that are set (an update that clears one leaves it out).
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as T;
}

/** A user-settings record as it may be stored, or a SettingsError naming every bad value. */
export const checkUserSettings = (v: unknown): UserSettings => checked(v, userProblems, 'user settings');
/** A server-settings record as it may be stored, or a SettingsError naming every bad value. */
export const checkServerSettings = (v: unknown): ServerSettings => checked(v, serverProblems, 'server settings');

/** A stored record with its invalid fields left out (they read as their defaults). */
function readable<T>(v: unknown, problems: (v: Record<string, unknown>) => Map<string, string>): T {
  if (!isRecord(v)) return {} as T;
  const bad = problems(v);
  return Object.fromEntries(Object.entries(v).filter(([k, x]) => x !== undefined && !bad.has(k))) as T;
}

const enc = (...parts: string[]) => parts.map(encodeURIComponent).join(':');
const userKey = (s: Scope) => `settings:user:${enc(s.platform, s.workspace, s.user)}`;
const serverKey = (s: Scope) => `settings:server:${enc(s.platform, s.workspace)}`;
const trainingsKey = (s: Scope) => `usage:trainings:${enc(s.platform, s.workspace, s.user)}`;
/** The UTC day of `at`, as YYYY-MM-DD. */
const dayOf = (at: Date) => at.toISOString().slice(0, 10);

/** One update of a person's and their server's settings: values to set, names to put back to their defaults. */
export interface SettingsChange {
  user?: Partial<Record<keyof UserSettings, UserSettings[keyof UserSettings] | undefined>>;
  server?: Partial<Record<keyof ServerSettings, ServerSettings[keyof ServerSettings] | undefined>>;
  resetUser?: readonly (keyof UserSettings)[];
  resetServer?: readonly (keyof ServerSettings)[];
}

export interface Settings {
  user: UserSettings;
  server: ServerSettings;
}

async function orFull<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isStoreFull(e)) throw new StoreFullError("the bot's storage is full, so your settings were not saved; tell the bot's operator", { cause: e });
    throw e;
  }
}

const without = <T extends object>(v: T, names: readonly string[]): T => Object.fromEntries(Object.entries(v).filter(([k]) => !names.includes(k))) as T;

export class SettingsStore {
  constructor(readonly keyv: Keyv) {}

  /** The settings kept in the same store as a style registry (e.g. `SettingsStore.beside(ctx.registry)`). */
  static beside(registry: { keyv: Keyv }): SettingsStore {
    return new SettingsStore(registry.keyv);
  }

  /** The person's settings in this server / workspace, and the server's / workspace's. */
  async read(who: Scope): Promise<Settings> {
    const [user, server] = await Promise.all([this.keyv.get(userKey(who)), this.keyv.get(serverKey(who))]);
    return { user: readable<UserSettings>(user, userProblems), server: readable<ServerSettings>(server, serverProblems) };
  }

  async server(who: Scope): Promise<ServerSettings> {
    return readable<ServerSettings>(await this.keyv.get(serverKey(who)), serverProblems);
  }

  async user(who: Scope): Promise<UserSettings> {
    return readable<UserSettings>(await this.keyv.get(userKey(who)), userProblems);
  }

  /**
   * Applies `change` to both records at once: either both are written or neither (a SettingsError for
   * any bad value, or any other failure, leaves the store as it was). Returns the settings as stored.
   */
  async update(who: Scope, change: SettingsChange): Promise<Settings> {
    const uKey = userKey(who);
    const sKey = serverKey(who);
    return orFull(
      transact(this.keyv, [uKey, sKey], (tx) => {
        const user = checkUserSettings({
          ...without(readable<UserSettings>(tx.get(uKey), userProblems), change.resetUser ?? []),
          ...change.user,
        });
        const server = checkServerSettings({
          ...without(readable<ServerSettings>(tx.get(sKey), serverProblems), change.resetServer ?? []),
          ...change.server,
        });
        if (change.user || change.resetUser?.length) {
          if (Object.keys(user).length) tx.set(uKey, user);
          else tx.delete(uKey);
        }
        if (change.server || change.resetServer?.length) {
          if (Object.keys(server).length) tx.set(sKey, server);
          else tx.delete(sKey);
        }
        return { user, server };
      }),
    );
  }

  /** Trainings `who` started in this server / workspace on the UTC day of `now`. */
  async trainingsToday(who: Scope, now = new Date()): Promise<number> {
    const u = (await this.keyv.get(trainingsKey(who))) as { day?: unknown; count?: unknown } | undefined;
    return u?.day === dayOf(now) && typeof u.count === 'number' ? u.count : 0;
  }

  /**
   * Counts one more training for `who` today, unless `perDay` are already counted: then `refuse(count)`
   * is thrown and nothing changes. Returns a function that takes the training back (its job was not
   * queued after all).
   */
  async takeTraining(who: Scope, perDay: number, refuse: (count: number) => Error, now = new Date()): Promise<() => Promise<void>> {
    const key = trainingsKey(who);
    const day = dayOf(now);
    const countOf = (v: unknown) => {
      const u = v as { day?: unknown; count?: unknown } | undefined;
      return u?.day === day && typeof u.count === 'number' && Number.isInteger(u.count) && u.count >= 0 ? u.count : 0;
    };
    await orFull(
      transact(this.keyv, [key], (tx) => {
        const count = countOf(tx.get(key));
        if (count >= perDay) throw refuse(count);
        tx.set(key, { day, count: count + 1 });
      }),
    );
    return async () => {
      await transact(this.keyv, [key], (tx) => {
        const count = countOf(tx.get(key));
        if (count > 0) tx.set(key, { day, count: count - 1 });
      });
    };
  }
}
