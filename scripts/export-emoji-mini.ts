/**
 * Exports the EMA weights of the latest pretraining checkpoint as the shipped model folder
 * (npm run model:export -- [--from runs/emoji-mini] [--to models/emoji-mini]). The pretraining script
 * does this itself when it finishes; this ships a model from a run that is still going.
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/dataset.ts';
import { buildEmojiTokenizer, emojiMiniFolder } from '../src/models/emoji-mini.ts';
import { writeModelFolder } from '../src/models/model-folder.ts';
import { loadLatestCheckpoint } from '../src/train/checkpoint.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string', default: 'runs/emoji-mini' },
    to: { type: 'string', default: 'models/emoji-mini' },
    data: { type: 'string', default: 'data/emoji32.bin' },
  },
});
const ckpt = await loadLatestCheckpoint(`${a.from}/checkpoints`);
if (!ckpt?.ema) throw new Error(`no checkpoint with EMA weights in ${a.from}/checkpoints`);
const ds = loadDataset(a.data!);
const extra = ckpt.extra as { loss?: number; batch?: number; seconds?: number };
await writeModelFolder(
  a.to!,
  emojiMiniFolder(buildEmojiTokenizer(ds.items), new Map(Object.entries(ckpt.ema.shadow)), {
    steps: ckpt.step,
    batch: extra.batch,
    smoothedLoss: extra.loss,
    trainingSeconds: extra.seconds,
    pictures: ds.count,
  }),
);
console.log(`exported step ${ckpt.step} (EMA) from ${ckpt.path} to ${a.to}`);
