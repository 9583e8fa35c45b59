// The PostgreSQL engine: the shared store contract against the local server (a fresh schema per
// store, dropped afterwards), with bodies in the database and on the filesystem, plus what only
// a shared database has: several instances (nodes) on one schema — concurrent init, queue claims
// that never overlap, UIDs that never collide, LISTEN/NOTIFY reaching another instance's
// watchers — and the chunked PgBlobStore.
//
// PostgreSQL must be reachable at WHARF_TEST_PG_URL (default postgres://127.0.0.1:5432/test):
// when it is not, these tests FAIL; set WHARF_SKIP_PG=1 to skip them on purpose.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { storeContract } from './contract.js';
import { applicationName, PostgresStore, PgBlobStore, withDefaultUser } from './postgres/index.js';
import { SCHEMA_VERSION } from './postgres/schema.js';
import { FsBlobStore } from './blobs-fs.js';
import { openStore } from './open.js';
import { isWharfError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import type { Config } from '../config/schema.js';
import type { Store } from './store.js';

const URL_ = process.env['WHARF_TEST_PG_URL'] || 'postgres://127.0.0.1:5432/test';
const SKIP = process.env['WHARF_SKIP_PG'] === '1';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function newSchema(): string {
  return `wharf_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: withDefaultUser(URL_) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

async function schemaExists(schema: string): Promise<boolean> {
  return admin(async (c) => (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1);
}

/** Store → its schema and temp dir, for cleanup. */
const made = new Map<Store, { schema: string; dir?: string }>();

async function makeStore(blobs: 'db' | 'fs', schema = newSchema(), extra: { blobChunkSize?: number; fsync?: boolean } = {}): Promise<PostgresStore> {
  let dir: string | undefined;
  let b: FsBlobStore | 'db' = 'db';
  if (blobs === 'fs') {
    dir = await mkdtemp(join(tmpdir(), 'wharf-pg-blobs-'));
    b = new FsBlobStore(dir, { fsync: false });
  }
  const s = new PostgresStore({ url: URL_, schema, poolSize: 4, blobs: b, fsync: extra.fsync ?? true, logger: silentLogger(), ...(extra.blobChunkSize ? { blobChunkSize: extra.blobChunkSize } : {}) });
  made.set(s, { schema, ...(dir ? { dir } : {}) });
  try {
    await s.init();
  } catch (e) {
    await s.close();
    await cleanup(s);
    throw e;
  }
  return s;
}

async function cleanup(s: Store): Promise<void> {
  const m = made.get(s);
  if (!m) return;
  made.delete(s);
  await dropSchema(m.schema);
  if (m.dir) await rm(m.dir, { recursive: true, force: true });
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

if (SKIP) {
  it('postgres store tests', { skip: 'WHARF_SKIP_PG=1' }, () => {});
} else {
  storeContract('postgres (blobs in the database)', () => makeStore('db'), cleanup);
  storeContract('postgres (blobs on the filesystem)', () => makeStore('fs'), cleanup);

  describe('postgres engine: several instances on one schema', () => {
    const schema = newSchema();
    let a: PostgresStore;
    let b: PostgresStore;
    let inboxId: number;
    let accountId: number;

    before(async () => {
      // several nodes starting at once on a schema that does not exist yet
      const stores = [0, 1, 2].map(() => new PostgresStore({ url: URL_, schema, poolSize: 4, blobs: 'db', fsync: true, logger: silentLogger() }));
      const results = await Promise.allSettled(stores.map((s) => s.init()));
      a = stores[0]!;
      b = stores[1]!;
      await stores[2]!.close();
      for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
      await a.addDomain('hamburger.edu');
      const acc = await a.addAccount({ address: 'bob@hamburger.edu', passwordHash: 'x' });
      accountId = acc.id;
      inboxId = (await b.getMailbox(acc.id, 'INBOX'))!.id;
    });

    after(async () => {
      await a?.close();
      await b?.close();
      await dropSchema(schema);
    });

    it('concurrent init applied each migration exactly once', async () => {
      const rows = await admin(async (c) => (await c.query(`SELECT version FROM "${schema}".wharf_migrations ORDER BY version`)).rows as { version: number }[]);
      assert.deepEqual(
        rows.map((r) => r.version),
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
      );
      // and a later init is a no-op that keeps data
      await b.init();
      assert.equal((await a.getDomain('HAMBURGER.edu'))?.name, 'hamburger.edu');
    });

    it('sessions use the schema and commit durably', async () => {
      const info = await a.sessionInfo();
      assert.equal(info.synchronousCommit, 'on');
      assert.match(info.searchPath, new RegExp(schema));
      assert.equal(info.listening, true);
    });

    it('claimJobs from two instances at once never hands out one job twice', async () => {
      const blob = await a.blobs.put(Buffer.from('queued for the race'));
      const ids: number[] = [];
      for (let i = 0; i < 24; i++) ids.push(await (i % 2 ? a : b).enqueue({ sender: 'alice@crepes.fr', blobId: blob.id, size: blob.size, recipients: [{ address: `r${i}@d${i}.example` }] }));
      const now = new Date(Date.now() + 1000);
      const got = { A: [] as number[], B: [] as number[] };
      async function worker(s: PostgresStore, owner: 'A' | 'B'): Promise<void> {
        for (;;) {
          const jobs = await s.claimJobs(owner, 3, 60_000, now);
          if (jobs.length === 0) return;
          for (const j of jobs) got[owner].push(j.id);
        }
      }
      await Promise.all([worker(a, 'A'), worker(b, 'B'), worker(a, 'A'), worker(b, 'B')]);
      const all = [...got.A, ...got.B];
      assert.equal(all.length, 24, 'every job claimed');
      assert.equal(new Set(all).size, 24, 'no job claimed twice');
      assert.ok(got.A.length > 0 && got.B.length > 0, `both instances got work (A ${got.A.length}, B ${got.B.length})`);
      // the lease is visible from the other instance; the non-owner cannot finish it
      const jobA = got.A[0]!;
      const q = (await b.listQueue()).find((m) => m.jobs.some((j) => j.id === jobA))!;
      assert.equal(q.jobs[0]!.leasedBy, 'A');
      await assert.rejects(b.finishJob(jobA, 'B', [], new Date()), (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'));
      for (const id of ids) await a.deleteQueueMessage(id);
    });

    it('appends from two instances to one mailbox get distinct, gap-free UIDs and MODSEQs', async () => {
      const blob = await a.blobs.put(Buffer.from('race body'));
      const before = (await a.getMailboxById(inboxId))!;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: { i } })));
      const uids = results.map((r) => r.uid).sort((x, y) => x - y);
      assert.deepEqual(
        uids,
        Array.from({ length: 20 }, (_, i) => before.uidNext + i),
      );
      assert.equal(new Set(results.map((r) => r.modseq)).size, 20);
      const box = (await b.getMailboxById(inboxId))!;
      assert.equal(box.uidNext, before.uidNext + 20);
      assert.equal(box.highestModseq, Math.max(...results.map((r) => r.modseq)));
    });

    it('a change through one instance reaches the other\'s watcher within 1 s', async () => {
      const seen: number[] = [];
      const every: number[] = [];
      const off1 = a.watch(inboxId, (ev) => seen.push(ev.mailboxId));
      const off2 = a.watch(null, (ev) => every.push(ev.mailboxId));
      try {
        const blob = await b.blobs.put(Buffer.from('notify me'));
        const t0 = Date.now();
        await b.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
        await until(() => seen.length >= 1 && every.includes(inboxId), 1000, 'NOTIFY from the other instance');
        assert.ok(Date.now() - t0 < 1000);
        assert.deepEqual([...new Set(seen)], [inboxId]);
        // a flag change and a rolled-back write: only the committed one is announced
        const n = seen.length;
        await b.updateFlags(inboxId, [1], 'add', ['\\Seen']);
        await until(() => seen.length > n, 1000, 'NOTIFY on flags');
        await sleep(150); // let any late announcement of the committed changes arrive first
        const m = seen.length;
        await assert.rejects(b.deliver([{ mailboxId: inboxId, message: { blobId: blob.id, size: blob.size, meta: null } }, { mailboxId: 999999, message: { blobId: blob.id, size: blob.size, meta: null } }]));
        await sleep(150);
        assert.equal(seen.length, m, 'no announcement for a transaction that rolled back');
      } finally {
        off1();
        off2();
      }
    });

    it('watchZones hears zone changes made by the other instance', async () => {
      const seen: string[] = [];
      const off = a.watchZones((z) => seen.push(z));
      try {
        await b.putZone('Crepes.FR', 'x', 1);
        await until(() => seen.includes('crepes.fr.'), 1000, 'zone NOTIFY');
        await b.deleteZone('crepes.fr');
        await until(() => seen.filter((z) => z === 'crepes.fr.').length >= 2, 1000, 'zone delete NOTIFY');
      } finally {
        off();
      }
    });

    it('the watcher survives a lost LISTEN connection', async () => {
      const seen: number[] = [];
      const off = a.watch(inboxId, (ev) => seen.push(ev.mailboxId));
      try {
        const killed = await admin(
          async (c) => (
              await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND query = $2', [
                applicationName(schema),
                `LISTEN "wharf_${schema}"`,
              ])
            ).rowCount,
        );
        assert.ok((killed ?? 0) >= 1, 'found the LISTEN sessions');
        // the reconnect announces the watched mailbox (a NOTIFY may have been missed)
        await until(() => seen.length >= 1, 3000, 'announcement after reconnect');
        const info = await a.sessionInfo();
        assert.equal(info.listening, true);
        const n = seen.length;
        const blob = await b.blobs.put(Buffer.from('after reconnect'));
        await b.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
        await until(() => seen.length > n, 2000, 'NOTIFY after reconnect');
      } finally {
        off();
      }
    });

    it('a backend killed mid-transaction fails that call (STORE_UNAVAILABLE) and the pool recovers', async () => {
      const blob = await a.blobs.put(Buffer.from('killed'));
      const holder = new pg.Client({ connectionString: withDefaultUser(URL_) });
      await holder.connect();
      try {
        // hold the mailbox row so the append waits on its lock
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM "${schema}".mailboxes WHERE id = $1 FOR UPDATE`, [inboxId]);
        const p = a.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
        const outcome = p.then(
          () => null,
          (e: unknown) => e,
        );
        let killed = 0;
        for (let i = 0; i < 200 && killed === 0; i++) {
          await sleep(10);
          const r = await admin((c) =>
            c.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND wait_event_type = 'Lock' AND query LIKE '%UPDATE mailboxes SET uid_next%'",
              [applicationName(schema)],
            ),
          );
          killed = r.rowCount ?? 0;
        }
        assert.equal(killed, 1, 'found the waiting backend');
        const e = await outcome;
        assert.ok(isWharfError(e, 'WHARF_STORE_UNAVAILABLE'), `got ${String(e)}`);
      } finally {
        await holder.query('ROLLBACK').catch(() => {});
        await holder.end();
      }
      // the next calls work (a fresh connection replaces the dead one)
      for (let i = 0; i < 6; i++) await a.appendMessage(inboxId, { blobId: blob.id, size: blob.size, meta: null });
    });

    it('a transaction chosen as a deadlock victim is retried and succeeds', async () => {
      const x = await a.createMailbox(accountId, 'DeadX');
      const y = await a.createMailbox(accountId, 'DeadY');
      const blob = await a.blobs.put(Buffer.from('deadlock'));
      await a.appendMessage(x.id, { blobId: blob.id, size: blob.size, meta: null });
      const other = new pg.Client({ connectionString: withDefaultUser(URL_) });
      await other.connect();
      try {
        // the other session holds Y; the move locks X (lower id) then waits for Y
        await other.query('BEGIN');
        await other.query(`SELECT 1 FROM "${schema}".mailboxes WHERE id = $1 FOR UPDATE`, [y.id]);
        const move = a.moveMessages(x.id, [1], y.id);
        for (let i = 0; i < 200; i++) {
          const r = await admin((c) =>
            c.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [applicationName(schema)]),
          );
          if (r.rowCount) break;
          await sleep(10);
        }
        // now the other session wants X: a cycle. The move waited first, so its deadlock check
        // (deadlock_timeout) fires first and it is the victim (40P01): it must be retried.
        await other.query(`SELECT 1 FROM "${schema}".mailboxes WHERE id = $1 FOR UPDATE`, [x.id]);
        await other.query('ROLLBACK');
        const r = await move;
        assert.deepEqual(r.pairs, [[1, 1]]);
        assert.deepEqual((await a.listMessages(y.id)).map((m) => m.uid), [1]);
        assert.deepEqual(await a.listMessages(x.id), []);
      } finally {
        await other.query('ROLLBACK').catch(() => {});
        await other.end();
      }
    });

    it('leases and address creation are exclusive across instances', async () => {
      const results = await Promise.all(['1', '2', '3', '4', '5', '6'].map((o, i) => (i % 2 ? a : b).acquireLease('pop3:bob', o, 10_000)));
      assert.equal(results.filter(Boolean).length, 1);
      const adds = await Promise.allSettled([
        a.addAccount({ address: 'same@hamburger.edu', passwordHash: 'x' }),
        b.addAlias('SAME@hamburger.edu', accountId),
        b.addAccount({ address: 'Same@Hamburger.edu', passwordHash: 'y' }),
      ]);
      assert.equal(adds.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of adds) if (r.status === 'rejected') assert.ok(isWharfError(r.reason, 'WHARF_EXISTS'), String(r.reason));
    });

    it('creating one mailbox name from two instances at once: one wins, one gets EXISTS', async () => {
      const r = await Promise.allSettled([a.createMailbox(accountId, 'Race'), b.createMailbox(accountId, 'Race')]);
      assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1);
      const bad = r.find((x) => x.status === 'rejected') as PromiseRejectedResult;
      assert.ok(isWharfError(bad.reason, 'WHARF_EXISTS'));
    });

    it('MOVE in opposite directions at once does not deadlock', async () => {
      const x = await a.createMailbox(accountId, 'X');
      const y = await a.createMailbox(accountId, 'Y');
      const blob = await a.blobs.put(Buffer.from('ping-pong'));
      for (let i = 0; i < 5; i++) {
        await a.appendMessage(x.id, { blobId: blob.id, size: blob.size, meta: null });
        await a.appendMessage(y.id, { blobId: blob.id, size: blob.size, meta: null });
      }
      const moves = [];
      for (let i = 1; i <= 5; i++) {
        moves.push(a.moveMessages(x.id, [i], y.id));
        moves.push(b.moveMessages(y.id, [i], x.id));
      }
      await Promise.all(moves);
      const total = (await a.listMessages(x.id)).length + (await a.listMessages(y.id)).length;
      assert.equal(total, 10);
    });
  });

  describe('postgres engine: mailbox rules and restarts', () => {
    const schema = newSchema();
    let s: PostgresStore;
    let accountId: number;
    before(async () => {
      s = await makeStore('db', schema);
      await s.addDomain('hamburger.edu');
      accountId = (await s.addAccount({ address: 'bob@hamburger.edu', passwordHash: 'x' })).id;
    });
    after(async () => {
      await s?.close();
      await dropSchema(schema);
    });

    it('renaming INBOX moves its messages and leaves an empty INBOX (RFC 3501 §6.3.5)', async () => {
      const a = await s.addAccount({ address: 'carol@hamburger.edu', passwordHash: 'x' });
      const inbox = (await s.getMailbox(a.id, 'INBOX'))!;
      const child = await s.createMailbox(a.id, 'INBOX/Child');
      const blob = await s.blobs.put(Buffer.from('old mail'));
      await s.appendMessage(inbox.id, { blobId: blob.id, size: blob.size, meta: null });
      const seen: number[] = [];
      const off = s.watch(null, (ev) => seen.push(ev.mailboxId));
      await s.renameMailbox(inbox.id, 'Old');
      off();
      const old = (await s.getMailbox(a.id, 'Old'))!;
      assert.equal(old.id, inbox.id);
      assert.equal(old.uidValidity, inbox.uidValidity);
      assert.equal((await s.listMessages(old.id)).length, 1);
      const fresh = (await s.getMailbox(a.id, 'inbox'))!;
      assert.notEqual(fresh.id, inbox.id);
      assert.ok(fresh.uidValidity > inbox.uidValidity);
      assert.equal(fresh.subscribed, true);
      assert.deepEqual(await s.listMessages(fresh.id), []);
      assert.equal((await s.getMailboxById(child.id))?.name, 'INBOX/Child');
      assert.equal((await s.getMailbox(a.id, 'inbox/Child'))?.id, child.id);
      assert.deepEqual([...new Set(seen)].sort((x, y) => x - y), [inbox.id, fresh.id].sort((x, y) => x - y));
    });

    it('refuses to delete INBOX or rename a mailbox into itself', async () => {
      const inbox = (await s.getMailbox(accountId, 'INBOX'))!;
      await assert.rejects(s.deleteMailbox(inbox.id), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
      const m = await s.createMailbox(accountId, 'Parent');
      await assert.rejects(s.renameMailbox(m.id, 'Parent/Sub'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
      assert.equal((await s.getMailboxById(m.id))?.name, 'Parent');
    });

    it('UIDVALIDITY keeps growing across restarts; data survives', async () => {
      const first = await s.createMailbox(accountId, 'Volatile');
      await s.deleteMailbox(first.id);
      await s.close();
      s = new PostgresStore({ url: URL_, schema, poolSize: 2, blobs: 'db', fsync: true });
      await s.init();
      const again = await s.createMailbox(accountId, 'Volatile');
      assert.ok(again.uidValidity > first.uidValidity);
      assert.ok(await s.getAccount('BOB@hamburger.edu'));
      assert.ok((await s.blobs.get(sha256(Buffer.from('old mail')))).equals(Buffer.from('old mail')));
    });

    it('a schema from a newer Wharf is refused', async () => {
      await admin((c) => c.query(`INSERT INTO "${schema}".wharf_migrations (version, applied_at) VALUES ($1, 0)`, [SCHEMA_VERSION + 1]));
      const t = new PostgresStore({ url: URL_, schema, poolSize: 1, blobs: 'db', fsync: true });
      try {
        await assert.rejects(t.init(), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE') && /newer/.test(e.message));
      } finally {
        await t.close();
        await admin((c) => c.query(`DELETE FROM "${schema}".wharf_migrations WHERE version = $1`, [SCHEMA_VERSION + 1]));
      }
    });
  });

  describe('postgres engine: configuration and failures', () => {
    it('fsync = false turns synchronous_commit off for the store\'s sessions', async () => {
      const s = await makeStore('db', newSchema(), { fsync: false });
      try {
        assert.equal((await s.sessionInfo()).synchronousCommit, 'off');
      } finally {
        await s.close();
        await cleanup(s);
      }
    });

    it('refuses a schema name that is not a plain identifier', () => {
      for (const bad of ['', 'a b', 'x"; DROP SCHEMA public; --', '1abc', 'a'.repeat(64)]) {
        assert.throws(
          () => new PostgresStore({ url: URL_, schema: bad, poolSize: 1, blobs: 'db', fsync: true }),
          (e: unknown) => isWharfError(e, 'WHARF_CONFIG_INVALID'),
        );
      }
    });

    it('init fails with WHARF_STORE_UNAVAILABLE when the server cannot be reached', async () => {
      const s = new PostgresStore({ url: 'postgres://127.0.0.1:1/test', schema: 'wharf_unreachable', poolSize: 1, blobs: 'db', fsync: true });
      await assert.rejects(s.init(), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
      await s.close();
      await assert.rejects(s.getDomain('x'), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
    });

    it('calls before init() and after close() reject WHARF_STORE_UNAVAILABLE', async () => {
      const s = new PostgresStore({ url: URL_, schema: newSchema(), poolSize: 1, blobs: 'db', fsync: true });
      await assert.rejects(s.listDomains(), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
      await assert.rejects(s.blobs.get('0'.repeat(64)), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
      await s.close();
      await assert.rejects(s.addDomain('x.example'), (e: unknown) => isWharfError(e, 'WHARF_STORE_UNAVAILABLE'));
    });

    it('openStore builds the postgres engine from the config (blobs auto = db, fs = files)', async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'wharf-pg-open-'));
      const schema = newSchema();
      const base: Config['store'] = { engine: 'postgres', path: '', url: URL_, schema, pool_size: 2, blobs: 'auto', fsync: true };
      try {
        const s = await openStore({ config: base, dataDir, logger: silentLogger(), fsync: true });
        assert.equal(s.engine, 'postgres');
        assert.ok(s.blobs instanceof PgBlobStore);
        await s.addDomain('open.example');
        await s.close();
        assert.ok(await schemaExists(schema));
        const f = await openStore({ config: { ...base, blobs: 'fs' }, dataDir, logger: silentLogger(), fsync: true });
        assert.ok(f.blobs instanceof FsBlobStore);
        assert.equal((await f.getDomain('OPEN.example'))?.name, 'open.example');
        await f.close();
      } finally {
        await dropSchema(schema);
        await rm(dataDir, { recursive: true, force: true });
      }
    });

    it('a 2.5 MiB body goes through the writer in 1 MiB rows and streams back', async () => {
      const s = await makeStore('db');
      try {
        const big = randomBytes(2.5 * 1024 * 1024);
        const w = s.blobs.writer();
        for (let i = 0; i < big.length; i += 64 * 1024) await w.write(big.subarray(i, i + 64 * 1024));
        const r = await w.commit();
        assert.deepEqual(r, { id: sha256(big), size: big.length });
        const rows = await admin(async (c) => (await c.query(`SELECT length(data)::int AS n FROM "${s.schema}".blob_chunks ORDER BY seq`)).rows.map((x: { n: number }) => x.n));
        assert.deepEqual(rows, [1048576, 1048576, 524288]);
        const h = createHash('sha256');
        let n = 0;
        for await (const c of s.blobs.stream(r.id)) {
          h.update(c as Buffer);
          n++;
        }
        assert.equal(h.digest('hex'), r.id);
        assert.equal(n, 3);
        assert.ok((await s.blobs.read(r.id, 1048570, 1048590)).equals(big.subarray(1048570, 1048590)));
      } finally {
        await s.close();
        await cleanup(s);
      }
    });

    it('bad input maps to WHARF_INVALID, not a driver error', async () => {
      const s = await makeStore('db');
      try {
        await assert.rejects(s.addDomain('nul\x00.example'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
        await assert.rejects(s.setSetting('k', 'v\x00'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
        await assert.rejects(s.putZone('z.example', 'x', -1), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
        assert.equal(await s.getMailboxById(Number.NaN), null);
        assert.deepEqual(await s.getMessages(1.5, [1]), []);
      } finally {
        await s.close();
        await cleanup(s);
      }
    });
  });

  describe('PgBlobStore: chunked bodies', () => {
    let s: PostgresStore;
    const chunk = 100;
    before(async () => {
      s = await makeStore('db', newSchema(), { blobChunkSize: chunk });
    });
    after(async () => {
      await s?.close();
      if (s) await cleanup(s);
    });

    const data = Buffer.from(Array.from({ length: 1050 }, (_, i) => i % 251));

    it('put splits into chunk rows; get, read and stream cross chunk boundaries', async () => {
      const r = await s.blobs.put(data);
      assert.deepEqual(r, { id: sha256(data), size: data.length });
      const rows = await admin(async (c) => (await c.query(`SELECT count(*)::int AS n, max(length(data))::int AS m FROM "${s.schema}".blob_chunks WHERE key = $1`, [r.id])).rows[0] as { n: number; m: number });
      assert.deepEqual(rows, { n: 11, m: chunk });
      assert.ok((await s.blobs.get(r.id)).equals(data));
      for (const [from, to] of [
        [0, 1],
        [99, 101],
        [100, 200],
        [150, 1050],
        [1049, 1050],
        [0, 1050],
        [500, 500],
        [1000, 5000],
      ] as const) {
        assert.ok((await s.blobs.read(r.id, from, to)).equals(data.subarray(from, to)), `read ${from}-${to}`);
        const parts: Buffer[] = [];
        for await (const c of s.blobs.stream(r.id, { start: from, end: to })) parts.push(c as Buffer);
        assert.ok(Buffer.concat(parts).equals(data.subarray(from, to)), `stream ${from}-${to}`);
        assert.ok(parts.every((p) => p.length <= chunk), 'stream yields at most one chunk at a time');
      }
      assert.ok((await s.blobs.read(r.id, 2000)).length === 0);
      await assert.rejects(s.blobs.read(r.id, -1), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
    });

    it('the writer streams chunk by chunk; same content dedupes with put; abort leaves nothing', async () => {
      const w = s.blobs.writer();
      for (let i = 0; i < data.length; i += 37) await w.write(data.subarray(i, i + 37));
      assert.deepEqual(await w.commit(), { id: sha256(data), size: data.length });
      assert.ok((await s.blobs.get(sha256(data))).equals(data));
      const other = randomBytes(333);
      const w2 = s.blobs.writer();
      void w2.write(other.subarray(0, 150));
      void w2.write(other.subarray(150));
      const r2 = await w2.commit();
      assert.equal(r2.id, sha256(other));
      assert.ok((await s.blobs.get(r2.id)).equals(other));
      const w3 = s.blobs.writer();
      await w3.write(randomBytes(450));
      await w3.abort();
      await assert.rejects(w3.write(Buffer.from('late')), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
      // only committed blobs own chunk rows: nothing of the aborted or duplicate uploads is left
      const orphans = await admin(
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM "${s.schema}".blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM "${s.schema}".blobs b WHERE b.chunks = c.key)`)).rows[0] as { n: number },
      );
      assert.equal(orphans.n, 0);
    });

    it('concurrent puts of the same content store it once', async () => {
      const body = randomBytes(420);
      const rs = await Promise.all([s.blobs.put(body), s.blobs.put(body), s.blobs.put(body)]);
      assert.ok(rs.every((r) => r.id === sha256(body)));
      const n = await admin(async (c) => (await c.query(`SELECT count(*)::int AS n FROM "${s.schema}".blob_chunks WHERE key = $1`, [sha256(body)])).rows[0] as { n: number });
      assert.equal(n.n, 5);
      assert.ok((await s.blobs.get(sha256(body))).equals(body));
    });

    it('missing blobs: get/read/stream reject NOT_FOUND, size null; bad ids refused', async () => {
      const missing = 'f'.repeat(64);
      await assert.rejects(s.blobs.get(missing), (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'));
      await assert.rejects(s.blobs.read(missing, 0, 1), (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'));
      await assert.rejects(
        (async () => {
          for await (const _ of s.blobs.stream(missing)) void _;
        })(),
        (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'),
      );
      assert.equal(await s.blobs.size(missing), null);
      await assert.rejects(s.blobs.get('../etc/passwd'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
      await s.blobs.delete(missing);
    });

    it('sweep removes chunks of uploads that never committed', async () => {
      await admin((c) => c.query(`INSERT INTO "${s.schema}".blob_chunks (key, seq, data, created_at) VALUES ('upload:crashed', 0, '\\x00', 0)`));
      const pb = s.blobs as PgBlobStore;
      assert.equal(await pb.sweep(), 1);
      assert.equal(await pb.sweep(), 0);
    });

    it('list pages through every id in order', async () => {
      const ids: string[] = [];
      for await (const id of s.blobs.list()) ids.push(id);
      assert.deepEqual(ids, [...ids].sort());
      assert.ok(ids.includes(sha256(data)));
      await s.blobs.delete(sha256(data));
      const after: string[] = [];
      for await (const id of s.blobs.list()) after.push(id);
      assert.ok(!after.includes(sha256(data)));
      assert.equal(after.length, ids.length - 1);
    });
  });
}
