/**
 * The configured model: the shipped embedded model when nothing else is configured; PAIRSTYLE_MODEL as a
 * model folder, a diffusers Stable Diffusion folder or a single-file checkpoint (with PAIRSTYLE_TOKENIZER);
 * PAIRSTYLE_DEVICE / PAIRSTYLE_PRECISION. Every bad setting is named with what to set.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkedModelConfig, ConfigError, modelConfig, modelRuntimeConfig, ModelMissingError } from '../../config/model.ts';
import { loadModelOf } from '../../src/pipeline/load-model.ts';
import { DiffusionPipeline } from '../../src/pipeline/diffusion-pipeline.ts';
import { CheckpointError } from '../../src/models/checkpoint-error.ts';
import { writeDiffusersPipeline } from '../../src/pipeline/diffusers-folder.ts';
import { writeSingleFileCheckpoint } from '../../src/pipeline/single-file.ts';
import type { StableDiffusionModel } from '../../src/pipeline/stable-diffusion.ts';
import { drawMixes } from '../../src/pair/draw.ts';
import { TINY_SD_TEXT, TINY_SD_UNET, TINY_SD_VAE, tinySdWeights } from '../models/tiny-sd.ts';
import { writeTinyClipTokenizerDir } from '../../testing/tiny-clip-vocab.ts';

/** What the CLI and the engine threads do: the setting checked by config/model.ts, the model loaded by the pipeline layer. */
const loadConfiguredModel = async (env: NodeJS.ProcessEnv) => loadModelOf(checkedModelConfig(env));

const work = mkdtempSync(join(tmpdir(), 'pairstyle-model-config-'));
const tokenizerDir = writeTinyClipTokenizerDir();
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(tokenizerDir, { recursive: true, force: true });
});

/** A file with the checkpoint's name: the settings are checked by name and kind before anything is read. */
const placeholder = (name: string) => {
  const path = join(work, name);
  writeFileSync(path, '');
  return path;
};

describe('the configured model', () => {
  it('is the shipped emoji-mini model by default, and it draws', async () => {
    const model = await loadConfiguredModel({});
    expect(model.id).toBe('emoji-mini');
    expect(model.imageSize).toBe(32);
    expect(model.hash).toMatch(/^[0-9a-f]{16}$/);
    const pipe = new DiffusionPipeline(model);
    const r = await drawMixes(pipe, [[]], { prompt: 'cat face', seed: 1, steps: 2, cfg: 5 });
    await pipe.release();
    expect(r.images[0]).toHaveLength(3 * 32 * 32);
    expect(r.images[0].every((v) => v >= -1 && v <= 1)).toBe(true);
  });

  it('names the problem when PAIRSTYLE_MODEL is missing or of the wrong kind', async () => {
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: '/nonexistent' })).rejects.toThrow(ModelMissingError);
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: '/nonexistent' })).rejects.toThrow(
      'PAIRSTYLE_MODEL=/nonexistent does not exist: set it to a model folder, a diffusers Stable Diffusion folder or a .safetensors checkpoint',
    );
    mkdirSync(join(work, 'empty'));
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: join(work, 'empty') })).rejects.toThrow(/empty is not a model folder \(no model_index.json\)/);
    // A real PyTorch file starts with a pickle stream (legacy torch.save) or a zip holding data.pkl; an empty .ckpt is neither.
    const pickle = placeholder('sd15.ckpt');
    writeFileSync(pickle, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8]));
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: pickle })).rejects.toThrow(
      /sd15.ckpt is a PyTorch pickle checkpoint, which is not read: convert it to .safetensors/,
    );
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: placeholder('empty.ckpt') })).rejects.toThrow(/empty.ckpt is not a model file PairStyle reads/);
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: placeholder('notes.txt') })).rejects.toThrow(
      /notes.txt is neither a folder nor a .safetensors checkpoint/,
    );
  });

  it('needs PAIRSTYLE_TOKENIZER for a single-file checkpoint, and a real tokenizer folder there', async () => {
    const file = placeholder('sd15.safetensors');
    const err = await loadConfiguredModel({ PAIRSTYLE_MODEL: file }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ModelMissingError);
    expect((err as Error).message).toBe(
      `PAIRSTYLE_MODEL=${file} is a single-file checkpoint, which carries no tokenizer: set PAIRSTYLE_TOKENIZER to a tokenizer folder (vocab.json + merges.txt, e.g. SD 1.5's tokenizer/)`,
    );
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: file, PAIRSTYLE_TOKENIZER: work })).rejects.toThrow(
      `PAIRSTYLE_TOKENIZER=${work} is not a tokenizer folder (no vocab.json + merges.txt, no tokenizer.json)`,
    );
  });

  it('loads a diffusers Stable Diffusion folder, also one that holds only the fp16 weight variant', async () => {
    const dir = join(work, 'tiny-sd');
    await writeDiffusersPipeline(dir, { unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE, weights: tinySdWeights(), tokenizerDir });
    const model = (await loadConfiguredModel({ PAIRSTYLE_MODEL: dir })) as StableDiffusionModel;
    expect(model.id).toBe('tiny-sd');
    expect(model.unet.block_out_channels).toEqual(TINY_SD_UNET.block_out_channels);
    await model.release();

    for (const [sub, base] of [
      ['unet', 'diffusion_pytorch_model'],
      ['text_encoder', 'model'],
      ['vae', 'diffusion_pytorch_model'],
    ]) {
      renameSync(join(dir, sub, `${base}.safetensors`), join(dir, sub, `${base}.fp16.safetensors`));
    }
    const fp16 = (await loadConfiguredModel({ PAIRSTYLE_MODEL: dir })) as StableDiffusionModel;
    expect(fp16.hash).toBe(model.hash);
    await fp16.release();
  });

  it("reads a single file with its tokenizer as an SD 1.x checkpoint (a tiny one does not fit SD 1.5's configs)", async () => {
    const file = join(work, 'tiny-sd.safetensors');
    await writeSingleFileCheckpoint(file, { unet: TINY_SD_UNET, text: TINY_SD_TEXT, vae: TINY_SD_VAE, weights: tinySdWeights() });
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: file, PAIRSTYLE_TOKENIZER: tokenizerDir })).rejects.toThrow(CheckpointError);
    await expect(loadConfiguredModel({ PAIRSTYLE_MODEL: file, PAIRSTYLE_TOKENIZER: tokenizerDir })).rejects.toThrow(
      /the weights do not match the model configs/,
    );
  });
});

