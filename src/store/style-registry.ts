/**
 * Per-user style registries in Keyv, namespaced by platform + workspace + user.
 *
 * Keys (each id part URI-encoded, so ':' in an id cannot collide):
 *   entry:<platform>:<workspace>:<user>:<name>   -> StyleEntry (metadata + where the bytes are + their hash)
 *   blob:<platform>:<workspace>:<user>:<name>:<id> -> the style file, base64 (<id>: the training job's id, else random)
 *   pairs:<platform>:<workspace>:<user>:<name>:<id> -> the pictures it was trained from (kept-pairs.ts), base64,
 *                                                   for its owner only (`keptPairs`: retrain on another model)
 *   names:<platform>:<workspace>:<user>          -> the user's style names
 *   shared:<platform>:<workspace>                -> [{user, name}] shared in that workspace
 *   last:<platform>:<workspace>:<user>           -> the user's last trained style
 *   owned:<platform>:<user>                      -> ["<workspace>:<name>"] the person's styles in every workspace
 *                                                   (the per-user limit counts them; styles stored before
 *                                                   this index existed are not counted)
 *
 * A style becomes visible only when complete: its bytes (and its kept pictures) are written under keys
 * of their own first and the entry (which names those keys and the bytes' sha256) last; a reader that
 * finds an entry finds its bytes, and a corrupt blob is detected by its hash and reported, never loaded.
 * Deleting or replacing a style deletes its kept pictures with it. Private by default; `share`
 * makes a style usable (never deletable) by everyone in its workspace.
 *
 * Several bot processes on one store: every change of an entry and the lists that index it is one
 * atomic compare-and-swap over those keys (src/store/atomic.ts), retried when another process changed
 * them first, so no share, save or overwrite is lost and a replaced style's bytes are deleted exactly
 * once. A style stored by a training job records the job's id: storing it again for the same job (a
 * restart that finalises the job once more) finds it stored and changes nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { transact } from './atomic.ts';
import { isStoreFull, StoreFullError } from './store-full.ts';
import { checkStyleName } from './style-directory.ts';
import { UserError } from '../errors/user-error.ts';
import { msg } from '../i18n/message.ts';

export interface Scope {
  platform: string;
  workspace: string;
  user: string;
}

export interface StyleEntry {
  name: string;
  owner: Scope;
  shared: boolean;
  info: Record<string, unknown>;
  blob: string;
  sha256: string;
  size: number;
  createdAt: string;
  /** The training job that stored it (absent for styles stored otherwise or before this field). */
  jobId?: string;
  /** Where the pictures it was trained from are kept (absent for styles stored without them, or before they were kept). */
  pairs?: { blob: string; sha256: string; size: number };
}

export interface RegistryOptions {
  /** Styles one person (platform + user, over all workspaces) may keep; none when absent. */
  maxStylesPerUser?: number;
}

export class RegistryError extends UserError {
  override name = 'RegistryError';
}

export class CorruptStyleError extends UserError {
  override name = 'CorruptStyleError';
}

const enc = (...parts: string[]) => parts.map(encodeURIComponent).join(':');
const userKey = (s: Scope) => enc(s.platform, s.workspace, s.user);
const wsKey = (s: Scope) => enc(s.platform, s.workspace);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sameUser = (a: Scope, b: Scope) => userKey(a) === userKey(b);
const entryKey = (s: Scope, name: string) => `entry:${userKey(s)}:${encodeURIComponent(name)}`;
const namesKey = (s: Scope) => `names:${userKey(s)}`;
const sharedKey = (s: Scope) => `shared:${wsKey(s)}`;
const ownedKey = (s: Scope) => `owned:${enc(s.platform, s.user)}`;
const ownedItem = (s: Scope, name: string) => enc(s.workspace, name);

/** A write that failed because the store is full becomes a StoreFullError (a message for the user). */
async function orFull<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isStoreFull(e)) throw new StoreFullError(msg('store.full'), { cause: e });
    throw e;
  }
}

export class StyleRegistry {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly keyv: Keyv,
    readonly opts: RegistryOptions = {},
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async names(owner: Scope): Promise<string[]> {
    return ((await this.keyv.get(namesKey(owner))) as string[] | undefined) ?? [];
  }

