/**
 * The embedded model's lossless "VAE": space-to-depth by 2. Images [B, 3, 32, 32] in [-1, 1] <->
 * latents [B, 12, 16, 16]; latent channel c*4 + dy*2 + dx holds image channel c at pixel offset (dy, dx)
 * of each 2x2 block (torch.nn.functional.pixel_unshuffle / pixel_shuffle order). As graph functions and
 * as plain JS on Float32Array, exact inverses of each other. (uint8 RGB <-> [-1, 1]: src/formats/pixels.ts.)
 */
import { GraphError, reshape, transpose, type Tensor } from '../graph/index.ts';

export const PIXEL_CODEC_FACTOR = 2;

/** Graph: images [B, C, H, W] -> latents [B, C*4, H/2, W/2]. */
export function pixelEncode(images: Tensor, factor = PIXEL_CODEC_FACTOR): Tensor {
  const [b, c, h, w] = images.shape;
  if (h % factor || w % factor) throw new GraphError(`pixelEncode: ${h}x${w} is not divisible by ${factor}`);
  const [hs, ws] = [h / factor, w / factor];
  const x = reshape(images, [b, c, hs, factor, ws, factor]);
  return reshape(transpose(x, [0, 1, 3, 5, 2, 4]), [b, c * factor * factor, hs, ws]);
}

/** Graph: latents [B, C*4, h, w] -> images [B, C, 2h, 2w]. */
export function pixelDecode(latents: Tensor, factor = PIXEL_CODEC_FACTOR): Tensor {
  const [b, cf, hs, ws] = latents.shape;
  const c = cf / (factor * factor);
  if (!Number.isInteger(c)) throw new GraphError(`pixelDecode: ${cf} channels are not a multiple of ${factor * factor}`);
  const x = reshape(latents, [b, c, factor, factor, hs, ws]);
  return reshape(transpose(x, [0, 1, 4, 2, 5, 3]), [b, c, hs * factor, ws * factor]);
}

export interface ImageDims {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

/** JS: images [B, C, H, W] -> latents [B, C*f*f, H/f, W/f] (a permutation; exact). */
export function pixelEncodeArray(images: Float32Array, dims: ImageDims, factor = PIXEL_CODEC_FACTOR): Float32Array {
  return permute(images, dims, factor, true);
}

/** JS: latents [B, C*f*f, H/f, W/f] -> images [B, C, H, W]; `dims` are the image's. */
export function pixelDecodeArray(latents: Float32Array, dims: ImageDims, factor = PIXEL_CODEC_FACTOR): Float32Array {
  return permute(latents, dims, factor, false);
}

function permute(src: Float32Array, { batch, channels, height, width }: ImageDims, f: number, encode: boolean): Float32Array {
  if (height % f || width % f) throw new Error(`pixel codec: ${height}x${width} is not divisible by ${f}`);
  const n = batch * channels * height * width;
  if (src.length !== n) throw new Error(`pixel codec: ${src.length} values, expected ${n} for ${batch}x${channels}x${height}x${width}`);
  const out = new Float32Array(n);
  const [hs, ws] = [height / f, width / f];
  let i = 0; // index into the image layout
  for (let b = 0; b < batch; b++)
    for (let c = 0; c < channels; c++)
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++, i++) {
          const lc = (c * f + (y % f)) * f + (x % f);
          const j = ((b * channels * f * f + lc) * hs + Math.floor(y / f)) * ws + Math.floor(x / f);
          if (encode) out[j] = src[i];
          else out[i] = src[j];
        }
  return out;
}

/** The pixel codec as a model's image codec: space-to-depth 2x, exact, no weights. */
export class PixelCodec {
  readonly latentShape: readonly [number, number, number];
  constructor(readonly imageSize: number) {
    this.latentShape = [12, imageSize / 2, imageSize / 2];
  }
  async encode(images: Float32Array, batch: number): Promise<Float32Array> {
    return pixelEncodeArray(images, { batch, channels: 3, height: this.imageSize, width: this.imageSize });
  }
  async decode(latents: Float32Array, batch: number): Promise<Float32Array> {
    // The dims are always the image's: the permutation is defined on the image layout.
    return pixelDecodeArray(latents, { batch, channels: 3, height: this.imageSize, width: this.imageSize });
  }
}
