import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELDOUT_SETS, PRETRAIN_SETS, V1_SET_IDS, getSetDef, pretrainSetIds, variantBaseName } from '../../src/data/emoji-sets.ts';
import { buildDataset, buildDatasetFile } from '../../src/data/build.ts';
import {
  HEADER_SIZE,
  captionDistribution,
  captionFor,
  decodeDataset,
  encodeDataset,
  loadDataset,
  itemSampler,
  itemWeights,
  mulberry32,
  samplePixels,
  type DatasetItem,
} from '../../src/data/dataset.ts';

const dir = mkdtempSync(join(tmpdir(), 'emoji32-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('set definitions', () => {
  it("v2 pretraining sets start with v1's noto, twemoji, fluent; openmoji and the other evaluation-only sets are held out", () => {
    expect(pretrainSetIds().slice(0, 3)).toEqual(['noto', 'twemoji', 'fluent']);
    expect(V1_SET_IDS).toEqual(['noto', 'twemoji', 'fluent']);
    expect(V1_SET_IDS.map((id) => getSetDef(id).style)).toEqual(['noto style', 'twemoji style', 'fluent style']);
    expect(PRETRAIN_SETS.every((s) => !s.heldOut)).toBe(true);
    for (const held of HELDOUT_SETS) {
      expect(PRETRAIN_SETS.map((s) => s.id)).not.toContain(held.id);
      expect(PRETRAIN_SETS.map((s) => s.pkg)).not.toContain(held.pkg);
    }
    expect(new Set(PRETRAIN_SETS.map((s) => s.id)).size).toBe(PRETRAIN_SETS.length);
    for (const s of PRETRAIN_SETS) {
      expect(s.license).toMatch(/^(MIT|Apache-2\.0|CC-BY-4\.0)$/);
      expect(s.author.length).toBeGreaterThan(0);
      expect(s.manner.split(' ').length).toBeLessThanOrEqual(3);
    }
    expect(HELDOUT_SETS.map((s) => s.id)).toEqual(['openmoji', 'emojione', 'noto-v1', 'emojione-v1']);
    expect(HELDOUT_SETS.map((s) => s.license)).toEqual(['CC-BY-SA-4.0', 'CC-BY-4.0', 'Apache-2.0', 'CC-BY-SA-4.0']);
    expect(HELDOUT_SETS.every((s) => s.heldOut && s.kind === 'emoji')).toBe(true);
  });
  it('the builder refuses every held-out set', async () => {
    for (const held of HELDOUT_SETS) await expect(buildDataset({ sets: [held.id as never] })).rejects.toThrow(/held out/);
  });
});

