import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/graph/index.ts';
import { pixelDecode, pixelDecodeArray, pixelEncode, pixelEncodeArray } from '../../src/models/pixel-codec.ts';
import { rgbToUnit, unitToRgb } from '../../src/formats/pixels.ts';
import { randomArray } from './random-weights.ts';
import { runGraph } from './run-graph.ts';

const dims = { batch: 2, channels: 3, height: 32, width: 32 };
const N = 2 * 3 * 32 * 32;

describe('pixel codec (space-to-depth 2x)', () => {
  it('JS encode/decode are exact inverses, and latent channel c*4 + dy*2 + dx holds pixel (2y+dy, 2x+dx) of channel c', () => {
    const img = randomArray(N, 1);
    const lat = pixelEncodeArray(img, dims);
    expect(lat.length).toBe(N);
    expect(pixelDecodeArray(lat, dims)).toEqual(img);
    // image[b=1, c=2, y=7, x=10] -> latent[b=1, 2*4 + 1*2 + 0, 3, 5]
    expect(lat[((1 * 12 + 10) * 16 + 3) * 16 + 5]).toBe(img[((1 * 3 + 2) * 32 + 7) * 32 + 10]);
  });

  it('graph encode equals JS encode; graph decode inverts it exactly', async () => {
    const g = new Graph();
    const images = g.input('images', [2, 3, 32, 32]);
    const latents = pixelEncode(images);
    expect(latents.shape).toEqual([2, 12, 16, 16]);
    const back = pixelDecode(latents);
    const img = randomArray(N, 2);
    const out = await runGraph(g, { latents, back }, { images: img });
    expect(out.latents).toEqual(pixelEncodeArray(img, dims));
    expect(out.back).toEqual(img);
  });

  it('uint8 RGB(A) <-> [-1, 1] CHW round-trips every byte value exactly', () => {
    const w = 16;
    const h = 16; // 256 pixels: one of each byte value per channel
    const rgba = new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (Math.floor(i / 4) * (1 + (i % 4) * 2)) % 256));
    const chw = rgbToUnit(rgba, w, h, 4);
    expect(Math.min(...chw)).toBe(-1);
    expect(Math.max(...chw)).toBe(1);
    const rgb = unitToRgb(chw, w, h);
    for (let k = 0; k < w * h; k++) for (let c = 0; c < 3; c++) expect(rgb[k * 3 + c]).toBe(rgba[k * 4 + c]);
    expect(unitToRgb(Float32Array.from([-2, 0, 3]), 1, 1)).toEqual(Uint8Array.from([0, 128, 255]));
  });
});

describe('PixelCodec (the model image codec)', () => {
  it('decode(encode(images)) gives back the images exactly, batch of 2', async () => {
    const { PixelCodec } = await import('../../src/models/pixel-codec.ts');
    const codec = new PixelCodec(8);
    const images = Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.7));
    const latents = await codec.encode(images, 2);
    expect(latents).toHaveLength(2 * 12 * 4 * 4);
    expect(await codec.decode(latents, 2)).toEqual(images);
  });
});
