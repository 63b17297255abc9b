/**
 * The model card's sample grid (npx tsx scripts/sample-grid.ts [--model DIR] [--out FILE]): the sample
 * prompts drawn by a model folder's weights, CFG 4, 25 DDIM steps, seeds 0-7.
 */
import { parseArgs } from 'node:util';
import { checkedModelConfig } from '../config/model.ts';
import { loadModelOf } from '../src/pipeline/load-model.ts';
import { writeSampleGrid } from './lib/sample-grid.ts';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string', default: 'docs/emoji-mini-samples.png' } } });
const model = await loadModelOf(checkedModelConfig(a.model ? { PAIRSTYLE_MODEL: a.model } : {}));
await writeSampleGrid(a.out!, model);
console.log(`wrote ${a.out} (model ${model.id} ${model.hash})`);
