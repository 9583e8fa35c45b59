import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { EventBus } from '../core/events.js';
import { silentLogger } from '../core/logger.js';
import { CacheStore } from './cache-store.js';
import type { CacheEntry } from './cache-store.js';
import { CacheSyncClient, CacheSyncServer, syncSocketPath } from './cache-sync.js';

async function put(s: CacheStore, url: string, body: string, reqHeaders: Record<string, string> = {}, resHeaders: Record<string, string> = { 'cache-control': 'max-age=60' }): Promise<CacheEntry | null> {
  const w = s.begin({ url, status: 200, statusMessage: 'OK', resHeaders, reqHeaders, requestTime: 1, responseTime: 1, initialAge: 0 });
  w.write(Buffer.from(body));
  return w.commit();
}

async function read(s: CacheStore, e: CacheEntry): Promise<string> {
  const b = s.body(e);
  if (Buffer.isBuffer(b)) return b.toString();
  const chunks: Buffer[] = [];
  for await (const c of b as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

/** A primary and two replicas on one folder, as a worker pool has them. */
async function trio(maxSize = 10_000) {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-sync-'));
  const logger = silentLogger();
  const primary = new CacheStore({ dir, maxSize, maxObjectSize: 5000, logger, role: 'primary' });
  await primary.open();
  const bus = new EventBus();
  const server = new CacheSyncServer(primary, bus, logger);
  await server.start(syncSocketPath(dir));
  const replicas: { store: CacheStore; client: CacheSyncClient; bus: EventBus }[] = [];
  for (let i = 0; i < 2; i++) {
    const store = new CacheStore({ dir, maxSize, maxObjectSize: 5000, logger, role: 'replica' });
    await store.open();
    const rbus = new EventBus();
    const client = new CacheSyncClient(store, rbus, logger);
    await client.connect(syncSocketPath(dir));
    replicas.push({ store, client, bus: rbus });
  }
  return {
    dir,
    bus,
    primary,
    a: replicas[0]!,
    b: replicas[1]!,
    async close() {
      for (const r of replicas) {
        await r.store.close();
        await r.client.close();
      }
      await server.stop();
      await primary.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('a response stored through one replica is found by the primary and the other replica', async () => {
  const t = await trio();
  try {
    const e = await put(t.a.store, 'http://o/x', 'from replica a');
    assert.ok(e);
    assert.ok(t.a.store.lookup('http://o/x', {}), 'at once in the process that stored it');
    await until('primary has it', () => t.primary.lookup('http://o/x', {}) !== undefined);
    await until('replica b has it', () => t.b.store.lookup('http://o/x', {}) !== undefined);
    assert.equal(await read(t.b.store, t.b.store.lookup('http://o/x', {})!), 'from replica a');
    assert.equal(t.primary.size, 'from replica a'.length, 'the primary counts it against maxSize');
    // and the other way: stored by the primary, seen by both replicas
    await put(t.primary, 'http://o/y', 'from the primary');
    await until('replicas have y', () => !!t.a.store.lookup('http://o/y', {}) && !!t.b.store.lookup('http://o/y', {}));
    assert.equal(await read(t.a.store, t.a.store.lookup('http://o/y', {})!), 'from the primary');
  } finally {
    await t.close();
  }
});

test('invalidation, 304 updates and replacement reach every process; synced() waits for them', async () => {
  const t = await trio();
  try {
    await put(t.primary, 'http://o/inv', 'old');
    await until('b has it', () => !!t.b.store.lookup('http://o/inv', {}));
    t.a.store.invalidate('http://o/inv');
    await t.a.store.synced();
    // the primary applied it and broadcast before acknowledging; b reads its socket next
    await until('b forgot it', () => t.b.store.lookup('http://o/inv', {}) === undefined);
    assert.equal(t.primary.lookup('http://o/inv', {}), undefined);
    // invalidation of a URL the replica's copy lacks still reaches the others
    const only = await put(t.primary, 'http://o/only', 'x');
    assert.ok(only);
    await until('a has it', () => !!t.a.store.lookup('http://o/only', {}));
    t.b.store.applyFromPrimary({ op: 'remove', ids: [only.id] }); // b's copy lost it
    t.b.store.invalidate('http://o/only');
    await t.b.store.synced();
    await until('a forgot it', () => t.a.store.lookup('http://o/only', {}) === undefined);
    // a 304 seen by replica b freshens the entry everywhere
    await put(t.primary, 'http://o/upd', 'body');
    await until('b has upd', () => !!t.b.store.lookup('http://o/upd', {}));
    const eb = t.b.store.lookup('http://o/upd', {})!;
    t.b.store.update(eb, { 'cache-control': 'max-age=999', etag: '"n"' }, 50, 51, 0);
    await until('primary updated', () => t.primary.lookup('http://o/upd', {})?.resHeaders['etag'] === '"n"');
    await until('a updated', () => t.a.store.lookup('http://o/upd', {})?.responseTime === 51);
    // a new response for the same variant, stored by a, replaces the one b knows
    const old = t.b.store.lookup('http://o/upd', {})!;
    const fresh = await put(t.a.store, 'http://o/upd', 'newer body');
    await until('b has the new one', () => t.b.store.lookup('http://o/upd', {})?.id === fresh!.id);
    assert.equal(t.primary.lookup('http://o/upd', {})?.id, fresh!.id);
    assert.notEqual(old.id, fresh!.id);
    assert.equal(t.primary.count, 1, 'upd replaced, not added (inv and only are gone)');
  } finally {
    await t.close();
  }
});

test('eviction is the primary\'s: replicas forget evicted entries; the body outlives the news', async () => {
  const t = await trio(100);
  try {
    const first = await put(t.a.store, 'http://o/1', 'a'.repeat(60));
    await until('primary has 1', () => !!t.primary.lookup('http://o/1', {}));
    await put(t.b.store, 'http://o/2', 'b'.repeat(60)); // 120 > 100: the primary evicts 1
    await until('a forgot 1', () => t.a.store.lookup('http://o/1', {}) === undefined);
    await until('b forgot 1', () => t.b.store.lookup('http://o/1', {}) === undefined);
    assert.equal(t.primary.lookup('http://o/1', {}), undefined);
    assert.ok(t.primary.size <= 100);
    // unlinked only after the grace period, so a replica that looked it up can still read it
    assert.ok(existsSync(join(t.dir, `${first!.id}.body`)));
  } finally {
    await t.close();
  }
});

test('replica hits and misses reach the primary\'s counters; a late replica gets the whole index', async () => {
  const t = await trio();
  try {
    await put(t.primary, 'http://o/h', 'hit me');
    await until('a has it', () => !!t.a.store.lookup('http://o/h', {}));
    const e = t.a.store.lookup('http://o/h', {})!;
    t.a.store.recordHit(e);
    t.a.store.recordHit(e);
    t.a.store.recordMiss();
    t.a.store.sendTouches();
    await until('counted', () => t.primary.hits === 2 && t.primary.misses === 1);
    assert.equal(t.primary.inspect(Date.now() / 1000).entries.find((x) => x.url === 'http://o/h')?.hits, 2);
    // a replica connecting later copies what is there
    const late = new CacheStore({ dir: t.dir, maxSize: 10_000, maxObjectSize: 5000, logger: silentLogger(), role: 'replica' });
    const client = new CacheSyncClient(late, new EventBus(), silentLogger());
    await client.connect(syncSocketPath(t.dir));
    try {
      assert.equal(await read(late, late.lookup('http://o/h', {})!), 'hit me');
    } finally {
      await late.close();
      await client.close();
    }
  } finally {
    await t.close();
  }
});

test('proxy-request events of a replica reach the primary\'s bus only while someone listens there', async () => {
  const t = await trio();
  try {
    const seen: unknown[] = [];
    t.a.bus.emit('proxy-request', { url: 'before' });
    const off = t.bus.on('proxy-request', (ev) => seen.push(ev));
    await until('replica told to forward', () => t.a.bus.listenerCount('proxy-request') > 0);
    t.a.bus.emit('proxy-request', { url: 'during' });
    await until('forwarded', () => seen.length === 1);
    assert.deepEqual(seen, [{ url: 'during' }]);
    off();
    await until('replica told to stop', () => t.a.bus.listenerCount('proxy-request') === 0);
  } finally {
    await t.close();
  }
});

test('syncSocketPath: beside the cache, or in the temp folder when the path would be too long', () => {
  assert.equal(syncSocketPath('/data/proxy-cache'), '/data/proxy-cache/sync.sock');
  const long = `/data/${'x'.repeat(120)}`;
  assert.match(syncSocketPath(long), /wharf-proxy-[0-9a-f]{20}\.sock$/);
  assert.equal(syncSocketPath(long), syncSocketPath(long));
});
