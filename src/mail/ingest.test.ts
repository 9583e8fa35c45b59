import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createMessageSink, createNormalizer, ingestBuffer } from './ingest.js';
import { messageMeta } from './meta.js';
import { FsBlobStore } from '../store/blobs-fs.js';
import { isWharfError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from '../store/store.js';

/** An in-memory BlobStore that records what happened (for abort / backpressure checks). */
class MemBlobs implements BlobStore {
  blobs = new Map<string, Buffer>();
  aborted = 0;
  open = 0;
  writeDelayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  async put(data: Buffer) {
    const id = createHash('sha256').update(data).digest('hex');
    this.blobs.set(id, Buffer.from(data));
    return { id, size: data.length };
  }
  writer(): BlobWriter {
    const parts: Buffer[] = [];
    this.open++;
    let closed = false;
    return {
      write: async (c: Buffer) => {
        if (closed) throw new Error('write after close');
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        if (this.writeDelayMs) await new Promise((r) => setTimeout(r, this.writeDelayMs));
        parts.push(Buffer.from(c));
        this.inFlight--;
      },
      commit: async () => {
        closed = true;
        this.open--;
        return this.put(Buffer.concat(parts));
      },
      abort: async () => {
        if (!closed) this.open--;
        closed = true;
        this.aborted++;
      },
    };
  }
  async get(id: string) {
    const b = this.blobs.get(id);
    if (!b) throw new Error('no blob');
    return b;
  }
  async read(id: string, start: number, end?: number) {
    return (await this.get(id)).subarray(start, end);
  }
  stream(id: string) {
    return Readable.from([this.blobs.get(id)!]);
  }
  async size(id: string) {
    return this.blobs.get(id)?.length ?? null;
  }
  async has(id: string) {
    return this.blobs.has(id);
  }
  async delete(id: string) {
    this.blobs.delete(id);
  }
  async *list() {
    yield* this.blobs.keys();
  }
}

function normalizeAll(chunks: Buffer[]): Buffer {
  const n = createNormalizer();
  return Buffer.concat([...chunks.map((c) => n.push(c)), n.flush()]);
}

function splitAt(b: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const c of [...cuts].sort((x, y) => x - y)) {
    out.push(b.subarray(last, c));
    last = c;
  }
  out.push(b.subarray(last));
  return out;
}

