/** Augmentation of the training pair: the transforms, their random draw, and the pair training that applies them. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/graph/rng.ts';
import type { TextToImageModel } from '../../src/pipeline/text-to-image.ts';
import { type Augmentation, checkAugmentation, drawTransform, NO_AUGMENTATION, transformImage, transformKey } from '../../src/pair/augment.ts';
import { trainPair } from '../../src/pair/train.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

/** A picture whose every pixel (channel, y, x) has its own value 100c + 10y + x. */
const labelled = (size: number, channels = 3) =>
  Float32Array.from({ length: channels * size * size }, (_, i) => 100 * Math.floor(i / (size * size)) + 10 * Math.floor((i / size) % size) + (i % size));
const at = (img: Float32Array, size: number, c: number, y: number, x: number) => img[(c * size + y) * size + x];

describe('transformImage', () => {
  const S = 8;
  const img = labelled(S);

  it('keeps the shape; the identity copies the picture; the flip mirrors each row', () => {
    const same = transformImage(img, S, { flip: false, dx: 0, dy: 0, zoom: 1 });
    expect(same).toHaveLength(img.length);
    expect(same).toEqual(img);
    expect(same).not.toBe(img);
    const flipped = transformImage(img, S, { flip: true, dx: 0, dy: 0, zoom: 1 });
    for (let c = 0; c < 3; c++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) expect(at(flipped, S, c, y, x)).toBe(at(img, S, c, y, S - 1 - x));
  });

  it('shifts by whole pixels and repeats the border pixel into what the shift uncovers', () => {
    const t = transformImage(img, S, { flip: false, dx: 2, dy: -1, zoom: 1 });
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const sx = Math.max(0, x - 2);
          const sy = Math.min(S - 1, y + 1);
          expect(at(t, S, c, y, x)).toBe(at(img, S, c, sy, sx));
        }
  });

  it('zooms about the centre with copies of input pixels only (no new colours), every channel alike', () => {
    const zoomedIn = transformImage(img, S, { flip: false, dx: 0, dy: 0, zoom: 2 });
    // Zoom 2 on 8 px: the centre 4 px (2..5), each pixel twice.
    for (let x = 0; x < S; x++) expect(at(zoomedIn, S, 0, 4, x)).toBe(at(img, S, 0, Math.floor(4 / 2) + 2, Math.floor(x / 2) + 2));
    const zoomedOut = transformImage(img, S, { flip: true, dx: 1, dy: 1, zoom: 0.75 });
    const values = new Set(img);
    for (const t of [zoomedIn, zoomedOut]) {
      expect(t.every((v) => values.has(v))).toBe(true);
      // The same source pixel in every channel: channel c is channel 0 plus 100c.
      for (let i = 0; i < S * S; i++) expect([t[S * S + i] - t[i], t[2 * S * S + i] - t[i]]).toEqual([100, 200]);
    }
  });

  it('refuses a picture that is not whole planes of the size', () => {
    expect(() => transformImage(new Float32Array(3 * 8 * 8 + 1), 8, { flip: false, dx: 0, dy: 0, zoom: 1 })).toThrow(/not whole 8x8 planes/);
  });
});

