/**
 * The two evaluation classifiers, their data and their cache (data/eval/, gitignored):
 *
 * - emoji identity: classes = subjects drawn by at least 2 of the 3 pretraining sets; trained on the
 *   pretraining pictures with one drawing per subject (a seeded pick among its sets) held out for
 *   accuracy, then refit for a few epochs on all of them (generated pictures may look like any set; the
 *   reported accuracy is the held-out one, measured before the refit).
 * - artist set: {noto, twemoji, fluent, openmoji}; trained on all four sets (OpenMoji rendered from
 *   @iconify-json/openmoji into data/eval/openmoji32.bin: evaluation only, never given to the
 *   generator), 15% of each set held out, class-balanced epochs.
 *
 * Each is trained once and saved as safetensors; later runs load it (retrain: delete the file or pass
 * retrain).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { listCandidates, dedupe } from '../data/build.ts';
import { loadDataset, writeDataset, type Dataset, type DatasetItem } from '../data/dataset.ts';
import { loadIconSet } from '../data/emoji-sets.ts';
import { renderIconFrom } from '../data/render.ts';
import { Rng } from '../diffusion/rng.ts';
import { rgbToUnit } from '../models/pixel-codec.ts';
import { Classifier, DEFAULT_TRUNK, loadClassifier, saveClassifier, trainClassifier, type ClassifierConfig, type ClassifierMeta } from './classifier.ts';

export const EVAL_DIR = 'data/eval';
export const ARTIST_CLASSES = ['noto', 'twemoji', 'fluent', 'openmoji'] as const;

/** Pictures of a dataset as float32 [N, 3, S, S] in [-1, 1] (all, or the given items). */
export function unitImages(ds: Dataset, items?: readonly number[]): Float32Array {
  const idx = items ?? Array.from({ length: ds.count }, (_, i) => i);
  const s = ds.height;
  const px = 3 * s * s;
  const out = new Float32Array(idx.length * px);
  idx.forEach((i, j) => out.set(rgbToUnit(ds.pixels.subarray(i * px, (i + 1) * px), s, s), j * px));
  return out;
}

/**
 * The OpenMoji pictures (evaluation only) at the dataset's size: every OpenMoji emoji with a Unicode
 * codepoint (OpenMoji's own extra icons are left out, as are skin tones and country flags), subjects
 * from the same CLDR labels as the pretraining captions, pixel duplicates merged. Rendered once and
 * cached as a dataset file.
 */
export async function loadOpenmoji(path = join(EVAL_DIR, 'openmoji32.bin'), opts: { size?: number; log?: (s: string) => void } = {}): Promise<Dataset> {
  if (existsSync(path)) return loadDataset(path);
  const size = opts.size ?? 32;
  const iconSet = loadIconSet('openmoji');
  const candidates = listCandidates('openmoji', iconSet).candidates.filter((c) => c.codepoints !== undefined);
  opts.log?.(`rendering ${candidates.length} OpenMoji pictures (evaluation only) to ${path} ...`);
  const px: Uint8Array[] = [];
  for (const c of candidates) {
    const r = await renderIconFrom(iconSet, c.name, size);
    if (!r) throw new Error(`openmoji: icon vanished: ${c.name}`);
    px.push(r);
  }
  const { rep } = dedupe(candidates, px);
  const reps = [...rep.keys()].sort((a, b) => a - b);
  const items: DatasetItem[] = reps.map((r) => ({ set: 'openmoji', name: candidates[r].name, subject: candidates[r].subject, keywords: [] }));
  const sample = size * size * 3;
  const pixels = new Uint8Array(reps.length * sample);
  reps.forEach((r, j) => pixels.set(px[r], j * sample));
  mkdirSync(dirname(path), { recursive: true });
  writeDataset(path, { count: items.length, height: size, width: size, channels: 3, pixels, items });
  return loadDataset(path);
}

export interface LabelledSet {
  classes: string[];
  imageSize: number;
  /** Pictures [N, 3, S, S] in [-1, 1]. */
  images: Float32Array;
  labels: Int32Array;
  train: number[];
  heldOut: number[];
  /** What each picture is (set, subject). */
  items: DatasetItem[];
}

/** Identity classes (subjects in >= 2 pretraining sets) and the one-drawing-per-subject held-out split. */
export function identityData(ds: Dataset, seed = 0): LabelledSet {
  const sets = new Map<string, number[]>();
  ds.items.forEach((it, i) => {
    const list = sets.get(it.subject);
    if (list) list.push(i);
    else sets.set(it.subject, [i]);
  });
  const classes = [...sets.keys()].filter((s) => new Set(sets.get(s)!.map((i) => ds.items[i].set)).size >= 2).sort();
  const rng = new Rng(seed);
  const chosen: number[] = [];
  const labels: number[] = [];
  const train: number[] = [];
  const heldOut: number[] = [];
  classes.forEach((subject, c) => {
    const members = sets.get(subject)!;
    const out = rng.int(members.length);
    members.forEach((i, j) => {
      (j === out ? heldOut : train).push(chosen.length);
      chosen.push(i);
      labels.push(c);
    });
  });
  return { classes, imageSize: ds.height, images: unitImages(ds, chosen), labels: Int32Array.from(labels), train, heldOut, items: chosen.map((i) => ds.items[i]) };
}

