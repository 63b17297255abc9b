import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HELDOUT_SETS, PRETRAIN_SETS, getSetDef, pretrainSetIds } from "../../src/data/emoji-sets.ts";
import { buildDataset, buildDatasetFile } from "../../src/data/build.ts";
import {
  HEADER_SIZE,
  captionFor,
  decodeDataset,
  encodeDataset,
  loadDataset,
  mulberry32,
  samplePixels,
  type DatasetItem,
} from "../../src/data/dataset.ts";

const dir = mkdtempSync(join(tmpdir(), "emoji32-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("set definitions", () => {
  it("pretraining sets are noto, twemoji, fluent; openmoji is held out", () => {
    expect(pretrainSetIds()).toEqual(["noto", "twemoji", "fluent"]);
    expect(PRETRAIN_SETS.map((s) => s.style)).toEqual(["noto style", "twemoji style", "fluent style"]);
    expect(PRETRAIN_SETS.every((s) => !s.heldOut)).toBe(true);
    expect(PRETRAIN_SETS.map((s) => s.id)).not.toContain("openmoji");
    expect(HELDOUT_SETS.map((s) => s.id)).toEqual(["openmoji"]);
    expect(getSetDef("openmoji").license).toBe("CC-BY-SA-4.0");
  });
  it("the builder refuses the held-out set", async () => {
    await expect(buildDataset({ sets: ["openmoji" as never] })).rejects.toThrow(/held out/);
  });
});

describe("dataset file", () => {
  it("builds ~20 icons through the script's code path and round-trips", async () => {
    const path = join(dir, "small.bin");
    const built = await buildDatasetFile(path, { limitPerSet: 7 });
    expect(built.count).toBe(21);
    const ds = loadDataset(path);
    expect(ds.count).toBe(built.count);
    expect([ds.height, ds.width, ds.channels]).toEqual([32, 32, 3]);
    expect(ds.pixels.length).toBe(ds.count * 32 * 32 * 3);
    expect(Array.from(ds.pixels)).toEqual(Array.from(built.pixels));
    expect(ds.items).toEqual(built.items);
    expect(new Set(ds.items.map((i) => i.set))).toEqual(new Set(["noto", "twemoji", "fluent"]));
    // sorted by set, then name
    const order = ["noto", "twemoji", "fluent"];
    const keys = ds.items.map((i) => [order.indexOf(i.set), i.name] as const);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    expect(keys).toEqual(sorted);
    // header
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PSDS");
    expect(bytes.readUInt16LE(4)).toBe(1);
    expect(bytes.readUInt32LE(8)).toBe(21);
    expect(bytes.readUInt32LE(20)).toBe(HEADER_SIZE);
    // deterministic
    const again = join(dir, "small2.bin");
    await buildDatasetFile(again, { limitPerSet: 7 });
    expect(readFileSync(again).equals(bytes)).toBe(true);
  });

  it("merges pixel-identical icons within a set (twemoji families)", async () => {
    const names = new Set(["family-adult-child", "family-man-girl", "family-woman-boy", "dog-face"]);
    const ds = await buildDataset({ sets: ["twemoji"], filter: (c) => names.has(c.name) });
    expect(ds.items.map((i) => i.name)).toEqual(["dog-face", "family-adult-child"]);
    const fam = ds.items[1]!;
    expect(fam.keywords).toContain("family man girl");
    expect(ds.summary[0]!.duplicates).toBe(2);
  });

  it("encodes and decodes a synthetic dataset", () => {
    const items: DatasetItem[] = [
      { set: "noto", name: "a", subject: "a", keywords: [] },
      { set: "fluent", name: "b-c", subject: "b c", keywords: ["x", "ünï"] },
    ];
    const pixels = new Uint8Array(2 * 2 * 2 * 3).map((_, i) => i);
    const bytes = encodeDataset({ count: 2, height: 2, width: 2, channels: 3, pixels, items });
    const ds = decodeDataset(bytes);
    expect(ds.items).toEqual(items);
    expect(Array.from(samplePixels(ds, 1))).toEqual(Array.from(pixels.subarray(12)));
    expect(ds.sets.map((s) => s.id)).toEqual(["noto", "fluent"]);
    const bad = bytes.slice();
    bad[0] = 0x58;
    expect(() => decodeDataset(bad)).toThrow(/magic/);
    expect(() => decodeDataset(bytes.subarray(0, bytes.length - 5))).toThrow();
  });
});

describe("captionFor", () => {
  const item: DatasetItem = { set: "twemoji", name: "dog-face", subject: "dog face", keywords: ["dog", "puppy"] };
  it("appends the style on about half the samples and uses keywords occasionally", () => {
    const rng = mulberry32(42);
    const n = 4000;
    let styled = 0;
    let keyword = 0;
    for (let i = 0; i < n; i++) {
      const c = captionFor(item, rng);
      expect(c).toMatch(/^(dog face|dog|puppy)( in twemoji style)?$/);
      if (c.endsWith(" in twemoji style")) styled++;
      if (!c.startsWith("dog face")) keyword++;
    }
    expect(styled / n).toBeGreaterThan(0.45);
    expect(styled / n).toBeLessThan(0.55);
    expect(keyword / n).toBeGreaterThan(0.1);
    expect(keyword / n).toBeLessThan(0.2);
  });
  it("is deterministic for a seed and honours options", () => {
    const a = Array.from({ length: 20 }, ((r) => () => captionFor(item, r))(mulberry32(7)));
    const b = Array.from({ length: 20 }, ((r) => () => captionFor(item, r))(mulberry32(7)));
    expect(a).toEqual(b);
    const rng = mulberry32(1);
    expect(captionFor(item, rng, { styleProb: 1, keywordProb: 0 })).toBe("dog face in twemoji style");
    expect(captionFor(item, rng, { styleProb: 0, keywordProb: 0 })).toBe("dog face");
    expect(captionFor({ ...item, keywords: [] }, rng, { styleProb: 0, keywordProb: 1 })).toBe("dog face");
  });
});