describe('drawTransform', () => {
  const aug: Augmentation = { shift: 2, zooms: [1, 1.125] };

  it('is deterministic for a seed, stays in range and reaches every shift and zoom', () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 200 }, (_, i) => drawTransform(rng, aug, i % 2 === 0));
    };
    const a = draw(5);
    expect(draw(5)).toEqual(a);
    expect(draw(6)).not.toEqual(a);
    expect(new Set(a.map((t) => t.dx))).toEqual(new Set([-2, -1, 0, 1, 2]));
    expect(new Set(a.map((t) => t.dy))).toEqual(new Set([-2, -1, 0, 1, 2]));
    expect(new Set(a.map((t) => t.zoom))).toEqual(new Set([1, 1.125]));
    expect(a.map((t) => t.flip)).toEqual(a.map((_, i) => i % 2 === 0));
    expect(new Set(a.map(transformKey)).size).toBeGreaterThan(40);
  });

  it('without augmentation draws nothing from the stream and gives the identity', () => {
    const rng = new Rng(1);
    expect(drawTransform(rng, NO_AUGMENTATION, true)).toEqual({ flip: true, dx: 0, dy: 0, zoom: 1 });
    expect(rng.uniform()).toBe(new Rng(1).uniform());
  });

  it('refuses bad figures with a clear error', () => {
    expect(() => checkAugmentation({ shift: -1, zooms: [1] })).toThrow(/shift must be an integer >= 0, got -1/);
    expect(() => checkAugmentation({ shift: 1.5, zooms: [1] })).toThrow(/shift/);
    expect(() => checkAugmentation({ shift: 1, zooms: [] })).toThrow(/zooms must be a non-empty list/);
    expect(() => checkAugmentation({ shift: 1, zooms: [1, 0] })).toThrow(/zooms/);
  });
});

describe('trainPair with augmentation', () => {
  let model: TextToImageModel;
  const S = 8;
  const image = (seed: number) => Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);
  const aug: Augmentation = { shift: 1, zooms: [1, 1.25] };
  const bOf = (r: Awaited<ReturnType<typeof trainPair>>) => r.style.modules.map((m) => Array.from(m.B));
  beforeAll(async () => {
    model = await tinyModel();
  });

  it('applies the same transform to both pictures of the pair at every step', async () => {
    // The real model with its real codec, whose encode calls are recorded: each training item's rows
    // (content, then style) are encoded together under one transform.
    const encoded: Float32Array[] = [];
    const codec = Object.create(model.codec, {
      encode: {
        value: (img: Float32Array, batch: number) => {
          encoded.push(img.slice());
          return model.codec.encode(img, batch);
        },
      },
    });
    const recording: TextToImageModel = Object.create(model, { codec: { value: codec } });
    const content = image(1);
    const style = content.map((v) => -v);
    const r = await trainPair({ model: recording, content, style, name: 'aug', subject: 'cat face', steps: 40, lr: 1e-2, augmentation: aug });
    expect(r.losses.every(Number.isFinite)).toBe(true);
    expect(encoded.length % 2).toBe(0);
    const contents = encoded.filter((_, i) => i % 2 === 0);
    for (let i = 0; i < contents.length; i++) expect(encoded[2 * i + 1]).toEqual(contents[i].map((v) => -v));
    // More than the picture and its mirror image: shifts and zooms were drawn and encoded once each.
    expect(contents.length).toBeGreaterThan(4);
    expect(new Set(contents.map((c) => c.join())).size).toBe(contents.length);
    const values = new Set(content);
    expect(contents.every((c) => c.every((v) => values.has(v)))).toBe(true);
  });

  it('is deterministic for a seed; flips only is exactly the training without augmentation; shifts change it', async () => {
    const opts = { model, content: image(1), style: image(2), name: 'a', subject: 'cat face', steps: 10, lr: 1e-2 };
    const plain = await trainPair(opts);
    const flipsOnly = await trainPair({ ...opts, augmentation: NO_AUGMENTATION });
    expect(flipsOnly.losses).toEqual(plain.losses);
    expect(bOf(flipsOnly)).toEqual(bOf(plain));
    const augmented = await trainPair({ ...opts, augmentation: aug });
    const again = await trainPair({ ...opts, augmentation: aug });
    expect(again.losses).toEqual(augmented.losses);
    expect(bOf(again)).toEqual(bOf(augmented));
    expect(augmented.losses).not.toEqual(plain.losses);
  });

  it('refuses a bad augmentation before training', async () => {
    await expect(trainPair({ model, content: image(1), style: image(2), name: 'a', steps: 2, augmentation: { shift: -2, zooms: [1] } })).rejects.toThrow(
      /augmentation: shift must be an integer >= 0/,
    );
  });
});
