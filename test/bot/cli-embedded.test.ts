/**
 * `npx pairstyle stylize` as from a fresh clone: the command's own process (bin/pairstyle.mjs), no model
 * configured (the embedded model), a new home folder. A style learned from the README's example pair,
 * then Twemoji's cat face stylized at the defaults: the plain reconstruction keeps the picture and the
 * styled one keeps its structure (SSIM >= 0.6, the bar of the evaluation) while differing from it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { renderIcon } from '../../src/data/render.ts';
import { ssim } from '../../src/eval/ssim.ts';
import { loadImage } from '../../src/images/io.ts';
import { STYLIZE_DEFAULTS } from '../../src/pair/stylize.ts';
import { runPairstyle } from '../helpers/cli-process.ts';

const SIZE = 32; // the embedded model's picture size

describe('pairstyle stylize on the embedded model (a fresh clone: nothing configured)', () => {
  it('learns a style from the example pair, then stylizes a picture at the defaults: styled and plain reconstruction', async () => {
    const work = mkdtempSync(join(tmpdir(), 'pairstyle-embedded-'));
    const env = { PAIRSTYLE_HOME: join(work, 'home') };
    const cat = join(work, 'cat-twemoji.png');
    writeFileSync(
      cat,
      await sharp(await renderIcon('twemoji', 'cat-face', 128), { raw: { width: 128, height: 128, channels: 3 } })
        .png()
        .toBuffer(),
    );

    const trained = await runPairstyle(
      ['train', '--content', 'docs/example/dog-noto.png', '--style', 'docs/example/dog-openmoji.png', '--name', 'openmoji', '--steps', '30', '--json'],
      { env },
    );
    expect([trained.code, trained.stderr]).toEqual([0, expect.stringMatching(/training/)]);

    const out = join(work, 'styled.png');
    const r = await runPairstyle(['stylize', cat, '--style', 'openmoji', '--out', out, '--json'], { env });
    expect(r.stderr).toMatch(/inverting the picture/);
    expect(r.code).toBe(0);
    const { strength, keep, steps } = STYLIZE_DEFAULTS;
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({
      out,
      unstyledOut: join(work, 'styled.unstyled.png'),
      style: 'openmoji',
      strength,
      keep,
      steps,
      startStep: Math.round(keep * steps),
    });
    for (const f of [res.out, res.unstyledOut]) {
      const meta = await sharp(readFileSync(f)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 8 * SIZE, 8 * SIZE]);
    }
    const input = await loadImage(cat, SIZE);
    const styled = await loadImage(res.out, SIZE);
    const plain = await loadImage(res.unstyledOut, SIZE);
    expect(ssim(input, plain, SIZE)).toBeGreaterThanOrEqual(0.9);
    // The styled picture keeps the cat's structure at eval:stylize's bar (SSIM >= 0.6, there on the mean over
    // pairs and pictures: 0.765 [0.737, 0.791] on OpenMoji, 12 pairs x 4, v2 at the defaults keep 0.6,
    // strength 1.5, the layout held); on this one picture 0.653 (the earlier defaults gave 0.57), and a
    // picture unrelated to the input scores far lower.
    expect(ssim(input, styled, SIZE)).toBeGreaterThanOrEqual(0.6);
    expect(readFileSync(res.out).equals(readFileSync(res.unstyledOut))).toBe(false);
  }, 300_000);
});
