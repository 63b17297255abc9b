/** Data of the evaluation classifiers: identity classes and split, artist-set labels. */
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset, DatasetItem } from '../../src/data/dataset.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARTIST_CLASSES, artistClassesFor, artistData, identityData, isEvaluationSubject, loadHeldOutSet } from '../../src/eval/classifiers.ts';

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
  it('holds out a v1 drawing when the subject has one, and leaves icon collections out', () => {
    const d2 = identityData(
      fakeDataset([
        ['fluent-3d', 'cat face'],
        ['streamline-emoji', 'cat face'],
        ['twemoji', 'cat face'],
        ['ph-thin', 'cat face'],
      ]),
      3,
    );
    expect(d2.classes).toEqual(['cat face']);
    expect(d2.items.map((it) => it.set)).toEqual(['fluent-3d', 'streamline-emoji', 'twemoji']);
    expect(d2.heldOut.map((i) => d2.items[i].set)).toEqual(['twemoji']);
  });
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
  const sets = ARTIST_CLASSES.filter((c) => c !== 'openmoji');
  const ds = fakeDataset([...Array.from({ length: 120 }, (_, i) => [sets[i % sets.length], `s${i % 40}`] as [string, string]), ['ph-thin', 's1']]);
  const om = fakeDataset(Array.from({ length: 40 }, (_, i) => ['openmoji', `s${i}`]));
  it('labels pictures by set, OpenMoji included, trains only on the judge half of the subjects', () => {
    const d = artistData(ds, om, 0, 0.25);
    expect(d.classes).toEqual([...ARTIST_CLASSES]);
    expect(d.items.every((it) => !isEvaluationSubject(it.subject))).toBe(true);
    expect(d.items.some((it) => it.set === 'ph-thin')).toBe(false);
    const judged = [...ds.items, ...om.items].filter((it) => ARTIST_CLASSES.includes(it.set as never) && !isEvaluationSubject(it.subject));
    expect(d.labels.length).toBe(judged.length);
    d.items.forEach((it, i) => expect(d.classes[d.labels[i]]).toBe(it.set));
    expect(d.heldOut.length).toBeGreaterThan(0.1 * judged.length);
    expect(d.heldOut.length).toBeLessThan(0.4 * judged.length);
  });
  it('gives the evaluation half (pictures the judge never saw) on request, disjoint from the judge half', () => {
    const judge = artistData(ds, om, 0, 0.25);
    const unseen = artistData(ds, om, 0, 0, true);
    expect(unseen.items.every((it) => isEvaluationSubject(it.subject))).toBe(true);
    const seen = new Set(judge.items.map((it) => it.subject));
    expect(unseen.items.some((it) => seen.has(it.subject))).toBe(false);
    expect(unseen.items.length + judge.items.length).toBe(120 + 40);
  });
  it('splits subjects about in half, by their words only', () => {
    const subjects = Array.from({ length: 400 }, (_, i) => `subject ${i}`);
    const share = subjects.filter(isEvaluationSubject).length / subjects.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.6);
    expect(isEvaluationSubject('cat face')).toBe(isEvaluationSubject('cat face'));
  });
});

describe('extra held-out targets', () => {
  const sets = ARTIST_CLASSES.filter((c) => c !== 'openmoji');
  const ds = fakeDataset(Array.from({ length: 120 }, (_, i) => [sets[i % sets.length], `s${i % 40}`] as [string, string]));
  it("an extra target's judge data: the six emoji sets and the target's pictures, OpenMoji's left out", () => {
    const held = fakeDataset([...Array.from({ length: 40 }, (_, i) => ['emojione', `s${i}`] as [string, string]), ['openmoji', 's1']]);
    const classes = artistClassesFor('emojione');
    const d = artistData(ds, held, 0, 0.25, false, classes);
    expect(d.classes).toEqual(classes);
    expect(d.items.some((it) => it.set === 'openmoji')).toBe(false);
    expect(d.items.filter((it) => it.set === 'emojione').length).toBe(
      Array.from({ length: 40 }, (_, i) => `s${i}`).filter((y) => !isEvaluationSubject(y)).length,
    );
    d.items.forEach((it, i) => expect(d.classes[d.labels[i]]).toBe(it.set));
    expect(() => artistData(ds, fakeDataset([['openmoji', 's1']]), 0, 0.25, false, classes)).toThrow(/no pictures of 'emojione'/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'held-out-set-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('renders a set whose package maps no codepoints: its Unicode emoji by name, with CLDR subjects, never a pretraining set', async () => {
    const d = await loadHeldOutSet('emojione', join(dir, 'emojione32.bin'));
    expect(d.count).toBeGreaterThan(900);
    expect(d.height).toBe(32);
    expect(new Set(d.items.map((it) => it.set))).toEqual(new Set(['emojione']));
    for (const y of ['cat face', 'dog face', 'red apple', 'alarm clock']) expect(d.items.some((it) => it.subject === y)).toBe(true);
    // Skin tones and country flags are left out, as in every set.
    expect(d.items.some((it) => /skin tone|^flag for /.test(it.subject))).toBe(false);
    expect(d.items.some((it) => it.subject === 'flag in hole')).toBe(true);
    await expect(loadHeldOutSet('noto', join(dir, 'noto32.bin'))).rejects.toThrow(/noto is not a held-out set/);
  }, 120_000);
});
