/**
 * A model folder of the weights that scripts/gpu-pretrain/pretrain.py wrote:
 *   npm run pretrain:gpu-import -- --from OUT [--data data/styles32.bin] [--to models/emoji-mini] [--earlier DIR]
 * OUT holds unet.safetensors, text_encoder.safetensors (the EMA weights, float16) and train.json.
 * --earlier names the model folder the run started from: its training record is kept under
 * training.earlier, and training.sets is every set of the whole chain (what the evaluations' held-out
 * check reads). The
 * vocabulary is rebuilt from the dataset as pretraining builds it; the weights must match its size, and
 * the dataset must be the one the run drew from (train.json's sourceSha256).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadDataset } from '../../src/data/dataset.ts';
import { stylePhrases } from '../../src/data/emoji-sets.ts';
import { readSafetensors } from '../../src/formats/safetensors.ts';
import { buildEmojiTokenizer, emojiMiniFolder, emojiMiniTextConfigFor, TOKEN_EMBEDDING } from '../../src/pipeline/emoji-mini.ts';
import { writeModelFolder } from '../../src/pipeline/model-folder.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string' },
    to: { type: 'string', default: 'models/emoji-mini' },
    data: { type: 'string', default: 'data/styles32.bin' },
    earlier: { type: 'string' },
  },
});
if (!a.from) throw new Error('--from names the folder pretrain.py wrote');
const record = JSON.parse(readFileSync(`${a.from}/train.json`, 'utf8')) as Record<string, unknown> & { sourceSha256: string; sets: string[] };
const sha = createHash('sha256').update(readFileSync(a.data!)).digest('hex');
if (sha !== record.sourceSha256)
  throw new Error(`${a.data} is not the dataset the run drew from (sha256 ${sha.slice(0, 16)}, the run's ${record.sourceSha256.slice(0, 16)})`);
const ds = loadDataset(a.data!);
const tokenizer = buildEmojiTokenizer(ds.items, stylePhrases(ds.sets));

const weights = new Map<string, Float32Array>();
for (const part of ['unet', 'text_encoder']) {
  const { tensors } = await readSafetensors(`${a.from}/${part}.safetensors`);
  for (const [name, t] of Object.entries(tensors)) weights.set(`${part}.${name}`, t.data as Float32Array);
}
const rows = weights.get(TOKEN_EMBEDDING)!.length / emojiMiniTextConfigFor(tokenizer).hidden_size;
if (rows !== tokenizer.vocabSize) throw new Error(`the token embedding has ${rows} rows; the dataset's vocabulary has ${tokenizer.vocabSize} tokens`);
// The loss of the starting and the final EMA weights on the same 4 fixed batches of 256 (the first and last
// entries of train.json's losses); the log's running figure is kept only as the window mean that pretrain.py
// now records (meanLoss), not as the smoothing over log points that its first runs wrote (smoothedLoss).
const { losses, sourceSha256: _sha, smoothedLoss: _smoothed, ...training } = record as typeof record & { losses: { loss?: number; emaLoss?: number }[] };
const startLoss = losses[0]?.loss;
const emaLoss = losses.at(-1)?.emaLoss;
const earlier = a.earlier ? (JSON.parse(readFileSync(`${a.earlier}/model_index.json`, 'utf8')) as { training?: { sets?: string[] } }).training : undefined;
if (a.earlier && !earlier?.sets) throw new Error(`${a.earlier}/model_index.json records no training.sets: the chain's pretraining sets would be unknown`);
const sets = [...new Set([...(earlier?.sets ?? []), ...ds.sets.map((s) => s.id)])];
await writeModelFolder(
  a.to!,
  emojiMiniFolder(tokenizer, weights, {
    ...training,
    startLoss,
    emaLoss,
    trainedBy: 'scripts/gpu-pretrain/pretrain.py',
    pictures: ds.count,
    sets,
    ...(earlier ? { earlier } : {}),
  }),
);
console.log(`exported the EMA weights of ${a.from} (${record.steps} steps at batch ${record.batch}) to ${a.to}`);
