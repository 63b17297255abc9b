/**
 * A Keyv store on a SQLite file (better-sqlite3, WAL mode, synchronous=NORMAL): one table of
 * key -> (value, expires). Writes are single statements, so each key is replaced atomically; the
 * registry builds all-or-nothing visibility on top (bytes first, then the entry that points at them).
 * `compareAndSwap` changes several keys in one IMMEDIATE transaction, only if none changed since read:
 * the registry's updates stay whole with several processes on one file (src/store/atomic.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyChange } from './atomic.ts';

export class SqliteStore {
  readonly opts = { dialect: 'sqlite' };
  namespace?: string;
  /** The connection (maintenance, and fault injection in tests: e.g. PRAGMA max_page_count for a full disk). */
  readonly db: Database.Database;
  private readonly stmts;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS keyv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)');
    this.stmts = {
      get: this.db.prepare<[string], { value: string; expires: number | null }>('SELECT value, expires FROM keyv WHERE key = ?'),
      set: this.db.prepare<[string, string, number | null]>(
        'INSERT INTO keyv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
      ),
      delete: this.db.prepare<[string]>('DELETE FROM keyv WHERE key = ?'),
      clearPrefix: this.db.prepare<[string]>("DELETE FROM keyv WHERE key LIKE ? ESCAPE '\\'"),
      clearAll: this.db.prepare('DELETE FROM keyv'),
    };
  }

  async get(key: string): Promise<string | undefined> {
    const row = this.stmts.get.get(key);
    if (!row) return undefined;
    if (row.expires !== null && row.expires < Date.now()) {
      this.stmts.delete.run(key);
      return undefined;
    }
    return row.value;
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    this.stmts.set.run(key, text, ttl ? Date.now() + ttl : null);
    return true;
  }

  /** Applies `changes` in one transaction if every key still holds its expected text; false (nothing written) otherwise. */
  compareAndSwap(changes: KeyChange[]): boolean {
    const swap = this.db.transaction(() => {
      for (const c of changes) if ((this.stmts.get.get(c.key)?.value ?? undefined) !== c.expected) return false;
      for (const c of changes) {
        if (typeof c.next === 'string') this.stmts.set.run(c.key, c.next, null);
        else if (c.next === undefined) this.stmts.delete.run(c.key);
      }
      return true;
    });
    return swap.immediate();
  }

  async delete(key: string): Promise<boolean> {
    return this.stmts.delete.run(key).changes > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  async clear(): Promise<void> {
    if (this.namespace) this.stmts.clearPrefix.run(`${this.namespace.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`);
    else this.stmts.clearAll.run();
  }

  on(): this {
    return this;
  }

  async disconnect(): Promise<void> {
    this.db.close();
  }
}
