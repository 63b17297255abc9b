/**
 * Reading and writing pictures with sharp. Inputs are flattened on white (emoji art is transparent),
 * centre-cropped to a square and resized to the model's size, the same way for both images of a pair.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { rgbToUnit, unitToRgb } from '../models/pixel-codec.ts';

export class ImageInputError extends Error {
  override name = 'ImageInputError';
}

export interface LoadOptions {
  /** Reject inputs with more pixels than this (decompression bombs). */
  maxPixels?: number;
}

/** Any image sharp reads -> float32 [3, size, size] in [-1, 1]. */
export async function loadImage(input: string | Buffer | Uint8Array, size: number, opts: LoadOptions = {}): Promise<Float32Array> {
  let img: Sharp;
  let meta: Metadata;
  try {
    img = sharp(input, { limitInputPixels: opts.maxPixels ?? 40_000_000, failOn: 'error' });
    meta = await img.metadata();
  } catch (e) {
    throw new ImageInputError(`not a readable image (${(e as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new ImageInputError('the image has no size');
  const side = Math.min(meta.width, meta.height);
  try {
    const { data } = await img
      .flatten({ background: '#ffffff' })
      .extract({ left: Math.floor((meta.width - side) / 2), top: Math.floor((meta.height - side) / 2), width: side, height: side })
      .resize(size, size, { kernel: side > size ? 'lanczos3' : 'nearest' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return rgbToUnit(new Uint8Array(data.buffer, data.byteOffset, data.length), size, size);
  } catch (e) {
    throw new ImageInputError(`could not decode the image (${(e as Error).message})`);
  }
}

/** float32 [3, H, W] in [-1, 1] -> PNG, nearest-neighbour upscaled by `scale`. */
export async function imagePng(chw: Float32Array, size: number, scale = 1): Promise<Buffer> {
  const rgb = unitToRgb(chw, size, size);
  return sharp(Buffer.from(rgb), { raw: { width: size, height: size, channels: 3 } })
    .resize(size * scale, size * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}