  private async sharedList(scope: Scope): Promise<{ user: string; name: string }[]> {
    return ((await this.keyv.get(sharedKey(scope))) as { user: string; name: string }[] | undefined) ?? [];
  }

  private entry(owner: Scope, name: string): Promise<StyleEntry | undefined> {
    return this.keyv.get(entryKey(owner, name)) as Promise<StyleEntry | undefined>;
  }

  async has(owner: Scope, name: string): Promise<boolean> {
    return (await this.entry(owner, checkStyleName(name))) !== undefined;
  }

  /**
   * Stores a style for its owner; refuses to replace one unless `overwrite`, and a new one past the
   * per-user limit. With `jobId`: a style this job already stored is found and returned unchanged.
   * With `pairs`: the pictures it was trained from (kept-pairs.ts), kept for `keptPairs`.
   */
  async put(
    owner: Scope,
    nameIn: string,
    bytes: Uint8Array,
    info: Record<string, unknown>,
    opts: { overwrite?: boolean; jobId?: string; pairs?: Uint8Array } = {},
  ): Promise<StyleEntry> {
    const name = checkStyleName(nameIn);
    return this.serial(async () => {
      // The bytes first, under keys of their own (the job's id: storing again for the same job rewrites the same keys).
      const id = opts.jobId ?? randomUUID();
      const blob = `blob:${userKey(owner)}:${encodeURIComponent(name)}:${id}`;
      const pairs = opts.pairs && { blob: `pairs:${userKey(owner)}:${encodeURIComponent(name)}:${id}`, sha256: sha256(opts.pairs), size: opts.pairs.length };
      /** Deletes what this call wrote, unless the stored entry names it (written by this job before). */
      const dropOwn = async (stored: StyleEntry | undefined) => {
        if (stored?.blob !== blob) await this.keyv.delete(blob).catch(() => undefined);
        if (pairs && stored?.pairs?.blob !== pairs.blob) await this.keyv.delete(pairs.blob).catch(() => undefined);
      };
      try {
        await orFull(this.keyv.set(blob, Buffer.from(bytes).toString('base64')));
        if (pairs) await orFull(this.keyv.set(pairs.blob, Buffer.from(opts.pairs!).toString('base64')));
      } catch (e) {
        await dropOwn(opts.jobId ? await this.entry(owner, name).catch(() => undefined) : undefined);
        throw e;
      }
      const fresh: StyleEntry = {
        name,
        owner: { ...owner },
        shared: false,
        info,
        blob,
        sha256: sha256(bytes),
        size: bytes.length,
        createdAt: new Date().toISOString(),
        ...(opts.jobId ? { jobId: opts.jobId } : {}),
        ...(pairs ? { pairs } : {}),
      };
      const eKey = entryKey(owner, name);
      const limit = this.opts.maxStylesPerUser;
      let outcome: { entry: StyleEntry; replaced?: StyleEntry; already?: boolean };
      try {
        // Then, at once: the entry, the user's names, their last style and the person's count.
        outcome = await orFull(
          transact(this.keyv, [eKey, namesKey(owner), `last:${userKey(owner)}`, ownedKey(owner)], (tx) => {
            const old = tx.get<StyleEntry>(eKey);
            if (old && opts.jobId && old.jobId === opts.jobId) return { entry: old, already: true };
            if (old && !opts.overwrite) throw new RegistryError(msg('registry.name-taken', { name }));
            const owned = tx.get<string[]>(ownedKey(owner)) ?? [];
            const item = ownedItem(owner, name);
            if (!old && limit !== undefined && !owned.includes(item) && owned.length >= limit) {
              throw new RegistryError(msg('registry.too-many', { count: owned.length, limit }));
            }
            const entry = { ...fresh, shared: old?.shared ?? false };
            tx.set(eKey, entry);
            const names = tx.get<string[]>(namesKey(owner)) ?? [];
            if (!names.includes(name)) tx.set(namesKey(owner), [...names, name].sort());
            tx.set(`last:${userKey(owner)}`, name);
            if (!owned.includes(item)) tx.set(ownedKey(owner), [...owned, item]);
            return { entry, replaced: old };
          }),
        );
      } catch (e) {
        // Not stored: its bytes go too (unless they are the stored entry's own, written by this job before).
        await dropOwn(opts.jobId ? await this.entry(owner, name).catch(() => undefined) : undefined);
        throw e;
      }
      if (outcome.already) await dropOwn(outcome.entry);
      // The replaced style's bytes and pictures (exactly once: only the process whose swap replaced it gets it here).
      const replaced = outcome.replaced;
      if (replaced && replaced.blob !== blob) await this.keyv.delete(replaced.blob).catch(() => undefined);
      if (replaced?.pairs && replaced.pairs.blob !== pairs?.blob) await this.keyv.delete(replaced.pairs.blob).catch(() => undefined);
      return outcome.entry;
    });
  }

