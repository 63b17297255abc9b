/** Portable style files: the kohya (A1111/ComfyUI) and diffusers/PEFT layouts of a StyleLoRA. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/bot/cli.ts';
import { loadModelFolder } from '../../src/pipeline/model-folder.ts';
import { diffusersKeyOf, originalKeyOf, originalShapeOf } from '../../src/models/sd-single-file-keys.ts';
import { SD15_UNET_CONFIG, unetParamShapes, type UNet2DConditionConfig } from '../../src/models/unet.ts';
import { SD_VAE_CONFIG } from '../../src/models/vae.ts';
import { encodeDiffusers, encodeKohya, encodeStyleAs, kohyaModuleName } from '../../src/pair/portable.ts';
import type { Style } from '../../src/pair/style.ts';
import { decodeStyle } from '../../src/pair/style-file.ts';
import { StyleDirectory } from '../../src/store/style-directory.ts';
import { decodeSafetensors, decodeSafetensorsHeader } from '../../src/formats/safetensors.ts';
import { writeTinyModelFolder } from '../helpers/tiny-model.ts';
import { randomArray } from '../models/random-weights.ts';
import { TINY_SD_UNET } from '../models/tiny-sd.ts';

const ATTN = /^(unet\..*\.attn[12]\.(to_q|to_k|to_v|to_out\.0))\.weight$/;

/** A style with random A and B on every attention projection of the UNet config (as pair training adapts). */
function constructStyle(unet: UNet2DConditionConfig, rank = 4, model = { id: 'test-base', hash: 'abc123' }): Style {
  const modules = [...unetParamShapes(unet)].flatMap(([name, shape], i) => {
    const m = ATTN.exec(name);
    if (!m) return [];
    const [outDim, inDim] = shape;
    return [{ module: m[1], inDim, outDim, A: randomArray(rank * inDim, 100 + i, 0.5), B: randomArray(outDim * rank, 200 + i, 0.05) }];
  });
  return {
    info: {
      name: 'inky',
      baseModel: model.id,
      baseModelHash: model.hash,
      rank,
      styleToken: '<s1>',
      contentToken: '<c1>',
      subject: 'cat',
      contentPrompt: 'a photo of <c1> cat',
      stylePrompt: 'a photo of <c1> cat in <s1> style',
      steps: 10,
      seconds: 1,
      seed: 0,
      created: '2025-01-01T00:00:00.000Z',
    },
    modules,
  };
}

/** up [out, r] @ down [r, in], row-major. */
function matmul(up: Float32Array, down: Float32Array, out: number, r: number, inDim: number): Float32Array {
  const y = new Float32Array(out * inDim);
  for (let o = 0; o < out; o++)
    for (let k = 0; k < r; k++) {
      const u = up[o * r + k];
      for (let i = 0; i < inDim; i++) y[o * inDim + i] += u * down[k * inDim + i];
    }
  return y;
}

/** Checks every module's (alpha/rank)·up@down from a kohya file against B·A·scale. */
function checkKohyaDelta(style: Style, unet: UNet2DConditionConfig, scale: number) {
  const { tensors, metadata } = decodeSafetensors(encodeKohya(style, unet, { scale }));
  const rank = style.info.rank;
  expect(Object.keys(tensors)).toHaveLength(3 * style.modules.length);
  expect(metadata).toMatchObject({ ss_network_module: 'networks.lora', ss_network_dim: String(rank) });
  let worst = 0;
  for (const m of style.modules) {
    const name = kohyaModuleName(m.module, unet);
    const down = tensors[`${name}.lora_down.weight`];
    const up = tensors[`${name}.lora_up.weight`];
    const alpha = tensors[`${name}.alpha`];
    expect([down.dtype, up.dtype, alpha.dtype]).toEqual(['F16', 'F16', 'F16']);
    expect(down.shape).toEqual([rank, m.inDim]);
    expect(up.shape).toEqual([m.outDim, rank]);
    expect(alpha.shape).toEqual([]);
    const got = matmul(up.data, down.data, m.outDim, rank, m.inDim).map((v) => (v * alpha.data[0]) / down.shape[0]);
    const want = matmul(m.B, m.A, m.outDim, rank, m.inDim).map((v) => v * scale);
    const peak = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
    worst = Math.max(worst, err / peak);
  }
  // fp16 keeps ~11 significant bits: rounding A and B each costs ~5e-4 relative.
  expect(worst).toBeLessThan(4e-3);
  return tensors;
}

