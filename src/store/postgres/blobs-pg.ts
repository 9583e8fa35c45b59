// PgBlobStore: message bodies in PostgreSQL (store.blobs = "db"), content-addressed by hex
// SHA-256, so every node of a cluster reads every body without a shared filesystem.
//
// Layout: `blobs(id, size, chunks, created_at)` names a blob and the key of its chunks;
// `blob_chunks(key, seq, data)` holds the bytes in rows of at most `chunkSize` octets (1 MiB),
// so reading a range or streaming touches only the rows it needs and memory stays flat.
// Invariants:
//  - a blob is visible only when complete: its `blobs` row is inserted after (or in the same
//    transaction as) all its chunks; a streaming writer commits chunk rows one by one under a
//    random key (no transaction held open across the caller's network I/O) and the final
//    INSERT into `blobs` publishes them at once; abort() deletes them; chunks a crash left
//    without a blob row are swept after a day (sweep());
//  - same content, same id, stored once: INSERT … ON CONFLICT DO NOTHING on `blobs` waits for
//    a concurrent insert of the same id and then does nothing; the loser drops its chunks;
//  - ids are validated (64 lower-case hex digits) before any query.
// Durability: COMMIT with synchronous_commit on (the store's sessions) is durable.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { WharfError } from '../../core/errors.js';
import type { BlobStore, BlobWriter } from '../store.js';
import { checkout, mapError } from './session.js';

const ID_RE = /^[0-9a-f]{64}$/;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Chunks without a blob row older than this are leftovers of a crashed upload. */
const STALE_UPLOAD_MS = 24 * 3600_000;

function checkId(id: string): string {
  if (typeof id !== 'string' || !ID_RE.test(id)) throw new WharfError('WHARF_INVALID', `not a blob id: ${String(id).slice(0, 80)}`);
  return id;
}

function notFound(id: string): WharfError {
  return new WharfError('WHARF_NOT_FOUND', `no blob ${id}`);
}

export interface PgBlobStoreOptions {
  /** Octets per chunk row (default 1 MiB). */
  chunkSize?: number;
}

export class PgBlobStore implements BlobStore {
  readonly chunkSize: number;

