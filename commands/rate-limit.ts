/**
 * Per-user command rate limit: a token bucket per person (platform + user: the same person in several
 * servers, workspaces or DMs has one bucket). Each command (and each
 * button) takes tokens; the bucket holds `perMinute` tokens and refills at `perMinute` a minute, so a
 * user may send a burst of up to `perMinute` commands, then one every 60/perMinute seconds. Past that
 * the command is refused with "slow down … try again in N s" before anything else is done (no
 * download, no registry read, no job). A training costs more (it downloads and decodes two pictures).
 * Used by runCommand / runButton when CommandLimits.userRate is set; the queue's own caps come after.
 */
import { UserError } from '../src/errors/user-error.ts';
import { msg, type Text } from '../src/i18n/message.ts';
import type { Scope } from '../src/store/style-registry.ts';

export class RateLimitError extends UserError {
  override name = 'RateLimitError';
  declare readonly retryAfterSeconds: number;
  constructor(message: Text, retryAfterSeconds: number) {
    super(message, 'limit', { retryAfterSeconds });
  }
}

export interface UserRateOptions {
  /** Commands a user may send per minute (and at once, after a quiet minute). */
  perMinute: number;
  /** Tokens a command takes (default 1; see COMMAND_COST). */
  cost?: Partial<Record<string, number>>;
  /** Buckets kept at most (full buckets are forgotten first); default 100,000. */
  maxUsers?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** A training downloads and decodes two pictures before the queue sees it. */
export const COMMAND_COST: Record<string, number> = { train: 3 };

const keyOf = (s: Scope) => [s.platform, s.user].map(encodeURIComponent).join(':');

export class UserRateLimiter {
  readonly perMinute: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly cost: Record<string, number>;
  private readonly maxUsers: number;
  private readonly now: () => number;

  constructor(opts: UserRateOptions) {
    if (!Number.isFinite(opts.perMinute) || opts.perMinute < 1) throw new Error(`UserRateLimiter: perMinute must be at least 1 (got ${opts.perMinute})`);
    this.perMinute = opts.perMinute;
    this.cost = { ...COMMAND_COST, ...opts.cost } as Record<string, number>;
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** Takes the tokens of one `command` for `who`, or throws RateLimitError saying when to try again. */
  take(who: Scope, command: string): void {
    const cost = Math.min(this.perMinute, this.cost[command] ?? 1);
    const now = this.now();
    const key = keyOf(who);
    const b = this.refilled(key, now);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      this.buckets.delete(key); // re-inserted last: the map stays in least-recently-used order
      this.buckets.set(key, b);
      this.prune(now);
      return;
    }
    const wait = Math.max(1, Math.ceil(((cost - b.tokens) * 60) / this.perMinute));
    throw new RateLimitError(msg('rate.slow-down', { perMinute: this.perMinute, cost: cost > 1 ? msg('rate.cost', { command, cost }) : '', wait }), wait);
  }

  /** Users with a bucket now (tests, metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string, now: number): { tokens: number; at: number } {
    const b = this.buckets.get(key);
    if (!b) return { tokens: this.perMinute, at: now };
    const elapsed = Math.max(0, now - b.at);
    return { tokens: Math.min(this.perMinute, b.tokens + (elapsed * this.perMinute) / 60_000), at: now };
  }

  private prune(now: number): void {
    if (this.buckets.size <= this.maxUsers) return;
    for (const [key, b] of this.buckets) {
      if (this.buckets.size <= this.maxUsers * 0.9) break;
      if (b.tokens + ((now - b.at) * this.perMinute) / 60_000 >= this.perMinute) this.buckets.delete(key);
    }
    // Still too many (a flood of distinct users): forget the oldest, which only lets them in again sooner.
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxUsers) break;
      this.buckets.delete(key);
    }
  }
}
