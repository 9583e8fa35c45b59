// The SQLite engine: the shared store contract on a temp file, plus what only SQLite has
// (group commit, several processes on one file, the schema version, the INBOX rename rule).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { storeContract } from './contract.js';
import { SqliteStore } from './sqlite/index.js';
import { FsBlobStore } from './blobs-fs.js';
import { SCHEMA_VERSION } from './sqlite/schema.js';
import { isWharfError } from '../core/errors.js';
import type { Store } from './store.js';
import { openStore } from './open.js';
import { silentLogger } from '../core/logger.js';
import type { Config } from '../config/schema.js';
import { existsSync } from 'node:fs';

const dirs = new Map<Store, string>();

async function makeStore(dir?: string): Promise<SqliteStore> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'wharf-sqlite-')));
  const s = new SqliteStore({ path: join(d, 'wharf.db'), blobs: new FsBlobStore(join(d, 'blobs'), { fsync: true }), fsync: true });
  await s.init();
  if (!dir) dirs.set(s, d);
  return s;
}

async function removeStoreDir(s: Store): Promise<void> {
  const d = dirs.get(s);
  dirs.delete(s);
  if (d) await rm(d, { recursive: true, force: true });
}

storeContract('sqlite', () => makeStore(), removeStoreDir);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('sqlite engine', () => {
  let dir: string;
  let s: SqliteStore;
  let inboxId: number;
  let accountId: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-sqlite-'));
    s = await makeStore(dir);
    await s.addDomain('hamburger.edu');
    const a = await s.addAccount({ address: 'bob@hamburger.edu', passwordHash: 'x' });
    accountId = a.id;
    inboxId = (await s.getMailbox(a.id, 'INBOX'))!.id;
  });
  after(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('group commit: 50 concurrent appends share commits and get distinct ascending UIDs', async () => {
    const blob = await s.blobs.put(Buffer.from('group commit'));
    const before = s.commits;
    const results = await Promise.all(Array.from({ length: 50 }, () => s.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null })));
    const used = s.commits - before;
    const uids = results.map((r) => r.uid);
    assert.equal(new Set(uids).size, 50);
    assert.deepEqual(uids, [...uids].sort((a, b) => a - b), 'UIDs ascend in call order');
    assert.equal(uids[49]! - uids[0]!, 49);
    const modseqs = results.map((r) => r.modseq);
    assert.ok(modseqs.every((m, i) => i === 0 || m > modseqs[i - 1]!));
    assert.ok(used >= 1 && used <= 2, `50 appends took ${used} commits`);
    assert.equal((await s.listMessages(inboxId)).length, 50);
  });

  it('fsync: COMMIT leaves the fsync to the thread pool (synchronous = NORMAL); writes resolve after a WAL fsync, shared', async () => {
    // the store's own connection: NORMAL (1) in WAL mode, not FULL (2) — the fsync is ours
    const own = (s as unknown as { db: Database.Database }).db;
    assert.equal(own.pragma('synchronous', { simple: true }), 1);
    assert.equal(own.pragma('journal_mode', { simple: true }), 'wal');
    const blob = await s.blobs.put(Buffer.from('sync'));
    const syncs = s.syncs;
    await s.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
    assert.equal(s.syncs - syncs, 1, 'one fsync of the WAL before the write resolved');
    const before = s.syncs;
    await Promise.all(Array.from({ length: 20 }, () => s.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null })));
    assert.ok(s.syncs - before <= 2, `20 concurrent appends took ${s.syncs - before} fsyncs`);
    const mem = new SqliteStore({ path: ':memory:', blobs: s.blobs, fsync: true });
    await mem.init();
    try {
      assert.equal((mem as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true }), 2, 'no WAL file: FULL');
    } finally {
      await mem.close();
    }
  });

  it('group commit: a failing operation rolls back alone', async () => {
    const before = s.commits;
    const [ok1, bad, ok2] = await Promise.allSettled([
      s.createMailbox(accountId, 'One'),
      s.createMailbox(accountId, 'INBOX'),
      s.createMailbox(accountId, 'Two'),
    ]);
    assert.equal(ok1.status, 'fulfilled');
    assert.equal(ok2.status, 'fulfilled');
    assert.equal(bad.status, 'rejected');
    assert.ok(isWharfError((bad as PromiseRejectedResult).reason, 'WHARF_EXISTS'));
    assert.equal(s.commits - before, 1);
    assert.ok(await s.getMailbox(accountId, 'One'));
    assert.ok(await s.getMailbox(accountId, 'Two'));
    // deliver is all or none even when batched with other work
    const blob = await s.blobs.put(Buffer.from('x'));
    const m = { blobId: blob.id, size: blob.size, meta: null };
    const n = (await s.listMessages(inboxId)).length;
    const [d1, d2] = await Promise.allSettled([s.deliver([{ mailboxId: inboxId, message: m }, { mailboxId: 424242, message: m }]), s.appendMessage(inboxId, m)]);
    assert.equal(d1.status, 'rejected');
    assert.equal(d2.status, 'fulfilled');
    assert.equal((await s.listMessages(inboxId)).length, n + 1);
  });

  it('durability settings: WAL, synchronous FULL, foreign keys, schema version', () => {
    const db = new Database(join(dir, 'wharf.db'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('a second process on the same file: watch fires, queue claims never overlap', async () => {
    const other = await makeStore(dir);
    try {
      const seen: number[] = [];
      const zones: string[] = [];
      const off = s.watch(inboxId, (ev) => seen.push(ev.mailboxId));
      const offZ = s.watchZones((z) => zones.push(z));
      const blob = await other.blobs.put(Buffer.from('from the other process'));
      const r = await other.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
      await other.putZone('crepes.fr', 'zone', 1);
      const t0 = Date.now();
      while ((seen.length === 0 || zones.length === 0) && Date.now() - t0 < 3000) await sleep(20);
      off();
      offZ();
      assert.deepEqual(seen, [inboxId]);
      assert.deepEqual(zones, ['crepes.fr.']);
      assert.ok((await s.getMessages(inboxId, [r.uid])).length === 1);

      for (let i = 0; i < 20; i++) await s.enqueue({ sender: 'a@b.c', blobId: blob.id, size: blob.size, recipients: [{ address: `r@d${i}.example` }] });
      const claims = await Promise.all([s.claimJobs('A', 7, 60_000), other.claimJobs('B', 7, 60_000), s.claimJobs('C', 7, 60_000), other.claimJobs('D', 7, 60_000)]);
      const ids = claims.flat().map((j) => j.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
      // leases across processes
      assert.equal(await s.acquireLease('pop3:bob', 'p1', 60_000), true);
      assert.equal(await other.acquireLease('pop3:bob', 'p2', 60_000), false);
    } finally {
      await other.close();
    }
  });

  it('two stores initialising one new file at once both succeed', async () => {
    const d = await mkdtemp(join(tmpdir(), 'wharf-sqlite-'));
    const mk = () => new SqliteStore({ path: join(d, 'x.db'), blobs: new FsBlobStore(join(d, 'blobs'), { fsync: false }), fsync: false });
    const a = mk();
    const b = mk();
    try {
      await Promise.all([a.init(), b.init()]);
      await a.addDomain('one.example');
      assert.equal((await b.getDomain('ONE.example'))?.name, 'one.example');
    } finally {
      await a.close();
      await b.close();
      await rm(d, { recursive: true, force: true });
    }
  });

  it('UIDVALIDITY keeps growing across restarts', async () => {
    const first = await s.createMailbox(accountId, 'Volatile');
    await s.deleteMailbox(first.id);
    await s.close();
    s = await makeStore(dir);
    const again = await s.createMailbox(accountId, 'Volatile');
    assert.ok(again.uidValidity > first.uidValidity);
    // data survived the reopen
    assert.ok((await s.listMessages(inboxId)).length > 50);
  });

  it('renaming INBOX moves its messages and leaves an empty INBOX (RFC 3501 §6.3.5)', async () => {
    const a = await s.addAccount({ address: 'carol@hamburger.edu', passwordHash: 'x' });
    const inbox = (await s.getMailbox(a.id, 'INBOX'))!;
    const child = await s.createMailbox(a.id, 'INBOX/Child');
    const blob = await s.blobs.put(Buffer.from('old mail'));
    await s.appendMessage(inbox.id, { blobId: blob.id, size: blob.size, meta: null });
    await s.renameMailbox(inbox.id, 'Old');
    const old = (await s.getMailbox(a.id, 'Old'))!;
    assert.equal(old.id, inbox.id);
    assert.equal(old.uidValidity, inbox.uidValidity);
    assert.equal((await s.listMessages(old.id)).length, 1);
    const fresh = (await s.getMailbox(a.id, 'inbox'))!;
    assert.notEqual(fresh.id, inbox.id);
    assert.ok(fresh.uidValidity > inbox.uidValidity);
    assert.deepEqual(await s.listMessages(fresh.id), []);
    assert.equal((await s.getMailboxById(child.id))?.name, 'INBOX/Child');
    assert.equal((await s.getMailbox(a.id, 'inbox/Child'))?.id, child.id);
  });

  it('refuses to delete INBOX or rename a mailbox into itself', async () => {
    await assert.rejects(s.deleteMailbox(inboxId), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
    const m = await s.createMailbox(accountId, 'Parent');
    await assert.rejects(s.renameMailbox(m.id, 'Parent/Sub'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
  });

  it('after close, calls reject WHARF_STORE_UNAVAILABLE', async () => {
    const d = await mkdtemp(join(tmpdir(), 'wharf-sqlite-'));
    const t = await makeStore(d);
    await t.close();
    await assert.rejects(t.getDomain('x'), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
    await assert.rejects(t.addDomain('x'), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
    await rm(d, { recursive: true, force: true });
  });
});

describe('openStore', () => {
  const base: Config['store'] = { engine: 'sqlite', path: '', url: 'postgres://127.0.0.1:5432/test', schema: 'public', pool_size: 2, blobs: 'auto', fsync: false };

  it('sqlite: <data>/wharf.db and <data>/blobs, initialised', async () => {
    const d = await mkdtemp(join(tmpdir(), 'wharf-open-'));
    try {
      const s = await openStore({ config: base, dataDir: d, logger: silentLogger(), fsync: false });
      try {
        assert.equal(s.engine, 'sqlite');
        assert.ok(s instanceof SqliteStore);
        assert.equal(s.path, join(d, 'wharf.db'));
        await s.addDomain('open.example');
        const b = await s.blobs.put(Buffer.from('body'));
        assert.ok(existsSync(join(d, 'blobs', b.id.slice(0, 2), b.id.slice(2, 4), b.id)));
        assert.ok(existsSync(join(d, 'wharf.db')));
      } finally {
        await s.close();
      }
      const s2 = await openStore({ config: { ...base, path: 'sub/other.db', blobs: 'fs' }, dataDir: d, logger: silentLogger(), fsync: false });
      assert.equal((s2 as SqliteStore).path, join(d, 'sub', 'other.db'));
      assert.equal(await s2.getDomain('open.example'), null, 'a different file');
      await s2.close();
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('sqlite with blobs = "db" is a config error', async () => {
    await assert.rejects(
      openStore({ config: { ...base, blobs: 'db' }, dataDir: tmpdir(), logger: silentLogger(), fsync: false }),
      (e: unknown) => isWharfError(e, 'WHARF_CONFIG_INVALID') && (e.details as { key?: string }).key === 'store.blobs',
    );
  });

  it('postgres: a bad URL fails to open (the engine is loaded on demand), not hang or half-open', async () => {
    const d = await mkdtemp(join(tmpdir(), 'wharf-open-'));
    try {
      await assert.rejects(
        openStore({ config: { ...base, engine: 'postgres', url: 'postgres://127.0.0.1:1/none' }, dataDir: d, logger: silentLogger(), fsync: false }),
        (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'),
      );
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
