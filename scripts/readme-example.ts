/**
 * The README's pair example, made by the CLI itself: renders Noto's and OpenMoji's "dog face" (the
 * content picture and its stylized counterpart; OpenMoji is the style the base model never saw), runs
 * `npx pairstyle train` on them and `npx pairstyle draw` for a few other prompts, and puts the pair and
 * each prompt's unstyled | styled drawings in docs/pair-example.png (with the two inputs as
 * docs/example/dog-noto.png and dog-openmoji.png). Then the stylize example, also by the CLI: Twemoji's
 * "cat face" (an artist the style never saw) through `npx pairstyle stylize` at its defaults, as the
 * picture | its plain reconstruction | stylized, side by side at 8x, in docs/stylize-example.png.
 *   npx tsx scripts/readme-example.ts [--strength W]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { renderIcon } from '../src/data/render.ts';
import { gridPng, type Tile } from '../src/images/grid.ts';

const { values: a } = parseArgs({ options: { strength: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } } });
const PROMPTS = ['cat face', 'red apple', 'rocket', 'smiling face with sunglasses', 'house', 'penguin'];
const home = mkdtempSync(join(tmpdir(), 'pairstyle-readme-'));
const cli = (...args: string[]) =>
  execFileSync(process.execPath, ['bin/pairstyle.mjs', ...args], {
    env: { ...process.env, PAIRSTYLE_HOME: home },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
const rgbOf = async (file: string): Promise<Tile> => {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), width: info.width, height: info.height };
};
try {
  mkdirSync('docs/example', { recursive: true });
  const pngOf = async (set: 'noto' | 'openmoji', file: string) =>
    writeFileSync(
      file,
      await sharp(await renderIcon(set, 'dog-face', 128), { raw: { width: 128, height: 128, channels: 3 } })
        .png()
        .toBuffer(),
    );
  await pngOf('noto', 'docs/example/dog-noto.png');
  await pngOf('openmoji', 'docs/example/dog-openmoji.png');
  const trained = JSON.parse(
    cli('train', '--content', 'docs/example/dog-noto.png', '--style', 'docs/example/dog-openmoji.png', '--name', 'openmoji', '--subject', 'dog face', '--json'),
  ) as { seconds?: number };
  console.log(`trained in ${trained.seconds?.toFixed(1) ?? '?'} s`);
  const tiles: Tile[] = [];
  for (const [file, label] of [
    ['docs/example/dog-noto.png', 'content (Noto)'],
    ['docs/example/dog-openmoji.png', 'style (OpenMoji)'],
  ] as const) {
    const t = await rgbOf(file);
    const small = await sharp(Buffer.from(t.rgb), { raw: { width: t.width, height: t.height, channels: 3 } })
      .resize(32, 32)
      .raw()
      .toBuffer();
    tiles.push({ rgb: new Uint8Array(small), width: 32, height: 32, label });
  }
  for (const prompt of PROMPTS) {
    const out = join(home, 'styled.png');
    const plain = join(home, 'plain.png');
    cli('draw', prompt, '--style', 'openmoji', '--strength', a.strength!, '--seed', a.seed!, '--out', out, '--unstyled-out', plain);
    for (const [file, label] of [
      [plain, prompt],
      [out, `${prompt}, styled`],
    ] as const) {
      const t = await rgbOf(file);
      const small = await sharp(Buffer.from(t.rgb), { raw: { width: t.width, height: t.height, channels: 3 } })
        .resize(32, 32, { kernel: 'nearest' })
        .raw()
        .toBuffer();
      tiles.push({ rgb: new Uint8Array(small), width: 32, height: 32, label });
    }
  }
  writeFileSync('docs/pair-example.png', await gridPng(tiles, { columns: 2, scale: 4, labelHeight: 16 }));
  console.log('wrote docs/pair-example.png');

  const cat = join(home, 'cat-twemoji.png');
  writeFileSync(
    cat,
    await sharp(await renderIcon('twemoji', 'cat-face', 32), { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer(),
  );
  const [catStyled, catPlain] = [join(home, 'cat-styled.png'), join(home, 'cat-plain.png')];
  cli('stylize', cat, '--style', 'openmoji', '--out', catStyled, '--unstyled-out', catPlain);
  const row: Tile[] = [];
  for (const file of [cat, catPlain, catStyled]) {
    const t = await rgbOf(file);
    const small = await sharp(Buffer.from(t.rgb), { raw: { width: t.width, height: t.height, channels: 3 } })
      .resize(32, 32, { kernel: 'nearest' })
      .raw()
      .toBuffer();
    row.push({ rgb: new Uint8Array(small), width: 32, height: 32 });
  }
  writeFileSync('docs/stylize-example.png', await gridPng(row, { columns: 3, scale: 8 }));
  console.log('wrote docs/stylize-example.png');
} finally {
  rmSync(home, { recursive: true, force: true });
}
