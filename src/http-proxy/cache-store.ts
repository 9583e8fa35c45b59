// Storage of the proxy cache: an in-memory index of stored responses (URL -> variants), bodies
// in files under one folder, the index persisted as JSON next to them so that a restart keeps
// the cache. Least recently used entries are evicted to keep the bodies within maxSize.
// Small bodies are also kept in memory (bounded) so that hits avoid the disk.
//
// Invariants
//  - An entry is in the index only once its body file is complete (written to "<id>.tmp",
//    renamed to "<id>.body" at commit). A body larger than maxObjectSize is never committed.
//  - The sum of committed entry sizes stays <= maxSize (eviction before insertion).
//  - One entry per (URL, secondary key): a new response for the same variant replaces the old.
//  - At open(), index entries whose body is missing or of another size are dropped, and body
//    files the index does not name are deleted.
//  - A reader holding an evicted body keeps reading it (unlink of an open file on POSIX).
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { varyKey, varyMatches, varyNames } from './cache-policy.js';
import type { HeaderMap } from './cache-policy.js';

export interface CacheEntry {
  id: string;
  url: string;
  /** Secondary key (RFC 9111 §4.1): varyKey of the request's nominated fields. */
  variant: string;
  status: number;
  statusMessage: string;
  resHeaders: HeaderMap;
  /** The request's values of the fields the response varies on. */
  reqHeaders: HeaderMap;
  requestTime: number;
  responseTime: number;
  initialAge: number;
  size: number;
  /** Last use, ms since the epoch (LRU order is kept by the map; this survives restarts). */
  usedAt: number;
}

export interface CacheStoreOptions {
  dir: string;
  maxSize: number;
  maxObjectSize: number;
  logger: Logger;
  /** Bodies up to this size are also kept in memory (default 256 KiB). */
  memObjectSize?: number;
  /** Total memory for such bodies (default 64 MiB). */
  memSize?: number;
}

const INDEX = 'index.json';

export class CacheStore {
  /** id -> entry, in LRU order (first = least recently used). */
  private readonly lru = new Map<string, CacheEntry>();
  private readonly byUrl = new Map<string, CacheEntry[]>();
  private readonly mem = new Map<string, Buffer>();
  private memBytes = 0;
  private total = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly memObjectSize: number;
  private readonly memSize: number;

  constructor(private readonly opts: CacheStoreOptions) {
    this.memObjectSize = opts.memObjectSize ?? 256 * 1024;
    this.memSize = opts.memSize ?? 64 * 1024 * 1024;
  }

