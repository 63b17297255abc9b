/**
 * Reading an uploaded image for a command: the announced size checked before downloading and the real
 * size while downloading (the platform reader's `download`), then the picture itself checked by its
 * magic bytes, header and a full decode of its first frame (src/images/io.ts checkImageBytes). Every
 * refusal is a CommandError naming the image; nothing is queued or stored for a refused upload.
 */
import { checkImageBytes, ImageInputError, type ImageCheck } from '../src/images/io.ts';
import { printable } from './options.ts';
import { overLimitText } from './size-text.ts';
import { CommandError, type Attachment } from './types.ts';

/** Declared types worth refusing before downloading (an image type or an unspecific one is checked by its bytes instead). */
const IMAGE_OR_UNSPECIFIC = /^(image\/|application\/octet-stream|binary\/octet-stream)/i;

export interface ImageUpload {
  bytes: Uint8Array;
  check: ImageCheck;
  /** Lines to tell the sender (e.g. "the content image 'a.gif' is animated …: I use its first frame only"). */
  notices: string[];
}

export async function readImageUpload(a: Attachment, role: string, maxBytes: number): Promise<ImageUpload> {
  const label = `the ${role} image '${printable(a.name, 60)}'`;
  if (a.size > maxBytes) throw new CommandError(`${label} is ${overLimitText(a.size, maxBytes)}`);
  if (a.contentType && !IMAGE_OR_UNSPECIFIC.test(a.contentType))
    throw new CommandError(`the ${role} file '${printable(a.name, 60)}' is ${printable(a.contentType, 60)}, not an image`);
  let bytes: Uint8Array;
  try {
    bytes = await a.download(maxBytes);
  } catch (e) {
    throw new CommandError(`could not download ${label}: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
  }
  if (bytes.length > maxBytes) throw new CommandError(`${label} is ${overLimitText(bytes.length, maxBytes)}`);
  let check: ImageCheck;
  try {
    check = await checkImageBytes(bytes);
  } catch (e) {
    if (e instanceof ImageInputError) throw new CommandError(`the ${role} file '${printable(a.name, 60)}' ${e.message}`);
    throw e;
  }
  return { bytes, check, notices: check.notices.map((n) => `${label} ${n}`) };
}

/** The bytes of a checked upload (see readImageUpload). */
export async function readImageAttachment(a: Attachment, role: string, maxBytes: number): Promise<Uint8Array> {
  return (await readImageUpload(a, role, maxBytes)).bytes;
}

/**
 * A note when a picture of the pair is far from square (or the two are shaped very differently): both
 * are centre-cropped to a square the same way, so what lies outside the middle of the longer side is
 * not learned.
 */
export function aspectNotice(content: ImageCheck, style: ImageCheck): string | undefined {
  const ratio = (c: ImageCheck) => Math.max(c.width, c.height) / Math.min(c.width, c.height);
  if (Math.max(ratio(content), ratio(style)) < 1.5) return undefined;
  return `the pictures are not square (content ${content.width}x${content.height}, style ${style.width}x${style.height}): both are centre-cropped to a square the same way, so only their middle parts are learned`;
}
