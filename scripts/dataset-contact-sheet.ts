/**
 * Contact sheet of random dataset samples: data/emoji32-sheet.png.
 *
 *   npx tsx scripts/dataset-contact-sheet.ts [--in data/emoji32.bin] [--out data/emoji32-sheet.png]
 *        [--grid 16] [--scale 2] [--seed 1] [--captions]
 *
 * --captions also prints one sampled caption per tile (row-major).
 */
import sharp from 'sharp';
import { captionFor, loadDataset, mulberry32, samplePixels } from '../src/data/dataset.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

const inPath = arg('--in', 'data/emoji32.bin');
const outPath = arg('--out', 'data/emoji32-sheet.png');
const grid = Number(arg('--grid', '16'));
const scale = Number(arg('--scale', '2'));
const rng = mulberry32(Number(arg('--seed', '1')));

const ds = loadDataset(inPath);
const { height: h, width: w, channels: c } = ds;
const pad = 1;
const cellW = w + pad;
const cellH = h + pad;
const sheetW = grid * cellW + pad;
const sheetH = grid * cellH + pad;
const sheet = new Uint8Array(sheetW * sheetH * 3).fill(128); // grey gutters show the white backgrounds
const picks: number[] = [];
for (let k = 0; k < grid * grid; k++) picks.push(Math.floor(rng() * ds.count));
picks.forEach((idx, k) => {
  const px = samplePixels(ds, idx);
  const ox = pad + (k % grid) * cellW;
  const oy = pad + Math.floor(k / grid) * cellH;
  for (let y = 0; y < h; y++) {
    const src = y * w * c;
    sheet.set(px.subarray(src, src + w * c), ((oy + y) * sheetW + ox) * 3);
  }
});
await sharp(sheet, { raw: { width: sheetW, height: sheetH, channels: 3 } })
  .resize(sheetW * scale, sheetH * scale, { kernel: 'nearest' })
  .png()
  .toFile(outPath);
console.log(`${outPath}: ${grid}x${grid} samples of ${ds.count}, ${scale}x`);
if (process.argv.includes('--captions')) {
  picks.forEach((idx, k) => console.log(`${k}\t${ds.items[idx]!.set}:${ds.items[idx]!.name}\t${captionFor(ds.items[idx]!, rng)}`));
}
