/** Data of the evaluation classifiers: identity classes and split, artist-set labels. */
import { describe, expect, it } from 'vitest';
import type { Dataset, DatasetItem } from '../../src/data/dataset.ts';
import { artistData, identityData } from '../../src/eval/classifiers.ts';

function fakeDataset(items: [DatasetItem['set'], string][], size = 4): Dataset {
  const px = size * size * 3;
  const pixels = new Uint8Array(items.length * px);
  items.forEach((_, i) => pixels.fill(i * 10, i * px, (i + 1) * px));
  return {
    count: items.length,
    height: size,
    width: size,
    channels: 3,
    pixels,
    items: items.map(([set, subject]) => ({ set, subject, name: subject.replace(/ /g, '-'), keywords: [] })),
    sets: [],
  };
}

describe('identityData', () => {
  const ds = fakeDataset([
    ['noto', 'cat face'],
    ['noto', 'dog face'],
    ['noto', 'only noto'],
    ['twemoji', 'cat face'],
    ['twemoji', 'dog face'],
    ['fluent', 'cat face'],
  ]);
  it('keeps subjects drawn by >= 2 sets and holds out exactly one drawing of each', () => {
    const d = identityData(ds, 1);
    expect(d.classes).toEqual(['cat face', 'dog face']);
    expect(d.labels.length).toBe(5);
    expect(d.heldOut).toHaveLength(2);
    expect(d.train).toHaveLength(3);
    expect(new Set(d.heldOut.map((i) => d.labels[i]))).toEqual(new Set([0, 1]));
    expect([...d.train, ...d.heldOut].sort()).toEqual([0, 1, 2, 3, 4]);
    d.items.forEach((it, i) => expect(d.classes[d.labels[i]]).toBe(it.subject));
    // Pictures follow their items: the fill value of a sample comes back as (v / 127.5 - 1).
    const first = ds.items.findIndex((it) => it === d.items[0]);
    expect(d.images[0]).toBeCloseTo((first * 10) / 127.5 - 1, 5);
  });
});

describe('artistData', () => {
  it('labels pictures by set, OpenMoji included, and holds out about the given share', () => {
    const ds = fakeDataset(Array.from({ length: 60 }, (_, i) => [(['noto', 'twemoji', 'fluent'] as const)[i % 3], `s${i}`]));
    const om = fakeDataset(Array.from({ length: 20 }, (_, i) => ['openmoji', `s${i}`]));
    const d = artistData(ds, om, 0, 0.25);
    expect(d.classes).toEqual(['noto', 'twemoji', 'fluent', 'openmoji']);
    expect(d.labels.length).toBe(80);
    expect(Array.from(d.labels.subarray(60))).toEqual(new Array(20).fill(3));
    expect(d.heldOut.length).toBeGreaterThan(8);
    expect(d.heldOut.length).toBeLessThan(35);
  });
});
