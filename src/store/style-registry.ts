/**
 * Per-user style registries in Keyv, namespaced by platform + workspace + user.
 *
 * Keys (each id part URI-encoded, so ':' in an id cannot collide):
 *   entry:<platform>:<workspace>:<user>:<name>   -> StyleEntry (metadata + where the bytes are + their hash)
 *   blob:<platform>:<workspace>:<user>:<name>:<uuid> -> the style file, base64
 *   names:<platform>:<workspace>:<user>          -> the user's style names
 *   shared:<platform>:<workspace>                -> [{user, name}] shared in that workspace
 *   last:<platform>:<workspace>:<user>           -> the user's last trained style
 *
 * A style becomes visible only when complete: its bytes are written under a fresh blob key first and the
 * entry (which names that key and the bytes' sha256) last; a reader that finds an entry finds its bytes,
 * and a corrupt blob is detected by its hash and reported, never loaded. Private by default; `share`
 * makes a style usable (never deletable) by everyone in its workspace. Mutations are serialised in
 * this process; several bot processes on one store need a store-level lock (not built).
 */
import { createHash, randomUUID } from 'node:crypto';
import type Keyv from 'keyv';
import { checkStyleName } from './style-directory.ts';

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
}

export class RegistryError extends Error {
  override name = 'RegistryError';
}

export class CorruptStyleError extends Error {
  override name = 'CorruptStyleError';
}

const enc = (...parts: string[]) => parts.map(encodeURIComponent).join(':');
const userKey = (s: Scope) => enc(s.platform, s.workspace, s.user);
const wsKey = (s: Scope) => enc(s.platform, s.workspace);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sameUser = (a: Scope, b: Scope) => userKey(a) === userKey(b);

export class StyleRegistry {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly keyv: Keyv) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async names(owner: Scope): Promise<string[]> {
    return ((await this.keyv.get(`names:${userKey(owner)}`)) as string[] | undefined) ?? [];
  }

  private async sharedList(scope: Scope): Promise<{ user: string; name: string }[]> {
    return ((await this.keyv.get(`shared:${wsKey(scope)}`)) as { user: string; name: string }[] | undefined) ?? [];
  }

  private entry(owner: Scope, name: string): Promise<StyleEntry | undefined> {
    return this.keyv.get(`entry:${userKey(owner)}:${encodeURIComponent(name)}`) as Promise<StyleEntry | undefined>;
  }

  async has(owner: Scope, name: string): Promise<boolean> {
    return (await this.entry(owner, checkStyleName(name))) !== undefined;
  }

  /** Stores a style for its owner; refuses to replace one unless `overwrite`. */
  async put(owner: Scope, nameIn: string, bytes: Uint8Array, info: Record<string, unknown>, opts: { overwrite?: boolean } = {}): Promise<StyleEntry> {
    const name = checkStyleName(nameIn);
    return this.serial(async () => {
      const old = await this.entry(owner, name);
      if (old && !opts.overwrite) throw new RegistryError(`you already have a style named '${name}': choose another name, or train with overwrite:true`);
      const blob = `blob:${userKey(owner)}:${encodeURIComponent(name)}:${randomUUID()}`;
      await this.keyv.set(blob, Buffer.from(bytes).toString('base64'));
      const entry: StyleEntry = { name, owner: { ...owner }, shared: old?.shared ?? false, info, blob, sha256: sha256(bytes), size: bytes.length, createdAt: new Date().toISOString() };
      await this.keyv.set(`entry:${userKey(owner)}:${encodeURIComponent(name)}`, entry);
      const names = await this.names(owner);
      if (!names.includes(name)) await this.keyv.set(`names:${userKey(owner)}`, [...names, name].sort());
      await this.keyv.set(`last:${userKey(owner)}`, name);
      if (old) await this.keyv.delete(old.blob);
      return entry;
    });
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
    if (entries.length > 1) throw new RegistryError(`${entries.length} people share a style named '${name}' (${entries.map((e) => e.owner.user).join(', ')}); ask one of them to rename theirs`);
    return entries[0];
  }

  /** The bytes of a style `requester` may use, hash-checked. */
  async load(requester: Scope, name: string): Promise<{ entry: StyleEntry; bytes: Uint8Array }> {
    const entry = await this.resolve(requester, name);
    if (!entry) throw new RegistryError(`no style named '${checkStyleName(name)}' that you can use (see /pairstyle list)`);
    const b64 = (await this.keyv.get(entry.blob)) as string | undefined;
    const bytes = b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, 'base64'));
    if (!bytes || sha256(bytes) !== entry.sha256) throw new CorruptStyleError(`the stored style '${entry.name}' is damaged (its data does not match its checksum): train it again`);
    return { entry, bytes };
  }

  /** The requester's styles and the styles others share in their workspace. */
  async list(requester: Scope): Promise<{ own: StyleEntry[]; shared: StyleEntry[] }> {
    const own = (await Promise.all((await this.names(requester)).map((n) => this.entry(requester, n)))).filter((e): e is StyleEntry => !!e);
    const shared = (
      await Promise.all((await this.sharedList(requester)).filter((s) => s.user !== requester.user).map((s) => this.entry({ ...requester, user: s.user }, s.name)))
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
      let entry = await this.entry(requester, name);
      if (!entry && opts.isAdmin) entry = await this.resolve(requester, name);
      if (!entry) {
        const sharedByOther = await this.resolve(requester, name).catch(() => undefined);
        throw new RegistryError(sharedByOther ? `'${name}' belongs to someone else: only its owner or an admin can delete it` : `you have no style named '${name}'`);
      }
      const owner = entry.owner;
      await this.keyv.delete(`entry:${userKey(owner)}:${encodeURIComponent(name)}`);
      await this.keyv.delete(entry.blob);
      await this.keyv.set(`names:${userKey(owner)}`, (await this.names(owner)).filter((n) => n !== name));
      if (entry.shared) await this.keyv.set(`shared:${wsKey(owner)}`, (await this.sharedList(owner)).filter((s) => !(s.user === owner.user && s.name === name)));
      return entry;
    });
  }

  /** Makes one's own style usable by everyone in the workspace (or private again). */
  async setShared(requester: Scope, nameIn: string, shared: boolean, opts: { isAdmin?: boolean } = {}): Promise<StyleEntry> {
    const name = checkStyleName(nameIn);
    return this.serial(async () => {
      let entry = await this.entry(requester, name);
      if (!entry && !shared && opts.isAdmin) entry = await this.resolve(requester, name);
      if (!entry) throw new RegistryError(`you have no style named '${name}'${shared ? '' : ' (only its owner or an admin can unshare a style)'}`);
      const owner = entry.owner;
      const next = { ...entry, shared };
      await this.keyv.set(`entry:${userKey(owner)}:${encodeURIComponent(name)}`, next);
      const list = (await this.sharedList(owner)).filter((s) => !(s.user === owner.user && s.name === name));
      await this.keyv.set(`shared:${wsKey(owner)}`, shared ? [...list, { user: owner.user, name }] : list);
      return next;
    });
  }

  isOwner(requester: Scope, entry: StyleEntry): boolean {
    return sameUser(requester, entry.owner);
  }

  async close(): Promise<void> {
    await this.keyv.disconnect();
  }
}
