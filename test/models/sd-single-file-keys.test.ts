import { describe, expect, it } from 'vitest';
import { SD15_TEXT_CONFIG } from '../../src/models/clip-text.ts';
import { stableDiffusionInventory } from '../../src/pipeline/stable-diffusion.ts';
import { diffusersKeyOf, isIgnoredOriginalKey, originalKeyOf, originalShapeOf } from '../../src/models/sd-single-file-keys.ts';
import { SD15_UNET_CONFIG } from '../../src/models/unet.ts';
import { SD_VAE_CONFIG } from '../../src/models/vae.ts';

const cfgs = { unet: SD15_UNET_CONFIG, vae: SD_VAE_CONFIG };
const inventory = stableDiffusionInventory(SD15_UNET_CONFIG, SD15_TEXT_CONFIG, SD_VAE_CONFIG);
/** The SD 1.5 single-file key list (weights only), generated from the inventory: original key -> shape. */
const original = new Map([...inventory].map(([name, shape]) => [originalKeyOf(name, cfgs), originalShapeOf(name, shape)]));

describe('SD 1.x single-file key map (LDM names <-> diffusers names)', () => {
  it('maps the 1,130 SD 1.5 weights one to one: 686 UNet, 196 text encoder, 248 VAE', () => {
    expect(inventory.size).toBe(1130);
    expect(original.size).toBe(1130); // no two diffusers names share an original key
    const count = (prefix: string) => [...original.keys()].filter((k) => k.startsWith(prefix)).length;
    expect([count('model.diffusion_model.'), count('cond_stage_model.transformer.text_model.'), count('first_stage_model.')]).toEqual([686, 196, 248]);
  });

  it('the arithmetic parser (original -> diffusers) inverts the architecture walk exactly', () => {
    const wrong = [...inventory.keys()].filter((name) => diffusersKeyOf(originalKeyOf(name, cfgs), cfgs) !== name);
    expect(wrong).toEqual([]);
  });

  it('contains well-known keys of the released SD 1.5 checkpoints with their shapes', () => {
    const known: Record<string, number[]> = {
      'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3],
      'model.diffusion_model.time_embed.0.weight': [1280, 320],
      'model.diffusion_model.time_embed.2.bias': [1280],
      'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight': [320, 320],
      'model.diffusion_model.input_blocks.1.1.proj_in.weight': [320, 320, 1, 1],
      'model.diffusion_model.input_blocks.1.0.emb_layers.1.weight': [320, 1280],
      'model.diffusion_model.input_blocks.3.0.op.weight': [320, 320, 3, 3],
      'model.diffusion_model.input_blocks.4.0.skip_connection.weight': [640, 320, 1, 1],
      'model.diffusion_model.input_blocks.7.1.transformer_blocks.0.attn2.to_k.weight': [1280, 768],
      'model.diffusion_model.input_blocks.8.1.transformer_blocks.0.ff.net.0.proj.weight': [10240, 1280],
      'model.diffusion_model.input_blocks.11.0.out_layers.3.weight': [1280, 1280, 3, 3],
      'model.diffusion_model.middle_block.0.in_layers.0.weight': [1280],
      'model.diffusion_model.middle_block.1.transformer_blocks.0.norm3.bias': [1280],
      'model.diffusion_model.middle_block.2.out_layers.3.bias': [1280],
      'model.diffusion_model.output_blocks.0.0.in_layers.2.weight': [1280, 2560, 3, 3],
      'model.diffusion_model.output_blocks.2.1.conv.weight': [1280, 1280, 3, 3],
      'model.diffusion_model.output_blocks.5.2.conv.weight': [1280, 1280, 3, 3],
      'model.diffusion_model.output_blocks.8.2.conv.weight': [640, 640, 3, 3],
      'model.diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_out.0.weight': [1280, 1280],
      'model.diffusion_model.output_blocks.9.0.skip_connection.weight': [320, 960, 1, 1],
      'model.diffusion_model.output_blocks.11.1.proj_out.weight': [320, 320, 1, 1],
      'model.diffusion_model.out.0.weight': [320],
      'model.diffusion_model.out.2.weight': [4, 320, 3, 3],
      'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight': [49408, 768],
      'cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.weight': [768, 3072],
      'cond_stage_model.transformer.text_model.final_layer_norm.weight': [768],
      'first_stage_model.encoder.conv_in.weight': [128, 3, 3, 3],
      'first_stage_model.encoder.down.0.downsample.conv.weight': [128, 128, 3, 3],
      'first_stage_model.encoder.down.1.block.0.nin_shortcut.weight': [256, 128, 1, 1],
      'first_stage_model.encoder.mid.attn_1.norm.weight': [512],
      'first_stage_model.encoder.mid.block_2.conv2.weight': [512, 512, 3, 3],
      'first_stage_model.encoder.norm_out.bias': [512],
      'first_stage_model.encoder.conv_out.weight': [8, 512, 3, 3],
      'first_stage_model.quant_conv.weight': [8, 8, 1, 1],
      'first_stage_model.post_quant_conv.weight': [4, 4, 1, 1],
      'first_stage_model.decoder.mid.attn_1.q.weight': [512, 512, 1, 1],
      'first_stage_model.decoder.mid.attn_1.proj_out.weight': [512, 512, 1, 1],
      'first_stage_model.decoder.mid.attn_1.proj_out.bias': [512],
      'first_stage_model.decoder.up.0.block.0.nin_shortcut.weight': [128, 256, 1, 1],
      'first_stage_model.decoder.up.1.block.0.nin_shortcut.weight': [256, 512, 1, 1],
      'first_stage_model.decoder.up.3.upsample.conv.weight': [512, 512, 3, 3],
      'first_stage_model.decoder.up.3.block.2.conv1.weight': [512, 512, 3, 3],
      'first_stage_model.decoder.norm_out.weight': [128],
    };
    for (const [k, s] of Object.entries(known)) expect([k, original.get(k)]).toEqual([k, s]);
    for (const absent of [
      'model.diffusion_model.input_blocks.10.1.proj_in.weight', // level 3 has no attention
      'model.diffusion_model.input_blocks.12.0.in_layers.0.weight',
      'model.diffusion_model.output_blocks.2.2.conv.weight', // up block 0 has no attention: its upsampler is .1
      'model.diffusion_model.output_blocks.11.2.conv.weight',
      'first_stage_model.encoder.down.3.downsample.conv.weight',
      'first_stage_model.decoder.up.0.upsample.conv.weight',
      'first_stage_model.decoder.up.3.block.3.conv1.weight',
    ]) {
      expect([absent, original.has(absent)]).toEqual([absent, false]);
    }
  });

  it('knows diffusers convert_from_ckpt pairs', () => {
    const pairs: [string, string][] = [
      [
        'unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_v.weight',
        'model.diffusion_model.output_blocks.5.1.transformer_blocks.0.attn2.to_v.weight',
      ],
      ['unet.down_blocks.2.resnets.1.time_emb_proj.bias', 'model.diffusion_model.input_blocks.8.0.emb_layers.1.bias'],
      ['unet.up_blocks.3.resnets.2.conv_shortcut.weight', 'model.diffusion_model.output_blocks.11.0.skip_connection.weight'],
      ['unet.mid_block.attentions.0.proj_out.bias', 'model.diffusion_model.middle_block.1.proj_out.bias'],
      ['vae.decoder.up_blocks.0.resnets.1.norm2.weight', 'first_stage_model.decoder.up.3.block.1.norm2.weight'],
      ['vae.encoder.mid_block.attentions.0.to_k.bias', 'first_stage_model.encoder.mid.attn_1.k.bias'],
      ['text_encoder.text_model.encoder.layers.3.self_attn.v_proj.bias', 'cond_stage_model.transformer.text_model.encoder.layers.3.self_attn.v_proj.bias'],
    ];
    for (const [d, o] of pairs) {
      expect(originalKeyOf(d, cfgs)).toBe(o);
      expect(diffusersKeyOf(o, cfgs)).toBe(d);
    }
  });

  it('leaves buffers and EMA copies aside, reads old text-encoder keys, and rejects keys of other models', () => {
    for (const k of [
      'alphas_cumprod',
      'betas',
      'posterior_mean_coef2',
      'model_ema.decay',
      'model_ema.diffusion_modelinput_blocks00weight',
      'cond_stage_model.transformer.text_model.embeddings.position_ids',
      'first_stage_model.loss.logvar',
    ]) {
      expect([k, isIgnoredOriginalKey(k)]).toEqual([k, true]);
    }
    expect(isIgnoredOriginalKey('model.diffusion_model.out.2.weight')).toBe(false);
    expect(diffusersKeyOf('cond_stage_model.transformer.embeddings.token_embedding.weight', cfgs)).toBe(
      'text_encoder.text_model.embeddings.token_embedding.weight',
    );
    for (const k of [
      'model.diffusion_model.label_emb.0.0.weight', // SDXL
      'model.diffusion_model.input_blocks.3.1.proj_in.weight', // a downsampler slot has no attention
      'model.diffusion_model.output_blocks.0.1.proj_in.weight', // UpBlock2D has no attention
      'model.diffusion_model.input_blocks.1.0.in_layers.1.weight',
      'first_stage_model.encoder.mid.attn_2.q.weight',
      'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight', // SD 2.x OpenCLIP
      'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight',
    ]) {
      const d = diffusersKeyOf(k, cfgs);
      expect([k, d === undefined || !inventory.has(d)]).toEqual([k, true]);
    }
  });
});
