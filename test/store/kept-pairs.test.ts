/**
 * The pictures a style was trained from, kept for /pairstyle retrain: the codec refuses damaged values,
 * a kept picture loads as the upload loads, and the registry gives them to the style's owner only and
 * deletes them with the style.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { keptPicture, KEPT_PICTURE_SIDE, loadImage } from '../../src/images/io.ts';
import { decodeKeptPairs, encodeKeptPairs } from '../../src/store/kept-pairs.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';

/** A w x h picture of seeded noise with an alpha channel, in `format`. */
async function noise(w: number, h: number, format: 'png' | 'jpeg' | 'webp', seed = 1): Promise<Uint8Array> {
  const raw = new Uint8Array(w * h * 4);
  for (let i = 0; i < raw.length; i++) raw[i] = ((i + seed * 7919) * 2654435761) >>> 24;
  const img = sharp(raw, { raw: { width: w, height: h, channels: 4 } });
  return new Uint8Array(await (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg() : img.webp()).toBuffer());
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('kept pictures', () => {
  it('load at any model size exactly as the upload does when the square is at most 1024 px; larger ones are kept at 1024 px', async () => {
    for (const [w, h, format] of [
      [40, 30, 'png'],
      [300, 500, 'jpeg'],
      [700, 900, 'webp'],
    ] as const) {
      const upload = await noise(w, h, format);
      const kept = await keptPicture(upload);
      const meta = await sharp(kept).metadata();
      expect([meta.format, meta.width, meta.height, meta.exif]).toEqual(['webp', Math.min(w, h), Math.min(w, h), undefined]);
      for (const size of [32, 512]) expect(maxDiff(await loadImage(kept, size), await loadImage(upload, size)), `${w}x${h} ${format} at ${size}`).toBe(0);
    }
    const big = await keptPicture(await noise(1300, 1100, 'png'));
    expect((await sharp(big).metadata()).width).toBe(KEPT_PICTURE_SIDE);
    await expect(keptPicture(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'))).rejects.toThrow(/not a readable image/);
  });

  it('travel in one value with their settings, and a damaged value is refused, never half read', () => {
    const pairs = [
      { content: new Uint8Array([1, 2, 3]), style: new Uint8Array([4, 5]) },
      { content: new Uint8Array([6]), style: new Uint8Array([7, 8, 9, 10]) },
    ];
    const full = { pairs, subject: 'dog face', steps: 300, labels: ['a.png → b.png', 'c.png → d.png'] };
    const bytes = encodeKeptPairs(full);
    expect(decodeKeptPairs(bytes, 'ink')).toEqual(full);
    expect(decodeKeptPairs(encodeKeptPairs({ pairs: pairs.slice(0, 1) }), 'ink')).toEqual({ pairs: pairs.slice(0, 1) });
    const damaged = [
      bytes.slice(0, bytes.length - 1), // cut short: the last picture runs past the end
      bytes.slice(0, 10), // no header
      Uint8Array.from(bytes, (b, i) => (i === 0 ? 0 : b)), // not the magic
      Uint8Array.from(bytes, (b, i) => (i === 8 ? 255 : b)), // a header longer than the value
      Uint8Array.from(bytes, (b, i) => (i === 12 ? 0x5b : b)), // the header is not JSON
      encodeKeptPairs({ pairs: [] }),
    ];
    for (const d of damaged) expect(() => decodeKeptPairs(d, 'ink')).toThrow(/the pictures kept for 'ink' are damaged/);
  });
});

describe("the registry keeps a style's pictures", () => {
  const who = (user: string): Scope => ({ platform: 'discord', workspace: 'g1', user });
  const style = new Uint8Array([9, 9, 9]);

  it('for its owner only, deletes them with the style and when it is replaced, and detects damage', async () => {
    const keyv = await openKeyv('memory:');
    const reg = new StyleRegistry(keyv);
    const kept = encodeKeptPairs({ pairs: [{ content: new Uint8Array([1]), style: new Uint8Array([2]) }], subject: 'cat' });
    const e = await reg.put(who('alice'), 'ink', style, {}, { pairs: kept, jobId: 'j1' });
    expect(e.pairs).toMatchObject({ size: kept.length });
    expect((await reg.keptPairs(who('alice'), 'ink')).bytes).toEqual(kept);
    // Shared: bob may draw with it, never get its pictures.
    await reg.setShared(who('alice'), 'ink', true);
    await expect(reg.keptPairs(who('bob'), 'ink')).rejects.toThrow(/'ink' belongs to someone else: only its owner can train it again/);
    await expect(reg.keptPairs(who('bob'), 'nope')).rejects.toThrow(/you have no style named 'nope'/);
    // Storing again for the same job changes nothing.
    expect((await reg.put(who('alice'), 'ink', style, {}, { pairs: kept, jobId: 'j1' })).pairs).toEqual(e.pairs);
    expect(await keyv.get(e.pairs!.blob)).toBeDefined();
    // Replaced (a retraining): the old pictures go, the new ones stay, the style stays shared.
    const again = encodeKeptPairs({ pairs: [{ content: new Uint8Array([3]), style: new Uint8Array([4]) }] });
    const e2 = await reg.put(who('alice'), 'ink', style, {}, { pairs: again, jobId: 'j2', overwrite: true });
    expect([await keyv.get(e.pairs!.blob), e2.shared]).toEqual([undefined, true]);
    expect((await reg.keptPairs(who('alice'), 'ink')).bytes).toEqual(again);
    // Damaged in the store: refused by its hash.
    await keyv.set(e2.pairs!.blob, Buffer.from([1, 2]).toString('base64'));
    await expect(reg.keptPairs(who('alice'), 'ink')).rejects.toThrow(/the pictures kept for 'ink' are damaged/);
    // Deleted with the style.
    await reg.delete(who('alice'), 'ink');
    expect(await keyv.get(e2.pairs!.blob)).toBeUndefined();
    // A style stored without its pictures (trained before they were kept).
    await reg.put(who('alice'), 'old', style, {});
    await expect(reg.keptPairs(who('alice'), 'old')).rejects.toThrow(/'old' is stored without the pictures it was trained from/);
  });
});
