/**
 * The pretraining dataset as plain arrays for the PyTorch pretraining on a GPU host
 * (scripts/gpu-pretrain/pretrain.py): `npm run pretrain:gpu-data -- [--data data/styles32.bin]
 * [--out data/gpu-pretrain] [--emoji-share 0.75] [--init-from models/emoji-mini]`.
 *
 * What `npm run pretrain` draws each step is written out so that the Python side draws the same
 * distribution without re-implementing the project's tokenizer or captions:
 * Every array is a gzipped little-endian file (NAME.gz):
 * - pixels.u8: every picture, uint8 HWC RGB, [count, 32, 32, 3] (the dataset file's own bytes);
 * - item_weight.f64: each picture's probability of being drawn (itemWeights, as itemSampler draws: --emoji-share
 *   of the draws from the emoji sets, the rest from the icon collections, uniform within each group);
 * - captions.i32 [captions, 16]: token ids of every caption captionFor can give each picture (captionDistribution), with
 *   caption_item.i32 (the picture of each) and caption_weight.f64 (its probability given the picture);
 *   empty.i32: the empty caption (10% caption dropout);
 * - token_map.i32: for each token of this vocabulary, its id in --init-from's vocabulary or -1 (new words
 *   start at the mean embedding, as remapTokenEmbedding does);
 * - meta.json: counts, the UNet and text configs, the noise schedule, the sets and the source dataset's sha256.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { captionDistribution, decodeDataset, itemWeights } from '../../src/data/dataset.ts';
import { getSetDef, stylePhrases } from '../../src/data/emoji-sets.ts';
import type { WordTokenizer } from '../../src/models/tokenizers/word.ts';
import { EMOJI_MINI_UNET_CONFIG } from '../../src/models/unet-config.ts';
import { buildEmojiTokenizer, EMOJI_MINI_CONTEXT, EMOJI_MINI_SCHEDULE, emojiMiniTextConfigFor } from '../../src/pipeline/emoji-mini.ts';
import { loadModelFolder } from '../../src/pipeline/model-folder.ts';
import { CAPTION_DROPOUT } from '../lib/pretrain-step.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'data/styles32.bin' },
    out: { type: 'string', default: 'data/gpu-pretrain' },
    'emoji-share': { type: 'string', default: '0.75' },
    'init-from': { type: 'string', default: 'models/emoji-mini' },
  },
});

const bytes = readFileSync(args.data!);
const ds = decodeDataset(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
const tokenizer = buildEmojiTokenizer(ds.items, stylePhrases(ds.sets));
const emojiShare = Number(args['emoji-share']);
const itemWeight = itemWeights(ds, emojiShare);
const emojiCount = ds.items.filter((it) => getSetDef(it.set).kind === 'emoji').length;
const iconCount = ds.count - emojiCount;

const ids: number[] = [];
const captionItem: number[] = [];
const captionWeight: number[] = [];
ds.items.forEach((item, i) => {
  for (const { caption, probability } of captionDistribution(item)) {
    ids.push(...tokenizer.encode(caption, EMOJI_MINI_CONTEXT));
    captionItem.push(i);
    captionWeight.push(probability);
  }
});

const from = await loadModelFolder(args['init-from']!);
const old = from.tokenizer as WordTokenizer;
const tokenMap = new Int32Array(tokenizer.tokens.map((t) => old.id(t) ?? -1));

const out = args.out!;
mkdirSync(out, { recursive: true });
/** Gzipped (the pictures are 109 MB raw, 15 MB gzipped: what travels to a GPU host is small). */
const write = (name: string, a: ArrayBufferView) => writeFileSync(`${out}/${name}.gz`, gzipSync(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
write('pixels.u8', ds.pixels);
write('item_weight.f64', itemWeight);
write('captions.i32', new Int32Array(ids));
write('caption_item.i32', new Int32Array(captionItem));
write('caption_weight.f64', new Float64Array(captionWeight));
write('empty.i32', new Int32Array(tokenizer.encode('', EMOJI_MINI_CONTEXT)));
write('token_map.i32', tokenMap);
const meta = {
  source: args.data,
  sourceSha256: createHash('sha256').update(bytes).digest('hex'),
  count: ds.count,
  height: ds.height,
  width: ds.width,
  captions: captionItem.length,
  contextLength: EMOJI_MINI_CONTEXT,
  emojiShare,
  emojiPictures: emojiCount,
  iconPictures: iconCount,
  captionDropout: CAPTION_DROPOUT,
  sets: ds.sets.map((s) => s.id),
  vocabulary: tokenizer.tokens,
  initFrom: args['init-from'],
  tokensCarriedOver: tokenMap.filter((v) => v >= 0).length,
  unet: EMOJI_MINI_UNET_CONFIG,
  text: emojiMiniTextConfigFor(tokenizer),
  schedule: EMOJI_MINI_SCHEDULE,
};
writeFileSync(`${out}/meta.json`, `${JSON.stringify(meta, null, 1)}\n`);
console.log(
  `${out}: ${ds.count} pictures (${emojiCount} emoji, ${iconCount} icons; emoji share ${emojiShare}), ${captionItem.length} captions, ` +
    `vocabulary ${tokenizer.vocabSize} (${meta.tokensCarriedOver} known to ${args['init-from']})`,
);
