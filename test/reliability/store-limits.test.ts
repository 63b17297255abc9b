/**
 * The style store's limits. A finished training meets a full store (SQLite filled to
 * its page cap: SQLite's own "database or disk is full"): the user reads a clear message and gets the
 * style file, and nothing half-stored is left; with room again, training works. One person may keep at
 * most PAIRSTYLE_MAX_STYLES_PER_USER styles over all their servers: refused up front with a message,
 * and a training that finds the limit reached when it is stored keeps its style file too.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, type CommandContext, type Outcome, type Reply } from '../../commands/index.ts';
import { DEFAULT_COMMAND_LIMITS } from '../../commands/types.ts';
import { loadBotConfig } from '../../config/bot.ts';
import { InProcessQueue } from '../../src/queue/in-process.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import type { SqliteStore } from '../../src/store/sqlite-store.ts';
import { StyleRegistry } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';
import { attached, png, who } from './fixture.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);

async function sqliteBackend(opts: { maxStylesPerUser?: number } = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'pairstyle-full-')), 'styles.sqlite');
  const keyv = await openKeyv(`sqlite://${file}`);
  const registry = new StyleRegistry(keyv, opts);
  const queue = new InProcessQueue({ executors: [new FakeExecutor({ auto: true })] });
  const ctx = (user: string, workspace = 'w'): CommandContext => ({
    who: who(user, workspace),
    isAdmin: false,
    registry,
    queue,
    limits: DEFAULT_COMMAND_LIMITS,
  });
  return { registry, queue, ctx, db: (keyv.store as SqliteStore).db };
}

/** Trains `name` for ctx through the command and returns its final reply (the adapters' path). */
async function train(ctx: CommandContext, name: string): Promise<Reply> {
  const outcome: Outcome = await runCommand(ctx, 'train', {
    content: attached('a.png', await png()),
    style: attached('b.png', await png(32, 32, '#22d')),
    name,
  });
  if (outcome.type !== 'job') throw new Error('expected a job');
  return outcome.finalize(await ctx.queue.finished(outcome.job.id));
}

/** Fills the SQLite file up to a page cap, so that the next write fails with SQLITE_FULL. */
function fill(db: SqliteStore['db']): void {
  db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 2}`);
  const put = db.prepare('INSERT INTO keyv (key, value, expires) VALUES (?, ?, NULL)');
  try {
    for (let i = 0; i < 10_000; i++) put.run(`filler:${i}`, 'x'.repeat(2000));
  } catch (e) {
    expect((e as { code?: string }).code).toBe('SQLITE_FULL');
  }
}

describe('the style store full or at its limit', () => {
  it('a full store: a finished training is not thrown away with a raw "database or disk is full"', async () => {
    const b = await sqliteBackend();
    const ctx = b.ctx('ann');
    expect((await train(ctx, 'first')).text).toMatch(/learned style \*\*first\*\*/);
    fill(b.db);
    let reply: Reply | undefined;
    let error: unknown;
    try {
      reply = await train(ctx, 'blue');
    } catch (e) {
      error = e;
    }
    const text = reply?.text ?? `${(error as Error)?.name}: ${(error as Error)?.message}`;
    const file = reply?.files?.find((f) => f.name === 'blue.safetensors');
    const blobs = Number(b.db.prepare("SELECT count(*) FROM keyv WHERE key LIKE 'pairstyle:blob:%'").pluck().get());
    const pass =
      !error &&
      /could not save it: the bot's style storage is full/.test(text) &&
      !/database or disk is full/.test(text) &&
      file?.data.length === 3 &&
      !(await b.registry.has(ctx.who, 'blue')) &&
      blobs === 1;
    report.row({
      section: 'Faults injected',
      case: 'the style store (SQLite) is full when a finished training is stored',
      expected: 'a clear message, the style file attached; nothing half-stored',
      result: `${text.slice(0, 200)} [file: ${file ? file.name : 'none'}; stored copies: ${blobs}]`,
      pass,
    });
    expect(error).toBeUndefined();
    expect(text).toMatch(/could not save it: the bot's style storage is full/);
    expect(text).not.toMatch(/database or disk is full/);
    expect(file?.data).toEqual(new Uint8Array([1, 2, 3]));
    expect(await b.registry.has(ctx.who, 'blue')).toBe(false);
    expect(blobs).toBe(1);
    // Room again (the operator freed space): the same training is stored.
    b.db.pragma('max_page_count = 1073741823');
    expect((await train(ctx, 'blue')).text).toMatch(/learned style \*\*blue\*\*/);
    await b.queue.close();
    await b.registry.close();
  });

  it('a per-person style limit over all servers: refused up front, and a style refused when stored comes back as a file', async () => {
    const b = await sqliteBackend({ maxStylesPerUser: 2 });
    expect((await train(b.ctx('ann', 'server-1'), 'one')).text).toMatch(/learned style/);
    expect((await train(b.ctx('ann', 'server-2'), 'two')).text).toMatch(/learned style/);
    await report.refused(
      'Rate limits',
      'a 3rd style from another server of the same person (limit 2 per person)',
      () => train(b.ctx('ann', 'dm'), 'three'),
      /you already keep 2 styles, the most one person may keep here \(2\): delete one/,
    );
    // Retraining one of them (overwrite) adds nothing: allowed.
    const again = await runCommand(b.ctx('ann', 'server-1'), 'train', {
      content: attached('a.png', await png()),
      style: attached('b.png', await png()),
      name: 'one',
      overwrite: true,
    });
    expect(again.type).toBe('job');
    if (again.type === 'job') await b.queue.finished(again.job.id);
    // Deleting one makes room; a training whose slot was taken meanwhile (another bot process) keeps its file.
    await runCommand(b.ctx('ann', 'server-2'), 'delete', { name: 'two' });
    const outcome = await runCommand(b.ctx('ann', 'dm'), 'train', {
      content: attached('a.png', await png()),
      style: attached('b.png', await png()),
      name: 'late',
    });
    if (outcome.type !== 'job') throw new Error('expected a job');
    await b.registry.put(who('ann', 'server-3'), 'meanwhile', new Uint8Array([9]), {});
    const reply = await outcome.finalize(await b.queue.finished(outcome.job.id));
    const pass = /could not save it: you already keep 2 styles/.test(reply.text) && reply.files?.[0]?.name === 'late.safetensors';
    report.row({
      section: 'Rate limits',
      case: 'the per-person style limit is reached by another bot process while a training runs',
      expected: 'the training is answered with why it was not saved and its style file',
      result: reply.text.slice(0, 200),
      pass,
    });
    expect(pass, reply.text).toBe(true);
    await b.queue.close();
    await b.registry.close();
  });

  it('is configured by PAIRSTYLE_MAX_STYLES_PER_USER, validated', () => {
    const env = { PAIRSTYLE_PLAYGROUND: '1' };
    expect(loadBotConfig(env, { requireModel: false }).maxStylesPerUser).toBe(50);
    expect(loadBotConfig({ ...env, PAIRSTYLE_MAX_STYLES_PER_USER: '3' }, { requireModel: false }).maxStylesPerUser).toBe(3);
    expect(() => loadBotConfig({ ...env, PAIRSTYLE_MAX_STYLES_PER_USER: '0' }, { requireModel: false })).toThrow(
      /PAIRSTYLE_MAX_STYLES_PER_USER must be a whole number from 1 to 100000/,
    );
  });
});
