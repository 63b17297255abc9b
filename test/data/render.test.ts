import { describe, expect, it } from 'vitest';
import { renderIcon, SUPERSAMPLE, iconSvg } from '../../src/data/render.ts';
import type { SetId } from '../../src/data/emoji-sets.ts';

const SIZE = 32;

function pixel(px: Uint8Array, x: number, y: number): [number, number, number] {
  const i = (y * SIZE + x) * 3;
  return [px[i]!, px[i + 1]!, px[i + 2]!];
}

describe('renderIcon', () => {
  const sets: SetId[] = ['noto', 'twemoji', 'fluent', 'openmoji'];
  for (const set of sets) {
    it(`renders ${set}:dog-face to 32x32 RGB on white`, async () => {
      const px = await renderIcon(set, 'dog-face', SIZE);
      expect(px).toBeInstanceOf(Uint8Array);
      expect(px.length).toBe(SIZE * SIZE * 3);
      for (const [x, y] of [
        [0, 0],
        [SIZE - 1, 0],
        [0, SIZE - 1],
        [SIZE - 1, SIZE - 1],
      ] as const) {
        for (const v of pixel(px, x, y)) expect(v).toBeGreaterThanOrEqual(250);
      }
      let nonWhite = 0;
      let coloured = 0;
      for (let i = 0; i < px.length; i += 3) {
        const [r, g, b] = [px[i]!, px[i + 1]!, px[i + 2]!];
        if (r < 240 || g < 240 || b < 240) nonWhite++;
        if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
      }
      expect(nonWhite).toBeGreaterThan(100); // a dog, not a blank tile
      expect(coloured).toBeGreaterThan(50); // in colour, not black/grey
    });
  }

  it("renders fluent's flipped alias (backhand-index-pointing-right) as the mirror of left", async () => {
    const left = await renderIcon('fluent', 'backhand-index-pointing-left', SIZE);
    const right = await renderIcon('fluent', 'backhand-index-pointing-right', SIZE);
    let diff = 0;
    for (let y = 0; y < SIZE; y++)
      for (let x = 0; x < SIZE; x++) for (let c = 0; c < 3; c++) diff += Math.abs(left[(y * SIZE + x) * 3 + c]! - right[(y * SIZE + (SIZE - 1 - x)) * 3 + c]!);
    expect(diff / left.length).toBeLessThan(3);
  });

  it('builds an SVG at the supersampled size and rejects unknown icons', () => {
    const svg = iconSvg('noto', 'dog-face', SIZE * SUPERSAMPLE);
    expect(svg).toMatch(/^<svg [^>]*width="128" height="128"/);
    expect(() => iconSvg('noto', 'no-such-icon-xyz', 128)).toThrow(/not found/);
  });
});
