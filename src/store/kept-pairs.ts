/**
 * The pictures a style was trained from, kept beside it in the bot's store so that the style can be
 * trained again on another base model (`/pairstyle retrain`) without asking its owner for them again.
 *
 * One value holds every pair of a training and the settings that shaped it (subject, steps, the pairs'
 * labels), as bytes: the magic `PSPAIRS1`, a little-endian uint32 length, that many bytes of JSON
 * (`{ subject?, steps?, labels?, pairs: [{ content: [offset, length], style: [offset, length] }] }`,
 * offsets into the data that follows), then the pictures' bytes. The pictures themselves are what
 * `keptPicture` (src/images/io.ts) made of the uploads. Decoding checks every field and range, so a
 * damaged value is refused, never half read.
 */
import { UserError } from '../errors/user-error.ts';
import { msg } from '../i18n/message.ts';

export interface KeptPairs {
  /** Pair 1 first; at most MAX_PAIRS (src/queue/job.ts). */
  pairs: { content: Uint8Array; style: Uint8Array }[];
  subject?: string;
  steps?: number;
  /** What each pair was ("dog.png → dog-ink.png"), when there were several. */
  labels?: string[];
}

const MAGIC = new TextEncoder().encode('PSPAIRS1');

export class KeptPairsError extends UserError {
  override name = 'KeptPairsError';
}

export function encodeKeptPairs(k: KeptPairs): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const place = (b: Uint8Array): [number, number] => {
    parts.push(b);
    offset += b.length;
    return [offset - b.length, b.length];
  };
  const header = {
    ...(k.subject !== undefined ? { subject: k.subject } : {}),
    ...(k.steps !== undefined ? { steps: k.steps } : {}),
    ...(k.labels ? { labels: k.labels } : {}),
    pairs: k.pairs.map((p) => ({ content: place(p.content), style: place(p.style) })),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  let at = MAGIC.length + 4 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The pairs in `bytes`; a KeptPairsError naming the style when anything in them is out of place. */
export function decodeKeptPairs(bytes: Uint8Array, name: string): KeptPairs {
  const damaged = () => new KeptPairsError(msg('retrain.pairs-damaged', { name }));
  const start = MAGIC.length + 4;
  if (bytes.length < start || MAGIC.some((b, i) => bytes[i] !== b)) throw damaged();
  const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  if (start + jsonLength > bytes.length) throw damaged();
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, start + jsonLength)));
  } catch {
    throw damaged();
  }
  const data = bytes.subarray(start + jsonLength);
  const h = header as { subject?: unknown; steps?: unknown; labels?: unknown; pairs?: unknown };
  const range = (r: unknown): Uint8Array => {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isSafeInteger(x) && x >= 0) || r[0] + r[1] > data.length || r[1] === 0) throw damaged();
    return data.slice(r[0], r[0] + r[1]);
  };
  if (!h || typeof h !== 'object' || !Array.isArray(h.pairs) || h.pairs.length === 0) throw damaged();
  if (h.subject !== undefined && typeof h.subject !== 'string') throw damaged();
  if (h.steps !== undefined && !(Number.isSafeInteger(h.steps) && (h.steps as number) > 0)) throw damaged();
  if (h.labels !== undefined && !(Array.isArray(h.labels) && h.labels.every((l) => typeof l === 'string'))) throw damaged();
  const pairs = h.pairs.map((p: { content?: unknown; style?: unknown } | null) => {
    if (!p || typeof p !== 'object') throw damaged();
    return { content: range(p.content), style: range(p.style) };
  });
  return {
    pairs,
    ...(h.subject !== undefined ? { subject: h.subject as string } : {}),
    ...(h.steps !== undefined ? { steps: h.steps as number } : {}),
    ...(h.labels !== undefined ? { labels: h.labels as string[] } : {}),
  };
}
