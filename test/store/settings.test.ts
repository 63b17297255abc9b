/** Settings in Keyv on a SQLite file: checked writes, all or nothing, bad stored values read as defaults, the daily training count. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { SettingsError, SettingsStore } from '../../src/store/settings.ts';
import type { Scope } from '../../src/store/style-registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'pairstyle-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const who = (user: string, workspace = 'g1'): Scope => ({ platform: 'discord', workspace, user });
const file = (name: string) => `sqlite://${join(dir, name)}`;

describe('SettingsStore', () => {
  it('keeps a person’s settings per server and the server’s for everyone in it, across reopening', async () => {
    const store = new SettingsStore(await openKeyv(file('a.sqlite')));
    await store.update(who('ann'), { user: { strength: 5, seed: 7 }, server: { channels: ['c1'], sharing: 'admins' } });
    await store.keyv.disconnect();
    const again = new SettingsStore(await openKeyv(file('a.sqlite')));
    expect(await again.read(who('ann'))).toEqual({ user: { strength: 5, seed: 7 }, server: { channels: ['c1'], sharing: 'admins' } });
    // Another member of the server sees its settings, not ann's own; another server sees neither.
    expect(await again.read(who('bob'))).toEqual({ user: {}, server: { channels: ['c1'], sharing: 'admins' } });
    expect(await again.read(who('ann', 'g2'))).toEqual({ user: {}, server: {} });
    // Resetting a setting removes it; resetting all removes the record.
    await again.update(who('ann'), { resetUser: ['seed'] });
    expect(await again.user(who('ann'))).toEqual({ strength: 5 });
    await again.update(who('ann'), { resetUser: ['strength'], resetServer: ['channels', 'sharing'] });
    expect(await again.keyv.get('settings:user:discord:g1:ann')).toBeUndefined();
    expect(await again.keyv.get('settings:server:discord:g1')).toBeUndefined();
    await again.keyv.disconnect();
  });

  it('refuses a bad value and then changes nothing, in either record', async () => {
    const store = new SettingsStore(await openKeyv(file('b.sqlite')));
    await store.update(who('ann'), { user: { strength: 2 }, server: { queuedDraws: 2 } });
    const before = await store.read(who('ann'));
    await expect(store.update(who('ann'), { user: { strength: 4 }, server: { queuedDraws: 0 } })).rejects.toThrow(SettingsError);
    await expect(store.update(who('ann'), { user: { strength: 11, steps: 2.5 } })).rejects.toThrow(
      /'strength' must be a number from 0 to 10; 'steps' must be a whole number from 1 to 1000/,
    );
    await expect(store.update(who('ann'), { user: { style: 'Not a name!' } })).rejects.toThrow(/'style'.*not a valid style name/);
    await expect(store.update(who('ann'), { server: { channels: [] } })).rejects.toThrow(/'channels' must be 1 to 50 channel ids/);
    await expect(store.update(who('ann'), { server: { sharing: 'nobody' as never } })).rejects.toThrow(/'sharing' must be one of everyone, admins/);
    await expect(store.update(who('ann'), { user: { colour: 'red' } as never })).rejects.toThrow(/'colour' is not a setting/);
    expect(await store.read(who('ann'))).toEqual(before);
    await store.keyv.disconnect();
  });

  it('reads a stored value that is not a valid setting as its default, and drops it at the next write', async () => {
    const store = new SettingsStore(await openKeyv(file('c.sqlite')));
    await store.keyv.set('settings:user:discord:g1:ann', { strength: 'loud', steps: 12, seed: -4, extra: 1 });
    await store.keyv.set('settings:server:discord:g1', 'not a record');
    expect(await store.read(who('ann'))).toEqual({ user: { steps: 12 }, server: {} });
    await store.update(who('ann'), { user: { strength: 1 } });
    expect(await store.keyv.get('settings:user:discord:g1:ann')).toEqual({ steps: 12, strength: 1 });
    await store.keyv.disconnect();
  });

  it('loses neither of two updates made at once by two processes on one file', async () => {
    const a = new SettingsStore(await openKeyv(file('d.sqlite')));
    const b = new SettingsStore(await openKeyv(file('d.sqlite')));
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => a.update(who('admin1'), { server: { queuedDraws: 1 + (i % 3) } })),
      ...Array.from({ length: 10 }, () => b.update(who('admin2'), { server: { sharing: 'admins' } })),
    ]);
    const server = await a.server(who('x'));
    expect(server.sharing).toBe('admins');
    expect(server.queuedDraws).toBeGreaterThan(0);
    await a.keyv.disconnect();
    await b.keyv.disconnect();
  });

  it('counts trainings per person per server per UTC day; a refusal or a taken-back training changes the count right', async () => {
    const store = new SettingsStore(await openKeyv(file('e.sqlite')));
    const day1 = new Date('2026-12-03T10:00:00Z');
    const refuse = (n: number) => new Error(`refused at ${n}`);
    await store.takeTraining(who('ann'), 2, refuse, day1);
    const giveBack = await store.takeTraining(who('ann'), 2, refuse, day1);
    await expect(store.takeTraining(who('ann'), 2, refuse, day1)).rejects.toThrow('refused at 2');
    expect(await store.trainingsToday(who('ann'), day1)).toBe(2);
    await giveBack();
    expect(await store.trainingsToday(who('ann'), day1)).toBe(1);
    // Another person, another server, the next day: counted apart.
    expect(await store.trainingsToday(who('bob'), day1)).toBe(0);
    expect(await store.trainingsToday(who('ann', 'g2'), day1)).toBe(0);
    const day2 = new Date('2026-12-04T00:00:01Z');
    expect(await store.trainingsToday(who('ann'), day2)).toBe(0);
    await store.takeTraining(who('ann'), 1, refuse, day2);
    await expect(store.takeTraining(who('ann'), 1, refuse, day2)).rejects.toThrow('refused at 1');
    await store.keyv.disconnect();
  });
});
