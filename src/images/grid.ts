/** Image grids with sharp: tiles of RGB pictures, nearest-neighbour upscaled, optional captions. */
import sharp, { type OverlayOptions } from 'sharp';

export interface Tile {
  /** Interleaved RGB, width*height*3 bytes. */
  rgb: Uint8Array;
  width: number;
  height: number;
  label?: string;
}

export interface GridOptions {
  columns: number;
  /** Integer nearest-neighbour upscale of every tile (pixel art stays crisp). */
  scale?: number;
  gap?: number;
  /** Height of the caption strip under each tile (0: no captions). */
  labelHeight?: number;
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Lays tiles out row by row on white and returns a PNG. */
export async function gridPng(tiles: readonly Tile[], opts: GridOptions): Promise<Buffer> {
  const scale = opts.scale ?? 1;
  const gap = opts.gap ?? 2;
  const labelH = opts.labelHeight ?? 0;
  const tw = Math.max(...tiles.map((t) => t.width)) * scale;
  const th = Math.max(...tiles.map((t) => t.height)) * scale;
  const cols = Math.min(opts.columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const width = cols * tw + (cols + 1) * gap;
  const height = rows * (th + labelH) + (rows + 1) * gap;
  const layers: OverlayOptions[] = [];
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    const left = gap + (i % cols) * (tw + gap);
    const top = gap + Math.floor(i / cols) * (th + labelH + gap);
    const input = await sharp(Buffer.from(t.rgb), { raw: { width: t.width, height: t.height, channels: 3 } })
      .resize(t.width * scale, t.height * scale, { kernel: 'nearest' })
      .png()
      .toBuffer();
    layers.push({ input, left, top });
    if (labelH && t.label) {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${tw}" height="${labelH}"><text x="${tw / 2}" y="${labelH - 4}" font-family="sans-serif" font-size="${Math.min(12, labelH - 2, Math.floor((1.8 * tw) / t.label.length))}" text-anchor="middle" fill="#222">${escapeXml(t.label)}</text></svg>`;
      layers.push({ input: Buffer.from(svg), left, top: top + th });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}
