import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pairstyle-ext-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build() {
  const g = new G.Graph({ paramMode: () => 'frozen' });
  const x = g.input('x', [2, 64]);
  const y = G.linear(G.silu(G.linear(x, g.param('a.weight', [128, 64]), g.param('a.bias', [128]))), g.param('b.weight', [8, 128]), g.param('b.bias', [8]));
  const values = new Map([...g.params].map(([n, t]) => [n, Float32Array.from({ length: t.size }, (_, i) => Math.sin(i * 0.37 + n.length) * 0.1)]));
  return { y, weights: (n: string) => values.get(n) };
}
const x = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i));

describe('ONNX external data (models over protobuf 2 GB)', () => {
  it('keeps initializers inline below the threshold (default 1.5 GiB)', () => {
    const { y, weights } = build();
    const m = G.emitOnnx({ outputs: { y }, weights });
    expect(m.externalData).toBeUndefined();
    expect(G.DEFAULT_EXTERNAL_DATA_THRESHOLD).toBe(1.5 * 2 ** 30);
  });

  it('moves initializers of 1 KiB or more to external data over the threshold; results are identical', async () => {
    const { y, weights } = build();
    const inline = G.emitOnnx({ outputs: { y }, weights });
    const ext = G.emitOnnx({ outputs: { y }, weights, externalDataThreshold: 0, name: 'mlp' });
    expect(ext.externalData).toBeDefined();
    const e = ext.externalData!;
    expect(e.location).toBe('mlp.weights');
    // a.weight (32 KiB) and b.weight (4 KiB) go out; the biases (512 B, 32 B) stay in the model.
    expect(e.pieces.map((p) => p.bytes.byteLength).sort((p, q) => p - q)).toEqual([4096, 32768]);
    expect(e.pieces.every((p) => p.offset % 4096 === 0)).toBe(true);
    expect(ext.bytes.byteLength).toBeLessThan(inline.bytes.byteLength - 36_000);

    const run = async (m: G.OnnxModel) => {
      const s = await G.GraphSession.create(m, { threads: 1, tempDir: dir });
      const out = (await s.run({ x })).y as Float32Array;
      await s.release();
      return out;
    };
    expect(await run(ext)).toEqual(await run(inline));
    expect(readdirSync(dir)).toEqual([]); // the temporary model folder is gone once the session exists
  });

  it('writeOnnxModel writes the model and its data file side by side; onnxruntime loads it from the path', async () => {
    const { y, weights } = build();
    const m = G.emitOnnx({ outputs: { y }, weights, externalDataThreshold: 0, name: 'saved' });
    const path = join(dir, 'saved.onnx');
    await G.writeOnnxModel(m, path);
    expect(statSync(join(dir, 'saved.weights')).size).toBe(m.externalData!.length);
    const s = await ort.InferenceSession.create(path);
    const out = await s.run({ x: new ort.Tensor('float32', x, [2, 64]) });
    const s2 = await G.GraphSession.create(G.emitOnnx({ outputs: { y }, weights }), { threads: 1 });
    expect(out.y.data).toEqual((await s2.run({ x })).y);
    await s.release();
    await s2.release();
  });
});
