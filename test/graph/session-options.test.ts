/** GraphSession's options as onnxruntime-node takes them, on the real onnxruntime-node. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';

function linearModel(): G.OnnxModel {
  const g = new G.Graph({ paramMode: () => 'frozen' });
  const y = G.linear(g.input('x', [2, 4]), g.param('w', [3, 4]), g.param('b', [3]));
  const values = new Map([...g.params].map(([n, t]) => [n, Float32Array.from({ length: t.size }, (_, i) => 0.1 * (i + 1))]));
  return G.emitOnnx({ outputs: { y }, weights: (n) => values.get(n) });
}

describe('session options', () => {
  it("stopSpinningAfterRun is onnxruntime's session.force_spinning_stop; off by default", () => {
    expect(G.ortSessionOptions({ threads: 2, stopSpinningAfterRun: true })).toMatchObject({
      intraOpNumThreads: 2,
      extra: { session: { force_spinning_stop: '1' } },
    });
    expect(G.ortSessionOptions({ threads: 2 }).extra).toBeUndefined();
  });

  it('a session that stops spinning after each run gives the same outputs, run after run', async () => {
    const x = { x: new Float32Array(8).fill(1) };
    const plain = await G.GraphSession.create(linearModel(), { threads: 2 });
    const stopping = await G.GraphSession.create(linearModel(), { threads: 2, stopSpinningAfterRun: true });
    const want = (await plain.run(x)).y;
    for (let i = 0; i < 3; i++) expect((await stopping.run(x)).y).toEqual(want);
    await plain.release();
    await stopping.release();
  });

  it("interOpThreads above 1 is onnxruntime's parallel executor, with the same outputs; 1 by default (sequential)", async () => {
    expect(G.ortSessionOptions({ threads: 1, interOpThreads: 2 })).toMatchObject({ executionMode: 'parallel', interOpNumThreads: 2 });
    expect(G.ortSessionOptions({ threads: 1 })).toMatchObject({ executionMode: 'sequential', interOpNumThreads: 1 });
    const x = { x: Float32Array.from({ length: 8 }, (_, i) => i - 3) };
    const plain = await G.GraphSession.create(linearModel(), { threads: 1 });
    const parallel = await G.GraphSession.create(linearModel(), { threads: 1, interOpThreads: 2 });
    expect((await parallel.run(x)).y).toEqual((await plain.run(x)).y);
    await plain.release();
    await parallel.release();
  });

  it('profileFilePrefix: a chrome trace of every node run, written when the session is released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pairstyle-profile-'));
    try {
      const session = await G.GraphSession.create(linearModel(), { threads: 1, profileFilePrefix: join(dir, 'step') });
      await session.run({ x: new Float32Array(8).fill(1) });
      await session.release();
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^step_.*\.json$/);
      const events = JSON.parse(await readFile(join(dir, files[0]!), 'utf8')) as { name: string; cat: string; args?: { op_name?: string } }[];
      expect(events.some((e) => e.name === 'model_run')).toBe(true);
      expect(events.some((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.args?.op_name !== undefined)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
