/**
 * Exporting a style trained on an SDXL-shaped checkpoint: the kohya layout (A1111 / ComfyUI) names the
 * modules of SDXL's original single-file layout (model.diffusion_model.*, sgm names), and the
 * diffusers/PEFT layout the same modules under `unet.`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import { stableDiffusionInventory, type StableDiffusionModel } from '../../src/pipeline/stable-diffusion.ts';
import { ORIGINAL_UNET, originalKeyOf } from '../../src/models/sd-single-file-keys.ts';
import { SDXL_UNET_CONFIG } from '../../src/models/unet-config.ts';
import { unetParamShapes } from '../../src/models/unet.ts';
import { encodeStyleAs, kohyaModuleName, kohyaTensors } from '../../src/pair/portable.ts';
import type { Style } from '../../src/pair/style.ts';
import { trainPair } from '../../src/pair/train.ts';
import { decodeSafetensors } from '../../src/formats/safetensors.ts';
import { TINY_SDXL_TEXT, TINY_SDXL_TEXT_2, TINY_SDXL_UNET, TINY_SDXL_VAE, writeTinySdxlFolder } from '../models/tiny-sdxl.ts';
import { writeTinyClipTokenizerDir } from '../../testing/tiny-clip-vocab.ts';

/** An attention projection weight, in either layout. */
const PROJECTION = /\.attn[12]\.(to_q|to_k|to_v|to_out\.0)\.weight$/;
const KOHYA_SUFFIX = /\.(lora_down\.weight|lora_up\.weight|alpha)$/;

/** What A1111 does with an original-layout key: 'model.diffusion_model.' off, dots to '_', 'lora_unet_' on. */
const a1111KohyaName = (key: string): string => `lora_unet_${key.slice(ORIGINAL_UNET.length, -'.weight'.length).replace(/\./g, '_')}`;

const RANK = 2;
const root = mkdtempSync(join(tmpdir(), 'pairstyle-sdxl-export-'));
const tokenizerDir = writeTinyClipTokenizerDir();
const tokenizer2Dir = writeTinyClipTokenizerDir('!'); // SDXL's second tokenizer pads with '!'
afterAll(() => [root, tokenizerDir, tokenizer2Dir].forEach((d) => rmSync(d, { recursive: true, force: true })));

const image = (size: number, seed: number) => Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i * 0.37 + seed) * 0.9);

let model: StableDiffusionModel;
let style: Style;
beforeAll(async () => {
  const dir = join(root, 'sdxl');
  await writeTinySdxlFolder(dir, { tokenizerDir, tokenizer2Dir });
  model = await loadDiffusersPipeline(dir, { threads: 1 });
  const s = model.imageSize;
  style = (
    await trainPair({ model, content: image(s, 1), style: image(s, 2), name: 'xl-wavy', steps: 4, rank: RANK, lr: 1e-2, styleStartShare: 0.25, threads: 1 })
  ).style;
}, 60_000);
afterAll(async () => {
  await model?.release();
});

