import { describe, expect, it } from 'vitest';
import { Graph, GraphError } from '../../src/graph/index.ts';
import { sinusoidFrequencies, timestepSinusoids } from '../../src/models/timestep-embedding.ts';
import { EMOJI_MINI_UNET_CONFIG, SD15_UNET_CONFIG, unet2DConditionModel, unetParamShapes, type UNet2DConditionConfig } from '../../src/models/unet.ts';
import { randomArray } from './random-weights.ts';
import { runGraph } from './run-graph.ts';

const count = (m: Map<string, readonly number[]>) => [...m.values()].reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);

describe('SD 1.5 UNet parameter inventory (diffusers UNet2DConditionModel state dict)', () => {
  const shapes = unetParamShapes(SD15_UNET_CONFIG, { prefix: '' });

  it('has 686 tensors and 859,520,964 parameters', () => {
    expect(shapes.size).toBe(686);
    expect(count(shapes)).toBe(859_520_964);
  });

  it('has the checkpoint shapes at known keys', () => {
    const want: Record<string, number[]> = {
      'conv_in.weight': [320, 4, 3, 3],
      'time_embedding.linear_1.weight': [1280, 320],
      'time_embedding.linear_2.weight': [1280, 1280],
      'down_blocks.0.resnets.0.time_emb_proj.weight': [320, 1280],
      'down_blocks.0.attentions.0.proj_in.weight': [320, 320, 1, 1],
      'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight': [320, 320],
      'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight': [320, 768],
      'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias': [320],
      'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight': [2560, 320],
      'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight': [320, 1280],
      'down_blocks.0.downsamplers.0.conv.weight': [320, 320, 3, 3],
      'down_blocks.1.resnets.0.conv_shortcut.weight': [640, 320, 1, 1],
      'down_blocks.3.resnets.1.conv2.weight': [1280, 1280, 3, 3],
      'mid_block.attentions.0.norm.weight': [1280],
      'mid_block.resnets.1.norm2.bias': [1280],
      'up_blocks.0.resnets.0.conv1.weight': [1280, 2560, 3, 3],
      'up_blocks.0.upsamplers.0.conv.weight': [1280, 1280, 3, 3],
      'up_blocks.1.resnets.2.conv_shortcut.weight': [1280, 1920, 1, 1],
      'up_blocks.2.resnets.0.norm1.weight': [1920],
      'up_blocks.3.resnets.0.conv1.weight': [320, 960, 3, 3],
      'up_blocks.3.resnets.2.conv_shortcut.weight': [320, 640, 1, 1],
      'up_blocks.3.attentions.2.proj_out.weight': [320, 320, 1, 1],
      'conv_norm_out.weight': [320],
      'conv_out.weight': [4, 320, 3, 3],
    };
    for (const [k, s] of Object.entries(want)) expect([k, shapes.get(k)]).toEqual([k, s]);
    expect(shapes.has('up_blocks.3.upsamplers.0.conv.weight')).toBe(false);
    expect(shapes.has('down_blocks.3.downsamplers.0.conv.weight')).toBe(false);
    expect(shapes.has('up_blocks.0.attentions.0.norm.weight')).toBe(false); // UpBlock2D has no attention
    expect(shapes.has('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias')).toBe(false);
  });

  it('prefixes names with "unet." by default', () => {
    expect([...unetParamShapes(SD15_UNET_CONFIG).keys()].every((k) => k.startsWith('unet.'))).toBe(true);
  });

  it('use_linear_projection makes proj_in/proj_out nn.Linear (SD 2.x layout)', () => {
    const s = unetParamShapes({ ...SD15_UNET_CONFIG, use_linear_projection: true, attention_head_dim: [5, 10, 20, 20] }, { prefix: '' });
    expect(s.get('down_blocks.1.attentions.0.proj_in.weight')).toEqual([640, 640]);
    expect(s.get('up_blocks.3.attentions.0.proj_out.weight')).toEqual([320, 320]);
  });
});

