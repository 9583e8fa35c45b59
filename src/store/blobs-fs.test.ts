import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from './blobs-fs.js';
import { isWharfError } from '../core/errors.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

describe('FsBlobStore', () => {
  let dir: string;
  let blobs: FsBlobStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wharf-blobs-'));
    blobs = new FsBlobStore(dir, { fsync: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('put stores by SHA-256 under ab/cd/<id>, once', async () => {
    const data = Buffer.from('Hello, Bob\r\n');
    const r = await blobs.put(data);
    assert.deepEqual(r, { id: sha(data), size: data.length });
    const p = join(dir, r.id.slice(0, 2), r.id.slice(2, 4), r.id);
    const st1 = await stat(p);
    assert.equal(st1.size, data.length);
    const r2 = await blobs.put(Buffer.from(data));
    assert.deepEqual(r2, r);
    const st2 = await stat(p);
    assert.equal(st2.ino, st1.ino, 'the second put wrote nothing');
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  it('get/read/size/has/stream', async () => {
    const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const { id } = await blobs.put(data);
    assert.ok((await blobs.get(id)).equals(data));
    assert.equal((await blobs.read(id, 0, 3)).toString(), 'abc');
    assert.equal((await blobs.read(id, 23)).toString(), 'xyz');
    assert.equal((await blobs.read(id, 20, 1000)).toString(), 'uvwxyz');
    assert.equal((await blobs.read(id, 30)).length, 0);
    assert.equal((await blobs.read(id, 5, 5)).length, 0);
    assert.equal(await blobs.size(id), 26);
    assert.equal(await blobs.has(id), true);
    assert.equal((await collect(blobs.stream(id))).toString(), data.toString());
    assert.equal((await collect(blobs.stream(id, { start: 2, end: 5 }))).toString(), 'cde');
    assert.equal((await collect(blobs.stream(id, { start: 24 }))).toString(), 'yz');
    assert.equal((await collect(blobs.stream(id, { start: 4, end: 4 }))).length, 0);
  });

  it('missing blobs: null/false, get and read reject NOT_FOUND', async () => {
    const id = sha('not stored');
    assert.equal(await blobs.size(id), null);
    assert.equal(await blobs.has(id), false);
    await assert.rejects(blobs.get(id), (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'));
    await assert.rejects(blobs.read(id, 0, 1), (e: unknown) => isWharfError(e, 'WHARF_NOT_FOUND'));
    await blobs.delete(id); // deleting a missing blob is not an error
    assert.equal(await blobs.has(id), false);
  });

  it('refuses ids that are not hex SHA-256 (no path traversal)', async () => {
    for (const bad of ['../../etc/passwd', 'ABC', sha('x').toUpperCase(), sha('x') + '0', '']) {
      await assert.rejects(blobs.get(bad), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
      await assert.rejects(blobs.has(bad), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
    }
    assert.throws(() => blobs.stream('../x'), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
    await assert.rejects(blobs.read(sha('x'), -1), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
  });

  it('writer streams, hashes as it goes and dedups', async () => {
    const w = blobs.writer();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const h = createHash('sha256');
    for (let i = 0; i < 40; i++) {
      await w.write(chunk);
      h.update(chunk);
    }
    const r = await w.commit();
    assert.equal(r.id, h.digest('hex'));
    assert.equal(r.size, 40 * 64 * 1024);
    assert.equal(await blobs.size(r.id), r.size);
    // un-awaited writes keep their order
    const w2 = blobs.writer();
    void w2.write(Buffer.from('one '));
    void w2.write(Buffer.from('two '));
    void w2.write(Buffer.from('three'));
    const r2 = await w2.commit();
    assert.equal((await blobs.get(r2.id)).toString(), 'one two three');
    // same content as an existing blob
    const w3 = blobs.writer();
    await w3.write(Buffer.from('one two three'));
    assert.deepEqual(await w3.commit(), r2);
    await assert.rejects(w3.write(Buffer.from('late')), (e: unknown) => isWharfError(e, 'WHARF_INVALID'));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  it('writer: held while small, then streamed; un-awaited writes across the switch keep their order; abort after the switch leaves nothing', async () => {
    const parts = [Buffer.alloc(1000, 0x31), Buffer.alloc(63 * 1024, 0x32), Buffer.alloc(5000, 0x33), Buffer.from('end')];
    const w = blobs.writer();
    for (const p of parts) void w.write(p);
    const r = await w.commit();
    const all = Buffer.concat(parts);
    assert.deepEqual(r, { id: sha(all), size: all.length });
    assert.ok((await blobs.get(r.id)).equals(all));
    const w2 = blobs.writer();
    await w2.write(Buffer.alloc(70 * 1024, 0x34));
    await w2.abort();
    assert.equal(await blobs.has(sha(Buffer.alloc(70 * 1024, 0x34))), false);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  it('writer with nothing written commits the empty blob', async () => {
    const w = blobs.writer();
    const r = await w.commit();
    assert.deepEqual(r, { id: sha(''), size: 0 });
    assert.equal((await blobs.get(r.id)).length, 0);
  });

  it('abort leaves nothing behind', async () => {
    const w = blobs.writer();
    await w.write(Buffer.from('partial content'));
    await w.abort();
    assert.equal(await blobs.has(sha('partial content')), false);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  it('list yields every id, delete removes', async () => {
    const a = await blobs.put(Buffer.from('list-a'));
    const b = await blobs.put(Buffer.from('list-b'));
    const ids: string[] = [];
    for await (const id of blobs.list()) ids.push(id);
    assert.ok(ids.includes(a.id) && ids.includes(b.id));
    assert.ok(ids.every((id) => /^[0-9a-f]{64}$/.test(id)));
    assert.equal(new Set(ids).size, ids.length);
    await blobs.delete(a.id);
    const after: string[] = [];
    for await (const id of blobs.list()) after.push(id);
    assert.ok(!after.includes(a.id) && after.includes(b.id));
  });

  it('sweeps stale tmp files at start-up, keeps fresh ones', async () => {
    const d = await mkdtemp(join(tmpdir(), 'wharf-blobs-'));
    try {
      await mkdir(join(d, 'tmp'));
      await writeFile(join(d, 'tmp', 'stale'), 'x');
      const old = new Date(Date.now() - 3_600_000);
      await utimes(join(d, 'tmp', 'stale'), old, old);
      await writeFile(join(d, 'tmp', 'fresh'), 'y');
      const s = new FsBlobStore(d, { fsync: false });
      await s.put(Buffer.from('z'));
      assert.deepEqual((await readdir(join(d, 'tmp'))).sort(), ['fresh']);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('concurrent puts of the same content agree', async () => {
    const data = Buffer.from('same bytes, many writers');
    const rs = await Promise.all(Array.from({ length: 10 }, () => blobs.put(data)));
    assert.ok(rs.every((r) => r.id === sha(data)));
    assert.ok((await blobs.get(sha(data))).equals(data));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });
});