describe('a style trained on the tiny SDXL-shaped checkpoint', () => {
  // The tiny SDXL inventory in its original single-file layout: its UNet attention projection weights.
  const cfgs = { unet: TINY_SDXL_UNET, vae: TINY_SDXL_VAE, text2: TINY_SDXL_TEXT_2 };
  const inventory = stableDiffusionInventory(TINY_SDXL_UNET, TINY_SDXL_TEXT, TINY_SDXL_VAE, TINY_SDXL_TEXT_2);
  const originalKeys = new Set([...inventory.keys()].map((n) => originalKeyOf(n, cfgs)));
  const originalProjections = [...originalKeys].filter((k) => k.startsWith(ORIGINAL_UNET) && PROJECTION.test(k));

  it('trained StyleLoRA on every UNet attention projection (attn1/attn2 x to_q/to_k/to_v/to_out.0)', () => {
    // Transformer blocks: down 1 (1) + down 2 (2) + mid (2) + up 0 (2 attentions x 2) + up 1 (2 x 1) = 11.
    expect(originalProjections.length).toBe(11 * 8);
    const diffusersProjections = [...inventory.keys()].filter((n) => n.startsWith('unet.') && PROJECTION.test(n));
    expect(new Set(style.modules.map((m) => `${m.module}.weight`))).toEqual(new Set(diffusersProjections));
    expect(style.info.rank).toBe(RANK);
    expect(style.info.baseModelHash).toBe(model.hash);
    expect(style.modules.some((m) => m.B.some((v) => v !== 0))).toBe(true);
  });

  it('exports in the kohya layout with the module names of the original SDXL single-file layout', () => {
    const { tensors, metadata } = decodeSafetensors(encodeStyleAs(style, 'kohya', model.unet));
    expect(metadata).toMatchObject({ ss_network_module: 'networks.lora', ss_network_dim: String(RANK) });
    expect(Object.keys(tensors)).toHaveLength(3 * style.modules.length);
    const kohyaModules = new Set(Object.keys(tensors).map((k) => k.replace(KOHYA_SUFFIX, '')));
    // Every key is one of the three tensors of a module.
    for (const k of Object.keys(tensors)) expect(k).toMatch(/^lora_unet_\w+\.(lora_down\.weight|lora_up\.weight|alpha)$/);
    // The modules are exactly the original-layout attention projections, named as A1111 looks them up.
    expect(kohyaModules).toEqual(new Set(originalProjections.map(a1111KohyaName)));
    // layers_per_block 1: input_blocks 1-2 are level 0 (no attention), 3 and 5 the attention levels
    // (4 is a downsampler); output_blocks 0-1 and 2-3 the attention levels of the way up.
    expect(kohyaModules).toContain('lora_unet_input_blocks_3_1_transformer_blocks_0_attn1_to_q');
    expect(kohyaModules).toContain('lora_unet_input_blocks_5_1_transformer_blocks_1_attn2_to_k');
    expect(kohyaModules).toContain('lora_unet_middle_block_1_transformer_blocks_1_attn2_to_out_0');
    expect(kohyaModules).toContain('lora_unet_output_blocks_1_1_transformer_blocks_1_attn1_to_v');
    expect(kohyaModules).toContain('lora_unet_output_blocks_3_1_transformer_blocks_0_attn2_to_q');
    expect(kohyaModuleName('unet.down_blocks.2.attentions.0.transformer_blocks.1.attn2.to_k', model.unet)).toBe(
      'lora_unet_input_blocks_5_1_transformer_blocks_1_attn2_to_k',
    );
    expect(kohyaModuleName('unet.up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_out.0', model.unet)).toBe(
      'lora_unet_output_blocks_3_1_transformer_blocks_0_attn2_to_out_0',
    );

    // Each trained module: its kohya name is the original key of its diffusers weight; down = A [r, in],
    // up = B [out, r] (fp16), alpha = rank (scale 1).
    for (const m of style.modules) {
      const name = kohyaModuleName(m.module, model.unet);
      const key = originalKeyOf(`${m.module}.weight`, cfgs);
      expect(originalKeys.has(key)).toBe(true);
      expect(name).toBe(a1111KohyaName(key));
      expect(inventory.get(`${m.module}.weight`)).toEqual([m.outDim, m.inDim]);
      const down = tensors[`${name}.lora_down.weight`];
      const up = tensors[`${name}.lora_up.weight`];
      const alpha = tensors[`${name}.alpha`];
      expect([down.dtype, up.dtype, alpha.dtype]).toEqual(['F16', 'F16', 'F16']);
      expect(down.shape).toEqual([RANK, m.inDim]);
      expect(up.shape).toEqual([m.outDim, RANK]);
      expect(alpha.shape).toEqual([]);
      expect(alpha.data[0]).toBe(RANK);
      for (let i = 0; i < m.A.length; i++) expect(Math.abs(down.data[i] - m.A[i])).toBeLessThanOrEqual(1e-3 * Math.max(1e-3, Math.abs(m.A[i])));
      for (let i = 0; i < m.B.length; i++) expect(Math.abs(up.data[i] - m.B[i])).toBeLessThanOrEqual(1e-3 * Math.max(1e-4, Math.abs(m.B[i])));
    }
    // Cross-attention to_k/to_v read the 40-wide concatenated text states of the two encoders.
    const k = tensors['lora_unet_middle_block_1_transformer_blocks_0_attn2_to_k.lora_down.weight'];
    expect(k.shape).toEqual([RANK, TINY_SDXL_UNET.cross_attention_dim]);
    // kohyaTensors (float32 values) names the same modules.
    expect(new Set(Object.keys(kohyaTensors(style, model.unet)).map((n) => n.replace(KOHYA_SUFFIX, '')))).toEqual(kohyaModules);
  });

  it('exports in the diffusers/PEFT layout with unet.-prefixed keys for the same modules', () => {
    const { tensors, metadata } = decodeSafetensors(encodeStyleAs(style, 'diffusers'));
    expect(Object.keys(tensors)).toHaveLength(2 * style.modules.length);
    for (const k of Object.keys(tensors))
      expect(k).toMatch(/^unet\.(down_blocks|mid_block|up_blocks)\..*\.attn[12]\.(to_q|to_k|to_v|to_out\.0)\.lora_[AB]\.weight$/);
    const modules = new Set(Object.keys(tensors).map((k) => k.replace(/\.lora_[AB]\.weight$/, '')));
    expect(modules).toEqual(new Set(style.modules.map((m) => m.module)));
    // The same modules as the kohya file, one to one.
    expect(new Set([...modules].map((m) => kohyaModuleName(m, model.unet)))).toEqual(new Set(originalProjections.map(a1111KohyaName)));
    for (const m of style.modules) {
      expect(tensors[`${m.module}.lora_A.weight`].shape).toEqual([RANK, m.inDim]);
      expect(tensors[`${m.module}.lora_B.weight`].shape).toEqual([m.outDim, RANK]);
      expect(tensors[`${m.module}.lora_A.weight`].data).toEqual(m.A);
      expect(tensors[`${m.module}.lora_B.weight`].data).toEqual(m.B);
    }
    const adapter = JSON.parse(metadata.lora_adapter_metadata);
    expect(adapter['unet.r']).toBe(RANK);
    expect(new Set(adapter['unet.target_modules'])).toEqual(new Set(style.modules.map((m) => m.module.slice('unet.'.length))));
  });
});

