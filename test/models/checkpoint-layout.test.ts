import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cfgTerms } from '../../src/diffusion/guidance.ts';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.ts';
import {
  CheckpointError,
  loadDiffusersPipeline,
  loadSingleFileCheckpoint,
  loadTextToImageModel,
  sameWeightShape,
  unetConfigFromJson,
  writeDiffusersPipeline,
  writeSingleFileCheckpoint,
} from '../../src/models/checkpoint-layout.ts';
import { f32ToBf16, bf16ToF32, f16ToF32, f32ToF16, readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/train/safetensors.ts';
import { TINY_SD_TEXT, TINY_SD_UNET, TINY_SD_VAE, tinySdWeights } from './tiny-sd.ts';
import { writeTinyClipTokenizerDir } from './tokenizers/tiny-clip-vocab.ts';

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
    expect(m.schedule.config.betaSchedule).toBe('scaled_linear');
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
      Object.entries(tensors).map(([k, t]) => [k.replace('to_q.', 'query.').replace('to_k.', 'key.').replace('to_v.', 'value.').replace('to_out.0.', 'proj_attn.'), t]),
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
    expect(() => unetConfigFromJson({ ...TINY_SD_UNET, addition_embed_type: 'text_time' })).toThrow(/addition_embed_type="text_time"/);
    const dir = join(root, 'diffusers-bin');
    await writeDiffusersPipeline(dir, { ...contents, tokenizerDir });
    rmSync(join(dir, 'unet/diffusion_pytorch_model.safetensors'));
    writeFileSync(join(dir, 'unet/diffusion_pytorch_model.bin'), 'pickle');
    await expect(loadDiffusersPipeline(dir)).rejects.toThrow(/pickle weights are not read/);
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
      expect(m.schedule.config.stepsOffset).toBe(1);
    });
  }

  it('ignores schedule buffers, position_ids and EMA copies; needs a tokenizer folder', async () => {
    const file = join(root, 'tiny-buffers.safetensors');
    await writeSingleFileCheckpoint(file, contents);
    const { tensors } = await readSafetensors(file);
    const one = { shape: [1], data: new Float32Array(1) };
    await writeSafetensors(file, { ...tensors, alphas_cumprod: { shape: [1000], data: new Float32Array(1000) }, 'model_ema.decay': one, 'cond_stage_model.transformer.text_model.embeddings.position_ids': { shape: [1, 8], data: new Float32Array(8) } });
    const m = await loadSingleFileCheckpoint(file, { tokenizerDir, unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE });
    expect(m.weight('unet.conv_out.bias')).toEqual(weights.get('unet.conv_out.bias'));
    await expect(loadSingleFileCheckpoint(file, { tokenizerDir: '' })).rejects.toThrow(/carries no tokenizer/);
    await expect(loadTextToImageModel(join(root, 'x.ckpt'))).rejects.toThrow(/pickle checkpoints are not read/);
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

