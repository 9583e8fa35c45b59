// Response rate limiting (after BIND's RRL): blunts reflection/amplification attacks by capping
// the UDP responses sent to one client prefix (/24 for IPv4, /56 for IPv6).
//
// Invariants
//  - A token bucket per prefix: `rate` tokens per second, at most `rate` banked; each response
//    costs one. Below zero the response is limited; the debt may reach -rate*window, so a
//    client that keeps flooding stays limited for up to `window` seconds after it stops.
//  - Of limited responses, every `slip`-th is sent truncated (TC=1, no records) so a real client
//    behind a spoofed flood can retry over TCP; slip 0 drops them all (RFC 5452-style hygiene).
//  - TCP responses are never limited (the caller does not ask).
//  - Memory is bounded: at most `maxEntries` prefixes; idle ones (window seconds) expire first.
import { clientPrefix } from './acl.js';

export interface RrlOptions {
  responsesPerSecond: number;
  /** Seconds of history (the longest debt). */
  window: number;
  /** Every Nth limited response slips through truncated; 0 = drop all. */
  slip: number;
  maxEntries?: number;
}

export type RrlVerdict = 'send' | 'drop' | 'slip';

interface Bucket { tokens: number; at: number; limited: number }

export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly max: number;
  /** Counters for metrics and tests. */
  readonly stats = { sent: 0, dropped: 0, slipped: 0 };

  constructor(private readonly opts: RrlOptions) {
    this.max = opts.maxEntries ?? 100_000;
  }

  /** Whether a UDP response to `address` at `nowMs` may go out. */
  check(address: string, nowMs: number = Date.now()): RrlVerdict {
    const key = clientPrefix(address);
    const rate = this.opts.responsesPerSecond;
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-insert: Map order = least recently used first
      b.tokens = Math.min(rate, b.tokens + ((nowMs - b.at) / 1000) * rate);
      b.at = nowMs;
    } else {
      if (this.buckets.size >= this.max) this.evict(nowMs);
      b = { tokens: rate, at: nowMs, limited: 0 };
    }
    this.buckets.set(key, b);
    b.tokens = Math.max(b.tokens - 1, -rate * this.opts.window);
    if (b.tokens >= 0) { this.stats.sent++; return 'send'; }
    b.limited++;
    if (this.opts.slip > 0 && b.limited % this.opts.slip === 0) { this.stats.slipped++; return 'slip'; }
    this.stats.dropped++;
    return 'drop';
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(nowMs: number): void {
    for (const [k, b] of this.buckets) {
      if (this.buckets.size < this.max) break;
      // The first entries are the least recently used; idle ones go, else the oldest anyway.
      if (nowMs - b.at > this.opts.window * 1000 || this.buckets.size >= this.max) this.buckets.delete(k);
    }
  }
}