  get size(): number {
    return this.total;
  }
  get count(): number {
    return this.lru.size;
  }
  get maxObjectSize(): number {
    return this.opts.maxObjectSize;
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.opts.dir, { recursive: true });
    let entries: CacheEntry[] = [];
    try {
      const parsed = JSON.parse(await fsp.readFile(join(this.opts.dir, INDEX), 'utf8')) as { version?: number; entries?: CacheEntry[] };
      if (parsed.version === 1 && Array.isArray(parsed.entries)) entries = parsed.entries;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger.warn('proxy cache index unreadable, starting empty', { err });
    }
    entries.sort((a, b) => a.usedAt - b.usedAt);
    const files = new Set(await fsp.readdir(this.opts.dir));
    for (const e of entries) {
      if (typeof e.id !== 'string' || !/^[0-9a-f]+$/.test(e.id) || !files.has(`${e.id}.body`)) continue;
      const st = await fsp.stat(this.bodyPath(e.id)).catch(() => null);
      if (!st || st.size !== e.size) continue;
      if (this.total + e.size > this.opts.maxSize) continue;
      this.insert(e);
    }
    // Orphans: bodies not in the index, unfinished temporary files.
    for (const f of files) {
      if (f === INDEX) continue;
      const id = f.replace(/\.(body|tmp)$/, '');
      if (f.endsWith('.tmp') || (f.endsWith('.body') && !this.lru.has(id)) || f.endsWith('.json.tmp')) {
        await fsp.unlink(join(this.opts.dir, f)).catch(() => undefined);
      }
    }
    if (entries.length !== this.lru.size) this.scheduleSave();
  }

  /**
   * The stored response for a request (RFC 9111 §4.1: the URL and, when the response has Vary,
   * the nominated request fields). The most recent matching entry wins. Marks it used.
   */
  lookup(url: string, reqHeaders: HeaderMap): CacheEntry | undefined {
    const list = this.byUrl.get(url);
    if (!list) return undefined;
    let best: CacheEntry | undefined;
    for (const e of list) {
      if (!varyMatches(e.resHeaders, e.reqHeaders, reqHeaders)) continue;
      if (!best || e.responseTime > best.responseTime) best = e;
    }
    if (best) this.touch(best);
    return best;
  }

  /** True when any variant of the URL is stored (for Cache-Status fwd=vary-miss vs uri-miss). */
  hasUrl(url: string): boolean {
    return this.byUrl.has(url);
  }

  /** The body of an entry: a Buffer when held in memory, else a file stream (optionally a byte range). */
  body(e: CacheEntry, range?: { start: number; end: number }): Buffer | Readable {
    const b = this.mem.get(e.id);
    if (b) return range ? b.subarray(range.start, range.end + 1) : b;
    return createReadStream(this.bodyPath(e.id), range ? { start: range.start, end: range.end } : {});
  }

  /** Starts storing a response; write the body with the writer, then commit() or abort(). */
  begin(meta: Omit<CacheEntry, 'id' | 'size' | 'usedAt' | 'variant' | 'reqHeaders'> & { reqHeaders: HeaderMap }): CacheWriter {
    const names = varyNames(meta.resHeaders);
    const reqHeaders: HeaderMap = {};
    for (const n of names) if (meta.reqHeaders[n] !== undefined) reqHeaders[n] = meta.reqHeaders[n];
    const entry: CacheEntry = { ...meta, reqHeaders, variant: varyKey(names, meta.reqHeaders), id: randomBytes(12).toString('hex'), size: 0, usedAt: Date.now() };
    return new CacheWriter(this, entry, this.tmpPath(entry.id));
  }

  /** Replaces the stored headers after a 304 (RFC 9111 §4.3.4). */
  update(e: CacheEntry, resHeaders: HeaderMap, requestTime: number, responseTime: number, initialAge: number): void {
    e.resHeaders = resHeaders;
    e.requestTime = requestTime;
    e.responseTime = responseTime;
    e.initialAge = initialAge;
    this.touch(e);
    this.scheduleSave();
  }

  /** Drops every stored response for a URL (RFC 9111 §4.4). Returns how many were dropped. */
  invalidate(url: string): number {
    const list = this.byUrl.get(url);
    if (!list) return 0;
    const n = list.length;
    for (const e of [...list]) this.remove(e);
    this.scheduleSave();
    return n;
  }

  /** Removes one entry (e.g. its body could not be read). */
  drop(e: CacheEntry): void {
    if (this.lru.get(e.id) !== e) return;
    this.remove(e);
    this.scheduleSave();
  }

  /** Called by CacheWriter when a body is complete on disk. */
  async commitEntry(e: CacheEntry, tmp: string, body: Buffer | null): Promise<boolean> {
    if (this.closed || e.size > this.opts.maxObjectSize || e.size > this.opts.maxSize) {
      await fsp.unlink(tmp).catch(() => undefined);
      return false;
    }
    await fsp.rename(tmp, this.bodyPath(e.id));
    // Replace the same variant of the same URL.
    for (const old of this.byUrl.get(e.url) ?? []) if (old.variant === e.variant) this.remove(old);
    while (this.total + e.size > this.opts.maxSize && this.lru.size > 0) {
      const oldest = this.lru.values().next().value as CacheEntry;
      this.remove(oldest);
    }
    this.insert(e);
    if (body && body.length <= this.memObjectSize) this.remember(e.id, body);
    this.scheduleSave();
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.saving;
    await this.save();
  }

  /** Writes the index now (also done ~100 ms after each change). */
  save(): Promise<void> {
    const run = async (): Promise<void> => {
      const data = JSON.stringify({ version: 1, entries: [...this.lru.values()] });
      const tmp = join(this.opts.dir, `${INDEX}.tmp`);
      await fsp.writeFile(tmp, data);
      await fsp.rename(tmp, join(this.opts.dir, INDEX));
    };
    this.saving = this.saving.then(run, run).catch((err: unknown) => this.opts.logger.warn('proxy cache index not saved', { err }));
    return this.saving;
  }

  private scheduleSave(): void {
    if (this.closed || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, 100);
    this.saveTimer.unref();
  }

  private insert(e: CacheEntry): void {
    this.lru.set(e.id, e);
    const list = this.byUrl.get(e.url);
    if (list) list.push(e);
    else this.byUrl.set(e.url, [e]);
    this.total += e.size;
  }

  private remove(e: CacheEntry): void {
    if (!this.lru.delete(e.id)) return;
    this.total -= e.size;
    const list = this.byUrl.get(e.url);
    if (list) {
      const i = list.indexOf(e);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byUrl.delete(e.url);
    }
    const b = this.mem.get(e.id);
    if (b) {
      this.memBytes -= b.length;
      this.mem.delete(e.id);
    }
    void fsp.unlink(this.bodyPath(e.id)).catch(() => undefined);
  }

  private touch(e: CacheEntry): void {
    e.usedAt = Date.now();
    this.lru.delete(e.id);
    this.lru.set(e.id, e);
    const b = this.mem.get(e.id);
    if (b) {
      this.mem.delete(e.id);
      this.mem.set(e.id, b);
    }
  }

  private remember(id: string, body: Buffer): void {
    while (this.memBytes + body.length > this.memSize && this.mem.size > 0) {
      const [oldId, old] = this.mem.entries().next().value as [string, Buffer];
      this.mem.delete(oldId);
      this.memBytes -= old.length;
    }
    if (this.memBytes + body.length > this.memSize) return;
    this.mem.set(id, body);
    this.memBytes += body.length;
  }

  private bodyPath(id: string): string {
    return join(this.opts.dir, `${id}.body`);
  }
  private tmpPath(id: string): string {
    return join(this.opts.dir, `${id}.tmp`);
  }
}

