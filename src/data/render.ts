/**
 * Render iconify emoji to small RGB rasters.
 *
 * Pipeline: iconify JSON -> getIconData (resolves aliases, incl. flips) ->
 * iconToSVG at SUPERSAMPLE x the target size -> SVG string -> sharp/librsvg
 * rasterises at that size with alpha -> resize to the target with lanczos3
 * (premultiplied alpha, so no dark fringes) -> flatten on white -> RGB.
 *
 * Rendering at 4x and downscaling with a proper kernel avoids the aliasing you
 * get when librsvg rasterises thin strokes directly at 32 px.
 */
import sharp from 'sharp';
import { getIconData, iconToHTML, iconToSVG } from '@iconify/utils';
import type { IconifyJSON } from '@iconify/types';
import { loadIconSet, type SetId } from './emoji-sets.ts';

/** Supersampling factor: the SVG is rasterised at size * SUPERSAMPLE. */
export const SUPERSAMPLE = 4;

/** SVG markup of one icon of an iconify set, `px` x `px`, or null if absent. */
export function iconSvgFrom(iconSet: IconifyJSON, name: string, px: number): string | null {
  const data = getIconData(iconSet, name);
  if (!data) return null;
  const built = iconToSVG(data, { width: String(px), height: String(px) });
  // Each SVG is a standalone document, so its ids cannot clash with another
  // icon's: no replaceIDs (which would make the markup random per call).
  return iconToHTML(built.body, built.attributes);
}

/** SVG markup of `set:name` at `px` x `px`; throws if the icon does not exist. */
export function iconSvg(set: SetId, name: string, px: number): string {
  const svg = iconSvgFrom(loadIconSet(set), name, px);
  if (svg === null) throw new Error(`icon not found: ${set}:${name}`);
  return svg;
}

/**
 * Rasterise an SVG string to `size` x `size` RGB (HWC, uint8) on white.
 * The SVG is expected to be square and already sized `size * SUPERSAMPLE`;
 * any other size works too (it is fitted with `contain` on white).
 */
export async function rasteriseSvg(svg: string, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(Buffer.from(svg, 'utf8'))
    .resize(size, size, {
      kernel: 'lanczos3',
      fit: 'contain',
      background: { r: 255, g: 255, b: 255, alpha: 0 },
    })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`unexpected raster ${info.width}x${info.height}x${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Render one icon of any set (pretraining or held-out) to size x size RGB,
 * HWC uint8, flattened on white. This is the entry point for evaluation on the
 * held-out openmoji set.
 */
export async function renderIcon(set: SetId, name: string, size = 32): Promise<Uint8Array> {
  return rasteriseSvg(iconSvg(set, name, size * SUPERSAMPLE), size);
}

/** Same as renderIcon but from an already loaded iconify set. */
export async function renderIconFrom(iconSet: IconifyJSON, name: string, size = 32): Promise<Uint8Array | null> {
  const svg = iconSvgFrom(iconSet, name, size * SUPERSAMPLE);
  return svg === null ? null : rasteriseSvg(svg, size);
}