  /** Whether the person `who` (platform + user, any workspace) may store one more style. */
  async roomFor(who: Scope): Promise<{ count: number; limit?: number; full: boolean }> {
    const limit = this.opts.maxStylesPerUser;
    const count = (((await this.keyv.get(ownedKey(who))) as string[] | undefined) ?? []).length;
    return { count, limit, full: limit !== undefined && count >= limit };
  }

  /**
   * The style `name` as `requester` may use it: their own first, else one shared in their workspace.
   * Another user's private style is never found. Several shared styles of that name: an error that
   * names their owners.
   */
  async resolve(requester: Scope, nameIn: string): Promise<StyleEntry | undefined> {
    const name = checkStyleName(nameIn);
    const own = await this.entry(requester, name);
    if (own) return own;
    const shared = (await this.sharedList(requester)).filter((s) => s.name === name);
    const entries = (await Promise.all(shared.map((s) => this.entry({ ...requester, user: s.user }, name)))).filter((e): e is StyleEntry => !!e?.shared);
    if (entries.length > 1)
      throw new RegistryError(msg('registry.shared-by-several', { count: entries.length, name, owners: entries.map((e) => e.owner.user).join(', ') }));
    return entries[0];
  }

  /** The bytes of a style `requester` may use, hash-checked. */
  async load(requester: Scope, name: string): Promise<{ entry: StyleEntry; bytes: Uint8Array }> {
    const entry = await this.resolve(requester, name);
    if (!entry) throw new RegistryError(msg('registry.not-usable', { name: checkStyleName(name) }));
    const b64 = (await this.keyv.get(entry.blob)) as string | undefined;
    const bytes = b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, 'base64'));
    if (!bytes || sha256(bytes) !== entry.sha256) throw new CorruptStyleError(msg('registry.damaged', { name: entry.name }));
    return { entry, bytes };
  }

  /**
   * The pictures the owner's style `name` was trained from, hash-checked: only its owner gets them (a
   * shared style's users may draw with it, never see its pictures).
   */
  async keptPairs(owner: Scope, nameIn: string): Promise<{ entry: StyleEntry; bytes: Uint8Array }> {
    const name = checkStyleName(nameIn);
    const entry = await this.entry(owner, name);
    if (!entry) {
      const usable = await this.resolve(owner, name).catch(() => undefined);
      throw usable
        ? new RegistryError(msg('retrain.not-yours', { name }), 'not-allowed')
        : new RegistryError(msg('registry.none-of-yours', { name }), 'not-found');
    }
    if (!entry.pairs) throw new RegistryError(msg('retrain.no-pairs', { name }), 'not-found');
    const b64 = (await this.keyv.get(entry.pairs.blob)) as string | undefined;
    const bytes = b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, 'base64'));
    if (!bytes || sha256(bytes) !== entry.pairs.sha256) throw new CorruptStyleError(msg('retrain.pairs-damaged', { name }));
    return { entry, bytes };
  }

  /** The requester's styles and the styles others share in their workspace. */
  async list(requester: Scope): Promise<{ own: StyleEntry[]; shared: StyleEntry[] }> {
    const own = (await Promise.all((await this.names(requester)).map((n) => this.entry(requester, n)))).filter((e): e is StyleEntry => !!e);
    const shared = (
      await Promise.all(
        (await this.sharedList(requester)).filter((s) => s.user !== requester.user).map((s) => this.entry({ ...requester, user: s.user }, s.name)),
      )
    ).filter((e): e is StyleEntry => !!e?.shared);
    return { own, shared };
  }

  /** At most `limit` style names for an autocomplete prefix: own first, then shared (never others' private). */
  async autocomplete(requester: Scope, prefix: string, limit = 25): Promise<{ name: string; label: string }[]> {
    const p = prefix.trim().toLowerCase();
    const { own, shared } = await this.list(requester);
    const ownNames = new Set(own.map((e) => e.name));
    const out = [
      ...own.filter((e) => e.name.startsWith(p)).map((e) => ({ name: e.name, label: e.shared ? `${e.name} (yours, shared)` : `${e.name} (yours)` })),
      ...shared.filter((e) => e.name.startsWith(p) && !ownNames.has(e.name)).map((e) => ({ name: e.name, label: `${e.name} (shared)` })),
    ];
    return out.slice(0, limit);
  }

  async lastTrained(owner: Scope): Promise<string | undefined> {
    const name = (await this.keyv.get(`last:${userKey(owner)}`)) as string | undefined;
    return name && (await this.entry(owner, name)) ? name : undefined;
  }

  /** Deletes the requester's style; a workspace admin may delete a style shared in the workspace. */
  async delete(requester: Scope, nameIn: string, opts: { isAdmin?: boolean } = {}): Promise<StyleEntry> {
    const name = checkStyleName(nameIn);
    return this.serial(async () => {
      let found = await this.entry(requester, name);
      if (!found && opts.isAdmin) found = await this.resolve(requester, name);
      if (!found) {
        const sharedByOther = await this.resolve(requester, name).catch(() => undefined);
        throw new RegistryError(msg(sharedByOther ? 'registry.not-yours-to-delete' : 'registry.none-of-yours', { name }));
      }
      const owner = found.owner;
      const eKey = entryKey(owner, name);
      const entry = await transact(this.keyv, [eKey, namesKey(owner), sharedKey(owner), ownedKey(owner)], (tx) => {
        const e = tx.get<StyleEntry>(eKey);
        if (!e) throw new RegistryError(msg('registry.just-deleted', { name }));
        tx.delete(eKey);
        tx.set(
          namesKey(owner),
          (tx.get<string[]>(namesKey(owner)) ?? []).filter((n) => n !== name),
        );
        const shared = tx.get<{ user: string; name: string }[]>(sharedKey(owner)) ?? [];
        if (shared.some((s) => s.user === owner.user && s.name === name))
          tx.set(
            sharedKey(owner),
            shared.filter((s) => !(s.user === owner.user && s.name === name)),
          );
        const owned = tx.get<string[]>(ownedKey(owner)) ?? [];
        if (owned.includes(ownedItem(owner, name)))
          tx.set(
            ownedKey(owner),
            owned.filter((x) => x !== ownedItem(owner, name)),
          );
        return e;
      });
      await this.keyv.delete(entry.blob).catch(() => undefined);
      if (entry.pairs) await this.keyv.delete(entry.pairs.blob).catch(() => undefined);
      return entry;
    });
  }

  /** Makes one's own style usable by everyone in the workspace (or private again). */
  async setShared(requester: Scope, nameIn: string, shared: boolean, opts: { isAdmin?: boolean } = {}): Promise<StyleEntry> {
    const name = checkStyleName(nameIn);
    return this.serial(async () => {
      let found = await this.entry(requester, name);
      if (!found && !shared && opts.isAdmin) found = await this.resolve(requester, name);
      if (!found) throw new RegistryError(msg(shared ? 'registry.none-of-yours' : 'registry.none-of-yours-to-unshare', { name }));
      const owner = found.owner;
      const eKey = entryKey(owner, name);
      return orFull(
        transact(this.keyv, [eKey, sharedKey(owner)], (tx) => {
          const e = tx.get<StyleEntry>(eKey);
          if (!e) throw new RegistryError(msg('registry.just-deleted', { name }));
          const next = { ...e, shared };
          tx.set(eKey, next);
          const list = (tx.get<{ user: string; name: string }[]>(sharedKey(owner)) ?? []).filter((s) => !(s.user === owner.user && s.name === name));
          tx.set(sharedKey(owner), shared ? [...list, { user: owner.user, name }] : list);
          return next;
        }),
      );
    });
  }

  isOwner(requester: Scope, entry: StyleEntry): boolean {
    return sameUser(requester, entry.owner);
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }
}
