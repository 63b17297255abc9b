import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16, iterateSafetensors, writeSafetensors } from '../../src/formats/safetensors.ts';

describe('iterateSafetensors (tensor by tensor, for multi-GB checkpoints)', () => {
  it('yields the selected tensors in data order, decoded; the hash sink sees the whole file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-iter-'));
    try {
      const path = join(dir, 'w.safetensors');
      const a = Float32Array.from({ length: 7 }, (_, i) => i / 3);
      const b = Float32Array.from({ length: 12 }, (_, i) => -i);
      await writeSafetensors(
        path,
        { a: { shape: [7], data: a }, b: { shape: [3, 4], data: b }, c: { shape: [0], data: new Float32Array(0) } },
        { dtype: 'F16' },
      );
      const hash = createHash('sha256');
      const got = [];
      for await (const t of iterateSafetensors(path, { select: (n) => n !== 'a', hash })) got.push(t);
      expect(got.map((t) => [t.name, t.dtype, t.shape])).toEqual([
        ['b', 'F16', [3, 4]],
        ['c', 'F16', [0]],
      ]);
      expect(got[0].data).toEqual(f16ToF32(f32ToF16(b)));
      expect(hash.digest('hex')).toBe(
        createHash('sha256')
          .update(await readFile(path))
          .digest('hex'),
      );
      const all = [];
      for await (const t of iterateSafetensors(path)) all.push(t.name);
      expect(all).toEqual(['a', 'b', 'c']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