/** Artist-set data: every picture of the three pretraining sets and of OpenMoji; 15% of each set held out. */
export function artistData(ds: Dataset, openmoji: Dataset, seed = 0, heldOutShare = 0.15): LabelledSet {
  if (openmoji.height !== ds.height) throw new Error(`artist data: OpenMoji pictures are ${openmoji.height} px, the dataset's ${ds.height} px`);
  const rng = new Rng(seed);
  const all = [...ds.items.map((it, i) => ({ it, ds, i })), ...openmoji.items.map((it, i) => ({ it, ds: openmoji, i }))];
  const labels = Int32Array.from(all, (a) => ARTIST_CLASSES.indexOf(a.it.set as (typeof ARTIST_CLASSES)[number]));
  const s = ds.height;
  const px = 3 * s * s;
  const images = new Float32Array(all.length * px);
  all.forEach((a, j) => images.set(rgbToUnit(a.ds.pixels.subarray(a.i * px, (a.i + 1) * px), s, s), j * px));
  const train: number[] = [];
  const heldOut: number[] = [];
  all.forEach((_, j) => (rng.uniform() < heldOutShare ? heldOut : train).push(j));
  return { classes: [...ARTIST_CLASSES], imageSize: s, images, labels, train, heldOut, items: all.map((a) => a.it) };
}

export interface EnsureOptions {
  dataset?: string;
  dir?: string;
  threads?: number;
  retrain?: boolean;
  epochs?: number;
  refitEpochs?: number;
  log?: (s: string) => void;
}

async function ensure(kind: string, file: string, o: EnsureOptions, data: () => Promise<LabelledSet>, defaults: { epochs: number; refitEpochs: number; balance: boolean }): Promise<Classifier> {
  if (existsSync(file) && !o.retrain) return loadClassifier(file, { threads: o.threads });
  const d = await data();
  const config: ClassifierConfig = { ...DEFAULT_TRUNK, channels: [...DEFAULT_TRUNK.channels], imageSize: d.imageSize, classes: d.classes.length };
  const epochs = o.epochs ?? defaults.epochs;
  const refitEpochs = o.refitEpochs ?? defaults.refitEpochs;
  o.log?.(`training the ${kind} classifier: ${d.classes.length} classes, ${d.train.length} training / ${d.heldOut.length} held-out pictures, ${epochs} + ${refitEpochs} refit epochs ...`);
  const r = await trainClassifier({
    config,
    images: d.images,
    labels: d.labels,
    train: d.train,
    heldOut: d.heldOut,
    epochs,
    refitEpochs,
    balance: defaults.balance,
    threads: o.threads,
    onEpoch: (e) =>
      o.log?.(
        `  ${kind} epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(3)}, train top-1 ${(100 * e.trainAcc).toFixed(1)}%` +
          (e.heldOut ? `, held-out top-1 ${(100 * e.heldOut.top1).toFixed(1)}% top-5 ${(100 * e.heldOut.top5).toFixed(1)}%` : '') +
          ` (${e.seconds.toFixed(0)} s)`,
      ),
  });
  const meta: ClassifierMeta = {
    kind,
    classes: d.classes,
    config,
    info: {
      heldOutTop1: r.heldOut?.top1,
      heldOutTop5: r.heldOut?.top5,
      ...(d.classes.length <= 16 && r.heldOut ? { heldOutRecall: Object.fromEntries(d.classes.map((c, i) => [c, r.heldOut!.perClass[i]])) } : {}),
      train: d.train.length,
      heldOut: d.heldOut.length,
      epochs,
      refitEpochs,
      finalLoss: r.epochLosses.at(-1),
      seconds: r.seconds,
      created: new Date().toISOString(),
    },
  };
  mkdirSync(dirname(file), { recursive: true });
  await saveClassifier(file, meta, r.params);
  o.log?.(`saved ${file}: held-out top-1 ${(100 * (r.heldOut?.top1 ?? NaN)).toFixed(1)}%, top-5 ${(100 * (r.heldOut?.top5 ?? NaN)).toFixed(1)}% (${r.seconds.toFixed(0)} s)`);
  return Classifier.create(meta, r.params, { threads: o.threads });
}

/** The emoji-identity classifier (trained on first use, then loaded from data/eval/identity-classifier.safetensors). */
export function ensureIdentityClassifier(o: EnsureOptions = {}): Promise<Classifier> {
  const file = join(o.dir ?? EVAL_DIR, 'identity-classifier.safetensors');
  return ensure('emoji-identity', file, o, async () => identityData(loadDataset(o.dataset ?? 'data/emoji32.bin')), { epochs: 40, refitEpochs: 8, balance: false });
}

/** The artist-set classifier (noto/twemoji/fluent/openmoji), cached in data/eval/artist-classifier.safetensors. */
export function ensureArtistClassifier(o: EnsureOptions = {}): Promise<Classifier> {
  const dir = o.dir ?? EVAL_DIR;
  const file = join(dir, 'artist-classifier.safetensors');
  return ensure(
    'artist-set',
    file,
    o,
    async () => artistData(loadDataset(o.dataset ?? 'data/emoji32.bin'), await loadOpenmoji(join(dir, 'openmoji32.bin'), { log: o.log })),
    { epochs: 24, refitEpochs: 2, balance: true },
  );
}
