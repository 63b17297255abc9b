/**
 * Downloads an attachment from a platform's own file hosts only: https (or a host the caller allows for
 * loopback tests), no redirects, a size cap checked against Content-Length and while streaming, and a
 * timeout. Never an arbitrary URL.
 */
import { limitText, overLimitText } from '../../commands/size-text.ts';
import { msg, say, type Message } from '../i18n/message.ts';

/** Why a download was refused or failed: `text` for the user (in their language), `message` its English. */
export class AttachmentFetchError extends Error {
  override name = 'AttachmentFetchError';
  readonly text: Message;
  constructor(text: Message) {
    super(say(text));
    this.text = text;
  }
}

export interface CappedFetchOptions {
  /** Hostnames allowed (exact, or a suffix starting with '.'). */
  hosts: readonly string[];
  maxBytes: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Loopback fakes in tests: allow http:// and these origins. */
  allowInsecureOrigins?: readonly string[];
}

export function hostAllowed(url: URL, opts: Pick<CappedFetchOptions, 'hosts' | 'allowInsecureOrigins'>): boolean {
  if (url.username || url.password) return false;
  if (opts.allowInsecureOrigins?.includes(url.origin)) return true;
  // https on its default port only: a platform's file host never needs another.
  if (url.protocol !== 'https:' || url.port !== '') return false;
  return opts.hosts.some((h) => (h.startsWith('.') ? url.hostname.endsWith(h) : url.hostname === h));
}

export async function fetchCapped(rawUrl: string, opts: CappedFetchOptions): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new AttachmentFetchError(msg('fetch.not-a-url'));
  }
  if (!hostAllowed(url, opts)) throw new AttachmentFetchError(msg('fetch.host', { hosts: opts.hosts.join(', ') }));
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 20_000);
  try {
    const res = await fetch(url, { headers: opts.headers, redirect: 'manual', signal: ac.signal });
    if (res.status >= 300 && res.status < 400) throw new AttachmentFetchError(msg('fetch.redirect'));
    if (!res.ok) throw new AttachmentFetchError(msg('fetch.status', { status: res.status }));
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > opts.maxBytes) throw new AttachmentFetchError(msg('fetch.too-big', { size: overLimitText(declared, opts.maxBytes) }));
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > opts.maxBytes) {
        ac.abort();
        throw new AttachmentFetchError(msg('fetch.larger-than', { limit: limitText(opts.maxBytes) }));
      }
      chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks));
  } catch (e) {
    if (e instanceof AttachmentFetchError) throw e;
    throw new AttachmentFetchError(ac.signal.aborted ? msg('fetch.timed-out') : msg('fetch.failed', { detail: String((e as Error)?.message ?? e) }));
  } finally {
    clearTimeout(timer);
    // An unread body (a refusal above) is not left streaming.
    if (!ac.signal.aborted) ac.abort();
  }
}
