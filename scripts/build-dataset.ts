/**
 * Build a pretraining dataset: `npm run data:build`.
 *
 *   npx tsx scripts/build-dataset.ts [--sets v2|v1|id,id,...] [--size 32] [--out FILE] [--limit N]
 *
 * v2 (default): every set of PRETRAIN_SETS (src/data/emoji-sets.ts) -> data/styles32.bin;
 * v1: noto, twemoji, fluent -> data/emoji32.bin (the dataset the shipped v1 weights saw).
 * Writes one file (layout documented in src/data/dataset.ts): header, uint8
 * RGB pixels N*32*32*3, JSON index. Deterministic: samples sorted by set then
 * name; the same inputs give the same bytes (sha256 printed at the end).
 * The held-out openmoji set is never included.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { buildDatasetFile } from '../src/data/build.ts';
import { V1_SET_IDS, pretrainSetIds } from '../src/data/emoji-sets.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const setsArg = arg('--sets') ?? 'v2';
const sets = setsArg === 'v2' ? pretrainSetIds() : setsArg === 'v1' ? [...V1_SET_IDS] : setsArg.split(',');
const size = Number(arg('--size') ?? '32');
const out = arg('--out') ?? (setsArg === 'v1' ? `data/emoji${size}.bin` : `data/styles${size}.bin`);
const limit = arg('--limit');
sharp.cache(false);

const t0 = performance.now();
const ds = await buildDatasetFile(out, {
  sets,
  size,
  ...(limit !== undefined ? { limitPerSet: Number(limit) } : {}),
  concurrency: 2,
  onProgress: (done, total) => process.stderr.write(`\rrendered ${done}/${total}`),
});
process.stderr.write('\n');
const secs = (performance.now() - t0) / 1000;

const rows = ds.summary.map((s) => ({
  set: s.set,
  considered: s.catalog.considered,
  aliasesFolded: s.catalog.aliasesFolded,
  skinTone: s.catalog.excluded['skin-tone'],
  countryFlag: s.catalog.excluded['country-flag'],
  duplicate: s.duplicates,
  nearDup: s.nearDuplicates,
  blank: s.blank,
  kept: s.kept,
  emojibase: `${s.catalog.match.codepoint}cp/${s.catalog.match.label}lbl/${s.catalog.match.shortcode}sc/${s.catalog.match.none}none`,
}));
console.table(rows);
const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
const withKw = ds.items.filter((i) => i.keywords.length > 0).length;
console.log(
  `total ${ds.count} samples (${ds.height}x${ds.width}x${ds.channels}), ${withKw} with keywords; ` +
    `${out}: ${(ds.bytes / 1048576).toFixed(2)} MiB (${ds.bytes} bytes), sha256 ${sha.slice(0, 16)}; ${secs.toFixed(1)} s`,
);
