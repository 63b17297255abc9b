import { describe, expect, it } from 'vitest';
import { Graph, GraphError } from '../../src/graph/index.ts';
import { downsample2D } from '../../src/models/resnet.ts';
import { SD_VAE_CONFIG, splitMoments, VaeCodec, vaeDecoder, vaeEncoder, vaeParamShapes, type AutoencoderKLConfig } from '../../src/models/vae.ts';
import { randomArray, randomWeight } from './random-weights.ts';
import { runGraph } from './run-graph.ts';

const count = (m: Map<string, readonly number[]>) => [...m.values()].reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);

describe('SD VAE parameter inventory (diffusers AutoencoderKL state dict)', () => {
  const shapes = vaeParamShapes(SD_VAE_CONFIG, { prefix: '' });

  it('has 248 tensors and 83,653,863 parameters (encoder + quant_conv 34,163,664; decoder + post_quant_conv 49,490,199)', () => {
    // Per block, counted from diffusers' Encoder/Decoder: resnet 8 tensors (+2 with conv_shortcut), mid
    // attention 10, down/upsampler 2. Encoder 2 + 18 + 20 + 20 + 16 + 26 + 4 = 106; decoder
    // 2 + 26 + 26 + 26 + 28 + 26 + 4 = 138; quant_conv and post_quant_conv 4.
    expect(shapes.size).toBe(248);
    expect(count(shapes)).toBe(83_653_863);
    const enc = new Map([...shapes].filter(([k]) => k.startsWith('encoder.') || k.startsWith('quant_conv.')));
    expect(enc.size).toBe(108);
    expect(count(enc)).toBe(34_163_664);
  });

  it('has the checkpoint shapes at known keys', () => {
    const want: Record<string, number[]> = {
      'encoder.conv_in.weight': [128, 3, 3, 3],
      'encoder.down_blocks.0.resnets.0.norm1.weight': [128],
      'encoder.down_blocks.0.downsamplers.0.conv.weight': [128, 128, 3, 3],
      'encoder.down_blocks.1.resnets.0.conv1.weight': [256, 128, 3, 3],
      'encoder.down_blocks.1.resnets.0.conv_shortcut.weight': [256, 128, 1, 1],
      'encoder.down_blocks.2.resnets.0.conv_shortcut.bias': [512],
      'encoder.down_blocks.3.resnets.1.conv2.weight': [512, 512, 3, 3],
      'encoder.mid_block.attentions.0.group_norm.weight': [512],
      'encoder.mid_block.attentions.0.to_q.weight': [512, 512],
      'encoder.mid_block.attentions.0.to_q.bias': [512],
      'encoder.mid_block.attentions.0.to_out.0.weight': [512, 512],
      'encoder.conv_norm_out.bias': [512],
      'encoder.conv_out.weight': [8, 512, 3, 3],
      'quant_conv.weight': [8, 8, 1, 1],
      'post_quant_conv.weight': [4, 4, 1, 1],
      'decoder.conv_in.weight': [512, 4, 3, 3],
      'decoder.mid_block.resnets.1.norm2.weight': [512],
      'decoder.up_blocks.0.resnets.2.conv2.weight': [512, 512, 3, 3],
      'decoder.up_blocks.0.upsamplers.0.conv.weight': [512, 512, 3, 3],
      'decoder.up_blocks.2.resnets.0.conv1.weight': [256, 512, 3, 3],
      'decoder.up_blocks.2.resnets.0.conv_shortcut.weight': [256, 512, 1, 1],
      'decoder.up_blocks.3.resnets.0.conv_shortcut.weight': [128, 256, 1, 1],
      'decoder.up_blocks.3.resnets.2.norm1.weight': [128],
      'decoder.conv_norm_out.weight': [128],
      'decoder.conv_out.weight': [3, 128, 3, 3],
    };
    for (const [k, s] of Object.entries(want)) expect([k, shapes.get(k)]).toEqual([k, s]);
    expect(shapes.has('encoder.down_blocks.3.downsamplers.0.conv.weight')).toBe(false);
    expect(shapes.has('decoder.up_blocks.3.upsamplers.0.conv.weight')).toBe(false);
    expect(shapes.has('decoder.up_blocks.0.resnets.3.conv1.weight')).toBe(false);
    expect(shapes.has('encoder.down_blocks.0.resnets.0.time_emb_proj.weight')).toBe(false);
    expect([...vaeParamShapes(SD_VAE_CONFIG).keys()].every((k) => k.startsWith('vae.'))).toBe(true);
  });
});

const TINY_VAE: AutoencoderKLConfig = {
  ...SD_VAE_CONFIG,
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'],
  block_out_channels: [8, 16],
  layers_per_block: 1,
  norm_num_groups: 4,
  sample_size: 16,
};
const weight = (g: Graph) => (n: string) => randomWeight(n, g.params.get(n)!.shape);