describe('kohya layout (A1111 / ComfyUI)', () => {
  it('names the original SD modules, with down = A [r, in], up = B [out, r], alpha; reproduces B·A·scale in fp16', () => {
    const style = constructStyle(TINY_SD_UNET);
    expect(style.modules.length).toBe(32); // 4 transformer blocks (down 0, mid, 2 in up 1) x 2 attentions x 4 projections
    const tensors = checkKohyaDelta(style, TINY_SD_UNET, 1);
    for (const k of Object.keys(tensors)) {
      expect(k).toMatch(
        /^lora_unet_(input_blocks|middle_block|output_blocks)_\d+(_\d+)?_transformer_blocks_\d+_attn[12]_(to_q|to_k|to_v|to_out_0)\.(lora_down\.weight|lora_up\.weight|alpha)$/,
      );
    }
    expect(tensors['lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q.alpha'].data[0]).toBe(4); // alpha = rank: scale 1
    // A scale whose alpha is not exact in fp16 (4 * 0.3 = 1.2): the rounding is made up in lora_up.
    checkKohyaDelta(style, TINY_SD_UNET, 0.3);
    checkKohyaDelta(style, TINY_SD_UNET, 2.5);
  });

  it('for full-size SD 1.5, names exactly the checkpoint attention projections (128 modules), with their shapes', () => {
    const style = constructStyle(SD15_UNET_CONFIG, 2);
    const header = decodeSafetensorsHeader(encodeKohya(style, SD15_UNET_CONFIG));
    const kohyaModules = new Set(Object.keys(header.tensors).map((k) => k.replace(/\.(lora_down\.weight|lora_up\.weight|alpha)$/, '')));
    expect(kohyaModules.size).toBe(128);
    expect(kohyaModules).toContain('lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q');
    expect(kohyaModules).toContain('lora_unet_middle_block_1_transformer_blocks_0_attn2_to_k');
    expect(kohyaModules).toContain('lora_unet_output_blocks_11_1_transformer_blocks_0_attn2_to_out_0');
    // The SD 1.5 single-file key inventory (checked against the released checkpoints' keys in
    // test/models/sd-single-file-keys.test.ts): its attention projection weights, as kohya names.
    const cfgs = { unet: SD15_UNET_CONFIG, vae: SD_VAE_CONFIG };
    const original = new Map([...unetParamShapes(SD15_UNET_CONFIG)].map(([n, s]) => [originalKeyOf(n, cfgs), originalShapeOf(n, s)]));
    const projections = [...original.keys()].filter((k) => /\.attn[12]\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(k));
    const expected = new Set(projections.map((k) => `lora_unet_${k.slice('model.diffusion_model.'.length, -'.weight'.length).replace(/\./g, '_')}`));
    expect(kohyaModules).toEqual(expected);
    // Each kohya module is a real model.diffusion_model.* weight with matching shapes, and the arithmetic
    // parser (the other direction of the key map) takes it back to the module the style trained.
    for (const m of style.modules) {
      const name = kohyaModuleName(m.module, SD15_UNET_CONFIG);
      const key = projections.find((k) => `lora_unet_${k.slice(22, -7).replace(/\./g, '_')}` === name)!;
      expect(key).toBeDefined();
      expect(original.get(key)).toEqual([m.outDim, m.inDim]);
      expect(header.tensors[`${name}.lora_down.weight`].shape).toEqual([2, m.inDim]);
      expect(header.tensors[`${name}.lora_up.weight`].shape).toEqual([m.outDim, 2]);
      expect(diffusersKeyOf(key, cfgs)).toBe(`${m.module}.weight`);
    }
  });
});

