/**
 * Replay protection for signed webhook requests: remembers what was signed (a hash of the timestamp and
 * body) until the signature's timestamp window has passed, so the same signed request is accepted once.
 * Used for Slack's HTTP requests (src/bot/slack/replay.ts) and Discord's interactions (discord/verify.ts).
 */
import { createHash } from 'node:crypto';

export class ReplayCache {
  private readonly seen = new Map<string, number>();

  /** `max`: entries kept at most (the oldest go first; a flood can only shorten memory, never grow it without bound). */
  constructor(private readonly max = 100_000) {}

  /** The key of a signed request: what its signature covers. */
  static keyOf(timestamp: number | string, body: Buffer | string): string {
    return createHash('sha256')
      .update(String(Number(timestamp)))
      .update('\0')
      .update(body)
      .digest('hex');
  }

  /** True the first time `key` is offered before `expiresAt` (ms); false for a replay. */
  firstSeen(key: string, expiresAt: number, now = Date.now()): boolean {
    for (const [k, until] of this.seen) {
      if (until > now) break; // roughly in expiry order (insertion order); stragglers are dropped by the size cap
      this.seen.delete(k);
    }
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, expiresAt);
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}