describe('VAE on onnxruntime (tiny config, random weights)', () => {
  it('encoder: [B, 3, 16, 16] -> moments [B, 8, 8, 8]; decoder: [B, 4, 8, 8] -> [B, 3, 16, 16]; finite', async () => {
    const g = new Graph({ paramMode: () => 'frozen' });
    const moments = vaeEncoder(g.input('images', [2, 3, 16, 16]), TINY_VAE);
    const { mean, logvar } = splitMoments(moments);
    const decoded = vaeDecoder(g.input('latents', [2, 4, 8, 8]), TINY_VAE);
    expect([moments.shape, mean.shape, logvar.shape, decoded.shape]).toEqual([
      [2, 8, 8, 8],
      [2, 4, 8, 8],
      [2, 4, 8, 8],
      [2, 3, 16, 16],
    ]);
    const out = await runGraph(g, { moments, decoded }, { images: randomArray(2 * 3 * 256, 1), latents: randomArray(2 * 4 * 64, 2) }, weight(g));
    expect((out.moments as Float32Array).every(Number.isFinite)).toBe(true);
    expect((out.decoded as Float32Array).every(Number.isFinite)).toBe(true);
    expect(g.params.get('vae.decoder.up_blocks.0.resnets.1.conv1.weight')!.shape).toEqual([16, 16, 3, 3]);
    expect(g.params.get('vae.decoder.up_blocks.1.resnets.0.conv_shortcut.weight')!.shape).toEqual([8, 16, 1, 1]);
  });

  it('encoder downsampling pads one zero row/column at the bottom/right only (padding (0,1,0,1))', async () => {
    const g = new Graph({ paramMode: () => 'frozen' });
    const x = g.input('x', [1, 1, 4, 4]);
    const y = downsample2D(x, 'down', 0);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    const tap = (i: number, j: number) => Float32Array.from({ length: 9 }, (_, k) => (k === i * 3 + j ? 1 : 0));
    const xs = Float32Array.from({ length: 16 }, (_, i) => i + 1);
    const run = async (w: Float32Array) => (await runGraph(g, { y }, { x: xs }, (n) => (n.endsWith('weight') ? w : new Float32Array(1)))).y as Float32Array;
    // out[i, j] = xpad[2i + a, 2j + b]; xpad is x with a zero row 4 and column 4.
    expect([...(await run(tap(0, 0)))]).toEqual([1, 3, 9, 11]);
    expect([...(await run(tap(2, 2)))]).toEqual([11, 0, 0, 0]);
    expect([...(await run(tap(1, 1)))]).toEqual([6, 8, 14, 16]);
  });

  it('rejects images that do not fit the config', () => {
    const g = new Graph();
    expect(() => vaeEncoder(g.input('a', [1, 3, 15, 15]), TINY_VAE)).toThrow(/not divisible by 2/);
    expect(() => vaeEncoder(g.input('b', [1, 4, 16, 16]), TINY_VAE)).toThrow(GraphError);
    expect(() => vaeDecoder(g.input('c', [1, 3, 8, 8]), TINY_VAE)).toThrow(/latent_channels 4/);
  });

  it('VaeCodec: encode -> decode round trip of shapes; scaled mean; seeded samples', async () => {
    const shapes = vaeParamShapes(TINY_VAE);
    const codec = new VaeCodec(TINY_VAE, 16, (n) => (shapes.has(n) ? randomWeight(n, shapes.get(n)!) : undefined), { threads: 1 });
    expect(codec.latentShape).toEqual([4, 8, 8]);
    const images = randomArray(2 * 3 * 16 * 16, 3);
    const lat = await codec.encode(images, 2);
    expect(lat.length).toBe(2 * 4 * 8 * 8);
    // encode() is the distribution mean times scaling_factor: compare with the raw encoder graph.
    const g = new Graph({ paramMode: () => 'frozen' });
    const { mean } = splitMoments(vaeEncoder(g.input('images', [2, 3, 16, 16]), TINY_VAE));
    const raw = (await runGraph(g, { mean }, { images }, weight(g))).mean as Float32Array;
    for (let i = 0; i < lat.length; i += 37) expect(lat[i]).toBeCloseTo(raw[i] * 0.18215, 5);
    const s1 = await codec.encodeSample(images, 2, 7);
    expect(await codec.encodeSample(images, 2, 7)).toEqual(s1);
    expect(await codec.encodeSample(images, 2, 8)).not.toEqual(s1);
    expect(s1).not.toEqual(lat);
    const back = await codec.decode(lat, 2);
    expect(back.length).toBe(2 * 3 * 16 * 16);
    expect(back.every(Number.isFinite)).toBe(true);
    await codec.release();
  });
});
