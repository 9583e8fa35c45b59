// Login throttling: slows down password guessing without locking anyone out. Failures are
// counted per client address and per account name over a sliding window; after `freeAttempts`
// failures, each further failure is answered only after a delay that doubles up to maxDelay.
// A success clears the account's and the address's record. Memory is bounded (oldest forgotten).
export interface ThrottleOptions {
  freeAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
  /** Most keys remembered (addresses + accounts). */
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  failures: number[];
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly opts: ThrottleOptions) {
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  private count(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    const since = this.now() - this.opts.windowMs;
    while (e.failures.length && e.failures[0]! < since) e.failures.shift();
    if (!e.failures.length) this.entries.delete(key);
    return e.failures.length;
  }

  /** Milliseconds to wait before answering the next failed attempt from `ip` for `account`. */
  delayFor(ip: string, account: string): number {
    const n = Math.max(this.count(`ip:${ip}`), this.count(`acct:${account.toLowerCase()}`));
    if (n === 0) return 0;
    const over = n - this.opts.freeAttempts;
    if (over < 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(over, 30));
  }

  /** Records a failure; returns the delay to apply before answering it. */
  failure(ip: string, account: string): number {
    for (const key of [`ip:${ip}`, `acct:${account.toLowerCase()}`]) {
      let e = this.entries.get(key);
      if (!e) {
        if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
        e = { failures: [] };
        this.entries.set(key, e);
      }
      e.failures.push(this.now());
      if (e.failures.length > 64) e.failures.shift();
    }
    return this.delayFor(ip, account) ;
  }

  success(ip: string, account: string): void {
    this.entries.delete(`ip:${ip}`);
    this.entries.delete(`acct:${account.toLowerCase()}`);
  }
}
