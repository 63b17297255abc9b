/**
 * Execution providers on the real onnxruntime-node: the CPU provider always runs; asking for CUDA where
 * its provider libraries are not installed (this project's default install skips them) is a
 * DeviceUnavailableError that says how to install them, from checkDevice and from GraphSession.create
 * alike. On a host with the CUDA provider installed the missing-provider cases are skipped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';

const cudaInstalled = existsSync(join(G.ortBinaryDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));

function tinyModel(): G.OnnxModel {
  const g = new G.Graph({ paramMode: () => 'frozen' });
  const x = g.input('x', [2, 4]);
  const y = G.linear(x, g.param('w', [3, 4]), g.param('b', [3]));
  const values = new Map([...g.params].map(([n, t]) => [n, Float32Array.from({ length: t.size }, (_, i) => 0.1 * (i + 1))]));
  return G.emitOnnx({ outputs: { y }, weights: (n) => values.get(n) });
}

/** What every CUDA failure message must tell the user. */
function expectRemedy(message: string) {
  // npm does not run onnxruntime-node's install script (package.json's allowScripts denies it), so an
  // npm flag cannot install the provider: only running the script itself does.
  expect(message).not.toMatch(/npm (ci|install)\b/);
  expect(message).toMatch(/node \S+onnxruntime-node[/\\]script[/\\]install\.js --onnxruntime-node-install=cuda12/);
  expect(message).toContain('CUDA 12 and cuDNN 9');
  expect(message).toContain('PAIRSTYLE_DEVICE=cpu');
}

describe('execution providers', () => {
  it("finds onnxruntime-node's binary folder; the CPU provider is always there", async () => {
    expect(existsSync(join(G.ortBinaryDir(), 'onnxruntime_binding.node'))).toBe(true);
    expect(() => G.checkDevice('cpu')).not.toThrow();
    const s = await G.GraphSession.create(tinyModel(), { threads: 1, device: 'cpu' });
    const y = (await s.run({ x: new Float32Array(8).fill(1) })).y as Float32Array;
    await s.release();
    expect([...y].map((v) => Number(v.toFixed(4)))).toEqual([1.1, 2.8, 4.5, 1.1, 2.8, 4.5]);
  });

  it.skipIf(cudaInstalled)('checkDevice("cuda") without the CUDA provider says how to install it', () => {
    const attempt = () => G.checkDevice('cuda');
    expect(attempt).toThrow(G.DeviceUnavailableError);
    try {
      attempt();
    } catch (e) {
      const err = e as Error;
      expect(err.name).toBe('DeviceUnavailableError');
      expect(err.message).toContain(`${G.ortBinaryDir()} has no libonnxruntime_providers_shared.so, libonnxruntime_providers_cuda.so`);
      expectRemedy(err.message);
    }
  });

  it.skipIf(cudaInstalled)('GraphSession.create on cuda without the CUDA provider is the same DeviceUnavailableError, before ORT is asked', async () => {
    const err = await G.GraphSession.create(tinyModel(), { threads: 1, device: 'cuda' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(G.DeviceUnavailableError);
    expectRemedy(err!.message);
  });

  it.skipIf(cudaInstalled)("turns ORT's own CUDA load failure into a DeviceUnavailableError; other ORT errors pass unchanged", async () => {
    // What ORT throws when a session is asked for CUDA it cannot load (the libraries may be there while
    // CUDA 12 or cuDNN 9 is not: GraphSession.create maps that case through cudaSessionError).
    const ortError = await ort.InferenceSession.create(tinyModel().bytes, { executionProviders: ['cuda'] }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(ortError?.message).toMatch(/Failed to load shared library/);
    const mapped = G.cudaSessionError(ortError) as Error;
    expect(mapped).toBeInstanceOf(G.DeviceUnavailableError);
    expect(mapped.message).toContain(`onnxruntime could not start its CUDA provider: ${ortError!.message.split('\n')[0]}`);
    expect(mapped.cause).toBe(ortError);
    expectRemedy(mapped.message);

    const notAModel = await ort.InferenceSession.create(new Uint8Array([1, 2, 3, 4])).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(notAModel).toBeInstanceOf(Error);
    expect(G.cudaSessionError(notAModel)).toBe(notAModel);
  });
});
