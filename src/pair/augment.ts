/**
 * Augmentation of a training item: one geometric transform per step, applied identically to every
 * picture of the item (a pair's content and style image), so that their difference, the style, stays
 * aligned while its position and size vary. Colour-preserving: every output pixel is a copy of one
 * input pixel (nearest-neighbour sampling; what a shift or a zoom-out uncovers repeats the border
 * pixel), so no colour appears that the picture does not have and outlines stay hard.
 *
 * A transform is a horizontal flip, an integer shift (dx right, dy down) and a zoom about the centre
 * (> 1 crops the centre and enlarges it, < 1 shrinks the picture inside a padded border).
 */
import type { Rng } from '../graph/rng.ts';

/** What a training may vary besides the flip. */
export interface Augmentation {
  /** Largest shift in pixels; each axis uniform over the integers -shift..shift. */
  shift: number;
  /** The zoom factors to choose from, uniformly (1: none). */
  zooms: readonly number[];
}

/** The transform of one step. */
export interface Transform {
  flip: boolean;
  dx: number;
  dy: number;
  zoom: number;
}

/** Flips only: what every pair training does without augmentation. */
export const NO_AUGMENTATION: Augmentation = { shift: 0, zooms: [1] };

/**
 * The augmentation that eval:pair screens (`pair-guidance-augment`) for the 32 px emoji-mini: shifts of
 * up to 2 px (1/16 of the picture) and a 9/8 zoom-in (the centre 28 px) half of the time.
 */
export const PAIR_AUGMENTATION: Augmentation = { shift: 2, zooms: [1, 9 / 8] };

/** Checks an augmentation's figures; a clear error names the bad one. */
export function checkAugmentation(a: Augmentation): void {
  if (!Number.isInteger(a.shift) || a.shift < 0) throw new Error(`augmentation: shift must be an integer >= 0, got ${a.shift}`);
  if (a.zooms.length === 0 || a.zooms.some((z) => !Number.isFinite(z) || z <= 0))
    throw new Error(`augmentation: zooms must be a non-empty list of numbers > 0, got [${a.zooms.join(', ')}]`);
}

/** The shift and zoom of a step from `rng` (the flip comes from the caller's own stream). */
export function drawTransform(rng: Rng, a: Augmentation, flip: boolean): Transform {
  const dx = a.shift ? rng.int(2 * a.shift + 1) - a.shift : 0;
  const dy = a.shift ? rng.int(2 * a.shift + 1) - a.shift : 0;
  const zoom = a.zooms.length > 1 ? a.zooms[rng.int(a.zooms.length)] : a.zooms[0];
  return { flip, dx, dy, zoom };
}

/** A key that tells transforms with different outputs apart (for caching encoded pictures). */
export const transformKey = (t: Transform): string => `${t.flip ? 1 : 0},${t.dx},${t.dy},${t.zoom}`;

/**
 * The transformed picture, float32 [channels, size, size] like its input: out(x, y) = in(sx, sy) with
 * x mirrored first when flipping, then sx = round((x + 0.5 - size/2) / zoom + size/2 - 0.5) - dx
 * (likewise sy with dy), clamped to the picture.
 */
export function transformImage(img: Float32Array, size: number, t: Transform): Float32Array {
  const plane = size * size;
  if (img.length % plane !== 0) throw new Error(`transformImage: ${img.length} values are not whole ${size}x${size} planes`);
  const source = (v: number, d: number) => Math.min(size - 1, Math.max(0, Math.round((v + 0.5 - size / 2) / t.zoom + size / 2 - 0.5) - d));
  const sx = Array.from({ length: size }, (_, x) => source(t.flip ? size - 1 - x : x, t.dx));
  const sy = Array.from({ length: size }, (_, y) => source(y, t.dy));
  const out = new Float32Array(img.length);
  for (let ch = 0; ch < img.length / plane; ch++)
    for (let y = 0; y < size; y++) {
      const from = ch * plane + sy[y] * size;
      const to = ch * plane + y * size;
      for (let x = 0; x < size; x++) out[to + x] = img[from + sx[x]];
    }
  return out;
}
