/**
 * Fuzzing of image decoding. Random bytes, random bytes behind a real format's
 * signature, and mutated real PNG / JPEG / WebP / GIF files (made with sharp here) go through the
 * upload check (checkImageBytes, and readImageUpload as a command sees it). No input may crash or hang:
 * each is accepted or refused with a clear ImageInputError / CommandError. Whatever the check accepts,
 * the worker's loader (loadImage) must read too, so a job never fails on a picture the command took.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readImageUpload } from '../../commands/attachments.ts';
import { checkImageBytes, loadImage } from '../../src/images/io.ts';
import { animated, attached, detailed, fuzzCount, fuzzSeed, fuzzTimeout, seeded, type Seeded } from './fixture.ts';
import { isClearMessage, reliabilityReport } from './report.ts';

const report = reliabilityReport(import.meta.url);
const FORMATS = ['png', 'jpeg', 'webp', 'gif'] as const;
const originals = new Map<string, Uint8Array>();
/**
 * Longest single check allowed: a hang detector, not a speed target (a decode that hangs would blow
 * through it; a normal one takes milliseconds, but up to a few seconds on a machine loaded 10x over).
 */
const MAX_MS = 10_000;

beforeAll(async () => {
  for (const f of FORMATS) originals.set(f, await detailed(f, 40, 32));
  originals.set('animated gif', await animated('gif', 3));
  originals.set('animated webp', await animated('webp', 3));
});

function mutate(r: Seeded, src: Uint8Array): { bytes: Uint8Array; how: string } {
  const b = Uint8Array.from(src);
  switch (r.int(0, 5)) {
    case 0: {
      const n = r.int(1, 8);
      for (let i = 0; i < n; i++) b[r.int(0, b.length - 1)] ^= 1 << r.int(0, 7);
      return { bytes: b, how: `${n} bit flips` };
    }
    case 1: {
      const at = r.int(0, b.length - 1);
      const n = r.int(1, 32);
      b.set(r.bytes(Math.min(n, b.length - at)), at);
      return { bytes: b, how: `${n} bytes overwritten at ${at}` };
    }
    case 2: {
      const at = r.int(0, b.length - 1);
      return { bytes: b.subarray(0, at), how: `cut at ${at} of ${b.length}` };
    }
    case 3: {
      const at = r.int(0, b.length);
      const extra = r.bytes(r.int(1, 64));
      return { bytes: new Uint8Array([...b.subarray(0, at), ...extra, ...b.subarray(at)]), how: `${extra.length} bytes inserted at ${at}` };
    }
    case 4: {
      // The header: sizes, chunk lengths, flags.
      const at = r.int(8, Math.min(40, b.length - 1));
      b[at] = r.int(0, 255);
      if (r.chance(0.5)) b[at + 1] = 0xff;
      return { bytes: b, how: `header byte ${at} changed` };
    }
    default: {
      const from = r.int(0, b.length - 1);
      const len = r.int(1, Math.min(200, b.length - from));
      return { bytes: new Uint8Array([...b, ...b.subarray(from, from + len)]), how: `${len} bytes repeated at the end` };
    }
  }
}

class ImageTally {
  accepted = 0;
  refused = 0;
  loaderDisagreed: string[] = [];
  failures: string[] = [];
  slowest = 0;

  async check(what: () => string, bytes: Uint8Array): Promise<void> {
    const t0 = performance.now();
    let ok = false;
    try {
      await checkImageBytes(bytes);
      ok = true;
      this.accepted++;
    } catch (e) {
      const msg = `the image ${(e as Error)?.message}`;
      if ((e as Error)?.name !== 'ImageInputError' || !isClearMessage(msg)) this.failures.push(`${(e as Error)?.name}: ${(e as Error)?.message} <- ${what()}`);
      else this.refused++;
    }
    const ms = performance.now() - t0;
    this.slowest = Math.max(this.slowest, ms);
    if (ms > MAX_MS) this.failures.push(`took ${ms.toFixed(0)} ms <- ${what()}`);
    if (ok) {
      // The worker decodes what the command accepted: it must not fail there.
      await loadImage(bytes, 32).catch((e) => this.loaderDisagreed.push(`${(e as Error)?.message} <- ${what()}`));
    }
  }