describe('dataset file', () => {
  it("builds ~20 icons through the script's code path and round-trips", async () => {
    const path = join(dir, 'small.bin');
    const built = await buildDatasetFile(path, { sets: V1_SET_IDS, limitPerSet: 7 });
    expect(built.count).toBe(21);
    const ds = loadDataset(path);
    expect(ds.count).toBe(built.count);
    expect([ds.height, ds.width, ds.channels]).toEqual([32, 32, 3]);
    expect(ds.pixels.length).toBe(ds.count * 32 * 32 * 3);
    expect(Array.from(ds.pixels)).toEqual(Array.from(built.pixels));
    expect(ds.items).toEqual(built.items);
    expect(new Set(ds.items.map((i) => i.set))).toEqual(new Set(['noto', 'twemoji', 'fluent']));
    // sorted by set, then name
    const order = ['noto', 'twemoji', 'fluent'];
    const keys = ds.items.map((i) => [order.indexOf(i.set), i.name] as const);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    expect(keys).toEqual(sorted);
    // header
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PSDS');
    expect(bytes.readUInt16LE(4)).toBe(1);
    expect(bytes.readUInt32LE(8)).toBe(21);
    expect(bytes.readUInt32LE(20)).toBe(HEADER_SIZE);
    // deterministic
    const again = join(dir, 'small2.bin');
    await buildDatasetFile(again, { sets: V1_SET_IDS, limitPerSet: 7 });
    expect(readFileSync(again).equals(bytes)).toBe(true);
  });

  it('merges pixel-identical icons within a set (twemoji families)', async () => {
    const names = new Set(['family-adult-child', 'family-man-girl', 'family-woman-boy', 'dog-face']);
    const ds = await buildDataset({ sets: ['twemoji'], filter: (c) => names.has(c.name) });
    expect(ds.items.map((i) => i.name)).toEqual(['dog-face', 'family-adult-child']);
    const fam = ds.items[1]!;
    expect(fam.keywords).toContain('family man girl');
    expect(ds.summary[0]!.duplicates).toBe(2);
  });

  it("splits an icon collection into its manners and captions the subject without the manner's suffix", async () => {
    const ph = (id: string) => getSetDef(id);
    expect(variantBaseName(ph('ph-thin'), 'cat-thin')).toBe('cat');
    expect(variantBaseName(ph('ph-thin'), 'cat')).toBeNull();
    expect(variantBaseName(ph('ph-regular'), 'cat')).toBe('cat');
    expect(variantBaseName(ph('ph-regular'), 'cat-bold')).toBeNull();
    const wanted = new Set(['cat', 'cat-thin', 'cat-fill', 'dog-thin']);
    const ds = await buildDataset({ sets: ['ph-thin', 'ph-regular', 'ph-fill'], filter: (c) => wanted.has(c.name) });
    expect(ds.items.map((i) => [i.set, i.name, i.subject])).toEqual([
      ['ph-thin', 'cat-thin', 'cat'],
      ['ph-thin', 'dog-thin', 'dog'],
      ['ph-regular', 'cat', 'cat'],
      ['ph-fill', 'cat-fill', 'cat'],
    ]);
    // Different manners of one subject are different pictures.
    const px = (i: number) => Array.from(samplePixels({ ...ds, sets: [] }, i));
    expect(px(0)).not.toEqual(px(2));
    expect(px(2)).not.toEqual(px(3));
  });

  it('leaves brand logos out and drops a trailing variant number from icon subjects', async () => {
    const ds = await buildDataset({ sets: ['tabler-outline'], filter: (c) => ['brand-github', 'armchair', 'armchair-2'].includes(c.name) });
    expect(ds.items.map((i) => [i.name, i.subject, i.keywords])).toEqual([
      ['armchair', 'armchair', []],
      ['armchair-2', 'armchair', ['armchair 2']],
    ]);
  });

  it('encodes and decodes a synthetic dataset', () => {
    const items: DatasetItem[] = [
      { set: 'noto', name: 'a', subject: 'a', keywords: [] },
      { set: 'fluent', name: 'b-c', subject: 'b c', keywords: ['x', 'ünï'] },
    ];
    const pixels = new Uint8Array(2 * 2 * 2 * 3).map((_, i) => i);
    const bytes = encodeDataset({ count: 2, height: 2, width: 2, channels: 3, pixels, items });
    const ds = decodeDataset(bytes);
    expect(ds.items).toEqual(items);
    expect(Array.from(samplePixels(ds, 1))).toEqual(Array.from(pixels.subarray(12)));
    expect(ds.sets.map((s) => s.id)).toEqual(['noto', 'fluent']);
    const bad = bytes.slice();
    bad[0] = 0x58;
    expect(() => decodeDataset(bad)).toThrow(/magic/);
    expect(() => decodeDataset(bytes.subarray(0, bytes.length - 5))).toThrow();
  });
});

