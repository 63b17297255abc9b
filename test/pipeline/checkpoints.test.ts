import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cfgTerms } from '../../src/pipeline/guidance.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { CheckpointError } from '../../src/models/checkpoint-error.ts';
import { loadDiffusersPipeline, writeDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import { loadSingleFileCheckpoint, SDXL_SCHEDULE, writeSingleFileCheckpoint } from '../../src/pipeline/single-file.ts';
import { loadTextToImageModel } from '../../src/pipeline/load-model.ts';
import { sameWeightShape } from '../../src/pipeline/checkpoint-check.ts';
import { unetConfigFromJson } from '../../src/models/unet-config.ts';
import type { StableDiffusionModel } from '../../src/pipeline/stable-diffusion.ts';
import { f32ToBf16, bf16ToF32, f16ToF32, f32ToF16, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/formats/safetensors.ts';
import { TINY_SD_TEXT, TINY_SD_UNET, TINY_SD_VAE, tinySdWeights } from '../models/tiny-sd.ts';
import { TINY_SDXL_TEXT, TINY_SDXL_TEXT_2, TINY_SDXL_UNET, TINY_SDXL_VAE, tinySdxlWeights } from '../models/tiny-sdxl.ts';
import { writeTinyClipTokenizerDir } from '../../testing/tiny-clip-vocab.ts';

const root = mkdtempSync(join(tmpdir(), 'pairstyle-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const tokenizerDir = writeTinyClipTokenizerDir();
afterAll(() => rmSync(tokenizerDir, { recursive: true, force: true }));
const weights = tinySdWeights();
const contents = { unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE, weights };
const rounded = { F32: (a: Float32Array) => a, F16: (a: Float32Array) => f16ToF32(f32ToF16(a)), BF16: (a: Float32Array) => bf16ToF32(f32ToBf16(a)) };

describe('diffusers folder layout', () => {
  it('round-trips F16 weights, configs, tokenizer and schedule into a TextToImageModel with a VAE codec', async () => {
    const dir = join(root, 'diffusers-f16');
    await writeDiffusersPipeline(dir, { ...contents, tokenizerDir, dtype: 'F16' });
    const m = await loadDiffusersPipeline(dir, { threads: 1 });
    expect(m.id).toBe('diffusers-f16');
    expect(m.hash).toMatch(/^[0-9a-f]{16}$/);
    expect([m.imageSize, m.contextLength, m.codec.latentShape]).toEqual([8, 8, [4, 4, 4]]);
    expect(m.unet).toEqual(TINY_SD_UNET);
    expect(m.text).toEqual(TINY_SD_TEXT);
    expect(m.vae.block_out_channels).toEqual([8, 16]);
    expect(m.schedule.config.beta_schedule).toBe('scaled_linear');
    for (const [k, v] of weights) expect([k, m.weight(k)]).toEqual([k, rounded.F16(v)]);
    expect(m.parameterCounts.vae).toBe([...weights].filter(([k]) => k.startsWith('vae.')).reduce((a, [, v]) => a + v.length, 0));
    expect(m.tokenizer.encode('a cat', 8).length).toBe(8);
    // The whole model composes: text encoder, UNet, sampler, VAE decoder.
    const pipe = new DiffusionPipeline(m, { threads: 1 });
    const { images } = await pipe.generate({ prompts: ['', 'a photo of a cat'], trajectories: [{ seed: 1, terms: cfgTerms(0, 1, 3) }], steps: 2 });
    expect(images.length).toBe(3 * 8 * 8);
    expect(images.every(Number.isFinite)).toBe(true);
    await pipe.release();
    await m.release();
    expect((await loadTextToImageModel(dir)).id).toBe('diffusers-f16');
  });

  it("reads the VAE's deprecated attention names (query/key/value/proj_attn) and ignores text position_ids", async () => {
    const dir = join(root, 'diffusers-old-vae');
    await writeDiffusersPipeline(dir, { ...contents, tokenizerDir });
    const vaeFile = join(dir, 'vae/diffusion_pytorch_model.safetensors');
    const { tensors } = await readSafetensors(vaeFile);
    const renamed = Object.fromEntries(
      Object.entries(tensors).map(([k, t]) => [
        k.replace('to_q.', 'query.').replace('to_k.', 'key.').replace('to_v.', 'value.').replace('to_out.0.', 'proj_attn.'),
        t,
      ]),
    );
    expect(Object.keys(renamed)).toContain('encoder.mid_block.attentions.0.proj_attn.weight');
    await writeSafetensors(vaeFile, renamed);
    const textFile = join(dir, 'text_encoder/model.safetensors');
    const text = (await readSafetensors(textFile)).tensors;
    await writeSafetensors(textFile, { ...text, 'text_model.embeddings.position_ids': { shape: [1, 8], data: Float32Array.from({ length: 8 }, (_, i) => i) } });
    const m = await loadDiffusersPipeline(dir);
    expect(m.weight('vae.decoder.mid_block.attentions.0.to_out.0.weight')).toEqual(weights.get('vae.decoder.mid_block.attentions.0.to_out.0.weight'));
  });

  it('refuses UNet variants it does not implement, and pickle weights, saying so', async () => {
    expect(() => unetConfigFromJson({ ...TINY_SD_UNET, addition_embed_type: 'image' })).toThrow(
      /addition_embed_type="image" \(supported: null or "text_time"\)/,
    );
    expect(() => unetConfigFromJson({ ...TINY_SD_UNET, addition_embed_type: 'text_time' })).toThrow(/no "addition_time_embed_dim"/);
    const dir = join(root, 'diffusers-bin');
    await writeDiffusersPipeline(dir, { ...contents, tokenizerDir });
    rmSync(join(dir, 'unet/diffusion_pytorch_model.safetensors'));
    writeFileSync(join(dir, 'unet/diffusion_pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]));
    await expect(loadDiffusersPipeline(dir)).rejects.toThrow(/diffusion_pytorch_model.bin is a PyTorch pickle checkpoint, which is not read/);
  });
});

describe('original single-file layout (SD 1.x)', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`${dtype}: the key map writes LDM names (VAE attention as 1x1 convs) and reads them back to the same weights`, async () => {
      const file = join(root, `tiny-${dtype}.safetensors`);
      await writeSingleFileCheckpoint(file, { ...contents, dtype });
      const header = await readSafetensorsHeader(file);
      expect(header.tensors['first_stage_model.decoder.mid.attn_1.q.weight'].shape).toEqual([16, 16, 1, 1]);
      expect(header.tensors['model.diffusion_model.input_blocks.2.0.op.weight'].dtype).toBe(dtype);
      expect(Object.keys(header.tensors).length).toBe(weights.size);
      const m = await loadSingleFileCheckpoint(file, { tokenizerDir, unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE });
      for (const [k, v] of weights) expect([k, m.weight(k)]).toEqual([k, rounded[dtype](v)]);
      expect(m.hash).toMatch(/^[0-9a-f]{16}$/);
      expect(m.schedule.config.steps_offset).toBe(1);
    });
  }

  it('ignores schedule buffers, position_ids and EMA copies; needs a tokenizer folder', async () => {
    const file = join(root, 'tiny-buffers.safetensors');
    await writeSingleFileCheckpoint(file, contents);
    const { tensors } = await readSafetensors(file);
    const one = { shape: [1], data: new Float32Array(1) };
    await writeSafetensors(file, {
      ...tensors,
      alphas_cumprod: { shape: [1000], data: new Float32Array(1000) },
      'model_ema.decay': one,
      'cond_stage_model.transformer.text_model.embeddings.position_ids': { shape: [1, 8], data: new Float32Array(8) },
    });
    const m = await loadSingleFileCheckpoint(file, { tokenizerDir, unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE });
    expect(m.weight('unet.conv_out.bias')).toEqual(weights.get('unet.conv_out.bias'));
    await expect(loadSingleFileCheckpoint(file, { tokenizerDir: '' })).rejects.toThrow(/carries no tokenizer/);
    writeFileSync(join(root, 'x.ckpt'), Buffer.from([0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0]));
    await expect(loadTextToImageModel(join(root, 'x.ckpt'))).rejects.toThrow(/x.ckpt is a PyTorch pickle checkpoint, which is not read/);
    await expect(loadTextToImageModel(join(root, 'missing.bin'))).rejects.toThrow(/missing.bin is not a model file PairStyle reads/);
  });

  it('reports every missing, unexpected and mis-shaped key in one error', async () => {
    const file = join(root, 'tiny-broken.safetensors');
    await writeSingleFileCheckpoint(file, contents);
    const { tensors } = await readSafetensors(file);
    delete tensors['model.diffusion_model.out.2.weight'];
    delete tensors['first_stage_model.decoder.mid.attn_1.q.bias'];
    tensors['model.diffusion_model.label_emb.0.0.weight'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    tensors['model.diffusion_model.input_blocks.1.1.proj_in.weight'] = { dtype: 'F32', shape: [8, 8, 3, 3], data: new Float32Array(576) };
    await writeSafetensors(file, tensors);
    const err = await loadSingleFileCheckpoint(file, { tokenizerDir, unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/2 missing, 1 unexpected, 1 mis-shaped/);
    expect(msg).toContain('missing     model.diffusion_model.out.2.weight [4, 8, 3, 3] (unet.conv_out.weight)');
    expect(msg).toContain('missing     first_stage_model.decoder.mid.attn_1.q.bias [16] (vae.decoder.mid_block.attentions.0.to_q.bias)');
    expect(msg).toContain('unexpected  model.diffusion_model.label_emb.0.0.weight');
    expect(msg).toContain('mis-shaped  model.diffusion_model.input_blocks.1.1.proj_in.weight is [8, 8, 3, 3], the config needs [8, 8, 1, 1]');
  });

  it('SD 1.5 defaults: a checkpoint of another model is refused with every key listed', async () => {
    const file = join(root, 'tiny-vs-sd15.safetensors');
    await writeSingleFileCheckpoint(file, contents);
    const msg = String(await loadSingleFileCheckpoint(file, { tokenizerDir }).catch((e: unknown) => e));
    expect(msg).toMatch(/mis-shaped/);
    expect(msg).toMatch(/missing {5}model\.diffusion_model\.input_blocks\.11\.0\.in_layers\.0\.weight \[1280\]/);
    expect(msg.split('\n').length).toBeGreaterThan(1000);
  });

  it('1x1 conv and linear weights are the same weights; other shapes are not', () => {
    expect(sameWeightShape([512, 512], [512, 512, 1, 1])).toBe(true);
    expect(sameWeightShape([320, 320, 1, 1], [320, 320])).toBe(true);
    expect(sameWeightShape([320, 320, 1, 1], [320, 320, 3, 3])).toBe(false);
    expect(sameWeightShape([4, 8], [8, 4])).toBe(false);
  });
});

describe('original single-file layout (SDXL)', () => {
  const tokenizer2Dir = writeTinyClipTokenizerDir('!');
  afterAll(() => rmSync(tokenizer2Dir, { recursive: true, force: true }));
  const sdxl = { unet: TINY_SDXL_UNET, text: TINY_SDXL_TEXT, text2: TINY_SDXL_TEXT_2, vae: TINY_SDXL_VAE };
  const sdxlWeights = tinySdxlWeights();
  const openClip = 'conditioner.embedders.1.model.';

  it('writes the sgm layout (fused q/k/v, transposed text_projection) and reads it back to the same weights', async () => {
    const file = join(root, 'tiny-sdxl.safetensors');
    await writeSingleFileCheckpoint(file, { ...sdxl, weights: sdxlWeights });
    const { tensors } = await readSafetensors(file);
    // 3 layers: q/k/v weights and biases (6 parameters) are 2 tensors each.
    expect(Object.keys(tensors).length).toBe(sdxlWeights.size - 3 * 4);
    const inProj = tensors[`${openClip}transformer.resblocks.1.attn.in_proj_weight`];
    expect(inProj.shape).toEqual([3 * 24, 24]);
    expect(inProj.data.subarray(24 * 24, 2 * 24 * 24)).toEqual(sdxlWeights.get('text_encoder_2.text_model.encoder.layers.1.self_attn.k_proj.weight'));
    const projection = tensors[`${openClip}text_projection`];
    expect(projection.shape).toEqual([24, 20]);
    // open_clip's [D, P] holds transformers' [P, D] transposed: row 3, column 7 is weight[7][3].
    expect(projection.data[3 * 20 + 7]).toBe(sdxlWeights.get('text_encoder_2.text_projection.weight')![7 * 24 + 3]);
    expect(tensors['model.diffusion_model.label_emb.0.0.weight'].data).toEqual(sdxlWeights.get('unet.add_embedding.linear_1.weight'));
    expect(tensors['conditioner.embedders.0.transformer.text_model.final_layer_norm.bias'].shape).toEqual([16]);

    const m = await loadSingleFileCheckpoint(file, { tokenizerDir, tokenizer2Dir, ...sdxl, threads: 1 });
    for (const [k, v] of sdxlWeights) expect([k, m.weight(k)]).toEqual([k, v]);
    expect(m.text2).toEqual(TINY_SDXL_TEXT_2);
    expect(m.tokenizer2!.encode('a', 8)).not.toEqual(m.tokenizer.encode('a', 8)); // tokenizer_2 pads with '!'
    expect(m.forceZerosForEmptyPrompt).toBe(true);
    expect(m.schedule.config.timestep_spacing).toBe('leading');
    expect(m.parameterCounts.text_encoder_2).toBe([...sdxlWeights].filter(([k]) => k.startsWith('text_encoder_2.')).reduce((a, [, v]) => a + v.length, 0));
    await m.release();
  });

  it('draws the same images as the same weights in a diffusers folder', async () => {
    const file = join(root, 'tiny-sdxl-draw.safetensors');
    const dir = join(root, 'diffusers-sdxl');
    await writeSingleFileCheckpoint(file, { ...sdxl, weights: sdxlWeights });
    await writeDiffusersPipeline(dir, { ...sdxl, weights: sdxlWeights, tokenizerDir, tokenizer2Dir, schedule: SDXL_SCHEDULE });
    const models = [
      await loadDiffusersPipeline(dir, { threads: 1 }),
      (await loadTextToImageModel(file, { tokenizerDir, tokenizer2Dir, ...sdxl, threads: 1 })) as StableDiffusionModel,
    ];
    expect(models[1].schedule.config).toEqual(models[0].schedule.config);
    const images: Float32Array[] = [];
    for (const m of models) {
      const pipe = new DiffusionPipeline(m, { threads: 1 });
      images.push((await pipe.generate({ prompts: ['', 'a photo of a cat'], trajectories: [{ seed: 1, terms: cfgTerms(0, 1, 3) }], steps: 2 })).images);
      await pipe.release();
      await m.release();
    }
    expect(images[0].length).toBe(3 * 8 * 8);
    expect(images[0].every(Number.isFinite)).toBe(true);
    expect(images[1]).toEqual(images[0]);
  });

  it('is told apart by its keys, needs both tokenizer folders, ignores non-weight keys and lists fused tensors as one key', async () => {
    const file = join(root, 'tiny-sdxl-broken.safetensors');
    await writeSingleFileCheckpoint(file, { ...sdxl, weights: sdxlWeights });
    // No configs given: the conditioner.* keys make it SDXL, which needs both tokenizers.
    const noTokenizer2 = await loadSingleFileCheckpoint(file, { tokenizerDir }).catch((e: unknown) => e);
    expect(noTokenizer2).toBeInstanceOf(CheckpointError);
    expect((noTokenizer2 as Error).message).toMatch(/SDXL single-file checkpoint carries no tokenizers; pass tokenizerDir .* and tokenizer2Dir/);

    const { tensors } = await readSafetensors(file);
    tensors[`${openClip}transformer.resblocks.2.attn.in_proj_weight`] = { dtype: 'F32', shape: [70, 24], data: new Float32Array(70 * 24) };
    delete tensors[`${openClip}transformer.resblocks.0.attn.in_proj_bias`];
    delete tensors[`${openClip}text_projection`];
    tensors['conditioner.embedders.0.model.ln_final.bias'] = { dtype: 'F32', shape: [24], data: new Float32Array(24) };
    // What SDXL base 1.0 and sgm-saved files carry besides weights.
    tensors[`${openClip}logit_scale`] = { dtype: 'F32', shape: [], data: new Float32Array([4.6055]) };
    tensors['conditioner.embedders.0.transformer.text_model.embeddings.position_ids'] = {
      dtype: 'F32',
      shape: [1, 8],
      data: Float32Array.from({ length: 8 }, (_, i) => i),
    };
    tensors['denoiser.sigmas'] = { dtype: 'F32', shape: [1000], data: new Float32Array(1000) };
    await writeSafetensors(file, tensors);
    const err = await loadSingleFileCheckpoint(file, { tokenizerDir, tokenizer2Dir, ...sdxl }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    const layer = (n: number) => `text_encoder_2.text_model.encoder.layers.${n}.self_attn`;
    expect(msg).toMatch(/2 missing, 1 unexpected, 1 mis-shaped, 0 of an unsupported dtype/);
    expect(msg).toContain(
      `mis-shaped  ${openClip}transformer.resblocks.2.attn.in_proj_weight is [70, 24], the config needs [72, 24] for ${layer(2)}.q_proj.weight + ${layer(2)}.k_proj.weight + ${layer(2)}.v_proj.weight`,
    );
    expect(msg).toContain(
      `missing     ${openClip}transformer.resblocks.0.attn.in_proj_bias [72] (${layer(0)}.q_proj.bias, ${layer(0)}.k_proj.bias, ${layer(0)}.v_proj.bias)`,
    );
    expect(msg).toContain(`missing     ${openClip}text_projection [24, 20] (text_encoder_2.text_projection.weight)`);
    expect(msg).toContain('unexpected  conditioner.embedders.0.model.ln_final.bias');
    expect(msg).toMatch(/SDXL refiner/);
  });
});