/**
 * Receives one response body on its way to the client. write() returns false once the body
 * exceeds maxObjectSize (the writer has then aborted itself and ignores further data).
 */
export class CacheWriter {
  private file: WriteStream | null;
  private chunks: Buffer[] | null = [];
  private failed = false;
  private done = false;

  constructor(
    private readonly store: CacheStore,
    readonly entry: CacheEntry,
    private readonly tmp: string,
  ) {
    this.file = createWriteStream(tmp);
    this.file.on('error', () => {
      this.failed = true;
    });
  }

  get active(): boolean {
    return !this.failed && !this.done;
  }

  write(chunk: Buffer): boolean {
    if (!this.active || !this.file) return false;
    this.entry.size += chunk.length;
    if (this.entry.size > this.store.maxObjectSize) {
      this.abort();
      return false;
    }
    if (this.chunks) {
      this.chunks.push(chunk);
      if (this.entry.size > 256 * 1024) this.chunks = null;
    }
    this.file.write(chunk);
    return true;
  }

  /** Finishes the body; resolves to the stored entry, or null when it was not stored. */
  async commit(): Promise<CacheEntry | null> {
    if (!this.active || !this.file) return null;
    this.done = true;
    const file = this.file;
    this.file = null;
    const ok = await new Promise<boolean>((resolve) => {
      file.end(() => resolve(!this.failed));
      file.once('error', () => resolve(false));
    });
    if (!ok) {
      await fsp.unlink(this.tmp).catch(() => undefined);
      return null;
    }
    const body = this.chunks ? Buffer.concat(this.chunks) : null;
    return (await this.store.commitEntry(this.entry, this.tmp, body).catch(() => false)) ? this.entry : null;
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.failed = true;
    const file = this.file;
    this.file = null;
    const unlink = (): void => void fsp.unlink(this.tmp).catch(() => undefined);
    if (file) {
      // destroy() waits for a pending open; unlink after the close so no file is left behind
      file.once('close', unlink);
      file.destroy();
    } else unlink();
  }
}
