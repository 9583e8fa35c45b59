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
//
// Several processes (proxy.workers > 1; cache-sync.ts carries the messages) share one folder:
//  - role 'primary' (the pool's parent) owns the index: only it evicts, persists index.json,
//    deletes bodies and counts sizes against maxSize. Each change it makes or accepts is
//    broadcast to the replicas (PrimaryOp). It unlinks a removed body only UNLINK_GRACE_MS
//    later, so that a replica that looked the entry up just before the news arrived can still
//    open the file.
//  - role 'replica' (a pool child) keeps a copy of the index for its lookups (a hit costs no
//    message). Its own changes apply locally at once and go to the primary (ReplicaOp), which
//    has the last word (its broadcasts overwrite the copy). A replica never evicts, never
//    deletes a body and never writes index.json. Its hits (for the LRU order and the counters)
//    reach the primary in batches (at most TOUCH_MS late).
//  - Body files are named by random ids that are never reused, so every process may read any
//    body it knows of; "<id>.tmp" files are written by one process only.
//  - role 'solo' (one process) is the primary without anyone to tell.
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { currentAge, derive, freshnessLifetime, headerString, varyKey, varyMatches, varyNames } from './cache-policy.js';
import type { Derived, HeaderMap } from './cache-policy.js';

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
  /** Requests answered from this entry (for the console; survives restarts). */
  hits?: number;
}

/** What the console shows of the cache (the 'proxy-cache' inspector, /work/notes/console-api.md). */
export interface CacheInspection {
  enabled: true;
  size: number;
  maxSize: number;
  hits: number;
  misses: number;
  count: number;
  entries: {
    url: string;
    status: number;
    size: number;
    /** ms since the epoch */
    storedAt: number;
    ageSeconds: number;
    freshForSeconds: number;
    fresh: boolean;
    hits: number;
    vary?: string;
  }[];
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
  /** With other processes on the same folder: 'primary' or 'replica' (see the header). */
  role?: 'solo' | 'primary' | 'replica';
}

/** Changes the primary tells the replicas about. */
export type PrimaryOp =
  | { op: 'snapshot'; entries: CacheEntry[] }
  | { op: 'put'; entry: CacheEntry }
  | { op: 'remove'; ids: string[] }
  | { op: 'update'; id: string; resHeaders: HeaderMap; requestTime: number; responseTime: number; initialAge: number };

/** Changes a replica asks the primary to make (and its hits, in batches). */
export type ReplicaOp =
  | { op: 'commit'; entry: CacheEntry }
  | { op: 'update'; id: string; resHeaders: HeaderMap; requestTime: number; responseTime: number; initialAge: number }
  | { op: 'invalidate'; url: string }
  | { op: 'drop'; id: string }
  | { op: 'touch'; used: [string, number][]; hits: number; misses: number };

/** How a store reaches the other processes (set by cache-sync.ts). */
export interface CacheLink {
  /** replica: sends one change to the primary. */
  send?(op: ReplicaOp): void;
  /** replica: resolves once the primary has applied (and broadcast) everything sent so far. */
  flush?(): Promise<void>;
  /** primary: tells every replica but `except` (the one the change came from). */
  broadcast?(op: PrimaryOp, except?: unknown): void;
}

/** primary: how long a removed body stays on disk for replicas that may be about to open it. */
export const UNLINK_GRACE_MS = 5000;
/** replica: how often its hits are sent to the primary. */
export const TOUCH_MS = 1000;

const INDEX = 'index.json';

