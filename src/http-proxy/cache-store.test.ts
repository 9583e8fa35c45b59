import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { silentLogger } from '../core/logger.js';
import { CacheStore } from './cache-store.js';
import type { CacheEntry } from './cache-store.js';
import type { HeaderMap } from './cache-policy.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'wharf-cache-'));
}

async function put(s: CacheStore, url: string, body: string, resHeaders: HeaderMap = { 'cache-control': 'max-age=60' }, reqHeaders: HeaderMap = {}): Promise<CacheEntry | null> {
  const w = s.begin({ url, status: 200, statusMessage: 'OK', resHeaders, reqHeaders, requestTime: 1, responseTime: 1, initialAge: 0 });
  for (let i = 0; i < body.length; i += 7) if (!w.write(Buffer.from(body.slice(i, i + 7)))) break;
  return w.commit();
}

async function read(s: CacheStore, e: CacheEntry, range?: { start: number; end: number }): Promise<string> {
  const b = s.body(e, range);
  if (Buffer.isBuffer(b)) return b.toString();
  const chunks: Buffer[] = [];
  for await (const c of b as Readable) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('store, look up, read back (memory and disk), range', async () => {
  const dir = tmp();
  try {
    const s = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 500, logger: silentLogger(), memObjectSize: 10 });
    await s.open();
    const small = await put(s, 'http://a/small', 'tiny');
    const large = await put(s, 'http://a/large', 'x'.repeat(100) + 'END');
    assert.ok(small && large);
    assert.equal(await read(s, s.lookup('http://a/small', {})!), 'tiny');
    assert.equal(await read(s, s.lookup('http://a/large', {})!), 'x'.repeat(100) + 'END');
    assert.equal(await read(s, large, { start: 100, end: 102 }), 'END');
    assert.equal(s.size, 4 + 103);
    assert.equal(s.lookup('http://a/none', {}), undefined);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('max_object_size: a larger body is not stored and leaves no file', async () => {
  const dir = tmp();
  try {
    const s = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 10, logger: silentLogger() });
    await s.open();
    assert.equal(await put(s, 'http://a/big', 'y'.repeat(50)), null);
    assert.equal(s.lookup('http://a/big', {}), undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.body') || f.endsWith('.tmp')), []);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LRU eviction keeps the total within max_size and evicts the least recently used', async () => {
  const dir = tmp();
  try {
    const s = new CacheStore({ dir, maxSize: 30, maxObjectSize: 30, logger: silentLogger() });
    await s.open();
    await put(s, 'http://a/1', '0123456789');
    await put(s, 'http://a/2', '0123456789');
    await put(s, 'http://a/3', '0123456789');
    s.lookup('http://a/1', {}); // 1 is now more recent than 2
    await put(s, 'http://a/4', '0123456789');
    assert.ok(s.size <= 30);
    assert.ok(s.lookup('http://a/1', {}));
    assert.equal(s.lookup('http://a/2', {}), undefined);
    assert.ok(s.lookup('http://a/3', {}));
    assert.ok(s.lookup('http://a/4', {}));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.body')).length, 3);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Vary variants: one entry per secondary key, replaced by a newer response', async () => {
  const dir = tmp();
  try {
    const s = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 100, logger: silentLogger() });
    await s.open();
    const h = { vary: 'Accept-Encoding', 'cache-control': 'max-age=60' };
    await put(s, 'http://a/v', 'gzip', h, { 'accept-encoding': 'gzip', cookie: 'not kept' });
    await put(s, 'http://a/v', 'plain', h, {});
    assert.equal(await read(s, s.lookup('http://a/v', { 'accept-encoding': 'gzip' })!), 'gzip');
    assert.equal(await read(s, s.lookup('http://a/v', {})!), 'plain');
    assert.equal(s.lookup('http://a/v', { 'accept-encoding': 'br' }), undefined);
    assert.equal(s.lookup('http://a/v', { 'accept-encoding': 'gzip' })!.reqHeaders['cookie'], undefined);
    await put(s, 'http://a/v', 'gzip2', h, { 'accept-encoding': 'gzip' });
    assert.equal(s.count, 2);
    assert.equal(await read(s, s.lookup('http://a/v', { 'accept-encoding': 'gzip' })!), 'gzip2');
    assert.equal(s.invalidate('http://a/v'), 2);
    assert.equal(s.hasUrl('http://a/v'), false);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restart: the index survives; a missing or truncated body and orphan files are dropped', async () => {
  const dir = tmp();
  try {
    const s = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 100, logger: silentLogger() });
    await s.open();
    await put(s, 'http://a/keep', 'kept body');
    const gone = (await put(s, 'http://a/gone', 'gone body'))!;
    const cut = (await put(s, 'http://a/cut', 'cut body'))!;
    await s.close();
    rmSync(join(dir, `${gone.id}.body`));
    writeFileSync(join(dir, `${cut.id}.body`), 'cu');
    writeFileSync(join(dir, 'deadbeef.body'), 'orphan');
    writeFileSync(join(dir, 'cafe.tmp'), 'half');
    const s2 = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 100, logger: silentLogger() });
    await s2.open();
    assert.equal(await read(s2, s2.lookup('http://a/keep', {})!), 'kept body');
    assert.equal(s2.lookup('http://a/gone', {}), undefined);
    assert.equal(s2.lookup('http://a/cut', {}), undefined);
    assert.equal(s2.count, 1);
    const files = readdirSync(dir);
    assert.ok(!files.includes('deadbeef.body') && !files.includes('cafe.tmp'), files.join(' '));
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a garbage index is ignored', async () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'index.json'), '{not json');
    const s = new CacheStore({ dir, maxSize: 1000, maxObjectSize: 100, logger: silentLogger() });
    await s.open();
    assert.equal(s.count, 0);
    await put(s, 'http://a/x', 'x');
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
