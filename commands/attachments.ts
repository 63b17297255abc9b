/**
 * Reading an uploaded image for a command: the announced size checked before downloading and the real
 * size while downloading (the platform reader's `download`), then the picture itself checked by its
 * magic bytes, header and a full decode of its first frame (src/images/io.ts checkImageBytes). Every
 * refusal is a CommandError naming the image; nothing is queued or stored for a refused upload.
 */
import { checkImageBytes, ImageInputError, type ImageCheck } from '../src/images/io.ts';
import { printable } from './options.ts';
import { overLimitText } from './size-text.ts';
import { textOfError, type UserError } from '../src/errors/user-error.ts';
import { msg, type Message, type Param } from '../src/i18n/message.ts';
import { CommandError, type Attachment } from './types.ts';

/** Declared types worth refusing before downloading (an image type or an unspecific one is checked by its bytes instead). */
const IMAGE_OR_UNSPECIFIC = /^(image\/|application\/octet-stream|binary\/octet-stream)/i;

export interface ImageUpload {
  bytes: Uint8Array;
  check: ImageCheck;
  /** Lines to tell the sender (e.g. "the content image 'a.gif' is animated …: I use its first frame only"). */
  notices: Message[];
}

/** `role`: the option the image came in ('content', 'style2'), or a word for it (a message). */
export async function readImageUpload(a: Attachment, role: Param, maxBytes: number): Promise<ImageUpload> {
  const name = printable(a.name, 60);
  const label = msg('upload.image', { role, name });
  if (a.size > maxBytes) throw new CommandError(msg('upload.too-big', { label, size: overLimitText(a.size, maxBytes) }));
  if (a.contentType && !IMAGE_OR_UNSPECIFIC.test(a.contentType))
    throw new CommandError(msg('upload.not-image', { role, name, type: printable(a.contentType, 60) }));
  let bytes: Uint8Array;
  try {
    bytes = await a.download(maxBytes);
  } catch (e) {
    // A download's own catalogue message (src/bot/fetch-capped.ts) is said in the user's language.
    const text = textOfError(e);
    const error = typeof text === 'string' ? text.slice(0, 200) : text;
    throw new CommandError(msg('upload.download-failed', { label, error }));
  }
  if (bytes.length > maxBytes) throw new CommandError(msg('upload.too-big', { label, size: overLimitText(bytes.length, maxBytes) }));
  let check: ImageCheck;
  try {
    check = await checkImageBytes(bytes);
  } catch (e) {
    if (e instanceof ImageInputError) throw new CommandError(msg('upload.bad-file', { role, name, problem: (e as UserError).text ?? e.message }));
    throw e;
  }
  return { bytes, check, notices: check.notices.map((notice) => msg('upload.notice', { label, notice })) };
}

/** The bytes of a checked upload (see readImageUpload). */
export async function readImageAttachment(a: Attachment, role: Param, maxBytes: number): Promise<Uint8Array> {
  return (await readImageUpload(a, role, maxBytes)).bytes;
}

/**
 * A note when a picture of the pair is far from square (or the two are shaped very differently): both
 * are centre-cropped to a square the same way, so what lies outside the middle of the longer side is
 * not learned.
 */
export function aspectNotice(content: ImageCheck, style: ImageCheck): Message | undefined {
  const ratio = (c: ImageCheck) => Math.max(c.width, c.height) / Math.min(c.width, c.height);
  if (Math.max(ratio(content), ratio(style)) < 1.5) return undefined;
  return msg('upload.not-square', { contentWidth: content.width, contentHeight: content.height, styleWidth: style.width, styleHeight: style.height });
}