export class CacheStore {
  /** id -> entry, in LRU order (first = least recently used). */
  private readonly lru = new Map<string, CacheEntry>();
  private readonly byUrl = new Map<string, CacheEntry[]>();
  private readonly mem = new Map<string, Buffer>();
  private memBytes = 0;
  private total = 0;
  private hitCount = 0;
  private missCount = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly memObjectSize: number;
  private readonly memSize: number;
  private readonly loading = new Set<string>();
  readonly role: 'solo' | 'primary' | 'replica';
  /** Set by cache-sync.ts when other processes share the folder. */
  link: CacheLink = {};
  // primary: bodies waiting for their grace period to end
  private readonly unlinkTimers = new Map<string, NodeJS.Timeout>();
  // replica: hits not yet reported
  private pendingUsed = new Map<string, number>();
  private pendingHits = 0;
  private pendingMisses = 0;
  private touchTimer: NodeJS.Timeout | undefined;
  private lastTouched: CacheEntry | undefined;
  private readonly derivedOf = new WeakMap<CacheEntry, { resHeaders: HeaderMap; responseTime: number; d: Derived }>();

  constructor(private readonly opts: CacheStoreOptions) {
    this.memObjectSize = opts.memObjectSize ?? 256 * 1024;
    this.memSize = opts.memSize ?? 64 * 1024 * 1024;
    this.role = opts.role ?? 'solo';
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
  get hits(): number {
    return this.hitCount;
  }
  get misses(): number {
    return this.missCount;
  }

  /** decide()'s header-derived facts about an entry, computed once per version of its headers. */
  derived(e: CacheEntry): Derived {
    const m = this.derivedOf.get(e);
    if (m && m.resHeaders === e.resHeaders && m.responseTime === e.responseTime) return m.d;
    const d = derive(e);
    this.derivedOf.set(e, { resHeaders: e.resHeaders, responseTime: e.responseTime, d });
    return d;
  }

  /** A request was answered from the entry. */
  recordHit(e: CacheEntry): void {
    this.hitCount++;
    e.hits = (e.hits ?? 0) + 1;
    if (this.role === 'replica') {
      this.pendingHits++;
      this.pendingUsed.set(e.id, (this.pendingUsed.get(e.id) ?? 0) + 1);
      this.scheduleTouch();
    }
  }

  /** A cacheable request went to the origin (miss, or revalidation). */
  recordMiss(): void {
    this.missCount++;
    if (this.role === 'replica') {
      this.pendingMisses++;
      this.scheduleTouch();
    }
  }

  /** replica: sends the hits gathered since the last time. */
  sendTouches(): void {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    if (this.pendingUsed.size === 0 && this.pendingMisses === 0 && this.pendingHits === 0) return;
    const op: ReplicaOp = { op: 'touch', used: [...this.pendingUsed], hits: this.pendingHits, misses: this.pendingMisses };
    this.pendingUsed = new Map();
    this.pendingHits = 0;
    this.pendingMisses = 0;
    this.link.send?.(op);
  }

  private scheduleTouch(): void {
    if (this.touchTimer || this.closed) return;
    this.touchTimer = setTimeout(() => this.sendTouches(), TOUCH_MS);
    this.touchTimer.unref();
  }

  /** Resolves once the other processes know of this process's changes so far (at once unless a replica). */
  synced(): Promise<void> {
    return this.role === 'replica' && this.link.flush ? this.link.flush() : Promise.resolve();
  }

  /** replica: applies a change from the primary. */
  applyFromPrimary(m: PrimaryOp): void {
    if (this.role !== 'replica') return;
    switch (m.op) {
      case 'snapshot':
        for (const e of [...this.lru.values()]) this.remove(e);
        for (const e of m.entries) if (validEntry(e)) this.insert(e);
        break;
      case 'put': {
        if (!validEntry(m.entry) || this.lru.has(m.entry.id)) break;
        for (const old of [...(this.byUrl.get(m.entry.url) ?? [])]) if (old.variant === m.entry.variant) this.remove(old);
        this.insert(m.entry);
        break;
      }
      case 'remove':
        for (const id of m.ids) {
          const e = this.lru.get(id);
          if (e) this.remove(e);
        }
        break;
      case 'update': {
        const e = this.lru.get(m.id);
        if (e) Object.assign(e, { resHeaders: m.resHeaders, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge });
        break;
      }
    }
  }

  /** primary: applies a change a replica asks for (`from` identifies it for the broadcast). */
  applyFromReplica(m: ReplicaOp, from: unknown): void {
    if (this.role !== 'primary' || this.closed) return;
    switch (m.op) {
      case 'commit': {
        const e = m.entry;
        if (!validEntry(e) || this.lru.has(e.id)) break;
        if (e.size > this.opts.maxObjectSize || e.size > this.opts.maxSize) {
          // the replica checks the same limits; refuse and make everyone forget it
          this.unlinkLater(e.id);
          this.link.broadcast?.({ op: 'remove', ids: [e.id] });
          break;
        }
        delete e.hits;
        this.admit(e, from);
        break;
      }
      case 'update': {
        const e = this.lru.get(m.id);
        if (!e) break;
        Object.assign(e, { resHeaders: m.resHeaders, requestTime: m.requestTime, responseTime: m.responseTime, initialAge: m.initialAge });
        this.touch(e);
        this.scheduleSave();
        this.link.broadcast?.({ op: 'update', id: e.id, resHeaders: e.resHeaders, requestTime: e.requestTime, responseTime: e.responseTime, initialAge: e.initialAge }, from);
        break;
      }
      case 'invalidate':
        this.invalidate(m.url);
        break;
      case 'drop': {
        const e = this.lru.get(m.id);
        if (e) this.drop(e);
        break;
      }
      case 'touch':
        this.hitCount += m.hits;
        this.missCount += m.misses;
        for (const [id, n] of m.used) {
          const e = this.lru.get(id);
          if (!e) continue;
          this.touch(e);
          e.hits = (e.hits ?? 0) + n;
        }
        break;
    }
  }

  /** primary: the whole index, least recently used first (for a replica that connects). */
  snapshot(): CacheEntry[] {
    return [...this.lru.values()];
  }

  /**
   * The cache for the console: totals and the `limit` most recently used entries, newest first
   * (bounded so that a big cache does not make a big answer). `now` in seconds since the epoch.
   */
  inspect(now: number, limit = 500): CacheInspection {
    const entries: CacheInspection['entries'] = [];
    const all = [...this.lru.values()];
    for (let i = all.length - 1; i >= 0 && entries.length < limit; i--) {
      const e = all[i]!;
      const age = currentAge(e.initialAge, e.responseTime, now);
      const freshFor = freshnessLifetime(e.status, e.resHeaders, e.responseTime) - age;
      const vary = headerString(e.resHeaders, 'vary');
      entries.push({
        url: e.url,
        status: e.status,
        size: e.size,
        storedAt: Math.round(e.responseTime * 1000),
        ageSeconds: Math.floor(age),
        freshForSeconds: Math.trunc(freshFor),
        fresh: freshFor > 0,
        hits: e.hits ?? 0,
        ...(vary !== undefined ? { vary } : {}),
      });
    }
    return { enabled: true, size: this.total, maxSize: this.opts.maxSize, hits: this.hitCount, misses: this.missCount, count: this.lru.size, entries };
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.opts.dir, { recursive: true });
    // a replica's index comes from the primary (snapshot), and the folder is the primary's to clean
    if (this.role === 'replica') return;
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

  /**
   * The body of an entry: a Buffer when held in memory, else a file stream (optionally a byte
   * range). A small body read from disk (stored by another process, or before a restart) is
   * loaded into memory for the next time.
   */
  body(e: CacheEntry, range?: { start: number; end: number }): Buffer | Readable {
    const b = this.mem.get(e.id);
    if (b) return range ? b.subarray(range.start, range.end + 1) : b;
    if (e.size <= this.memObjectSize && !this.loading.has(e.id)) {
      this.loading.add(e.id);
      fsp.readFile(this.bodyPath(e.id)).then(
        (buf) => {
          this.loading.delete(e.id);
          if (this.lru.get(e.id) === e && buf.length === e.size && !this.mem.has(e.id)) this.remember(e.id, buf);
        },
        () => this.loading.delete(e.id),
      );
    }
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
    const op = { op: 'update' as const, id: e.id, resHeaders, requestTime, responseTime, initialAge };
    if (this.role === 'replica') this.link.send?.(op);
    else this.link.broadcast?.(op);
  }

  /** Drops every stored response for a URL (RFC 9111 §4.4). Returns how many were dropped. */
  invalidate(url: string): number {
    const list = this.byUrl.get(url);
    // a replica passes it on even when its copy has nothing (another process may have it)
    if (this.role === 'replica') this.link.send?.({ op: 'invalidate', url });
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
    if (this.role === 'replica') this.link.send?.({ op: 'drop', id: e.id });
  }

  /** Called by CacheWriter when a body is complete on disk. */
  async commitEntry(e: CacheEntry, tmp: string, body: Buffer | null): Promise<boolean> {
    if (this.closed || e.size > this.opts.maxObjectSize || e.size > this.opts.maxSize) {
      await fsp.unlink(tmp).catch(() => undefined);
      return false;
    }
    await fsp.rename(tmp, this.bodyPath(e.id));
    if (this.role === 'replica') {
      // ours at once; the primary evicts for it and tells the others
      for (const old of [...(this.byUrl.get(e.url) ?? [])]) if (old.variant === e.variant) this.remove(old);
      this.insert(e);
      this.link.send?.({ op: 'commit', entry: e });
    } else this.admit(e);
    if (body && body.length <= this.memObjectSize) this.remember(e.id, body);
    return true;
  }

  /** solo/primary: inserts a committed entry, replacing its variant and evicting for room. */
  private admit(e: CacheEntry, from?: unknown): void {
    // Replace the same variant of the same URL.
    for (const old of [...(this.byUrl.get(e.url) ?? [])]) if (old.variant === e.variant) this.remove(old);
    while (this.total + e.size > this.opts.maxSize && this.lru.size > 0) {
      const oldest = this.lru.values().next().value as CacheEntry;
      this.remove(oldest);
    }
    this.insert(e);
    this.scheduleSave();
    this.link.broadcast?.({ op: 'put', entry: e }, from);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.role === 'replica') this.sendTouches();
    this.closed = true;
    if (this.touchTimer) clearTimeout(this.touchTimer);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    // bodies in their grace period go now (nobody reads them any more)
    for (const [id, t] of this.unlinkTimers) {
      clearTimeout(t);
      await fsp.unlink(this.bodyPath(id)).catch(() => undefined);
    }
    this.unlinkTimers.clear();
    if (this.role === 'replica') return;
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
    if (this.closed || this.saveTimer || this.role === 'replica') return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, 100);
    this.saveTimer.unref();
  }

  private insert(e: CacheEntry): void {
    this.lru.set(e.id, e);
    this.lastTouched = e;
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
    if (this.role === 'replica') return; // the primary deletes bodies
    if (this.role === 'primary') {
      this.link.broadcast?.({ op: 'remove', ids: [e.id] });
      this.unlinkLater(e.id);
    } else void fsp.unlink(this.bodyPath(e.id)).catch(() => undefined);
  }

  /** primary: deletes a body once replicas that may have just looked it up have opened it. */
  private unlinkLater(id: string): void {
    if (this.unlinkTimers.has(id)) return;
    const t = setTimeout(() => {
      this.unlinkTimers.delete(id);
      void fsp.unlink(this.bodyPath(id)).catch(() => undefined);
    }, UNLINK_GRACE_MS);
    t.unref();
    this.unlinkTimers.set(id, t);
  }

  private touch(e: CacheEntry): void {
    e.usedAt = Date.now();
    // already the most recently used (the same hot entry hit after hit): nothing to move
    if (this.lastTouched === e) return;
    this.lastTouched = e;
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

/** A message's entry is well-formed enough to index (ids name files: hex only). */
function validEntry(e: unknown): e is CacheEntry {
  const x = e as CacheEntry;
  return !!x && typeof x.id === 'string' && /^[0-9a-f]{8,64}$/.test(x.id) && typeof x.url === 'string' && typeof x.variant === 'string' && typeof x.size === 'number' && typeof x.resHeaders === 'object' && x.resHeaders !== null && typeof x.reqHeaders === 'object' && x.reqHeaders !== null;
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