describe('captionFor', () => {
  const item: DatasetItem = { set: 'twemoji', name: 'dog-face', subject: 'dog face', keywords: ['dog', 'puppy'] };
  it('names the set on ~30% of the samples, the manner on ~35%, and uses keywords occasionally', () => {
    const rng = mulberry32(42);
    const n = 4000;
    let styled = 0;
    let manner = 0;
    let keyword = 0;
    for (let i = 0; i < n; i++) {
      const c = captionFor(item, rng);
      expect(c).toMatch(/^(dog face|dog|puppy)( in twemoji style|, flat colour emoji)?$/);
      if (c.endsWith(' in twemoji style')) styled++;
      if (c.endsWith(', flat colour emoji')) manner++;
      if (!c.startsWith('dog face')) keyword++;
    }
    expect(styled / n).toBeGreaterThan(0.26);
    expect(styled / n).toBeLessThan(0.34);
    expect(manner / n).toBeGreaterThan(0.31);
    expect(manner / n).toBeLessThan(0.39);
    expect(keyword / n).toBeGreaterThan(0.1);
    expect(keyword / n).toBeLessThan(0.2);
  });
  it('is deterministic for a seed and honours options', () => {
    const a = Array.from(
      { length: 20 },
      (
        (r) => () =>
          captionFor(item, r)
      )(mulberry32(7)),
    );
    const b = Array.from(
      { length: 20 },
      (
        (r) => () =>
          captionFor(item, r)
      )(mulberry32(7)),
    );
    expect(a).toEqual(b);
    const rng = mulberry32(1);
    expect(captionFor(item, rng, { styleProb: 1, keywordProb: 0 })).toBe('dog face in twemoji style');
    expect(captionFor(item, rng, { styleProb: 0, mannerProb: 0, keywordProb: 0 })).toBe('dog face');
    expect(captionFor(item, rng, { styleProb: 0, mannerProb: 1, keywordProb: 0 })).toBe('dog face, flat colour emoji');
    expect(captionFor({ ...item, keywords: [] }, rng, { styleProb: 0, mannerProb: 0, keywordProb: 1 })).toBe('dog face');
  });
});

describe('captionDistribution', () => {
  const item: DatasetItem = { set: 'twemoji', name: 'dog-face', subject: 'dog face', keywords: ['dog', 'puppy'] };
  const byCaption = (entries: { caption: string; probability: number }[]) => {
    const m = new Map<string, number>();
    for (const e of entries) m.set(e.caption, (m.get(e.caption) ?? 0) + e.probability);
    return m;
  };
  it('lists what captionFor gives, with the frequencies captionFor gives them', () => {
    const expected = byCaption(captionDistribution(item));
    expect([...expected.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const rng = mulberry32(3);
    const n = 40_000;
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const c = captionFor(item, rng);
      seen.set(c, (seen.get(c) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [caption, p] of expected) {
      const sd = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(seen.get(caption)! / n - p), caption).toBeLessThan(5 * sd);
    }
  });
  it('gives the subject alone its whole weight when the item has no keywords, and follows the options', () => {
    const plain = byCaption(captionDistribution({ ...item, keywords: [] }, { styleProb: 0.5, mannerProb: 0.25 }));
    expect(plain).toEqual(
      new Map([
        ['dog face in twemoji style', 0.5],
        ['dog face, flat colour emoji', 0.25],
        ['dog face', 0.25],
      ]),
    );
  });
});

describe('itemSampler', () => {
  const items: DatasetItem[] = [
    ...Array.from({ length: 3 }, (_, i) => ({ set: 'noto', name: `e${i}`, subject: 'e', keywords: [] })),
    ...Array.from({ length: 30 }, (_, i) => ({ set: 'ph-thin', name: `i${i}-thin`, subject: 'i', keywords: [] })),
  ];
  it('draws the emoji share from the emoji sets whatever their size, uniformly within each group', () => {
    const pick = itemSampler({ items }, 0.6);
    const rng = mulberry32(3);
    const counts = new Array<number>(items.length).fill(0);
    const n = 30000;
    for (let k = 0; k < n; k++) counts[pick(rng())]!++;
    const emoji = counts.slice(0, 3).reduce((a, b) => a + b, 0) / n;
    expect(emoji).toBeGreaterThan(0.58);
    expect(emoji).toBeLessThan(0.62);
    for (const c of counts.slice(0, 3)) expect(c / n).toBeCloseTo(0.2, 1);
    for (const c of counts.slice(3)) expect(c / n).toBeCloseTo(0.4 / 30, 2);
  });
  it('uses the one group there is, and refuses a share outside [0, 1]', () => {
    const pick = itemSampler({ items: items.slice(0, 3) }, 0.6);
    expect([0, 0.5, 0.999].map(pick)).toEqual([0, 1, 2]);
    expect(() => itemSampler({ items }, 1.5)).toThrow(/not in \[0, 1\]/);
  });
  it('gives each item the probability it draws it with (itemWeights)', () => {
    const w = itemWeights({ items }, 0.6);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(w[0]).toBeCloseTo(0.2, 12);
    expect(w[3]).toBeCloseTo(0.4 / 30, 12);
    expect([...itemWeights({ items: items.slice(3) }, 0.6)].every((v) => Math.abs(v - 1 / 30) < 1e-12)).toBe(true);
  });
});
