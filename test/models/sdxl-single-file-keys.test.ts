/**
 * The SDXL single-file key map (Stability's sgm layout) on the full-size SDXL base 1.0 configs.
 *
 * The expected counts are those of the released sd_xl_base_1.0.safetensors:
 * - UNet 1,680 keys / 2,567,463,684 parameters and VAE 248 keys / 83,653,863 parameters: read from the
 *   file's header (model.diffusion_model.* and first_stage_model.*) by public code found through the
 *   code index; the same parameter counts are what diffusers reports for the unet/ and vae/ of
 *   stabilityai/stable-diffusion-xl-base-1.0 (also quoted in public code).
 * - CLIP ViT-L 196 weight keys / 123,060,480 parameters (transformers' CLIPTextModel state dict, as SD
 *   1.5's cond_stage_model: 12 layers x 16 + 4) and OpenCLIP ViT-bigG 389 weight keys / 694,659,840
 *   parameters with its projection (32 resblocks x 12 keys, with q/k/v fused in in_proj_weight/bias,
 *   + token_embedding, positional_embedding, ln_final x 2, text_projection): open_clip's text tower
 *   as diffusers' convert_open_clip_checkpoint and kohya's convert_sdxl_text_encoder_2_checkpoint read
 *   it; the parameter counts are diffusers' for text_encoder/ and text_encoder_2/.
 * - Besides these 2,513 weights the file holds two non-weight keys the loader ignores:
 *   conditioner.embedders.0.transformer.text_model.embeddings.position_ids (int64 [1, 77]) and
 *   conditioner.embedders.1.model.logit_scale (a scalar), 2,515 keys in all.
 */
import { describe, expect, it } from 'vitest';
import { stableDiffusionInventory } from '../../src/pipeline/stable-diffusion.ts';
import { SDXL_TEXT_2_CONFIG, SDXL_TEXT_CONFIG } from '../../src/models/clip-text.ts';
import {
  diffusersKeyOf,
  diffusersPartsOf,
  isIgnoredOriginalKey,
  originalKeyOf,
  originalSlotOf,
  originalTensorShape,
} from '../../src/models/sd-single-file-keys.ts';
import { SDXL_UNET_CONFIG } from '../../src/models/unet-config.ts';
import { SD_VAE_CONFIG } from '../../src/models/vae.ts';

const cfgs = { unet: SDXL_UNET_CONFIG, vae: SD_VAE_CONFIG, text2: SDXL_TEXT_2_CONFIG };
const inventory = stableDiffusionInventory(SDXL_UNET_CONFIG, SDXL_TEXT_CONFIG, SD_VAE_CONFIG, SDXL_TEXT_2_CONFIG);
/** The SDXL base single-file key list (weights only), generated from the inventory: original key -> shape. */
const original = new Map<string, number[]>();
for (const name of inventory.keys()) {
  const key = originalKeyOf(name, cfgs);
  if (!original.has(key))
    original.set(
      key,
      originalTensorShape(diffusersPartsOf(key, cfgs)!, (n) => inventory.get(n)!),
    );
}
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const COMPONENTS = ['model.diffusion_model.', 'conditioner.embedders.0.transformer.text_model.', 'conditioner.embedders.1.model.', 'first_stage_model.'];
const byComponent = (f: (entries: [string, number[]][]) => number) => COMPONENTS.map((prefix) => f([...original].filter(([k]) => k.startsWith(prefix))));

