/** Pair Customization end to end on a random-weight SD-1.5-shaped checkpoint (see sd-checkpoints.ts). */
import { describe, expect, it } from 'vitest';
import { PixelCodec } from '../../src/models/pixel-codec.ts';
import { EMOJI_MINI_UNET_CONFIG, SD15_UNET_CONFIG, SDXL_UNET_CONFIG } from '../../src/models/unet-config.ts';
import { PAIR_DEFAULTS, pairDefaultsFor } from '../../src/pair/train.ts';
import { models, pairSuite, useCheckpoint } from './sd-checkpoints.ts';

useCheckpoint('sd15');
pairSuite('sd15');

describe('pair-training defaults', () => {
  it('are the official ones (rank 64, lr 1e-5, 750 steps) for Stable Diffusion, the rank capped to fit small test models', () => {
    expect(pairDefaultsFor({ unet: SD15_UNET_CONFIG, codec: models.sd15.codec })).toMatchObject({ rank: 64, lr: 1e-5, steps: 750 });
    expect(pairDefaultsFor({ unet: SDXL_UNET_CONFIG, codec: models.sd15.codec })).toMatchObject({ rank: 64, lr: 1e-5, steps: 750 });
    // The tiny SD-1.5-shaped model attends at 8 channels: 2 x rank <= 8.
    expect(pairDefaultsFor(models.sd15)).toMatchObject({ rank: 4, lr: 1e-5, steps: 750 });
    // The embedded model (pixel codec) keeps its own, tuned defaults.
    expect(pairDefaultsFor({ unet: EMOJI_MINI_UNET_CONFIG, codec: new PixelCodec(32) })).toEqual(PAIR_DEFAULTS);
  });
});
