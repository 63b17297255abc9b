/**
 * Feature injection across the rows of a UNet batch (src/models/feature-injection.ts), run on
 * onnxruntime: with mix 0 the graph gives exactly the plain UNet's output; with mix 1 a row takes its
 * source row's features (the resnet outputs, the self-attention queries and keys); bad points are refused.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/index.ts';
import { attention, multiHeadAttention } from '../../src/models/attention.ts';
import { checkInjectionPoints, INJECT_MIX_INPUT, INJECT_SOURCE_INPUT, type FeatureInjectionPoints } from '../../src/models/feature-injection.ts';
import { linearLayer } from '../../src/models/layers.ts';
import { EMOJI_MINI_UNET_CONFIG, unet2DConditionModel } from '../../src/models/unet.ts';
import { randomArray } from './random-weights.ts';
import { maxAbsDiff, runGraph } from './run-graph.ts';

// The embedded model's UNet layout (three levels: 16x16, 8x8, 4x4 latents; attention in the two coarse ones), random weights.
const CFG = EMOJI_MINI_UNET_CONFIG;
const ROWS = 3;
const LATENT = CFG.in_channels * CFG.sample_size * CFG.sample_size;
const TOKENS = 4;

function unet(injection?: FeatureInjectionPoints) {
  const g = new Graph();
  const s = CFG.sample_size;
  const out = unet2DConditionModel(
    g,
    CFG,
    {
      sample: g.input('sample', [ROWS, CFG.in_channels, s, s]),
      timestep: g.input('timestep', [ROWS]),
      encoderHiddenStates: g.input('ctx', [ROWS, TOKENS, CFG.cross_attention_dim]),
    },
    { injection },
  );
  return { g, out };
}

// Three different rows: different samples, timesteps and contexts.
const feeds = {
  sample: randomArray(ROWS * LATENT, 21),
  timestep: Float32Array.from([900, 500, 120]),
  ctx: randomArray(ROWS * TOKENS * CFG.cross_attention_dim, 22),
};
const injectFeeds = (source: number[], mix: number[]) => ({
  [INJECT_SOURCE_INPUT]: BigInt64Array.from(source, BigInt),
  [INJECT_MIX_INPUT]: Float32Array.from(mix),
});
const row = (x: Float32Array, i: number) => x.subarray(i * LATENT, (i + 1) * LATENT);

describe('feature injection in the UNet', () => {
  it('with mix 0 gives exactly the plain UNet output, whatever the sources', async () => {
    const plain = unet();
    const want = (await runGraph(plain.g, { out: plain.out }, feeds)).out as Float32Array;
    for (const points of [['resnets'], ['attention'], ['resnets', 'attention']] as const) {
      const inj = unet({ points });
      expect(inj.g.inputs.has(INJECT_SOURCE_INPUT) && inj.g.inputs.has(INJECT_MIX_INPUT)).toBe(true);
      const got = (await runGraph(inj.g, { out: inj.out }, { ...feeds, ...injectFeeds([2, 0, 1], [0, 0, 0]) })).out as Float32Array;
      expect(got).toEqual(want);
    }
    // The plain UNet has no injection inputs (its graph, and so every other session's, is unchanged).
    expect(plain.g.inputs.has(INJECT_SOURCE_INPUT)).toBe(false);
  }, 120_000);

  it('with mix 1 a row takes its source row features: at every resnet of every up-block, its output is the source row output', async () => {
    // The last up-block of this layout has no attention: a row whose every decoder resnet output is the
    // source's ends with the source's output, though its own encoder, timestep and context differ.
    const all = unet({ points: ['resnets'], levels: CFG.block_out_channels.length });
    const out = (await runGraph(all.g, { out: all.out }, { ...feeds, ...injectFeeds([0, 0, 2], [0, 1, 0]) })).out as Float32Array;
    const plain = unet();
    const want = (await runGraph(plain.g, { out: plain.out }, feeds)).out as Float32Array;
    expect(maxAbsDiff(row(out, 1), row(want, 0))).toBeLessThan(1e-5);
    expect(maxAbsDiff(row(want, 1), row(want, 0))).toBeGreaterThan(0.1);
    // The rows with mix 0 are their own.
    expect(row(out, 0)).toEqual(row(want, 0));
    expect(row(out, 2)).toEqual(row(want, 2));

    // The default levels leave the full-resolution up-block free: the row moves, but is not the source.
    for (const points of [['resnets'], ['attention']] as const) {
      const coarse = unet({ points });
      const got = (await runGraph(coarse.g, { out: coarse.out }, { ...feeds, ...injectFeeds([0, 0, 2], [0, 1, 0]) })).out as Float32Array;
      expect(maxAbsDiff(row(got, 1), row(want, 1))).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(row(got, 1), row(want, 0))).toBeGreaterThan(1e-3);
    }
  }, 120_000);

  it('with mix 1 the self-attention of a row uses its source row queries and keys, and its own values', async () => {
    const [n, c, heads] = [6, 8, 2];
    const x = randomArray(2 * n * c, 31);
    const g = new Graph();
    const out = attention(g.input('x', [2, n, c]), undefined, 'attn1', heads, { injectQueryKey: true });
    const got = (await runGraph(g, { out }, { x, ...injectFeeds([0, 0], [0, 1]) })).out as Float32Array;
    // The same module written out: the pattern of row 0's queries and keys over row 1's values.
    const ref = new Graph();
    const [x0, x1] = [ref.input('x0', [1, n, c]), ref.input('x1', [1, n, c])];
    const lin = (t: typeof x0, m: string, bias = false) => linearLayer(t, `attn1.${m}`, c, bias);
    const mixed = lin(multiHeadAttention(lin(x0, 'to_q'), lin(x0, 'to_k'), lin(x1, 'to_v'), heads), 'to_out.0', true);
    const own = lin(multiHeadAttention(lin(x0, 'to_q'), lin(x0, 'to_k'), lin(x0, 'to_v'), heads), 'to_out.0', true);
    const want = await runGraph(ref, { mixed, own }, { x0: x.subarray(0, n * c), x1: x.subarray(n * c) });
    expect(maxAbsDiff(got.subarray(n * c), want.mixed as Float32Array)).toBeLessThan(1e-5);
    expect(maxAbsDiff(got.subarray(0, n * c), want.own as Float32Array)).toBeLessThan(1e-5);
  });

  it('refuses unknown points, no points and levels beyond the UNet', () => {
    expect(() => checkInjectionPoints({ points: [] })).toThrow(/at least one point/);
    expect(() => checkInjectionPoints({ points: ['queries' as 'resnets'] })).toThrow(/unknown point 'queries'/);
    expect(() => checkInjectionPoints({ points: ['resnets'], levels: 0 })).toThrow(/levels must be a positive integer/);
    expect(() => unet({ points: ['resnets'], levels: 4 })).toThrow(/levels 4, but the UNet has 3 up-blocks/);
  });
});