describe('SDXL single-file key map (sgm names <-> diffusers names)', () => {
  it('gives the key and parameter counts of sd_xl_base_1.0.safetensors per component', () => {
    expect(byComponent((e) => e.length)).toEqual([1680, 196, 389, 248]);
    expect(original.size).toBe(2513);
    expect(byComponent((e) => e.reduce((a, [, s]) => a + numel(s), 0))).toEqual([2_567_463_684, 123_060_480, 694_659_840, 83_653_863]);
  });

  it('is one to one and invertible: every parameter has one place, and every original tensor is exactly tiled by its parts', () => {
    const wrong: string[] = [];
    for (const name of inventory.keys()) {
      const slot = originalSlotOf(name, cfgs);
      const back = diffusersPartsOf(slot.key, cfgs)?.find((p) => p.name === name);
      if (!back || JSON.stringify([back.rows, back.transpose]) !== JSON.stringify([slot.rows, slot.transpose])) wrong.push(name);
    }
    expect(wrong).toEqual([]);
    for (const [key, shape] of original) {
      const parts = diffusersPartsOf(key, cfgs)!;
      const values = parts.reduce((a, p) => a + numel(inventory.get(p.name)!), 0);
      expect([key, values]).toEqual([key, numel(shape)]);
      for (const p of parts) expect([p.name, originalKeyOf(p.name, cfgs)]).toEqual([p.name, key]);
    }
    const fused = [...original.keys()].filter((k) => diffusersPartsOf(k, cfgs)!.length > 1);
    expect(fused.length).toBe(64); // in_proj_weight and in_proj_bias of 32 resblocks
  });

  it('contains well-known keys of the released SDXL base checkpoint with their shapes', () => {
    const known: Record<string, number[]> = {
      'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3],
      'model.diffusion_model.time_embed.0.weight': [1280, 320],
      'model.diffusion_model.label_emb.0.0.weight': [1280, 2816],
      'model.diffusion_model.label_emb.0.2.bias': [1280],
      'model.diffusion_model.input_blocks.2.0.out_layers.3.weight': [320, 320, 3, 3],
      'model.diffusion_model.input_blocks.3.0.op.weight': [320, 320, 3, 3],
      'model.diffusion_model.input_blocks.4.0.skip_connection.weight': [640, 320, 1, 1],
      'model.diffusion_model.input_blocks.4.1.proj_in.weight': [640, 640],
      'model.diffusion_model.input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight': [640, 2048],
      'model.diffusion_model.input_blocks.6.0.op.weight': [640, 640, 3, 3],
      'model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn1.to_q.weight': [1280, 1280],
      'model.diffusion_model.middle_block.1.transformer_blocks.9.ff.net.2.weight': [1280, 5120],
      'model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight': [10240, 1280],
      'model.diffusion_model.middle_block.2.out_layers.3.bias': [1280],
      'model.diffusion_model.output_blocks.0.0.in_layers.2.weight': [1280, 2560, 3, 3],
      'model.diffusion_model.output_blocks.2.1.transformer_blocks.9.norm3.weight': [1280],
      'model.diffusion_model.output_blocks.2.2.conv.weight': [1280, 1280, 3, 3],
      'model.diffusion_model.output_blocks.5.2.conv.weight': [640, 640, 3, 3],
      'model.diffusion_model.output_blocks.5.1.proj_out.weight': [640, 640],
      'model.diffusion_model.output_blocks.8.0.skip_connection.weight': [320, 640, 1, 1],
      'model.diffusion_model.out.2.weight': [4, 320, 3, 3],
      'conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight': [49408, 768],
      'conditioner.embedders.0.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight': [768, 768],
      'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight': [768],
      'conditioner.embedders.1.model.token_embedding.weight': [49408, 1280],
      'conditioner.embedders.1.model.positional_embedding': [77, 1280],
      'conditioner.embedders.1.model.transformer.resblocks.0.ln_1.weight': [1280],
      'conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_bias': [3840],
      'conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight': [3840, 1280],
      'conditioner.embedders.1.model.transformer.resblocks.31.attn.out_proj.weight': [1280, 1280],
      'conditioner.embedders.1.model.transformer.resblocks.31.mlp.c_fc.weight': [5120, 1280],
      'conditioner.embedders.1.model.transformer.resblocks.31.mlp.c_proj.bias': [1280],
      'conditioner.embedders.1.model.ln_final.bias': [1280],
      'conditioner.embedders.1.model.text_projection': [1280, 1280],
      'first_stage_model.encoder.conv_in.weight': [128, 3, 3, 3],
      'first_stage_model.decoder.mid.attn_1.q.weight': [512, 512, 1, 1],
      'first_stage_model.post_quant_conv.weight': [4, 4, 1, 1],
    };
    for (const [k, s] of Object.entries(known)) expect([k, original.get(k)]).toEqual([k, s]);
    for (const absent of [
      'model.diffusion_model.input_blocks.1.1.proj_in.weight', // level 0 has no attention
      'model.diffusion_model.input_blocks.9.0.in_layers.0.weight', // three levels: input_blocks 0..8
      'model.diffusion_model.input_blocks.8.1.transformer_blocks.10.attn1.to_q.weight',
      'model.diffusion_model.output_blocks.8.1.proj_in.weight', // UpBlock2D
      'model.diffusion_model.output_blocks.8.2.conv.weight',
      'model.diffusion_model.output_blocks.8.1.conv.weight', // the last level has no upsampler
      'conditioner.embedders.1.model.transformer.resblocks.0.attn.q_proj.weight',
      'conditioner.embedders.1.model.transformer.resblocks.32.ln_1.weight',
      'cond_stage_model.transformer.text_model.final_layer_norm.weight',
    ]) {
      expect([absent, original.has(absent)]).toEqual([absent, false]);
    }
  });

  it('knows the diffusers conversion pairs, the fused q/k/v rows and the transposed projection', () => {
    const pairs: [string, string][] = [
      ['unet.add_embedding.linear_1.weight', 'model.diffusion_model.label_emb.0.0.weight'],
      ['unet.add_embedding.linear_2.bias', 'model.diffusion_model.label_emb.0.2.bias'],
      [
        'unet.down_blocks.2.attentions.1.transformer_blocks.9.attn1.to_q.weight',
        'model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn1.to_q.weight',
      ],
      ['unet.up_blocks.1.upsamplers.0.conv.weight', 'model.diffusion_model.output_blocks.5.2.conv.weight'],
      ['unet.up_blocks.2.resnets.2.conv_shortcut.weight', 'model.diffusion_model.output_blocks.8.0.skip_connection.weight'],
      ['unet.mid_block.attentions.0.transformer_blocks.4.attn2.to_v.weight', 'model.diffusion_model.middle_block.1.transformer_blocks.4.attn2.to_v.weight'],
      ['text_encoder.text_model.encoder.layers.3.mlp.fc2.bias', 'conditioner.embedders.0.transformer.text_model.encoder.layers.3.mlp.fc2.bias'],
      ['text_encoder_2.text_model.embeddings.position_embedding.weight', 'conditioner.embedders.1.model.positional_embedding'],
      ['text_encoder_2.text_model.encoder.layers.5.layer_norm2.bias', 'conditioner.embedders.1.model.transformer.resblocks.5.ln_2.bias'],
      ['text_encoder_2.text_model.encoder.layers.5.mlp.fc1.weight', 'conditioner.embedders.1.model.transformer.resblocks.5.mlp.c_fc.weight'],
      ['text_encoder_2.text_model.encoder.layers.5.self_attn.out_proj.bias', 'conditioner.embedders.1.model.transformer.resblocks.5.attn.out_proj.bias'],
      ['text_encoder_2.text_model.final_layer_norm.weight', 'conditioner.embedders.1.model.ln_final.weight'],
    ];
    for (const [d, o] of pairs) {
      expect(originalKeyOf(d, cfgs)).toBe(o);
      expect(diffusersKeyOf(o, cfgs)).toBe(d);
    }
    const layer = 'text_encoder_2.text_model.encoder.layers.7.self_attn';
    expect(diffusersPartsOf('conditioner.embedders.1.model.transformer.resblocks.7.attn.in_proj_weight', cfgs)).toEqual([
      { name: `${layer}.q_proj.weight`, rows: [0, 1280] },
      { name: `${layer}.k_proj.weight`, rows: [1280, 2560] },
      { name: `${layer}.v_proj.weight`, rows: [2560, 3840] },
    ]);
    expect(originalSlotOf(`${layer}.v_proj.bias`, cfgs)).toEqual({
      key: 'conditioner.embedders.1.model.transformer.resblocks.7.attn.in_proj_bias',
      rows: [2560, 3840],
    });
    expect(originalSlotOf('text_encoder_2.text_projection.weight', cfgs)).toEqual({ key: 'conditioner.embedders.1.model.text_projection', transpose: true });
    expect(diffusersKeyOf('conditioner.embedders.1.model.text_projection', cfgs)).toBeUndefined(); // not held whole
  });

  it("ignores the file's non-weight keys and rejects keys of other models", () => {
    for (const k of [
      'conditioner.embedders.0.transformer.text_model.embeddings.position_ids',
      'conditioner.embedders.1.model.logit_scale',
      'denoiser.sigmas',
    ]) {
      expect([k, isIgnoredOriginalKey(k)]).toEqual([k, true]);
    }
    expect(isIgnoredOriginalKey('conditioner.embedders.1.model.text_projection')).toBe(false);
    for (const k of [
      'cond_stage_model.transformer.text_model.final_layer_norm.weight', // SD 1.x text encoder
      'conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight', // SDXL refiner
      'conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj', // no such tensor
      'conditioner.embedders.1.model.visual.proj',
    ]) {
      expect([k, diffusersPartsOf(k, cfgs)]).toEqual([k, undefined]);
    }
    expect(() => originalKeyOf('text_encoder_2.text_projection.weight', { unet: SDXL_UNET_CONFIG, vae: SD_VAE_CONFIG })).toThrow(/text2/);
  });
});
