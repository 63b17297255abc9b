/** The pairstyle CLI end to end on a tiny random model folder: train, styles, draw, blend, export, delete, errors. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/bot/cli.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { runPairstyle } from '../helpers/cli-process.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';

const work = mkdtempSync(join(tmpdir(), 'pairstyle-cli-'));
let env: NodeJS.ProcessEnv;

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false }, env);
  return { code, out: out.join('\n'), err: err.join('') };
}

beforeAll(async () => {
  env = { PAIRSTYLE_MODEL: await writeTinyModelFolder(), PAIRSTYLE_HOME: join(work, 'home') };
  // A content picture (a red disc) and its "stylized" counterpart (a blue square), of different sizes.
  const disc = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="24" fill="#d22"/></svg>`;
  const square = `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="80"><rect x="20" y="12" width="56" height="56" fill="#22d"/></svg>`;
  await sharp(Buffer.from(disc)).png().toFile(join(work, 'content.png'));
  await sharp(Buffer.from(square)).jpeg().toFile(join(work, 'style.jpg'));
  writeFileSync(join(work, 'not-an-image.png'), 'hello');
});

describe('pairstyle CLI', () => {
  it('trains a style from a pair (any format, sizes differ), lists it, refuses a duplicate name', async () => {
    const r = await cli('train', '--content', join(work, 'content.png'), '--style', join(work, 'style.jpg'), '--name', 'Blocky', '--steps', '12', '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res).toMatchObject({ name: 'blocky', steps: 12 });
    expect(r.err).toMatch(/training \[#+\] 12\/12/);
    const listed = await cli('styles', '--json');
    expect(JSON.parse(listed.out).map((s: { name: string }) => s.name)).toEqual(['blocky']);
    await expect(cli('train', '--content', join(work, 'content.png'), '--style', join(work, 'style.jpg'), '--name', 'blocky')).rejects.toThrow(
      /exists already/,
    );
  });

  it('draws the stylized image and its unstyled counterpart as upscaled PNGs', async () => {
    const out = join(work, 'styled.png');
    const r = await cli('draw', 'cat face', '--style', 'blocky', '--strength', '4', '--steps', '3', '--out', out, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    for (const f of [res.out, res.unstyledOut]) {
      const meta = await sharp(readFileSync(f)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    }
    expect(readFileSync(res.out).equals(readFileSync(res.unstyledOut))).toBe(false);
    const plain = await cli('draw', 'cat face', '--steps', '3', '--out', join(work, 'plain.png'));
    expect(plain.out).toMatch(/drew 'cat face'/);
  });

  it('stylizes a picture of its own in the process: the styled picture and its plain reconstruction; refuses no picture, a bad one, an unknown style', async () => {
    const styled = join(work, 'stylized.png');
    const r = await runPairstyle(
      ['stylize', join(work, 'content.png'), '--style', 'blocky', '--strength', '4', '--keep', '0.3', '--steps', '4', '--out', styled, '--json'],
      {
        env,
      },
    );
    expect(r.stderr).toMatch(/stylizing \[#+\] 4\/4/);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({
      out: styled,
      unstyledOut: join(work, 'stylized.unstyled.png'),
      style: 'blocky',
      strength: 4,
      keep: 0.3,
      steps: 4,
      startStep: 1,
    });
    for (const f of [res.out, res.unstyledOut]) {
      const meta = await sharp(readFileSync(f)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    }
    expect(readFileSync(res.out).equals(readFileSync(res.unstyledOut))).toBe(false);
    const refusals: [string[], RegExp][] = [
      [['stylize', '--style', 'blocky', '--out', styled], /usage: pairstyle stylize IMAGE --style NAME --out/],
      [['stylize', join(work, 'not-an-image.png'), '--style', 'blocky', '--out', styled], /not-an-image\.png: .*not a readable image/],
      [['stylize', join(work, 'missing.png'), '--style', 'blocky', '--out', styled], /missing\.png: /],
      [['stylize', join(work, 'content.png'), '--style', 'nope', '--out', styled], /no style named 'nope'/],
      [['stylize', join(work, 'content.png'), '--style', 'blocky', '--keep', '1', '--out', styled], /--keep must be a number from 0 to 0\.95/],
    ];
    for (const [args, message] of refusals) {
      const refused = await runPairstyle(args, { env });
      expect([refused.code, refused.stderr]).toEqual([2, expect.stringMatching(message)]);
    }
  }, 600_000);

  it('stylizes with feature injection from the plain reconstruction (--inject, --inject-until), refusing bad points and shares', async () => {
    const args = (out: string, ...more: string[]) => [
      'stylize',
      join(work, 'content.png'),
      '--style',
      'blocky',
      '--strength',
      '4',
      '--keep',
      '0.3',
      '--steps',
      '4',
      '--out',
      join(work, out),
      '--json',
      ...more,
    ];
    const free = JSON.parse((await cli(...args('free.png'))).out);
    expect(free.injection).toBeNull();
    const r = await cli(...args('injected.png', '--inject', 'resnets+attention', '--inject-until', '0.5'));
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.injection).toEqual({ points: ['resnets', 'attention'], until: 0.5 });
    // The plain reconstruction is the same; the styled picture is not.
    expect(readFileSync(res.unstyledOut).equals(readFileSync(free.unstyledOut))).toBe(true);
    expect(readFileSync(res.out).equals(readFileSync(free.out))).toBe(false);
    const none = JSON.parse((await cli(...args('none.png', '--inject', 'none'))).out);
    expect(readFileSync(none.out).equals(readFileSync(free.out))).toBe(true);
    const refusals: [string[], RegExp][] = [
      [args('x.png', '--inject', 'queries'), /--inject: unknown point 'queries'/],
      [args('x.png', '--inject', 'resnets\u001b[31m'), /--inject must be resnets, attention, resnets\+attention or none, got 'resnets\?\[31m'/],
      [args('x.png', '--inject', 'resnets', '--inject-until', '0'), /--inject-until must be a number from 0.01 to 1/],
      [args('x.png', '--inject-until', '0.5'), /--inject: name its points/],
    ];
    for (const [argv, message] of refusals) await expect(cli(...argv)).rejects.toThrow(message);
  }, 300_000);

  it('blends two styles into a strip and exports a style file', async () => {
    await cli('train', '--content', join(work, 'style.jpg'), '--style', join(work, 'content.png'), '--name', 'roundy', '--steps', '12', '--seed', '3');
    const r = await cli('blend', 'blocky', 'roundy', '--prompt', 'rocket', '--strip', '3', '--steps', '2', '--out', join(work, 'strip.png'));
    expect(r.out).toMatch(/3 images/);
    expect((await sharp(join(work, 'strip.png')).metadata()).width).toBeGreaterThan(3 * 32);
    await cli('export', 'blocky', '--out', join(work, 'blocky.safetensors'));
    expect(decodeStyle(readFileSync(join(work, 'blocky.safetensors'))).info.name).toBe('blocky');
    expect((await cli('delete', 'roundy')).out).toMatch(/deleted/);
  });

  it('draws, stylizes and blends in weighted styles through the CLI process (one --style list or repeated --style), refusing bad lists', async () => {
    await cli('train', '--content', join(work, 'style.jpg'), '--style', join(work, 'content.png'), '--name', 'curvy', '--steps', '12', '--seed', '5');
    const listed = join(work, 'weighted.png');
    const drawn = await runPairstyle(['draw', 'cat face', '--style', 'blocky::2 curvy::1', '--steps', '3', '--seed', '4', '--out', listed, '--json'], { env });
    expect(drawn.code).toBe(0);
    expect(JSON.parse(drawn.stdout)).toMatchObject({
      style: 'blocky + curvy',
      styles: [
        { name: 'blocky', weight: 2 },
        { name: 'curvy', weight: 1 },
      ],
      strength: 3,
    });
    expect((await sharp(readFileSync(listed)).metadata()).format).toBe('png');
    // Repeated --style is the same list: the same picture.
    const repeated = join(work, 'weighted-repeated.png');
    const again = await runPairstyle(['draw', 'cat face', '--style', 'blocky::2', '--style', 'curvy::1', '--steps', '3', '--seed', '4', '--out', repeated], {
      env,
    });
    expect([again.code, again.stdout]).toEqual([0, expect.stringMatching(/in styles 'blocky' 2 \+ 'curvy' 1 at strength 3/)]);
    expect(readFileSync(repeated).equals(readFileSync(listed))).toBe(true);
    expect(readFileSync(listed).equals(readFileSync(join(work, 'weighted.unstyled.png')))).toBe(false);
    // A blend with weights on its names: one picture at that mix.
    const mixed = await runPairstyle(['blend', 'blocky::3', 'curvy::1', '--prompt', 'rocket', '--steps', '2', '--out', join(work, 'mix.png')], { env });
    expect([mixed.code, mixed.stdout]).toEqual([0, expect.stringMatching(/blended 'blocky' and 'curvy' \(1 image\)/)]);

    const out = ['--steps', '2', '--out', join(work, 'refused.png')];
    const refusals: [string[], RegExp][] = [
      [['draw', 'cat', '--style', 'blocky::2 nope::1', ...out], /no style named 'nope'/],
      [['draw', 'cat', '--style', 'blocky::0 curvy', ...out], /the weight of 'blocky' is 0/],
      [['draw', 'cat', '--style', 'blocky::-1', '--style', 'curvy', ...out], /the weight of 'blocky' is negative/],
      [['draw', 'cat', '--style', 'blocky', '--style', 'blocky::2', ...out], /'blocky' is in the list twice/],
      [['draw', 'cat', '--style', 'a b c d e', ...out], /5 styles is too many: at most 4/],
      [['draw', 'cat', '--style', 'blocky,,curvy', ...out], /entry 2 of the style list is empty/],
      [['stylize', join(work, 'content.png'), '--style', 'blocky::x', ...out], /the weight of 'blocky' must be a number/],
      [['blend', 'blocky::3', 'curvy', '--strip', '3', '--prompt', 'rocket', ...out], /give them, --weights or --strip, only one/],
    ];
    const answers = await Promise.all(refusals.map(([args]) => runPairstyle(args, { env })));
    answers.forEach((a, i) => expect([a.code, a.stderr.trim().split('\n').length, a.stderr]).toEqual([2, 1, expect.stringMatching(refusals[i][1])]));
  }, 600_000);

  it('trains one style from several pairs, and refuses pairs that do not match up, through the CLI process', async () => {
    const r = await cli(
      'train',
      '--content',
      join(work, 'content.png'),
      '--style',
      join(work, 'style.jpg'),
      '--content',
      join(work, 'style.jpg'),
      '--style',
      join(work, 'content.png'),
      '--name',
      'two-pairs',
      '--steps',
      '12',
    );
    expect(r.out).toMatch(/learned style 'two-pairs' from 2 pairs/);
    const listed = JSON.parse((await cli('styles', '--json')).out) as { name: string; pairs?: number }[];
    expect(listed.find((s) => s.name === 'two-pairs')).toBeDefined();
    const file = decodeStyle(readFileSync(join(work, 'home', 'styles', 'two-pairs.safetensors')));
    expect(file.info.pairs).toBe(2);
    const bin = fileURLToPath(new URL('../../bin/pairstyle.mjs', import.meta.url));
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; err: string }>((resolve) => {
        execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (e, _out, err) =>
          resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, err }),
        );
      });
    const odd = await run(
      'train',
      '--content',
      join(work, 'content.png'),
      '--style',
      join(work, 'style.jpg'),
      '--content',
      join(work, 'style.jpg'),
      '--name',
      'odd',
    );
    expect(odd.code).toBe(2);
    expect(odd.err).toMatch(/as many --style as --content images .*got 2 --content and 1 --style/);
    expect(odd.err).not.toMatch(/\n\s+at /);
    const five = Array.from({ length: 5 }, () => ['--content', join(work, 'content.png'), '--style', join(work, 'style.jpg')]).flat();
    const many = await run('train', ...five, '--name', 'many');
    expect(many.code).toBe(2);
    expect(many.err).toMatch(/at most 4 pairs; got 5/);
  });

  it('answers bad input with clear errors', async () => {
    await expect(cli('draw', '')).rejects.toThrow(/give a prompt/);
    await expect(cli('draw', 'cat\u0007')).rejects.toThrow(/control characters/);
    await expect(cli('draw', 'cat', '--style', 'nope')).rejects.toThrow(/no style named 'nope'/);
    await expect(cli('draw', 'cat', '--style', 'blocky', '--strength', '11')).rejects.toThrow(/--strength must be a number from 0 to 10/);
    await expect(cli('draw', 'cat', '--steps', '2.5')).rejects.toThrow(/--steps must be a whole number/);
    await expect(cli('train', '--content', join(work, 'not-an-image.png'), '--style', join(work, 'style.jpg'), '--name', 'x')).rejects.toThrow(
      /--content .*not a readable image/,
    );
    await expect(cli('train', '--content', 'a.png', '--style', 'b.png', '--name', 'bad name!')).rejects.toThrow(/not a valid style name/);
    await expect(cli('frobnicate')).rejects.toThrow(/unknown command/);
    await expect(cli('delete', 'ghost')).rejects.toThrow(/no style named 'ghost'/);
  });
});
