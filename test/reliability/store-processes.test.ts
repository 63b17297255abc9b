/**
 * Several bot processes on one style store: 4 registry processes, each its own
 * `node --import tsx` process, on one SQLite file and on one redis-server, all starting together:
 * concurrent shares in one workspace, concurrent saves for one user, concurrent overwrites of one
 * style. Nothing may be lost: every share is in the workspace's list, every saved style is listed and
 * usable, and the overwritten style has exactly one stored copy (every replaced copy deleted).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';
import { RedisServer } from '../../testing/redis-server.ts';
import { reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const PROCESSES = 4;
const ROUNDS = 12;
const redis = new RedisServer();
const who = (user: string): Scope => ({ platform: 'test', workspace: 'w', user });

beforeAll(async () => {
  await redis.start();
}, 30_000);
afterAll(async () => {
  await redis.stop();
});

/** Runs the registry processes on `url` together; resolves when all printed DONE (bounded). */
async function runProcesses(url: string): Promise<void> {
  const procs = Array.from({ length: PROCESSES }, (_, index) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/registry-process.ts', JSON.stringify({ url, index, rounds: ROUNDS })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const lines = createInterface({ input: p.stdout! });
    const seen = (what: RegExp) =>
      new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`registry process ${index}: no ${what.source} in 120 s: ${err}`)), 120_000);
        lines.on('line', (l) => {
          if (what.test(l) || l.startsWith('ERROR')) {
            clearTimeout(t);
            resolve(l);
          }
        });
        p.once('exit', (code) => reject(new Error(`registry process ${index} exited (${code}): ${err}`)));
      });
    return { p, ready: seen(/^READY/), done: seen(/^DONE/) };
  });
  // All ready (started, their own styles stored): then all go at once.
  await Promise.all(procs.map((x) => x.ready));
  for (const x of procs) x.p.stdin!.write('GO\n');
  const outcomes = await Promise.all(procs.map((x) => x.done));
  expect(outcomes.filter((l) => l !== 'DONE')).toEqual([]);
}

async function check(kind: string, url: string, blobCount: (pattern: string) => Promise<number>) {
  const registry = new StyleRegistry(await openKeyv(url));
  // Shares: every process shared ROUNDS styles of its own user in one workspace.
  const seenByOther = await registry.list(who('nobody'));
  const shares = seenByOther.shared.length;
  // Saves for one user: every process saved ROUNDS styles.
  const same = await registry.list(who('same'));
  let usable = 0;
  for (let i = 0; i < PROCESSES; i++)
    for (let k = 0; k < ROUNDS; k++)
      if (
        await registry.load(who('same'), `p${i}-${k}`).then(
          () => true,
          () => false,
        )
      )
        usable++;
  // Overwrites of one style: one entry, one stored copy.
  const hotCopies = await blobCount('blob:test:w:hot:hot:');
  await registry.close();
  const want = PROCESSES * ROUNDS;
  const rows = [
    {
      case: `${PROCESSES} processes share ${ROUNDS} styles each in one workspace at once (${kind})`,
      expected: `all ${want} shared`,
      result: `${shares} of ${want} in the workspace's shared list`,
      pass: shares === want,
    },
    {
      case: `${PROCESSES} processes save ${ROUNDS} styles each for one user at once (${kind})`,
      expected: `all ${want} listed and usable`,
      result: `${same.own.length} listed, ${usable} usable`,
      pass: same.own.length === want && usable === want,
    },
    {
      case: `${PROCESSES} processes overwrite one style ${ROUNDS} times each at once (${kind})`,
      expected: 'exactly one stored copy left (every replaced copy deleted)',
      result: `${hotCopies} stored copies`,
      pass: hotCopies === 1,
    },
  ];
  for (const r of rows) report.row({ section: 'Several machines', ...r });
  expect(rows.filter((r) => !r.pass).map((r) => `${r.case}: ${r.result}`)).toEqual([]);
}

describe('several bot processes on one style store', () => {
  it('lose no update on one SQLite file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pairstyle-procs-')), 'styles.sqlite');
    await runProcesses(`sqlite://${file}`);
    await check('SQLite file', `sqlite://${file}`, async (prefix) => {
      const db = new Database(file, { readonly: true });
      const n = (db.prepare('SELECT count(*) AS n FROM keyv WHERE key LIKE ?').get(`pairstyle:${prefix}%`) as { n: number }).n;
      db.close();
      return n;
    });
  }, 240_000);

  it('lose no update on one redis-server', async () => {
    const url = `${redis.url}/0`;
    await runProcesses(url);
    await check('Redis', url, async (prefix) => {
      const keyv = await openKeyv(url);
      const client = await (keyv.store as { getClient(): Promise<{ keys(p: string): Promise<string[]> }> }).getClient();
      const n = (await client.keys(`*${prefix}*`)).length;
      await keyv.disconnect();
      return n;
    });
  }, 240_000);
});