describe('diffusers/PEFT layout', () => {
  it('writes unet.<module>.lora_A/lora_B with shapes, diffusers adapter metadata, and stays readable as ours', () => {
    const style = constructStyle(TINY_SD_UNET);
    const { tensors, metadata } = decodeSafetensors(encodeDiffusers(style));
    expect(Object.keys(tensors)).toHaveLength(2 * style.modules.length);
    for (const m of style.modules) {
      expect(m.module).toMatch(/^unet\.(down_blocks|mid_block|up_blocks)\..*\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$/);
      expect(tensors[`${m.module}.lora_A.weight`].shape).toEqual([4, m.inDim]);
      expect(tensors[`${m.module}.lora_B.weight`].shape).toEqual([m.outDim, 4]);
      expect(tensors[`${m.module}.lora_A.weight`].data).toEqual(m.A);
      expect(tensors[`${m.module}.lora_B.weight`].data).toEqual(m.B);
    }
    const adapter = JSON.parse(metadata.lora_adapter_metadata);
    expect(adapter['unet.r']).toBe(4);
    expect(adapter['unet.lora_alpha']).toBe(4);
    expect(new Set(adapter['unet.target_modules'])).toEqual(new Set(style.modules.map((m) => m.module.slice(5))));
    expect(metadata.format).toBe('pt');
    // Same keys as our own style file; ours still reads it.
    const ours = decodeSafetensors(encodeStyleAs(style, 'pairstyle'));
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(ours.tensors).sort());
    expect(decodeStyle(encodeDiffusers(style)).modules.length).toBe(style.modules.length);
    // A scale other than 1 goes into lora_B (alpha stays r).
    const scaled = decodeSafetensors(encodeDiffusers(style, { scale: 0.5 })).tensors;
    const m0 = style.modules[0];
    expect(scaled[`${m0.module}.lora_B.weight`].data[3]).toBeCloseTo(m0.B[3] * 0.5, 7);
  });
});

describe('pairstyle export --format', () => {
  it('exports a registry style as pairstyle (default), kohya and diffusers', async () => {
    const work = mkdtempSync(join(tmpdir(), 'pairstyle-portable-'));
    const modelDir = await writeTinyModelFolder();
    const model = await loadModelFolder(modelDir);
    const env = { PAIRSTYLE_MODEL: modelDir, PAIRSTYLE_HOME: join(work, 'home') };
    const style = constructStyle(model.unet, 4, model);
    await new StyleDirectory(join(work, 'home', 'styles')).put(style);
    const cli = async (...argv: string[]) => {
      const out: string[] = [];
      await runCli(argv, { out: (s) => out.push(s), err: () => {}, isTTY: false }, env);
      return out.join('\n');
    };
    expect(await cli('export', 'inky', '--out', join(work, 'a.safetensors'))).toMatch(/pairstyle layout/);
    expect(decodeStyle(readFileSync(join(work, 'a.safetensors'))).info.name).toBe('inky');
    await cli('export', 'inky', '--out', join(work, 'k.safetensors'), '--format', 'kohya');
    const k = decodeSafetensorsHeader(readFileSync(join(work, 'k.safetensors')));
    expect(Object.keys(k.tensors).length).toBe(3 * style.modules.length);
    expect(
      Object.keys(k.tensors).every(
        (n) => n.startsWith('lora_unet_input_blocks_') || n.startsWith('lora_unet_middle_block_') || n.startsWith('lora_unet_output_blocks_'),
      ),
    ).toBe(true);
    await cli('export', 'inky', '--out', join(work, 'd.safetensors'), '--format', 'diffusers');
    expect(decodeSafetensorsHeader(readFileSync(join(work, 'd.safetensors'))).metadata.lora_adapter_metadata).toBeDefined();
    await expect(cli('export', 'inky', '--out', join(work, 'x.safetensors'), '--format', 'a1111')).rejects.toThrow(
      /--format must be one of pairstyle, kohya, diffusers/,
    );
    // A style of another base model is refused for kohya (its module names would be another model's).
    await new StyleDirectory(join(work, 'home', 'styles')).put({ ...style, info: { ...style.info, name: 'alien', baseModelHash: 'other' } });
    await expect(cli('export', 'alien', '--out', join(work, 'y.safetensors'), '--format', 'kohya')).rejects.toThrow(
      /style 'alien' was trained on another model[\s\S]*train it again on this model \(pairstyle train --content … --style … --name alien --overwrite\)/,
    );
  });
});
