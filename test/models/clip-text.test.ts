import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/index.ts';
import { clipTextModel, clipTextParamShapes, emojiMiniTextConfig, SD15_TEXT_CONFIG } from '../../src/models/clip-text.ts';
import { rng } from './random-weights.ts';
import { maxAbsDiff, runGraph } from './run-graph.ts';

const count = (m: Map<string, readonly number[]>) => [...m.values()].reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);

describe('CLIP ViT-L/14 text model inventory (transformers CLIPTextModel state dict)', () => {
  const shapes = clipTextParamShapes(SD15_TEXT_CONFIG);

  it('has 196 tensors (position_ids is a buffer, not counted) and 123,060,480 parameters', () => {
    expect(shapes.size).toBe(196);
    expect(count(shapes)).toBe(123_060_480);
  });

  it('names and shapes follow transformers, under "text_encoder."', () => {
    const p = 'text_encoder.text_model';
    expect(shapes.get(`${p}.embeddings.token_embedding.weight`)).toEqual([49408, 768]);
    expect(shapes.get(`${p}.embeddings.position_embedding.weight`)).toEqual([77, 768]);
    expect(shapes.get(`${p}.encoder.layers.0.self_attn.q_proj.weight`)).toEqual([768, 768]);
    expect(shapes.get(`${p}.encoder.layers.11.self_attn.out_proj.bias`)).toEqual([768]);
    expect(shapes.get(`${p}.encoder.layers.5.layer_norm1.weight`)).toEqual([768]);
    expect(shapes.get(`${p}.encoder.layers.5.mlp.fc1.weight`)).toEqual([3072, 768]);
    expect(shapes.get(`${p}.encoder.layers.5.mlp.fc2.weight`)).toEqual([768, 3072]);
    expect(shapes.get(`${p}.final_layer_norm.bias`)).toEqual([768]);
    expect(clipTextParamShapes(SD15_TEXT_CONFIG, { prefix: '' }).has('text_model.final_layer_norm.weight')).toBe(true);
  });
});

describe('CLIP text forward on onnxruntime (EMOJI_MINI, random weights)', () => {
  const cfg = emojiMiniTextConfig(300);
  const B = 2;
  const T = cfg.max_position_embeddings;
  const r = rng(5);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(((r() + 1) / 2) * 300)));

  async function encode(tokens: BigInt64Array): Promise<Float32Array> {
    const g = new Graph({ paramMode: () => 'frozen' });
    const h = clipTextModel(g, cfg, g.input('input_ids', [B, T], 'int64'));
    expect(h.shape).toEqual([B, T, 128]);
    return (await runGraph(g, { h }, { input_ids: tokens })).h as Float32Array;
  }

  it('int64 ids [2, 16] -> last_hidden_state [2, 16, 128]: finite, layer-normalised', async () => {
    const h = await encode(ids);
    expect(h.length).toBe(B * T * 128);
    expect(h.every(Number.isFinite)).toBe(true);
  });

  it('is causal: changing token 5 changes positions >= 5 only', async () => {
    const before = await encode(ids);
    const changed = ids.slice();
    changed[5] = (changed[5] + 1n) % 300n;
    const after = await encode(changed);
    const row = 128;
    expect(maxAbsDiff(before, after, 0, 5 * row)).toBe(0);
    expect(maxAbsDiff(before, after, 5 * row, 6 * row)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(before, after, 15 * row, 16 * row)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(before, after, T * row, 2 * T * row)).toBe(0); // the other sample
  });

  it('refuses more tokens than positions', () => {
    const g = new Graph();
    expect(() => clipTextModel(g, cfg, g.input('ids', [1, T + 1], 'int64'))).toThrow(/max_position_embeddings/);
  });
});