describe('kohya module names for the full-size SDXL UNet', () => {
  it('names all 70 transformer blocks x 8 projections = 560 modules, as in the original single-file layout', () => {
    const modules = [...unetParamShapes(SDXL_UNET_CONFIG).keys()].filter((n) => PROJECTION.test(n)).map((n) => n.slice(0, -'.weight'.length));
    expect(modules.length).toBe(560);
    const names = modules.map((m) => kohyaModuleName(m, SDXL_UNET_CONFIG));
    const unique = new Set(names);
    expect(unique.size).toBe(560);
    expect(unique).toContain('lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k');
    expect(unique).toContain('lora_unet_middle_block_1_transformer_blocks_9_attn1_to_out_0');
    expect(kohyaModuleName('unet.down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k', SDXL_UNET_CONFIG)).toBe(
      'lora_unet_input_blocks_4_1_transformer_blocks_1_attn2_to_k',
    );
    expect(kohyaModuleName('unet.mid_block.attentions.0.transformer_blocks.9.attn1.to_out.0', SDXL_UNET_CONFIG)).toBe(
      'lora_unet_middle_block_1_transformer_blocks_9_attn1_to_out_0',
    );
    for (const n of names)
      expect(n).toMatch(/^lora_unet_(input_blocks_[4578]_1|middle_block_1|output_blocks_[0-5]_1)_transformer_blocks_\d_attn[12]_(to_q|to_k|to_v|to_out_0)$/);
    // Per level: down 1 (2 attentions x 2 blocks), down 2 (2 x 10), mid (10), up 0 (3 x 10), up 1 (3 x 2).
    const blocks = (re: RegExp) => new Set(names.filter((n) => re.test(n)).map((n) => n.replace(/_attn[12]_.*$/, ''))).size;
    expect(blocks(/^lora_unet_input_blocks_[45]_/)).toBe(4);
    expect(blocks(/^lora_unet_input_blocks_[78]_/)).toBe(20);
    expect(blocks(/^lora_unet_middle_block_/)).toBe(10);
    expect(blocks(/^lora_unet_output_blocks_[012]_/)).toBe(30);
    expect(blocks(/^lora_unet_output_blocks_[345]_/)).toBe(6);
  });
});