  record(what: string) {
    const total = this.accepted + this.refused + this.failures.length;
    const pass = this.failures.length === 0 && this.loaderDisagreed.length === 0;
    const result = `${total} tried: ${this.accepted} accepted (all read by the worker's loader: ${this.loaderDisagreed.length ? `no, ${this.loaderDisagreed.length} not` : 'yes'}), ${this.refused} refused with a clear message, ${this.failures.length} crashes / unclear / slower than ${MAX_MS / 1000} s${this.failures.length ? `: ${this.failures[0]}` : ''}`;
    report.row({ section: 'Fuzzing', case: what, expected: `no crash, no hang; refusals are clear; whatever is accepted decodes in the worker`, result, pass });
    expect(this.failures, this.failures.slice(0, 5).join('\n')).toEqual([]);
    expect(this.loaderDisagreed, this.loaderDisagreed.slice(0, 5).join('\n')).toEqual([]);
  }
}

describe('image decoding fuzzing', () => {
  it('random bytes of random length, and random bytes behind each accepted signature', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(201);
    const r = seeded(seed);
    const n = fuzzCount(150);
    const t = new ImageTally();
    for (let i = 0; i < n; i++) {
      const bytes = r.bytes(r.int(0, 3000));
      await t.check(() => `random ${bytes.length} bytes, i=${i}`, bytes);
    }
    const signatures: Record<string, number[]> = {
      png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      jpeg: [0xff, 0xd8, 0xff, 0xe0],
      gif: [...new TextEncoder().encode('GIF89a')],
      webp: [...new TextEncoder().encode('RIFF'), 0x40, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8 ')],
      avif: [0, 0, 0, 0x1c, ...new TextEncoder().encode('ftypavif')],
    };
    for (let i = 0; i < n; i++) {
      const [name, sig] = r.pick(Object.entries(signatures));
      const bytes = new Uint8Array([...sig, ...r.bytes(r.int(0, 1500))]);
      await t.check(() => `${name} signature + ${bytes.length - sig.length} random bytes, i=${i}`, bytes);
    }
    expect(t.accepted).toBe(0);
    t.record(`${n} random byte strings, ${n} random bodies behind a PNG/JPEG/GIF/WebP/AVIF signature (seed ${seed})`);
  });

  it('mutated PNG, JPEG, WebP, GIF and animated GIF / WebP files', { timeout: fuzzTimeout(300_000) }, async () => {
    for (const [k, [format, original]] of [...originals].entries()) {
      const seed = fuzzSeed(2020 + k);
      const r = seeded(seed);
      const t = new ImageTally();
      const n = fuzzCount(format.startsWith('animated') ? 60 : 120);
      for (let i = 0; i < n; i++) {
        const { bytes, how } = mutate(r, original);
        await t.check(() => `${format} ${how}, i=${i}`, bytes);
      }
      expect(t.refused, `${format}: mutations should be refused sometimes`).toBeGreaterThan(0);
      t.record(`${n} mutated ${format} files: bit flips, overwritten runs, truncation, insertions, header bytes (seed ${seed})`);
    }
  });

  it('as a command sees it: mutated uploads become CommandErrors that name the file', { timeout: fuzzTimeout() }, async () => {
    const seed = fuzzSeed(203);
    const r = seeded(seed);
    const n = fuzzCount(80);
    let refused = 0;
    const bad: string[] = [];
    for (let i = 0; i < n; i++) {
      const { bytes, how } = mutate(r, originals.get(r.pick(FORMATS))!);
      try {
        await readImageUpload(attached(`upload-${i}.img`, bytes, 'image/png'), 'style', 8 << 20);
      } catch (e) {
        const m = (e as Error).message;
        if ((e as Error).name === 'CommandError' && m.startsWith(`the style file 'upload-${i}.img' `) && isClearMessage(m)) refused++;
        else bad.push(`${(e as Error).name}: ${m} <- ${how}`);
      }
    }
    report.row({
      section: 'Fuzzing',
      case: `${n} mutated uploads through readImageUpload (seed ${seed})`,
      expected: 'every refusal a CommandError starting "the style file \'<name>\' …"',
      result: `${refused} refused as expected, ${n - refused - bad.length} accepted, ${bad.length} otherwise${bad.length ? `: ${bad[0]}` : ''}`,
      pass: bad.length === 0,
    });
    expect(bad).toEqual([]);
  });
});
