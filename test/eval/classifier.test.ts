/** The evaluation classifier on the engine: shapes, training on a toy set, files, augmentation. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import {
  accuracy,
  augment,
  outline,
  posterize,
  recolour,
  Classifier,
  classifierLogits,
  classifierParamShapes,
  loadClassifier,
  saveClassifier,
  softmaxRows,
  topK,
  trainClassifier,
  type ClassifierConfig,
} from '../../src/eval/classifier.ts';
import * as G from '../../src/graph/index.ts';

const CFG: ClassifierConfig = { imageSize: 8, channels: [8, 16], convsPerLevel: 1, groups: 4, classes: 3 };

/** Toy pictures: class 0 a red square, 1 a blue bar, 2 a green dot, at jittered places, on white. */
function toySet(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const s = 8;
  const images = new Float32Array(n * 3 * s * s).fill(1);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    const ox = rng.int(3);
    const oy = rng.int(3);
    const [w, h] = c === 0 ? [4, 4] : c === 1 ? [6, 2] : [2, 2];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let ch = 0; ch < 3; ch++) images[i * 3 * s * s + ch * s * s + (oy + y) * s + ox + x] = ch === c ? 0.9 : -0.8;
  }
  return { images, labels };
}

describe('classifier graph', () => {
  it('maps [B, 3, S, S] pictures to [B, classes] logits and names its parameters', () => {
    const g = new G.Graph();
    const logits = classifierLogits(g, CFG, g.input('images', [5, 3, 8, 8]));
    expect(logits.shape).toEqual([5, 3]);
    const shapes = classifierParamShapes(CFG);
    expect(shapes['levels.0.0.conv.weight']).toEqual([8, 3, 3, 3]);
    expect(shapes['levels.1.0.norm.weight']).toEqual([16]);
    expect(shapes['head.weight']).toEqual([3, 16]);
    expect(() => classifierLogits(new G.Graph(), CFG, new G.Graph().input('images', [1, 3, 16, 16]))).toThrow(/expects \[B, 3, 8, 8\]/);
  });
});

describe('classifier training', () => {
  it('a few epochs on a toy set reduce the loss and classify held-out pictures; files round-trip', async () => {
    const { images, labels } = toySet(96, 1);
    const train = Array.from({ length: 72 }, (_, i) => i);
    const heldOut = Array.from({ length: 24 }, (_, i) => 72 + i);
    const r = await trainClassifier({
      config: CFG,
      images,
      labels,
      train,
      heldOut,
      epochs: 12,
      batch: 12,
      lr: 1e-2,
      threads: 1,
      augment: { flip: true, shift: 1, blur: 0 },
    });
    expect(r.epochLosses).toHaveLength(12);
    expect(r.epochLosses.at(-1)!).toBeLessThan(0.6 * r.epochLosses[0]);
    expect(r.heldOut!.top1).toBeGreaterThan(0.6);

    const meta = { kind: 'toy', classes: ['red', 'blue', 'green'], config: CFG, info: { heldOutTop1: r.heldOut!.top1 } };
    const clf = await Classifier.create(meta, r.params, { batch: 16, threads: 1 });
    const probs = await clf.probs(images.subarray(0, 20 * 192), 20);
    expect(probs.length).toBe(60);
    for (let i = 0; i < 20; i++) expect(probs[3 * i] + probs[3 * i + 1] + probs[3 * i + 2]).toBeCloseTo(1, 5);
    const file = join(mkdtempSync(join(tmpdir(), 'clf-')), 'toy.safetensors');
    await saveClassifier(file, meta, r.params);
    const back = await loadClassifier(file, { batch: 7, threads: 1 });
    expect(back.classes).toEqual(meta.classes);
    expect(back.meta.info.heldOutTop1).toBe(r.heldOut!.top1);
    const again = await back.probs(images.subarray(0, 20 * 192), 20);
    for (let i = 0; i < 60; i++) expect(again[i]).toBeCloseTo(probs[i], 5);
    await clf.release();
    await back.release();
  });
});

describe('helpers', () => {
  it('softmaxRows, topK and accuracy', () => {
    const p = softmaxRows(Float32Array.from([0, 0, 1000, 1, 2, 3]), 3);
    expect(Array.from(p.subarray(0, 3))).toEqual([0, 0, 1]);
    expect(topK([0.1, 0.5, 0.2, 0.9], 2)).toEqual([3, 1]);
    const scores = Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.3, 0.2]);
    expect(accuracy(scores, [1, 1], 3)).toMatchObject({ top1: 0.5, top5: 1 });
    expect(accuracy(scores, [1, 1], 3).perClass[1]).toBe(0.5);
  });

  it('augment shifts on white and flips; no options copies the picture', () => {
    const s = 4;
    const src = Float32Array.from({ length: 3 * s * s }, (_, i) => (i % 16) / 16 - 0.5);
    const out = new Float32Array(src.length);
    augment(src, out, s, new Rng(0), {});
    expect(out).toEqual(src);
    const rng = new Rng(3);
    let sawWhite = false;
    for (let k = 0; k < 20; k++) {
      augment(src, out, s, rng, { shift: 2 });
      if (out.some((v) => v === 1)) sawWhite = true;
      expect(out.every((v) => v === 1 || src.includes(v))).toBe(true);
    }
    expect(sawWhite).toBe(true);
  });

  it('manner changes: a hue rotation keeps greys and cycles primaries, outlines darken the darker side of an edge, posterize quantizes', () => {
    const s = 2;
    const plane = s * s;
    // Pixels: red, grey, white, black.
    const img = Float32Array.from([1, 0, 1, -1, -1, 0, 1, -1, -1, 0, 1, -1]);
    recolour(img, s, (2 * Math.PI) / 3, 1);
    const px = (i: number) => [img[i], img[plane + i], img[2 * plane + i]].map((v) => Math.round(v * 1e5) / 1e5);
    expect(px(0)).toEqual([-1, 1, -1]); // red -> green
    expect(px(1)).toEqual([0, 0, 0]);
    expect(px(2)).toEqual([1, 1, 1]);
    expect(px(3)).toEqual([-1, -1, -1]);
    const desaturated = Float32Array.from([1, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0, 0]);
    recolour(desaturated, s, 0, 0.5);
    // Red (1, -1, -1) has grey -1/3: half the saturation gives (1/3, -2/3, -2/3).
    expect(desaturated[0]).toBeCloseTo(1 / 3, 5);
    expect(desaturated[plane]).toBeCloseTo(-2 / 3, 5);

    // A 4x4 picture: a mid-grey square (value 0) on white; its border pixels turn near black, white stays.
    const n = 4;
    const sq = new Float32Array(3 * n * n).fill(1);
    for (let ch = 0; ch < 3; ch++)
      for (const [y, x] of [
        [1, 1],
        [1, 2],
        [2, 1],
        [2, 2],
      ])
        sq[ch * n * n + y * n + x] = 0;
    outline(sq, n);
    expect(sq[1 * n + 1]).toBeCloseTo(-0.9);
    expect(sq[0]).toBe(1);
    expect(sq[0 * n + 1]).toBe(1);

    const q = Float32Array.from({ length: 12 }, (_, i) => i / 6 - 1);
    posterize(q, s, 3);
    expect(new Set(Array.from(q)).size).toBeLessThanOrEqual(3);
    expect(Array.from(q).every((v) => v === -1 || v === 0 || v === 1)).toBe(true);
  });
});
