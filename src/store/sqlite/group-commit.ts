// Group commit for better-sqlite3 (which is synchronous): write operations are queued; on the
// next macrotask every queued operation runs inside one `BEGIN IMMEDIATE … COMMIT` — one fsync
// for the whole batch. Each operation runs in its own SAVEPOINT, so one that throws (e.g.
// WHARF_EXISTS) rolls back alone and rejects only its own promise. Promises resolve only once
// the batch is durable.
//
// Two ways to durability:
//  - without `sync`: the COMMIT itself fsyncs (synchronous = FULL), on the event loop thread;
//  - with `sync` (synchronous = NORMAL in WAL mode: COMMIT writes the WAL frames, no fsync): the
//    batch's promises wait for a `sync()` (an fsync of the WAL file on libuv's thread pool) that
//    STARTED after its COMMIT returned. The event loop never waits on the disk. While a sync
//    runs, operations queue up and go in the next batch, BEGUN when the sync is done: an
//    operation could not be durable sooner anyway (its own sync must start after its COMMIT),
//    and bigger batches write fewer WAL pages and fsyncs per operation. Checkpoints keep their
//    own fsyncs (SQLite does them in NORMAL).
//
// Invariants: an operation is a synchronous function (no await inside a transaction); at most one
// batch runs at a time; `afterCommit` hooks of an operation run only if its savepoint was kept,
// the batch committed and (with `sync`) is durable — watchers never hear of a change that a
// crash could undo; a failed COMMIT (or BEGIN: the database is busy beyond busy_timeout) or a
// failed sync rejects every operation of the batch.
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

interface Result {
  p: Pending;
  ok: boolean;
  value: unknown;
  hooks: (() => void)[];
}

export class GroupCommitter {
  /** Transactions committed (each covering one or more operations). */
  commits = 0;
  /** Operations run. */
  ops = 0;
  /** sync() calls made (each covering one or more committed batches). */
  syncs = 0;
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private idle: (() => void)[] = [];
  /** Committed batches waiting for a sync that has not started yet. */
  private unsynced: Result[][] = [];
  private syncing = false;
  /** A flush came while a sync ran: run it when the sync is done. */
  private flushAfterSync = false;

  constructor(
    private readonly db: Database.Database,
    private readonly onCommitted?: () => void,
    private readonly onError?: (err: unknown) => void,
    /** Makes every COMMIT returned so far durable (see the header); none = COMMIT is durable. */
    private readonly sync?: () => Promise<void>,
  ) {}

  run<T>(fn: (ctx: OpContext) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Resolves when nothing is queued (used by close()). */
  drained(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && !this.scheduled && !this.syncing && !this.flushAfterSync && this.unsynced.length === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const idle = this.idle.splice(0);
    for (const r of idle) r();
  }

  private flush(): void {
    this.scheduled = undefined;
    if (this.syncing) {
      this.flushAfterSync = true;
      return;
    }
    const batch = this.queue.splice(0, MAX_BATCH);
    if (this.queue.length > 0) this.scheduled = setImmediate(() => this.flush());
    if (batch.length > 0) this.runBatch(batch);
    this.checkIdle();
  }

  /** Starts a sync covering every batch committed so far, unless one runs (it chains). */
  private startSync(): void {
    if (this.syncing || this.unsynced.length === 0) return;
    const batches = this.unsynced.splice(0);
    this.syncing = true;
    this.syncs++;
    this.sync!().then(
      () => {
        this.syncing = false;
        for (const b of batches) this.settle(b, null);
        this.afterSync();
      },
      (err: unknown) => {
        this.syncing = false;
        this.onError?.(err);
        const e = new WharfError('WHARF_STORE_UNAVAILABLE', 'the database could not be made durable (fsync failed)', undefined, { cause: err });
        for (const b of batches) this.settle(b, e);
        this.afterSync();
      },
    );
  }

  private afterSync(): void {
    this.startSync();
    if (this.flushAfterSync && !this.syncing) {
      this.flushAfterSync = false;
      this.flush();
    }
    this.checkIdle();
  }

  /** After durability (or its failure, `failed`): hooks, then every promise of the batch. */
  private settle(results: Result[], failed: unknown): void {
    if (failed === null) {
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
    }
    for (const r of results) {
      if (failed !== null) r.p.reject(r.ok ? failed : r.value);
      else if (r.ok) r.p.resolve(r.value);
      else r.p.reject(r.value);
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
    const results: Result[] = [];
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
    if (!this.sync) {
      this.settle(results, null);
      return;
    }
    this.unsynced.push(results);
    this.startSync();
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
