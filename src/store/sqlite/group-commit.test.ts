import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GroupCommitter } from './group-commit.js';
import { isWharfError, WharfError } from '../../core/errors.js';

async function withDb(fn: (db: Database.Database, path: string) => Promise<void>): Promise<void> {
  const d = await mkdtemp(join(tmpdir(), 'wharf-gc-'));
  const path = join(d, 'g.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 50');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
  try {
    await fn(db, path);
  } finally {
    db.close();
    await rm(d, { recursive: true, force: true });
  }
}

describe('GroupCommitter', () => {
  it('runs queued operations in one transaction; a failing one rolls back alone', () =>
    withDb(async (db) => {
      const gc = new GroupCommitter(db);
      const after: string[] = [];
      const ins = (k: string) => gc.run((ctx) => {
        db.prepare('INSERT INTO t (k) VALUES (?)').run(k);
        ctx.afterCommit(() => after.push(k));
        return k;
      });
      const results = await Promise.allSettled([
        ins('a'),
        gc.run(() => {
          db.prepare('INSERT INTO t (k) VALUES (?)').run('b');
          throw new WharfError('WHARF_EXISTS', 'no');
        }),
        ins('c'),
        ins('a'), // primary key violation: only this one fails
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
      assert.ok(isWharfError((results[1] as PromiseRejectedResult).reason, 'WHARF_EXISTS'));
      assert.equal(gc.commits, 1);
      assert.equal(gc.ops, 4);
      assert.deepEqual((db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k), ['a', 'c']);
      assert.deepEqual(after, ['a', 'c']);
      await gc.drained();
    }));

  it('a busy database rejects the whole batch with WHARF_STORE_UNAVAILABLE', () =>
    withDb(async (db, path) => {
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      try {
        const gc = new GroupCommitter(db);
        const r = await Promise.allSettled([gc.run(() => 1), gc.run(() => 2)]);
        assert.ok(r.every((x) => x.status === 'rejected' && isWharfError(x.reason, 'WHARF_STORE_UNAVAILABLE')));
        assert.equal(gc.commits, 0);
        other.exec('ROLLBACK');
        assert.equal(await gc.run(() => 3), 3, 'works again once the lock is gone');
      } finally {
        if (other.inTransaction) other.exec('ROLLBACK');
        other.close();
      }
    }));

  it('later operations go to the next batch', () =>
    withDb(async (db) => {
      const gc = new GroupCommitter(db);
      await gc.run(() => db.prepare("INSERT INTO t VALUES ('x')").run());
      await gc.run(() => db.prepare("INSERT INTO t VALUES ('y')").run());
      assert.equal(gc.commits, 2);
    }));
  it('with sync: nothing resolves (nor any hook runs) before the sync; ops arriving during a sync share the next batch', () =>
    withDb(async (db) => {
      const syncs: (() => void)[] = [];
      let failNext = false;
      const gc = new GroupCommitter(db, undefined, () => {}, () =>
        new Promise<void>((resolve, reject) => syncs.push(() => (failNext ? reject(new Error('EIO')) : resolve()))),
      );
      const events: string[] = [];
      const ins = (k: string) =>
        gc.run((ctx) => {
          db.prepare('INSERT INTO t (k) VALUES (?)').run(k);
          ctx.afterCommit(() => events.push(`hook ${k}`));
          return k;
        }).then((v) => {
          events.push(`resolved ${v}`);
          return v;
        });
      const first = ins('a');
      await new Promise((r) => setImmediate(r));
      assert.equal(gc.commits, 1);
      assert.equal(syncs.length, 1, 'one sync after the first COMMIT');
      // committed (visible) but not durable: nothing said yet
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 1);
      const more = [ins('b'), ins('c'), ins('d')];
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(events, []);
      assert.equal(gc.commits, 1, 'no new batch while the sync runs');
      syncs.shift()!();
      assert.equal(await first, 'a');
      await new Promise((r) => setImmediate(r));
      assert.equal(gc.commits, 2, 'b, c and d went in one batch after the sync');
      assert.deepEqual(events, ['hook a', 'resolved a']);
      failNext = true;
      syncs.shift()!();
      const r = await Promise.allSettled(more);
      assert.ok(r.every((x) => x.status === 'rejected' && isWharfError(x.reason, 'WHARF_STORE_UNAVAILABLE')), 'a failed fsync fails the batch');
      assert.deepEqual(events, ['hook a', 'resolved a'], 'no hook for a batch whose sync failed');
      failNext = false;
      const last = ins('e');
      await new Promise((r) => setImmediate(r));
      syncs.shift()!();
      assert.equal(await last, 'e');
      await gc.drained();
      assert.equal(gc.syncs, 3);
    }));
});
