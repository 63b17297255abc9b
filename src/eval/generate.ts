/** Helpers shared by the evaluation scripts: loading a model folder, batched CFG drawing, picture tiles. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cfgTerms } from '../pipeline/guidance.ts';
import type { DiffusionPipeline } from '../pipeline/diffusion-pipeline.ts';
import type { SamplerName } from '../diffusion/samplers.ts';
import type { Tile } from '../images/grid.ts';
import { loadModelFolder } from '../pipeline/model-folder.ts';
import { rgbToUnit, unitToRgb } from '../formats/pixels.ts';
import { samplePixels, type Dataset } from '../data/dataset.ts';
import type { TextToImageModel } from '../pipeline/text-to-image.ts';

/** Loads a model folder, with a message that says how to get one when it is missing. */
export async function loadEvalModel(dir: string): Promise<TextToImageModel> {
  if (!existsSync(join(dir, 'model_index.json'))) {
    throw new Error(
      `${dir} is not a model folder (no model_index.json). Pretrain and ship the model (npm run pretrain), or export a ` +
        `checkpoint: npx tsx scripts/export-emoji-mini.ts --from /root/pairstyle-runs/emoji-mini --to scratch/model-ck, then pass --model scratch/model-ck`,
    );
  }
  return loadModelFolder(dir);
}

export interface BatchedDrawOptions {
  steps: number;
  cfg: number;
  /** Trajectories per generate call (the last call is padded to the same size, so one UNet session serves all). */
  batch: number;
  sampler?: SamplerName;
  onBatch?: (done: number, total: number) => void;
}

/** Plain CFG draws of many prompts, several per UNet run: images [n, 3, S, S] in [-1, 1]; seed i for prompt i. */
export async function drawCfgBatched(
  pipe: DiffusionPipeline,
  prompts: readonly string[],
  seeds: readonly number[],
  o: BatchedDrawOptions,
): Promise<Float32Array> {
  const s = pipe.model.imageSize;
  const px = 3 * s * s;
  const out = new Float32Array(prompts.length * px);
  for (let i = 0; i < prompts.length; i += o.batch) {
    const idx = Array.from({ length: o.batch }, (_, j) => Math.min(i + j, prompts.length - 1));
    const r = await pipe.generate({
      prompts: ['', ...idx.map((k) => prompts[k])],
      trajectories: idx.map((k, j) => ({ seed: seeds[k], terms: cfgTerms(0, j + 1, o.cfg) })),
      steps: o.steps,
      sampler: o.sampler,
    });
    const m = Math.min(o.batch, prompts.length - i);
    out.set(r.images.subarray(0, m * px), i * px);
    o.onBatch?.(i + m, prompts.length);
  }
  return out;
}

/** Picture i of a [n, 3, S, S] stack as a grid tile. */
export function tileOf(images: Float32Array, i: number, size: number, label?: string): Tile {
  const px = 3 * size * size;
  return { rgb: unitToRgb(images.subarray(i * px, (i + 1) * px), size, size), width: size, height: size, label };
}

/** A plain-text table: header row, then rows, columns padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)));
  const widths = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const fmtNum = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

/** "12.3%" */
export const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** A comma-separated list of numbers from the command line: the finite ones of at least `min`. */
export const numberList = (s: string, min = Number.NEGATIVE_INFINITY): number[] =>
  s
    .split(',')
    .filter((v) => v.trim() !== '')
    .map((v) => Number(v.trim()))
    .filter((v) => Number.isFinite(v) && v >= min);

/** The drawing of `subject` in `set` as float32 [3, size, size] in [-1, 1], or null when the set has none. */
export function pictureOf(d: Dataset, set: string, subject: string, size: number): Float32Array | null {
  const i = d.items.findIndex((it) => it.set === set && it.subject === subject);
  return i < 0 ? null : rgbToUnit(samplePixels(d, i), size, size);
}
