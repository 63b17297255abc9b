/** Registry isolation, sharing within a workspace, authorisation, atomic visibility, corruption, persistence. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'pairstyle-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const who = (user: string, workspace = 'guild1', platform = 'discord'): Scope => ({ platform, workspace, user });
const bytes = (n: number) => new Uint8Array([n, n + 1, n + 2]);

describe('StyleRegistry on a SQLite file', () => {
  it('keeps private styles private, including from autocomplete, and shares within one workspace only', async () => {
    const reg = new StyleRegistry(await openKeyv(`sqlite://${join(dir, 'a.sqlite')}`));
    await reg.put(who('alice'), 'ink', bytes(1), { name: 'ink' });
    await reg.put(who('alice'), 'inky-secret', bytes(2), { name: 'inky-secret' });
    expect(await reg.resolve(who('bob'), 'ink')).toBeUndefined();
    await expect(reg.load(who('bob'), 'ink')).rejects.toThrow(/no style named 'ink' that you can use/);
    expect(await reg.autocomplete(who('bob'), 'in')).toEqual([]);
    await reg.setShared(who('alice'), 'ink', true);
    expect((await reg.load(who('bob'), 'ink')).bytes).toEqual(bytes(1));
    expect((await reg.autocomplete(who('bob'), 'in')).map((c) => c.name)).toEqual(['ink']);
    expect((await reg.autocomplete(who('alice'), 'in')).map((c) => c.name)).toEqual(['ink', 'inky-secret']);
    // Another workspace, another platform with the same ids: nothing visible.
    expect(await reg.resolve(who('bob', 'guild2'), 'ink')).toBeUndefined();
    expect(await reg.resolve(who('alice', 'guild1', 'slack'), 'ink')).toBeUndefined();
    // Ids with ':' cannot collide with other namespaces.
    expect(await reg.resolve(who('1:alice', 'guild1'), 'inky-secret')).toBeUndefined();
    expect(await reg.resolve(who('alice', 'guild1:x'), 'inky-secret')).toBeUndefined();
    // Bob's own style of the same name wins over the shared one.
    await reg.put(who('bob'), 'ink', bytes(9), { name: 'ink' });
    expect((await reg.load(who('bob'), 'ink')).bytes).toEqual(bytes(9));
    const { own, shared } = await reg.list(who('bob'));
    expect(own.map((e) => e.name)).toEqual(['ink']);
    expect(shared.map((e) => `${e.owner.user}/${e.name}`)).toEqual(['alice/ink']);
    await reg.close();
  });

  it('lets only the owner (or an admin) delete or unshare', async () => {
    const reg = new StyleRegistry(await openKeyv(`sqlite://${join(dir, 'b.sqlite')}`));
    await reg.put(who('alice'), 'ink', bytes(1), {});
    await reg.setShared(who('alice'), 'ink', true);
    await expect(reg.delete(who('bob'), 'ink')).rejects.toThrow(/belongs to someone else/);
    await expect(reg.setShared(who('bob'), 'ink', false)).rejects.toThrow(/only its owner or an admin/);
    await reg.setShared(who('mod'), 'ink', false, { isAdmin: true });
    expect(await reg.resolve(who('bob'), 'ink')).toBeUndefined();
    await expect(reg.delete(who('bob'), 'ink', { isAdmin: true })).rejects.toThrow(/no style named/);
    await reg.setShared(who('alice'), 'ink', true);
    await reg.delete(who('mod'), 'ink', { isAdmin: true });
    expect(await reg.has(who('alice'), 'ink')).toBe(false);
    expect((await reg.list(who('bob'))).shared).toEqual([]);
    await expect(reg.put(who('alice'), 'bad name!', bytes(1), {})).rejects.toThrow(/not a valid style name/);
    await reg.close();
  });

  it('refuses duplicates unless overwrite, remembers the last trained style, and persists across reopen', async () => {
    const file = `sqlite://${join(dir, 'c.sqlite')}`;
    const reg = new StyleRegistry(await openKeyv(file));
    await reg.put(who('alice'), 'one', bytes(1), {});
    await reg.put(who('alice'), 'two', bytes(2), {});
    await expect(reg.put(who('alice'), 'one', bytes(3), {})).rejects.toThrow(/already have a style named 'one'.*overwrite/);
    await reg.put(who('alice'), 'one', bytes(3), {}, { overwrite: true });
    expect(await reg.lastTrained(who('alice'))).toBe('one');
    await reg.close();
    const again = new StyleRegistry(await openKeyv(file));
    expect((await again.load(who('alice'), 'one')).bytes).toEqual(bytes(3));
    expect((await again.list(who('alice'))).own.map((e) => e.name)).toEqual(['one', 'two']);
    await again.close();
  });

  it('shows a style only when its entry is written, and detects a corrupt blob', async () => {
    const keyv = await openKeyv('memory:');
    const reg = new StyleRegistry(keyv);
    // Bytes without an entry (a write interrupted before its last step) are invisible.
    await keyv.set('blob:discord:guild1:alice:half:x', 'AAAA');
    expect(await reg.resolve(who('alice'), 'half')).toBeUndefined();
    const entry = await reg.put(who('alice'), 'ink', bytes(1), {});
    await keyv.set(entry.blob, Buffer.from([7, 7, 7]).toString('base64'));
    await expect(reg.load(who('alice'), 'ink')).rejects.toMatchObject({ name: 'CorruptStyleError' });
  });
});
