import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listCheckpoints, loadLatestCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { AdamW } from '../../src/train/optim.ts';
import { EMA } from '../../src/train/ema.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setup() {
  const w = new Float32Array([1, 2, 3, 4, 5, 6]);
  const b = new Float32Array([0.5]);
  const opt = new AdamW([
    {
      params: [
        { name: 'layer.w', data: w },
        { name: 'layer.b', data: b },
      ],
      lr: 0.01,
    },
  ]);
  const ema = new EMA({ 'layer.w': w, 'layer.b': b }, 0.9);
  const train = (steps: number) => {
    for (let i = 0; i < steps; i++) {
      opt.step({ 'layer.w': w.map((x) => x * 0.1 - 0.2), 'layer.b': new Float32Array([0.3]) });
      ema.update();
    }
  };
  return { w, b, opt, ema, train };
}

describe('checkpoints', () => {
  it('returns null when there is no checkpoint or no directory', async () => {
    expect(await loadLatestCheckpoint(dir)).toBeNull();
    expect(await loadLatestCheckpoint(join(dir, 'missing'))).toBeNull();
  });

  it('saves and restores params, optimizer state, EMA and extras', async () => {
    const { w, b, opt, ema, train } = setup();
    train(3);
    const sub = join(dir, 'run1'); // created on demand
    const path = await saveCheckpoint(sub, {
      params: { 'layer.w': { shape: [2, 3], data: w }, 'layer.b': b },
      optimizerState: opt.state(),
      ema: ema.state(),
      step: 3,
      extra: { seed: 42, config: { rank: 4 } },
    });
    expect(path).toBe(join(sub, 'checkpoint-00000003.safetensors'));
    expect(await readdir(sub)).toEqual(['checkpoint-00000003.safetensors']);

    const header = await readSafetensorsHeader(path);
    expect(Object.keys(header.tensors).sort()).toEqual([
      'adam_m/layer.b',
      'adam_m/layer.w',
      'adam_v/layer.b',
      'adam_v/layer.w',
      'ema/layer.b',
      'ema/layer.w',
      'param/layer.b',
      'param/layer.w',
    ]);
    expect(header.tensors['adam_m/layer.w']!.shape).toEqual([2, 3]);
    expect(header.metadata.step).toBe('3');

    const ck = (await loadLatestCheckpoint(sub))!;
    expect(ck.step).toBe(3);
    expect(ck.extra).toEqual({ seed: 42, config: { rank: 4 } });
    expect(ck.params['layer.w']).toEqual(w);
    expect(ck.shapes['layer.w']).toEqual([2, 3]);
    expect(ck.shapes['layer.b']).toEqual([1]);
    expect(ck.optimizerState.step).toBe(3);
    expect(ck.ema!.updates).toBe(3);
    expect(ck.ema!.shadow['layer.w']).toEqual(ema.shadow['layer.w']);

    // Resuming from the checkpoint continues exactly like the original run.
    const r = setup();
    r.w.set(ck.params['layer.w']!);
    r.b.set(ck.params['layer.b']!);
    r.opt.loadState(ck.optimizerState);
    r.ema.loadState(ck.ema!);
    train(2);
    r.train(2);
    expect(r.w).toEqual(w);
    expect(r.b).toEqual(b);
    expect(r.ema.shadow['layer.w']).toEqual(ema.shadow['layer.w']);
  });

  it('keeps only the newest K and loads the latest by step number', async () => {
    const { w, opt, train } = setup();
    for (const step of [5, 10, 100, 1000, 20000]) {
      train(1);
      await saveCheckpoint(dir, { params: [{ name: 'layer.w', data: w }], optimizerState: opt.state(), step }, { keep: 2 });
    }
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([1000, 20000]);
    expect((await readdir(dir)).sort()).toEqual(['checkpoint-00001000.safetensors', 'checkpoint-00020000.safetensors']);
    const ck = (await loadLatestCheckpoint(dir))!;
    expect(ck.step).toBe(20000);
    expect(ck.ema).toBeUndefined();
    expect(ck.params['layer.w']).toEqual(w);
    expect(ck.extra).toEqual({});
  });
});
