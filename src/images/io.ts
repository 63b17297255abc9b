/**
 * Reading and writing pictures with sharp. Inputs are flattened on white (emoji art is transparent),
 * centre-cropped to a square and resized to the model's size, the same way for both images of a pair.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { rgbToUnit, unitToRgb } from '../formats/pixels.ts';
import { UserError } from '../errors/user-error.ts';
import { msg, say, type Message } from '../i18n/message.ts';

export class ImageInputError extends UserError {
  override name = 'ImageInputError';
}

export interface LoadOptions {
  /** Reject inputs with more pixels than this (decompression bombs). */
  maxPixels?: number;
  /** Reject inputs whose shorter side has fewer pixels than this (the command line's own files; uploads use checkImageBytes). */
  minSide?: number;
}

/** The picture formats accepted from chat uploads (recognised by their first bytes, never by a declared type). */
export type RasterFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'avif';
export const RASTER_FORMATS = 'PNG, JPEG, WebP, GIF or AVIF';
/** Uploads with more pixels than this are refused before decoding (decompression bombs). */
export const MAX_INPUT_PIXELS = 40_000_000;
/** The smallest side an uploaded picture may have. */
export const MIN_IMAGE_SIDE = 16;

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0) => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));

/** The format a file's magic bytes announce, or undefined when it is none of the accepted raster formats. */
export function sniffImageFormat(b: Uint8Array): RasterFormat | undefined {
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (ascii(b, 4, 8) === 'ftyp' && ftypBrands(b).some((x) => x === 'avif' || x === 'avis')) return 'avif';
  return undefined;
}

/** The major and compatible brands of an ISO-BMFF 'ftyp' box at the start of the file (AVIF, HEIC). */
function ftypBrands(b: Uint8Array): string[] {
  const size = Math.min(b.length, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0, 256);
  const brands = [ascii(b, 8, 12)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(b, at, at + 4));
  return brands;
}

/** Why a file that is not an accepted raster image is refused, in words for its sender. */
function notRasterReason(b: Uint8Array): Message {
  const formats = msg('image.formats');
  if (b.length === 0) return msg('image.empty');
  const head = new TextDecoder('utf-8', { fatal: false })
    .decode(b.subarray(0, 1024))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (/<svg[\s>]/.test(head) || (head.startsWith('<?xml') && head.includes('<svg'))) return msg('image.svg', { formats });
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || /<(head|body|script)[\s>]/.test(head)) return msg('image.html', { formats });
  if (head.startsWith('<')) return msg('image.xml', { formats });
  if (startsWith(b, [0x1f, 0x8b])) return msg('image.gzip', { formats });
  if (ascii(b, 4, 8) === 'ftyp' && /^(heic|heix|hevc|heim|heis|mif1|msf1)$/.test(ascii(b, 8, 12))) return msg('image.heic');
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return msg('image.tiff', { formats });
  if (ascii(b, 0, 2) === 'BM') return msg('image.bmp', { formats });
  return msg('image.unreadable', { formats });
}

export interface ImageCheck {
  format: RasterFormat;
  width: number;
  height: number;
  /** Frames of an animated picture (1 for a still one); only the first is used. */
  frames: number;
  /** Things the sender should be told although the picture is accepted (e.g. only its first frame is used). */
  notices: Message[];
}

/**
 * Checks an uploaded picture before anything is queued or stored: a raster format by its magic bytes
 * (SVG, HTML and the rest refused), its size read from the header before any decoding (decompression
 * bombs refused), a minimum size, then a full decode of its first frame (corrupt or truncated files
 * refused) exactly as loadImage will decode it. Every refusal is an ImageInputError whose message
 * completes "the image ...".
 */