describe('timestep sinusoids (diffusers get_timestep_embedding)', () => {
  it('matches the formula, with flip_sin_to_cos and downscale_freq_shift', async () => {
    const g = new Graph();
    const t = g.input('t', [3]);
    const dim = 9; // odd: a zero column is appended
    const flipped = timestepSinusoids(t, dim, { flipSinToCos: true, freqShift: 0 });
    const plain = timestepSinusoids(t, dim, { flipSinToCos: false, freqShift: 1 });
    const ts = [0, 1, 999];
    const out = await runGraph(g, { flipped, plain }, { t: Float32Array.from(ts) });
    const half = 4;
    for (const [name, shift, flip] of [
      ['flipped', 0, true],
      ['plain', 1, false],
    ] as const) {
      const got = out[name] as Float32Array;
      ts.forEach((tv, b) => {
        for (let i = 0; i < half; i++) {
          const arg = tv * Math.exp((-Math.log(10000) * i) / (half - shift));
          const [first, second] = flip ? [Math.cos(arg), Math.sin(arg)] : [Math.sin(arg), Math.cos(arg)];
          expect(got[b * dim + i]).toBeCloseTo(first, 3);
          expect(got[b * dim + half + i]).toBeCloseTo(second, 3);
        }
        expect(got[b * dim + 8]).toBe(0);
      });
    }
    expect(sinusoidFrequencies(320, 0)[0]).toBe(1);
  });
});

describe('UNet forward on onnxruntime (random weights)', () => {
  it('EMOJI_MINI: [B, 12, 16, 16] latents + 16 text states of width 128 -> [B, 12, 16, 16], finite', async () => {
    const cfg = EMOJI_MINI_UNET_CONFIG;
    const g = new Graph({ paramMode: () => 'frozen' });
    const B = 2;
    const out = unet2DConditionModel(g, cfg, {
      sample: g.input('sample', [B, 12, 16, 16]),
      timestep: g.input('timestep', [B]),
      encoderHiddenStates: g.input('ctx', [B, 16, 128]),
    });
    expect(out.shape).toEqual([B, 12, 16, 16]);
    const r = await runGraph(g, { out }, { sample: randomArray(B * 12 * 256, 1), timestep: Float32Array.from([10, 900]), ctx: randomArray(B * 16 * 128, 2) });
    const y = r.out as Float32Array;
    expect(y.length).toBe(B * 12 * 256);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(Math.max(...y.map(Math.abs))).toBeGreaterThan(0);
    // Samples are independent: sample 1's output differs from sample 0's (different timestep and input).
    expect(y.slice(0, 3072)).not.toEqual(y.slice(3072));
  });

  it('per-block heads, 2 layers, 2 transformer layers, linear projection: shapes follow the config', async () => {
    const cfg: UNet2DConditionConfig = {
      ...EMOJI_MINI_UNET_CONFIG,
      block_out_channels: [16, 32],
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      layers_per_block: [2, 1],
      attention_head_dim: [2, 4],
      transformer_layers_per_block: 2,
      norm_num_groups: 8,
      cross_attention_dim: 24,
      use_linear_projection: true,
    };
    const g = new Graph({ paramMode: () => 'fed' });
    const out = unet2DConditionModel(
      g,
      cfg,
      {
        sample: g.input('sample', [1, 12, 8, 8]),
        timestep: g.input('timestep', [1], 'int64'),
        encoderHiddenStates: g.input('ctx', [1, 5, 24]),
      },
      { prefix: 'm.' },
    );
    expect(g.params.has('m.down_blocks.0.attentions.1.transformer_blocks.1.attn2.to_k.weight')).toBe(true);
    expect(g.params.get('m.up_blocks.1.resnets.2.conv1.weight')!.shape).toEqual([16, 32, 3, 3]); // 16 + skip 16 (conv_in)
    expect(g.params.get('m.up_blocks.0.resnets.0.conv1.weight')!.shape).toEqual([32, 64, 3, 3]);
    const r = await runGraph(g, { out }, { sample: randomArray(768, 3), timestep: BigInt64Array.from([500n]), ctx: randomArray(120, 4) });
    expect((r.out as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('rejects inputs that do not fit the config, saying which', () => {
    const build = (c: number, w: number) => {
      const g = new Graph();
      return unet2DConditionModel(g, EMOJI_MINI_UNET_CONFIG, {
        sample: g.input('s', [1, c, 16, 16]),
        timestep: g.input('t', [1]),
        encoderHiddenStates: g.input('c', [1, 4, w]),
      });
    };
    expect(() => build(4, 128)).toThrow(GraphError);
    expect(() => build(4, 128)).toThrow(/in_channels 12/);
    expect(() => build(12, 64)).toThrow(/cross_attention_dim 128/);
  });
});
