// Group commit for better-sqlite3 (which is synchronous): write operations are queued; on the
// next macrotask every queued operation runs inside one `BEGIN IMMEDIATE … COMMIT` — one fsync
// for the whole batch. Each operation runs in its own SAVEPOINT, so one that throws (e.g.
// WHARF_EXISTS) rolls back alone and rejects only its own promise. Promises resolve only after
// COMMIT returned, i.e. once the batch is durable (synchronous = FULL).
//
// Invariants: an operation is a synchronous function (no await inside a transaction); at most one
// batch runs at a time; `afterCommit` hooks of an operation run only if its savepoint was kept and
// the batch committed; a failed COMMIT (or BEGIN: the database is busy beyond busy_timeout)
// rejects every operation of the batch.
import type Database from 'better-sqlite3';
import { WharfError } from '../../core/errors.js';

/** Collected by an operation; run after the commit that made it durable. */
export interface OpContext {
  afterCommit(fn: () => void): void;
}

interface Pending {
  fn: (ctx: OpContext) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 1000;

export class GroupCommitter {
  /** Transactions committed (each covering one or more operations). */
  commits = 0;
  /** Operations run. */
  ops = 0;
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly onCommitted?: () => void,
    private readonly onError?: (err: unknown) => void,
  ) {}

  run<T>(fn: (ctx: OpContext) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Resolves when nothing is queued (used by close()). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private flush(): void {
    this.scheduled = undefined;
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) this.scheduled = setImmediate(() => this.flush());
    if (batch.length > 0) this.runBatch(batch);
    if (this.queue.length === 0 && !this.scheduled) {
      const idle = this.idle.splice(0);
      for (const r of idle) r();
    }
  }

  private runBatch(batch: Pending[]): void {
    const db = this.db;
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      const e = mapBusy(err);
      for (const p of batch) p.reject(e);
      this.onError?.(err);
      return;
    }
    const results: { p: Pending; ok: boolean; value: unknown; hooks: (() => void)[] }[] = [];
    for (const p of batch) {
      const hooks: (() => void)[] = [];
      const ctx: OpContext = { afterCommit: (fn) => hooks.push(fn) };
      db.exec('SAVEPOINT op');
      try {
        const value = p.fn(ctx);
        db.exec('RELEASE op');
        results.push({ p, ok: true, value, hooks });
      } catch (err) {
        try {
          db.exec('ROLLBACK TO op');
          db.exec('RELEASE op');
        } catch {
          // the whole transaction was rolled back by SQLite (e.g. SQLITE_FULL): nothing to undo
        }
        results.push({ p, ok: false, value: mapBusy(err), hooks: [] });
      }
      this.ops++;
    }
    try {
      if (!db.inTransaction) throw new WharfError('WHARF_STORE_UNAVAILABLE', 'the transaction was aborted by the database');
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // nothing more to do
        }
      }
      const e = mapBusy(err);
      for (const r of results) r.p.reject(r.ok ? e : r.value);
      this.onError?.(err);
      return;
    }
    this.commits++;
    for (const r of results) {
      for (const h of r.hooks) {
        try {
          h();
        } catch (err) {
          this.onError?.(err);
        }
      }
    }
    try {
      this.onCommitted?.();
    } catch (err) {
      this.onError?.(err);
    }
    for (const r of results) {
      if (r.ok) r.p.resolve(r.value);
      else r.p.reject(r.value);
    }
  }
}

/** SQLITE_BUSY / LOCKED after busy_timeout become WHARF_STORE_UNAVAILABLE; others pass through. */
export function mapBusy(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return new WharfError('WHARF_STORE_UNAVAILABLE', 'the database is busy', { sqlite: code }, { cause: err });
  }
  return err;
}
