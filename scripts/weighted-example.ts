/**
 * The README's weighted-styles example, made by the CLI itself: two styles learned from one pair each
 * (Noto's "dog face" → OpenMoji's, the style the base model never saw, and → Fluent's high-contrast
 * black-line one), then "cat face" drawn with the same seed unstyled, in each style alone and in the
 * weighted lists `openmoji::2 lines::1` and `openmoji::1 lines::2` (`npx pairstyle draw --style "..."`),
 * side by side with their lists as labels in docs/weighted-example.png.
 *   npx tsx scripts/weighted-example.ts [--prompt TEXT] [--seed N] [--strength S]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { renderIcon } from '../src/data/render.ts';
import { gridPng, type Tile } from '../src/images/grid.ts';

const { values: a } = parseArgs({
  options: { prompt: { type: 'string', default: 'cat face' }, seed: { type: 'string', default: '1' }, strength: { type: 'string', default: '3' } },
});
const LISTS = ['openmoji', 'openmoji::2 lines::1', 'openmoji::1 lines::2', 'lines'];
const home = mkdtempSync(join(tmpdir(), 'pairstyle-weighted-'));
const cli = (...args: string[]) =>
  execFileSync(process.execPath, ['bin/pairstyle.mjs', ...args], {
    env: { ...process.env, PAIRSTYLE_HOME: home },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
const tileOf = async (file: string, label: string): Promise<Tile> => {
  const rgb = await sharp(file).removeAlpha().resize(32, 32, { kernel: 'nearest' }).raw().toBuffer();
  return { rgb: new Uint8Array(rgb), width: 32, height: 32, label };
};
try {
  const dog = async (set: string) => {
    const file = join(home, `dog-${set}.png`);
    writeFileSync(
      file,
      await sharp(await renderIcon(set, 'dog-face', 128), { raw: { width: 128, height: 128, channels: 3 } })
        .png()
        .toBuffer(),
    );
    return file;
  };
  const noto = await dog('noto');
  for (const [name, set] of [
    ['openmoji', 'openmoji'],
    ['lines', 'fluent-hc'],
  ]) {
    const r = JSON.parse(cli('train', '--content', noto, '--style', await dog(set), '--name', name, '--subject', 'dog face', '--json')) as { seconds: number };
    console.log(`trained ${name} (Noto → ${set}) in ${r.seconds.toFixed(1)} s`);
  }
  const tiles: Tile[] = [];
  const common = ['--seed', a.seed!, '--strength', a.strength!];
  for (const [i, list] of LISTS.entries()) {
    const [out, plain] = [join(home, `styled-${i}.png`), join(home, 'plain.png')];
    console.log(cli('draw', a.prompt!, '--style', list, ...common, '--out', out, '--unstyled-out', plain).trim());
    if (i === 0) tiles.push(await tileOf(plain, 'unstyled'));
    tiles.push(await tileOf(out, list));
  }
  writeFileSync('docs/weighted-example.png', await gridPng(tiles, { columns: tiles.length, scale: 4, labelHeight: 16 }));
  console.log('wrote docs/weighted-example.png');
} finally {
  rmSync(home, { recursive: true, force: true });
}
