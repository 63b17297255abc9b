/** Reading an uploaded image for a command: size cap before and during download, a quick header check. */
import sharp, { type Metadata } from 'sharp';
import { CommandError, type Attachment } from './types.ts';

const MAX_PIXELS = 40_000_000;

export async function readImageAttachment(a: Attachment, role: string, maxBytes: number): Promise<Uint8Array> {
  if (a.size > maxBytes) throw new CommandError(`the ${role} image '${a.name}' is ${(a.size / 1e6).toFixed(1)} MB; the limit is ${(maxBytes / 1e6).toFixed(0)} MB`);
  if (a.contentType && !a.contentType.startsWith('image/')) throw new CommandError(`the ${role} file '${a.name}' is ${a.contentType}, not an image`);
  const bytes = await a.download(maxBytes).catch((e) => {
    throw new CommandError(`could not download the ${role} image '${a.name}': ${(e as Error).message}`);
  });
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: MAX_PIXELS }).metadata();
  } catch {
    throw new CommandError(`the ${role} file '${a.name}' is not an image I can read (PNG, JPEG, WebP, GIF, AVIF)`);
  }
  if (meta.format === 'svg') throw new CommandError(`the ${role} file '${a.name}' is an SVG; send a PNG or JPEG`);
  if (!meta.width || !meta.height) throw new CommandError(`the ${role} image '${a.name}' has no size`);
  if (meta.width * meta.height > MAX_PIXELS) throw new CommandError(`the ${role} image '${a.name}' is too large (${meta.width}x${meta.height})`);
  if (Math.min(meta.width, meta.height) < 8) throw new CommandError(`the ${role} image '${a.name}' is only ${meta.width}x${meta.height}; send at least 32x32`);
  return bytes;
}
