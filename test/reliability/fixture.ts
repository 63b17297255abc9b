/** Shared pieces of the reliability tests: a seeded RNG, a command context over the real queue and registry, pictures made with sharp. */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { DEFAULT_COMMAND_LIMITS, type Attachment, type CommandContext, type CommandLimits } from '../../commands/types.ts';
import { mulberry32 } from '../../src/data/dataset.ts';
import { InProcessQueue, type QueueLimits } from '../../src/queue/in-process.ts';
import { openKeyv } from '../../src/store/open-keyv.ts';
import { StyleRegistry, type Scope } from '../../src/store/style-registry.ts';
import { FakeExecutor } from '../queue/fake-executor.ts';

/** A seeded random source with the helpers fuzzing needs (failures reproduce from the seed). */
export function seeded(seed: number) {
  const next = mulberry32(seed);
  const r = {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p: number) => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
  return r;
}
export type Seeded = ReturnType<typeof seeded>;

/**
 * The fuzzing budget. `npm test` runs every fuzzer with its fixed seed and count; `npm run fuzz` sets
 * PAIRSTYLE_FUZZ_SCALE (counts and time limits times that) and PAIRSTYLE_FUZZ_SEED ('random': a fresh
 * base seed, printed; a number: that base again, to replay a failure). Each fuzzer's seed is its fixed
 * seed plus the base.
 */
export const FUZZ_SCALE = Math.max(1, Number(process.env.PAIRSTYLE_FUZZ_SCALE) || 1);
const FUZZ_BASE = (() => {
  const v = process.env.PAIRSTYLE_FUZZ_SEED;
  if (!v) return 0;
  const base = v === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(v) >>> 0;
  console.log(`fuzzing with base seed ${base} (replay: PAIRSTYLE_FUZZ_SEED=${base} PAIRSTYLE_FUZZ_SCALE=${FUZZ_SCALE} npm run fuzz)`);
  return base;
})();
export const fuzzSeed = (fixed: number): number => (fixed + FUZZ_BASE) >>> 0;
export const fuzzCount = (n: number): number => Math.round(n * FUZZ_SCALE);
/** A fuzz test's time limit (vitest's per-test timeout), scaled with its counts. */
export const fuzzTimeout = (ms = 120_000): number => ms * FUZZ_SCALE;

export const who = (user: string, workspace = 'w'): Scope => ({ platform: 'test', workspace, user });

/** A registry in memory and the real in-process queue over a fake executor. */
export async function backend(opts: { limits?: Partial<CommandLimits>; queue?: Partial<QueueLimits>; executor?: FakeExecutor } = {}) {
  const executor = opts.executor ?? new FakeExecutor();
  const queue = new InProcessQueue({ executors: [executor], limits: opts.queue });
  const registry = new StyleRegistry(await openKeyv('memory:'));
  const limits: CommandLimits = { ...DEFAULT_COMMAND_LIMITS, ...opts.limits };
  const ctx = (user: string, isAdmin = false): CommandContext => ({ who: who(user), isAdmin, registry, queue, limits });
  return { executor, queue, registry, limits, ctx };
}

/** An attachment whose bytes are already here (the platform download is tested in fetch.test.ts). */
export const attached = (name: string, bytes: Uint8Array, contentType: string | undefined = 'image/png', size = bytes.length): Attachment => ({
  name,
  size,
  contentType,
  download: async () => bytes,
});

const solid = (w: number, h: number, color = '#c44') => sharp({ create: { width: w, height: h, channels: 3, background: color } });
export const png = async (w = 32, h = 32, color?: string) => new Uint8Array(await solid(w, h, color).png().toBuffer());
export const jpeg = async (w = 32, h = 32) => new Uint8Array(await solid(w, h).jpeg().toBuffer());
export const webp = async (w = 32, h = 32) => new Uint8Array(await solid(w, h).webp().toBuffer());
export const gif = async (w = 32, h = 32) => new Uint8Array(await solid(w, h).gif().toBuffer());

/** A picture with some detail (so mutations hit real compressed data, not one flat colour). */
export async function detailed(format: 'png' | 'jpeg' | 'webp' | 'gif', w = 40, h = 32): Promise<Uint8Array> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([(x * 37) & 255, (y * 53) & 255, ((x ^ y) * 29) & 255], (y * w + x) * 3);
  return new Uint8Array(
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .toFormat(format)
      .toBuffer(),
  );
}

/** An animated GIF or WebP of `frames` frames. */
export async function animated(format: 'gif' | 'webp', frames = 3, side = 32): Promise<Uint8Array> {
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      solid(side, side, ['#e33', '#3e3', '#33e', '#ee3'][i % 4])
        .png()
        .toBuffer(),
    ),
  );
  return new Uint8Array(
    await sharp(pages, { join: { animated: true } })
      .toFormat(format)
      .toBuffer(),
  );
}

/**
 * A decompression bomb: a small valid PNG whose header claims width x height pixels (IHDR rewritten,
 * its CRC fixed), so only a check of the header's size stops it before decoding.
 */
export async function pngBomb(width = 100_000, height = 100_000): Promise<Uint8Array> {
  const b = Buffer.from(await png(32, 32));
  // 8-byte signature, then IHDR: length(4) 'IHDR'(4) width(4) height(4) ... crc(4) after 13 data bytes.
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  b.writeUInt32BE(crc32(b.subarray(12, 29)) >>> 0, 29);
  return new Uint8Array(b);
}