describe('normalizer', () => {
  const cases: [string, string][] = [
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb\r', 'a\r\nb\r\n'],
    ['\n\n', '\r\n\r\n'],
    ['\r\r\n\n\r', '\r\n\r\n\r\n\r\n'],
    ['x\r\n\r\ny', 'x\r\n\r\ny'],
    ['', ''],
    ['no line end', 'no line end'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} whole and in every split`, () => {
      const b = Buffer.from(input, 'latin1');
      assert.equal(normalizeAll([b]).toString('latin1'), want);
      for (let i = 0; i <= b.length; i++) {
        for (let j = i; j <= b.length; j++) {
          assert.equal(normalizeAll(splitAt(b, [i, j])).toString('latin1'), want, `cuts ${i},${j}`);
        }
      }
      assert.equal(normalizeAll([...b].map((x) => Buffer.from([x]))).toString('latin1'), want, 'byte by byte');
    });
  }

  it('random input: output has only CRLF pairs and matches a reference', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let t = 0; t < 200; t++) {
      const len = Math.floor(rnd() * 60);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = [0x0d, 0x0a, 0x61][Math.floor(rnd() * 3)]!;
      const ref = b.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
      const cuts = Array.from({ length: 3 }, () => Math.floor(rnd() * (len + 1)));
      assert.equal(normalizeAll(splitAt(b, cuts)).toString('latin1'), ref);
    }
  });
});

describe('createMessageSink', () => {
  const msg = 'From: alice@crepes.fr\nTo: bob@hamburger.edu\nSubject: hi\n\nHello Bob\n';
  const crlf = msg.replace(/\n/g, '\r\n');

  it('stores the normalised message and its metadata', async () => {
    const blobs = new MemBlobs();
    const sink = createMessageSink(blobs);
    for (const c of splitAt(Buffer.from(msg), [3, 20, 21, 45])) await sink.write(c);
    assert.equal(sink.bytes, crlf.length);
    assert.equal(sink.overflow, false);
    const r = await sink.commit();
    assert.equal(r.size, crlf.length);
    assert.equal((await blobs.get(r.blobId)).toString(), crlf);
    assert.deepEqual(r.meta, messageMeta(Buffer.from(crlf)));
    assert.equal(r.meta.size, r.size);
    assert.equal(r.meta.envelope.subject, 'hi');
    assert.equal(r.meta.headerEnd, crlf.indexOf('\r\n\r\n') + 4);
  });

  it('normalize: false stores octets as given', async () => {
    const blobs = new MemBlobs();
    const r = await ingestBuffer(blobs, Buffer.from(msg), { normalize: false });
    assert.equal((await blobs.get(r.blobId)).toString(), msg);
    assert.equal(r.meta.size, msg.length);
    assert.equal(r.meta.headerEnd, msg.indexOf('\n\n') + 2);
  });

  it('a CR at the end of the input becomes CRLF', async () => {
    const blobs = new MemBlobs();
    const r = await ingestBuffer(blobs, Buffer.from('Subject: x\r\n\r\nbody\r'));
    assert.equal((await blobs.get(r.blobId)).toString(), 'Subject: x\r\n\r\nbody\r\n');
    assert.equal(r.meta.size, r.size);
  });

  it('past maxSize: stops storing, keeps counting, commit throws WHARF_TOO_BIG, no blob left', async () => {
    const blobs = new MemBlobs();
    const sink = createMessageSink(blobs, { maxSize: 100 });
    await sink.write(Buffer.from('Subject: big\r\n\r\n'));
    assert.equal(sink.overflow, false);
    for (let i = 0; i < 10; i++) await sink.write(Buffer.alloc(50, 0x61));
    assert.equal(sink.overflow, true);
    assert.equal(sink.bytes, 16 + 500);
    await assert.rejects(sink.commit(), (e: unknown) => isWharfError(e, 'WHARF_TOO_BIG'));
    assert.equal(blobs.blobs.size, 0);
    assert.equal(blobs.open, 0);
    assert.equal(blobs.aborted, 1);
  });

  it('exactly maxSize is accepted', async () => {
    const blobs = new MemBlobs();
    const body = Buffer.from('Subject: x\r\n\r\n' + 'a'.repeat(86));
    assert.equal(body.length, 100);
    const r = await ingestBuffer(blobs, body, { maxSize: 100 });
    assert.equal(r.size, 100);
  });

  it('maxSize counts normalised octets (LF → CRLF grows the message)', async () => {
    const blobs = new MemBlobs();
    const body = Buffer.from('Subject: x\n\n' + 'a\n'.repeat(40)); // 92 octets, 134 normalised
    await assert.rejects(ingestBuffer(blobs, body, { maxSize: 100 }), (e: unknown) => isWharfError(e, 'WHARF_TOO_BIG'));
  });

  it('abort drops the blob', async () => {
    const blobs = new MemBlobs();
    const sink = createMessageSink(blobs);
    await sink.write(Buffer.from(crlf));
    await sink.abort();
    assert.equal(blobs.blobs.size, 0);
    assert.equal(blobs.open, 0);
    await assert.rejects(sink.write(Buffer.from('x')));
  });

  it('overlapping writes are applied in order, one at a time', async () => {
    const blobs = new MemBlobs();
    blobs.writeDelayMs = 2;
    const sink = createMessageSink(blobs);
    const chunks = splitAt(Buffer.from(crlf), [5, 10, 15, 30, 31, 50]);
    await Promise.all(chunks.map((c) => sink.write(c)));
    const r = await sink.commit();
    assert.equal((await blobs.get(r.blobId)).toString(), crlf);
    assert.equal(blobs.maxInFlight, 1);
  });

  it('a failing blob writer rejects the write and the commit', async () => {
    const blobs = new MemBlobs();
    const w = blobs.writer.bind(blobs);
    blobs.writer = () => {
      const real = w();
      return { ...real, write: async () => { throw new Error('disk full'); } };
    };
    const sink = createMessageSink(blobs);
    await assert.rejects(sink.write(Buffer.from(crlf)), /disk full/);
    await assert.rejects(sink.commit(), /disk full/);
    await sink.abort();
  });

  describe('with the filesystem blob store', () => {
    let dir: string;
    let fs: FsBlobStore;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'wharf-ingest-'));
      fs = new FsBlobStore(dir, { fsync: false });
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('streams a large message with flat memory and consistent metadata', async () => {
      const sink = createMessageSink(fs);
      await sink.write(Buffer.from('From: a@b.c\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n'));
      const line = Buffer.from('x'.repeat(75) + '\n');
      const block = Buffer.concat(Array.from({ length: 1000 }, () => line)); // 76 KB
      for (let i = 0; i < 40; i++) await sink.write(block); // ~3 MB
      await sink.write(Buffer.from('--b--\n'));
      const r = await sink.commit();
      const stored = await fs.get(r.blobId);
      assert.equal(stored.length, r.size);
      assert.deepEqual(r.meta, messageMeta(stored));
      assert.equal(r.meta.body.parts!.length, 1);
      // 40,000 lines, but the last LF belongs to the "--b--" delimiter (RFC 2046 §5.1.1).
      assert.equal(r.meta.body.parts![0]!.lines, 39_999);
    });

    it('overflow leaves no blob and no tmp file', async () => {
      const count = async () => {
        let n = 0;
        for await (const _ of fs.list()) n++;
        return n;
      };
      const before = await count();
      const sink = createMessageSink(fs, { maxSize: 10 });
      await sink.write(Buffer.from('Subject: far too long\r\n\r\n'));
      await assert.rejects(sink.commit(), (e: unknown) => isWharfError(e, 'WHARF_TOO_BIG'));
      assert.equal(await count(), before);
      assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    });
  });
});

describe('createMessageSink: metadata across random chunking and line ends', () => {
  it('sink meta equals the meta of the stored octets', async () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const src = 'From: a@b.test\nContent-Type: multipart/mixed; boundary=zz\r\n\n--zz\rContent-Type: text/plain\r\n\r\nline\nline\r\r\n--zz\n\nx\r--zz--\r\n';
    for (let t = 0; t < 60; t++) {
      const blobs = new MemBlobs();
      const sink = createMessageSink(blobs);
      const b = Buffer.from(src);
      let pos = 0;
      while (pos < b.length) {
        const n = 1 + Math.floor(rnd() * 8);
        await sink.write(b.subarray(pos, pos + n));
        pos += n;
      }
      const r = await sink.commit();
      const stored = await blobs.get(r.blobId);
      assert.equal(stored.toString('latin1'), src.replace(/\r\n|\r|\n/g, '\r\n'));
      assert.deepEqual(r.meta, messageMeta(stored));
      assert.equal(r.meta.body.parts!.length, 2);
    }
  });

  it('normalises LF-only input of many lines in linear time', () => {
    const n = createNormalizer();
    const chunk = Buffer.from('x'.repeat(20) + '\n').subarray(0);
    const big = Buffer.concat(Array.from({ length: 20000 }, () => chunk)); // 420 KB, no CR at all
    const t0 = Date.now();
    let total = 0;
    for (let i = 0; i < 10; i++) total += n.push(big).length;
    assert.equal(total, 10 * 20000 * 22);
    assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  });
});