describe('device and precision', () => {
  it('default to cpu and fp32; cuda and fp16 are accepted', () => {
    expect(modelRuntimeConfig({})).toEqual({ device: 'cpu', precision: 'fp32' });
    expect(modelRuntimeConfig({ PAIRSTYLE_DEVICE: 'cuda', PAIRSTYLE_PRECISION: 'fp16' })).toEqual({ device: 'cuda', precision: 'fp16' });
    // fp16 on the CPU is allowed (it is meant for GPUs).
    expect(modelRuntimeConfig({ PAIRSTYLE_PRECISION: 'fp16' })).toEqual({ device: 'cpu', precision: 'fp16' });
  });

  it('name the allowed values when a value is wrong', async () => {
    expect(() => modelRuntimeConfig({ PAIRSTYLE_DEVICE: 'gpu' })).toThrow(ConfigError);
    expect(() => modelRuntimeConfig({ PAIRSTYLE_DEVICE: 'gpu', PAIRSTYLE_PRECISION: 'half' })).toThrow(
      "the model settings are wrong:\n  - PAIRSTYLE_DEVICE must be 'cpu' or 'cuda' (got 'gpu')\n  - PAIRSTYLE_PRECISION must be 'fp32' or 'fp16' (got 'half')",
    );
    await expect(loadConfiguredModel({ PAIRSTYLE_DEVICE: 'CUDA:0' })).rejects.toThrow(/PAIRSTYLE_DEVICE must be 'cpu' or 'cuda' \(got 'CUDA:0'\)/);
    await expect(loadConfiguredModel({ PAIRSTYLE_PRECISION: 'bf16' })).rejects.toThrow(/PAIRSTYLE_PRECISION must be 'fp32' or 'fp16' \(got 'bf16'\)/);
  });

  it('collect their problems with the model files for the bot and worker configs', () => {
    const problems: string[] = [];
    const cfg = modelConfig({ PAIRSTYLE_MODEL: '/nonexistent', PAIRSTYLE_DEVICE: 'tpu' }, problems);
    expect(cfg).toMatchObject({ path: '/nonexistent', device: 'cpu', precision: 'fp32' });
    expect(problems).toEqual([
      "PAIRSTYLE_DEVICE must be 'cpu' or 'cuda' (got 'tpu')",
      'PAIRSTYLE_MODEL=/nonexistent does not exist: set it to a model folder, a diffusers Stable Diffusion folder or a .safetensors checkpoint',
    ]);
    const unchecked: string[] = [];
    expect(modelConfig({ PAIRSTYLE_MODEL: '/nonexistent', PAIRSTYLE_TOKENIZER: '/tok', PAIRSTYLE_DEVICE: 'cuda' }, unchecked, { checkFiles: false })).toEqual({
      path: '/nonexistent',
      tokenizerDir: '/tok',
      device: 'cuda',
      precision: 'fp32',
    });
    expect(unchecked).toEqual([]);
  });

  it('PAIRSTYLE_IMAGE_SIZE and PAIRSTYLE_TOKENIZER_2 are read and checked', () => {
    const problems: string[] = [];
    expect(
      modelConfig({ PAIRSTYLE_MODEL: '/x.safetensors', PAIRSTYLE_IMAGE_SIZE: '512', PAIRSTYLE_TOKENIZER_2: '/tok2' }, problems, { checkFiles: false }),
    ).toMatchObject({
      imageSize: 512,
      tokenizer2Dir: '/tok2',
    });
    for (const bad of ['500', '0', '4096', '512px']) {
      const found: string[] = [];
      expect(modelConfig({ PAIRSTYLE_IMAGE_SIZE: bad }, found, { checkFiles: false }).imageSize).toBeUndefined();
      expect(found).toEqual([`PAIRSTYLE_IMAGE_SIZE must be a multiple of 64 from 64 to 2048 pixels (got '${bad}')`]);
    }
    const missing: string[] = [];
    modelConfig({ PAIRSTYLE_MODEL: '/x.safetensors', PAIRSTYLE_TOKENIZER_2: '/nonexistent-tok2' }, missing);
    expect(missing).toContain('PAIRSTYLE_TOKENIZER_2=/nonexistent-tok2 is not a tokenizer folder (no vocab.json + merges.txt, no tokenizer.json)');
  });
});