  /** `pool()` gives the store's pool, whose sessions have search_path set to the schema. */
  constructor(
    private readonly pool: () => Pool,
    opts: PgBlobStoreOptions = {},
  ) {
    const c = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(c) || c < 1) throw new WharfError('WHARF_INVALID', `bad chunk size ${c}`);
    this.chunkSize = c;
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    let session;
    try {
      session = await checkout(this.pool());
    } catch (e) {
      throw mapError(e);
    }
    const c = session.client;
    let broken = false;
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw mapError(err);
    } finally {
      session.release(broken);
    }
  }

  /** One statement on the pool; driver errors mapped to WharfErrors. */
  private async q<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<R>> {
    try {
      return await this.pool().query<R>(sql, params);
    } catch (e) {
      throw mapError(e);
    }
  }

  private async meta(id: string): Promise<{ size: number; chunks: string } | null> {
    const r = await this.q<{ size: number; chunks: string }>('SELECT size, chunks FROM blobs WHERE id = $1', [checkId(id)]);
    return r.rows[0] ?? null;
  }

  async put(data: Buffer): Promise<{ id: string; size: number }> {
    const id = createHash('sha256').update(data).digest('hex');
    if ((await this.size(id)) === data.length) return { id, size: data.length };
    return this.tx(async (c) => {
      const now = Date.now();
      // the blob row first: a concurrent put of the same content waits here, then does nothing
      const ins = await c.query('INSERT INTO blobs (id, size, chunks, created_at) VALUES ($1, $2, $1, $3) ON CONFLICT (id) DO NOTHING RETURNING id', [id, data.length, now]);
      if (ins.rowCount === 0) return { id, size: data.length };
      for (let seq = 0, off = 0; off < data.length; seq++, off += this.chunkSize) {
        await c.query('INSERT INTO blob_chunks (key, seq, data, created_at) VALUES ($1, $2, $3, $4)', [id, seq, data.subarray(off, off + this.chunkSize), now]);
      }
      return { id, size: data.length };
    });
  }

  writer(): BlobWriter {
    return new PgBlobWriter((sql, params) => this.q(sql, params), this.chunkSize);
  }

  async get(id: string): Promise<Buffer> {
    const m = await this.meta(id);
    if (!m) throw notFound(id);
    const r = await this.q<{ data: Buffer }>('SELECT data FROM blob_chunks WHERE key = $1 ORDER BY seq', [m.chunks]);
    const out = Buffer.concat(r.rows.map((x) => x.data));
    if (out.length !== m.size) throw new WharfError('WHARF_STORE_UNAVAILABLE', `blob ${id} is damaged (${out.length} of ${m.size} octets)`);
    return out;
  }

  private checkRange(start: number, end: number | undefined): void {
    if (!Number.isInteger(start) || start < 0 || (end !== undefined && (!Number.isInteger(end) || end < 0))) {
      throw new WharfError('WHARF_INVALID', `bad range ${start}-${String(end)}`);
    }
  }

  /** Octets [start, stop) of the chunks under `key`, fetching only the rows that overlap. */
  private async slice(key: string, start: number, stop: number): Promise<Buffer> {
    if (stop <= start) return Buffer.alloc(0);
    const first = Math.floor(start / this.chunkSize);
    const last = Math.floor((stop - 1) / this.chunkSize);
    const r = await this.q<{ seq: number; data: Buffer }>('SELECT seq, data FROM blob_chunks WHERE key = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq', [key, first, last]);
    const parts: Buffer[] = [];
    for (const row of r.rows) {
      const base = row.seq * this.chunkSize;
      const from = Math.max(start - base, 0);
      const to = Math.min(stop - base, row.data.length);
      if (to > from) parts.push(row.data.subarray(from, to));
    }
    return Buffer.concat(parts);
  }

  async read(id: string, start: number, end?: number): Promise<Buffer> {
    this.checkRange(start, end);
    const m = await this.meta(id);
    if (!m) throw notFound(id);
    return this.slice(m.chunks, start, Math.min(end ?? m.size, m.size));
  }

  stream(id: string, range?: { start: number; end?: number }): NodeJS.ReadableStream {
    const self = this;
    const start = range?.start ?? 0;
    const end = range?.end;
    async function* chunks(): AsyncGenerator<Buffer> {
      self.checkRange(start, end);
      const m = await self.meta(id);
      if (!m) throw notFound(id);
      const stop = Math.min(end ?? m.size, m.size);
      // one chunk row per read: memory stays at one chunk whatever the blob's size
      for (let pos = start; pos < stop; ) {
        const next = Math.min((Math.floor(pos / self.chunkSize) + 1) * self.chunkSize, stop);
        const part = await self.slice(m.chunks, pos, next);
        if (part.length === 0) throw new WharfError('WHARF_STORE_UNAVAILABLE', `blob ${id} is damaged or was deleted while read`);
        yield part;
        pos += part.length;
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async size(id: string): Promise<number | null> {
    return (await this.meta(id))?.size ?? null;
  }

  async has(id: string): Promise<boolean> {
    return (await this.meta(id)) !== null;
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    await this.tx(async (c) => {
      const r = await c.query<{ chunks: string }>('DELETE FROM blobs WHERE id = $1 RETURNING chunks', [id]);
      const key = r.rows[0]?.chunks;
      if (key !== undefined) await c.query('DELETE FROM blob_chunks WHERE key = $1', [key]);
    });
  }

  async *list(): AsyncIterable<string> {
    let last = '';
    for (;;) {
      const r = await this.q<{ id: string }>('SELECT id FROM blobs WHERE id > $1 ORDER BY id COLLATE "C" LIMIT 1000', [last]);
      for (const row of r.rows) yield row.id;
      if (r.rows.length < 1000) return;
      last = r.rows[r.rows.length - 1]!.id;
    }
  }

  /** Removes chunks of uploads that never committed (a crash mid-write). Returns rows removed. */
  async sweep(olderThanMs = STALE_UPLOAD_MS): Promise<number> {
    const r = await this.q(
      'DELETE FROM blob_chunks c WHERE c.created_at < $1 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.chunks = c.key)',
      [Date.now() - olderThanMs],
    );
    return r.rowCount ?? 0;
  }
}

class PgBlobWriter implements BlobWriter {
  private readonly hash = createHash('sha256');
  private readonly key = `upload:${randomBytes(16).toString('hex')}`;
  private size = 0;
  private seq = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private done = false;
  private failed: unknown;
  /** Serialises writes so chunks land in call order even if not awaited. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly q: (sql: string, params: unknown[]) => Promise<QueryResult>,
    private readonly chunkSize: number,
  ) {}

  /** Writes full chunks (all that is buffered when `all`) as their own committed rows. */
  private async flush(all: boolean): Promise<void> {
    while (this.pendingLength >= this.chunkSize || (all && this.pendingLength > 0)) {
      const buf = Buffer.concat(this.pending, this.pendingLength);
      const n = Math.min(this.chunkSize, buf.length);
      const chunk = buf.subarray(0, n);
      const rest = buf.subarray(n);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingLength = rest.length;
      await this.q('INSERT INTO blob_chunks (key, seq, data, created_at) VALUES ($1, $2, $3, $4)', [this.key, this.seq++, chunk, Date.now()]);
    }
  }

  write(chunk: Buffer): Promise<void> {
    if (this.done) return Promise.reject(new WharfError('WHARF_INVALID', 'blob writer already finished'));
    const data = Buffer.from(chunk);
    const next = this.chain.then(async () => {
      if (this.failed !== undefined) throw this.failed;
      this.hash.update(data);
      this.size += data.length;
      this.pending.push(data);
      this.pendingLength += data.length;
      await this.flush(false);
    });
    this.chain = next.catch((err: unknown) => {
      this.failed ??= err;
    });
    return next;
  }

  async commit(): Promise<{ id: string; size: number }> {
    if (this.done) throw new WharfError('WHARF_INVALID', 'blob writer already finished');
    this.done = true;
    try {
      await this.chain;
      if (this.failed !== undefined) throw this.failed;
      await this.flush(true);
      const id = this.hash.digest('hex');
      const r = await this.q('INSERT INTO blobs (id, size, chunks, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING RETURNING id', [
        id,
        this.size,
        this.key,
        Date.now(),
      ]);
      // already stored: ours are surplus
      if (r.rowCount === 0) await this.cleanup();
      return { id, size: this.size };
    } catch (err) {
      await this.cleanup().catch(() => {});
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.done = true;
    await this.chain;
    this.pending = [];
    this.pendingLength = 0;
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    if (this.seq > 0) await this.q('DELETE FROM blob_chunks WHERE key = $1', [this.key]);
  }
}
