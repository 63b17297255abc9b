/**
 * A style registry in its own process, for tests of several bot processes on one store:
 * `node --import tsx test/helpers/registry-process.ts '<json>'` with { url, index, rounds }.
 * Opens the store at `url`, stores its own styles, prints `READY`, waits for a line `GO` on stdin (so
 * that all processes start together), then, as process `index`:
 *  - shares its own `rounds` styles (user `sharer<index>`, stored before the start) in workspace w;
 *  - saves `rounds` styles `p<index>-<k>` for the one user `same`;
 *  - overwrites the style `hot` of the user `hot` `rounds` times;
 * and prints `DONE` (or `ERROR <message>`), then exits.
 */
import { createInterface } from 'node:readline';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';

const { url, index, rounds } = JSON.parse(process.argv[2] ?? '{}') as { url: string; index: number; rounds: number };
const who = (user: string): Scope => ({ platform: 'test', workspace: 'w', user });
const registry = new StyleRegistry(await openKeyv(url));
const bytes = (k: number) => new Uint8Array([index, k, 1, 2, 3]);
try {
  const sharer = who(`sharer${index}`);
  for (let k = 0; k < rounds; k++) await registry.put(sharer, `s${k}`, bytes(k), {});
  process.stdout.write('READY\n');
  const input = createInterface({ input: process.stdin });
  await new Promise<void>((r) => input.on('line', (l) => l.trim() === 'GO' && r()));
  input.close();
  await Promise.all([
    (async () => {
      for (let k = 0; k < rounds; k++) await registry.setShared(sharer, `s${k}`, true);
    })(),
    (async () => {
      for (let k = 0; k < rounds; k++) await registry.put(who('same'), `p${index}-${k}`, bytes(k), {});
    })(),
    (async () => {
      for (let k = 0; k < rounds; k++) await registry.put(who('hot'), 'hot', bytes(k), { by: index }, { overwrite: true });
    })(),
  ]);
  process.stdout.write('DONE\n');
} catch (e) {
  process.stdout.write(`ERROR ${(e as Error).message}\n`);
} finally {
  await registry.close();
}
