/** SDXL-shaped random-weight checkpoint: conditioning, working size, pair training and drawing, the pairstyle command (see sd-checkpoints.ts). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/bot/cli.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { Graph } from '../../src/graph/index.ts';
import { clipTextStates, eosMaskOf } from '../../src/models/clip-text.ts';
import { conditionFeeds, textEncoderFeeds } from '../../src/pipeline/conditioning.ts';
import { loadDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import { readSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { TINY_SDXL_TEXT_2 } from '../models/tiny-sdxl.ts';
import { runGraph } from '../models/run-graph.ts';
import { maxDiff, models, pairSuite, root, useCheckpoint } from './sd-checkpoints.ts';

useCheckpoint('sdxl');
pairSuite('sdxl');

describe('SDXL-shaped checkpoint', () => {
  it('loads with two text encoders, the text_time UNet and force_zeros_for_empty_prompt', () => {
    const m = models.sdxl;
    expect(m.text2).toEqual(TINY_SDXL_TEXT_2);
    expect(m.tokenizer2).toBeDefined();
    expect(m.forceZerosForEmptyPrompt).toBe(true);
    expect(m.unet.addition_embed_type).toBe('text_time');
    expect(m.parameterCounts.text_encoder_2).toBeGreaterThan(0);
    // add_embedding: [time_embed_dim = 4 x 8, pooled 20 + 6 size ids x 4 sinusoids].
    expect(m.weight('unet.add_embedding.linear_1.weight')?.length).toBe(32 * (20 + 24));
  });

  it('works at another image size: latents and size ids follow it; a size the VAE and UNet cannot divide is refused', async () => {
    const m = await loadDiffusersPipeline(join(root, 'sdxl'), { threads: 1, imageSize: 16 });
    expect([m.imageSize, m.codec.latentShape]).toEqual([16, [4, 8, 8]]);
    const pipe = new DiffusionPipeline(m, { threads: 1 });
    const feeds = conditionFeeds(m, await pipe.encodeText(['a cat']), [0]);
    expect(Array.from(feeds.time_ids)).toEqual([16, 16, 0, 0, 16, 16]);
    const { images } = await pipe.generate({ prompts: ['a cat'], trajectories: [{ seed: 1, terms: [{ prompt: 0, coef: 1 }] }], steps: 2 });
    expect(images.length).toBe(3 * 16 * 16);
    await pipe.release();
    await m.release();
    await expect(loadDiffusersPipeline(join(root, 'sdxl'), { imageSize: 12 })).rejects.toThrow(/image size 12 px must be a positive multiple of 8/);
  });

  it('conditions on both penultimate states, the projected pooled EOS state and zeros for an empty prompt', async () => {
    const m = models.sdxl;
    const pipe = new DiffusionPipeline(m, { threads: 1 });
    const cond = await pipe.encodeText(['a cat', '', 'a dog']);
    expect(cond.states.length).toBe(3 * 8 * 40);
    expect(cond.pooled!.length).toBe(3 * 20);
    expect(cond.states.subarray(8 * 40, 16 * 40).every((v) => v === 0)).toBe(true);
    expect(cond.pooled!.subarray(20, 40).every((v) => v === 0)).toBe(true);
    expect(maxDiff(cond.states.subarray(0, 320), cond.states.subarray(640, 960))).toBeGreaterThan(1e-3);
    // pooled = text_projection(final_layer_norm(last state) at the first end-of-text token) of encoder 2,
    // computed here from the last states and the projection weight.
    const g = new Graph({ paramMode: () => 'frozen' });
    const ids = textEncoderFeeds(m, ['a cat']).input_ids_2 as BigInt64Array;
    const { last } = clipTextStates(g, m.text2!, g.input('ids', [1, 8], 'int64'), { prefix: 'text_encoder_2.' });
    const states = (await runGraph(g, { last }, { ids }, (n) => m.weight(n)!)).last as Float32Array;
    // states = [encoder 1's penultimate states (16 wide), encoder 2's (24 wide)] per token.
    const g1 = new Graph({ paramMode: () => 'frozen' });
    const { penultimate } = clipTextStates(g1, m.text, g1.input('ids', [1, 8], 'int64'));
    const pen1 = (await runGraph(g1, { penultimate }, { ids: textEncoderFeeds(m, ['a cat']).input_ids as BigInt64Array }, (n) => m.weight(n)!))
      .penultimate as Float32Array;
    for (let t = 0; t < 8; t++) expect(maxDiff(cond.states.subarray(t * 40, t * 40 + 16), pen1.subarray(t * 16, t * 16 + 16))).toBeLessThan(1e-5);
    const eos = eosMaskOf(ids, 1, 8).indexOf(1);
    expect(eos).toBe(m.tokenizer2!.encode('a cat', 8).indexOf(Math.max(...m.tokenizer2!.encode('a cat', 8))));
    const proj = m.weight('text_encoder_2.text_projection.weight')!;
    const expected = Array.from({ length: 20 }, (_, o) => states.subarray(eos * 24, eos * 24 + 24).reduce((acc, v, i) => acc + v * proj[o * 24 + i], 0));
    expect(maxDiff(cond.pooled!.subarray(0, 20), expected)).toBeLessThan(1e-4);
    await pipe.release();
  });
});

describe('the pairstyle command on an SDXL-shaped checkpoint (PAIRSTYLE_MODEL)', () => {
  it('trains a style from two pictures, draws with it beside the unstyled image, exports it for kohya loaders', async () => {
    const work = join(root, 'cli');
    const env = { PAIRSTYLE_MODEL: join(root, 'sdxl'), PAIRSTYLE_HOME: join(work, 'home') };
    const out: string[] = [];
    const cli = (...argv: string[]) => runCli(argv, { out: (t) => out.push(t), err: () => {}, isTTY: false }, env);
    const svg = (fill: string) =>
      Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="14" fill="${fill}"/></svg>`);
    mkdirSync(work, { recursive: true });
    await sharp(svg('#d22')).png().toFile(join(work, 'content.png'));
    await sharp(svg('#22d')).png().toFile(join(work, 'style.png'));
    expect(await cli('train', '--content', join(work, 'content.png'), '--style', join(work, 'style.png'), '--name', 'blue', '--steps', '10', '--json')).toBe(0);
    expect(JSON.parse(out.pop()!)).toMatchObject({ name: 'blue', steps: 10 });
    expect(await cli('draw', 'a cat', '--style', 'blue', '--strength', '3', '--steps', '3', '--out', join(work, 'cat.png'), '--json')).toBe(0);
    const drawn = JSON.parse(out.pop()!);
    expect(drawn).toMatchObject({ style: 'blue', strength: 3, rowsPerStep: 5 });
    for (const f of [drawn.out, drawn.unstyledOut]) expect((await sharp(f).metadata()).format).toBe('png');
    expect(await cli('export', 'blue', '--format', 'kohya', '--out', join(work, 'blue.safetensors'))).toBe(0);
    const header = await readSafetensorsHeader(join(work, 'blue.safetensors'));
    expect(Object.keys(header.tensors)).toContain('lora_unet_input_blocks_3_1_transformer_blocks_0_attn2_to_k.lora_down.weight');
  });
});
