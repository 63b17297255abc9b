/**
 * Ed25519 verification of Discord's HTTP interactions: signature over `X-Signature-Timestamp + rawBody`
 * with the application's public key (hex). Stale timestamps (default 5 min) and replayed signatures
 * are refused too.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ReplayCache } from '../replay-cache.ts';

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function discordPublicKey(hex: string): KeyObject {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error("DISCORD_PUBLIC_KEY must be 64 hex characters (the application's public key)");
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'spki' });
}

export class SignatureVerifier {
  private readonly seen = new ReplayCache();
  constructor(
    private readonly key: KeyObject,
    private readonly maxSkewSeconds = 300,
  ) {}

  check(signature: string | undefined, timestamp: string | undefined, body: Buffer, now = Date.now()): boolean {
    if (!signature || !timestamp || !/^[0-9a-fA-F]{128}$/.test(signature) || !/^\d{1,12}$/.test(timestamp)) return false;
    if (Math.abs(now / 1000 - Number(timestamp)) > this.maxSkewSeconds) return false;
    let ok = false;
    try {
      ok = verify(null, Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), this.key, Buffer.from(signature, 'hex'));
    } catch {
      ok = false;
    }
    if (!ok) return false;
    // A replay is the same signed message (timestamp + body) again, however its signature is spelled
    // (hex case, or another valid signature of it): the cache is keyed by what was signed. Entries
    // outlive the timestamp window, after which the timestamp check refuses the message anyway.
    return this.seen.firstSeen(ReplayCache.keyOf(timestamp, body), (Number(timestamp) + this.maxSkewSeconds) * 1000 + 1000, now);
  }
}