export async function checkImageBytes(bytes: Uint8Array, opts: { maxPixels?: number; minSide?: number } = {}): Promise<ImageCheck> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  const minSide = opts.minSide ?? MIN_IMAGE_SIDE;
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageInputError(notRasterReason(bytes));
  let meta: Metadata;
  try {
    // Header only: no pixel is decoded here, so the pixel limit is checked below with the real size.
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (e) {
    throw new ImageInputError(msg('image.damaged-header', { format: format.toUpperCase(), detail: shortSharpMessage(e) }));
  }
  const { width, height } = meta;
  if (!width || !height) throw new ImageInputError(msg('image.no-size', { format: format.toUpperCase() }));
  if (width * height > maxPixels) {
    throw new ImageInputError(
      msg('image.too-many-pixels', { width, height, megapixels: ((width * height) / 1e6).toFixed(0), limit: (maxPixels / 1e6).toFixed(0) }),
    );
  }
  if (Math.min(width, height) < minSide) throw new ImageInputError(msg('image.too-small', { width, height, min: minSide }));
  try {
    await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).resize(32, 32, { fit: 'fill' }).raw().toBuffer();
  } catch (e) {
    throw new ImageInputError(msg('image.damaged', { format: format.toUpperCase(), detail: shortSharpMessage(e) }));
  }
  const frames = meta.pages && meta.pages > 1 ? meta.pages : 1;
  const notices = frames > 1 ? [msg('image.animated', { frames })] : [];
  return { format, width, height, frames, notices };
}

/** The first line of a sharp / libvips error, without the library's prefixes. */
function shortSharpMessage(e: unknown): string {
  const line = String((e as Error)?.message ?? e)
    .split('\n')[0]
    .replace(/^(Input (buffer|file) (has corrupt header|contains unsupported image format):\s*)/i, '')
    .replace(/^\w+load(_buffer)?:\s*|^vips\w*:\s*|^VipsJpeg:\s*/i, '');
  return line.slice(0, 100) || 'unreadable';
}

/**
 * An input opened by sharp with its size: bytes only when their first bytes are a raster format (never
 * SVG, which sharp would render; paths are the CLI's own files), at most `maxPixels`; anything sharp
 * cannot read, or that has no size, is an ImageInputError.
 */
async function openPicture(input: string | Buffer | Uint8Array, maxPixels: number): Promise<{ img: Sharp; width: number; height: number }> {
  if (typeof input !== 'string' && !sniffImageFormat(input)) throw new ImageInputError(`not a readable image (the file ${say(notRasterReason(input))})`);
  let img: Sharp;
  let meta: Metadata;
  try {
    img = sharp(input, { limitInputPixels: maxPixels, failOn: 'error' });
    meta = await img.metadata();
  } catch (e) {
    throw new ImageInputError(`not a readable image (${(e as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new ImageInputError('the image has no size');
  return { img, width: meta.width, height: meta.height };
}

/** The picture flattened on white and centre-cropped to a square: what every input becomes before its resize. */
function centreSquare(img: Sharp, width: number, height: number): Sharp {
  const side = Math.min(width, height);
  return img
    .flatten({ background: '#ffffff' })
    .extract({ left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side });
}

/** The longest side a kept picture keeps (`keptPicture`): SDXL's own resolution. */
export const KEPT_PICTURE_SIDE = 1024;

/**
 * What the bot keeps of an upload to train from it again later: the square `loadImage` would crop,
 * flattened on white, at most `maxSide` pixels wide, as lossless WebP (no metadata: no EXIF location).
 * Loading it at a model's size gives the picture that loading the upload gives whenever the square is
 * no wider than `maxSide` (test/store/kept-pairs.test.ts).
 */
export async function keptPicture(bytes: Uint8Array, maxSide = KEPT_PICTURE_SIDE): Promise<Uint8Array> {
  const { img, width, height } = await openPicture(bytes, MAX_INPUT_PIXELS);
  const square = centreSquare(img, width, height);
  const sized = Math.min(width, height) > maxSide ? square.resize(maxSide, maxSide, { kernel: 'lanczos3' }) : square;
  return new Uint8Array(await sized.removeAlpha().webp({ lossless: true }).toBuffer());
}

/** Any image sharp reads -> float32 [3, size, size] in [-1, 1]. */
export async function loadImage(input: string | Buffer | Uint8Array, size: number, opts: LoadOptions = {}): Promise<Float32Array> {
  const { img, width, height } = await openPicture(input, opts.maxPixels ?? MAX_INPUT_PIXELS);
  const side = Math.min(width, height);
  if (opts.minSide !== undefined && side < opts.minSide)
    throw new ImageInputError(`the image is only ${width}x${height} pixels; use at least ${opts.minSide}x${opts.minSide}`);
  try {
    const { data } = await centreSquare(img, width, height)
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
