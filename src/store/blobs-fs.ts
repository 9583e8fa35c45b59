// FsBlobStore: message bodies on the filesystem, content-addressed by hex SHA-256.
// Layout: `<dir>/ab/cd/<id>` where ab and cd are the first two byte pairs of the id.
// Invariants:
//  - a blob file, once in place, is complete: bytes are written to `<dir>/tmp/<random>`, fsync'd,
//    then renamed into place (atomic), and the directory is fsync'd (when opts.fsync), so a
//    crash leaves either the whole blob or nothing (stray tmp files are swept at start-up);
//  - same content = same id = stored once (a second put finds the file and writes nothing);
//  - ids are validated (64 lower-case hex digits) before touching a path: no traversal;
//  - writer() hashes while it writes: memory stays flat whatever the size (up to SMALL_MAX
//    octets are held, then it streams to the tmp file);
//  - cost of a small blob (held whole): five thread-pool round trips (open, write, fsync,
//    rename, fsync of the directory) through the callback API, no FileHandle. Calls that
//    create or rename names stay off the event loop: under a stream of fsyncs they wait for the
//    filesystem journal (ext4: milliseconds). Only calls that do not (stat, close, opening a
//    directory to fsync it) are synchronous; directories known to exist are not made again.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, fsync as fsyncCb, open as openCb, openSync, readSync, rename as renameCb, statSync, write as writeCb } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { WharfError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from './store.js';

const ID_RE = /^[0-9a-f]{64}$/;

function isENOENT(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ENOENT';
}

/** Ranges up to this size are read synchronously (see readSmall). */
const SYNC_READ_MAX = 64 * 1024;
/** A writer holds up to this much in memory, then streams (see the header). */
const SMALL_MAX = 64 * 1024;

/** fsync(2) on the thread pool (the callback API: cheaper than a FileHandle's promise). */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsyncCb(fd, (err) => (err ? reject(err) : resolve())));
}

function openFd(path: string, flags: string, mode: number): Promise<number> {
  return new Promise((resolve, reject) => openCb(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

async function writeAll(fd: number, b: Buffer): Promise<void> {
  let off = 0;
  while (off < b.length) {
    off += await new Promise<number>((resolve, reject) => writeCb(fd, b, off, b.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
  }
}

/** fsync(2) of a file or directory by path (opening a directory read-only touches no journal). */
async function fsyncPath(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function renameFile(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => renameCb(from, to, (err) => (err ? reject(err) : resolve())));
}

/** The size of a file, or null when it does not exist (no exception thrown for a miss). */
function sizeSync(path: string): number | null {
  return statSync(path, { throwIfNoEntry: false })?.size ?? null;
}

export class FsBlobStore implements BlobStore {
  readonly dir: string;
  private readonly fsync: boolean;
  private ready: Promise<void> | undefined;
  /** Blob directories (ab, ab/cd: at most 65,792) made durable in this process, or being made. */
  private readonly dirs = new Map<string, Promise<void>>();
  /** Directory fsyncs running and the one queued behind each (syncDir). */
  private readonly dirSyncs = new Map<string, { running: Promise<void> | null; next: Promise<void> | null }>();

  constructor(dir: string, opts: { fsync: boolean }) {
    this.dir = dir;
    this.fsync = opts.fsync;
  }

  /** Creates `<dir>/tmp` and removes tmp files left by a crash (older than a minute). */
  private init(): Promise<void> {
    this.ready ??= (async () => {
      const tmp = join(this.dir, 'tmp');
      await mkdir(tmp, { recursive: true });
      const cutoff = Date.now() - 60_000;
      for (const name of await readdir(tmp).catch(() => [] as string[])) {
        const p = join(tmp, name);
        const st = await stat(p).catch(() => null);
        if (st && st.mtimeMs < cutoff) await rm(p, { force: true });
      }
    })();
    return this.ready;
  }

  pathOf(id: string): string {
    if (typeof id !== 'string' || !ID_RE.test(id)) throw new WharfError('WHARF_INVALID', `not a blob id: ${String(id).slice(0, 80)}`);
    return join(this.dir, id.slice(0, 2), id.slice(2, 4), id);
  }

  private tmpPath(): string {
    return join(this.dir, 'tmp', `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * fsync(2) of a directory, coalesced: a call while one runs joins the next one (which starts
   * when the running one ends — the caller's change may have come after it began). Concurrent
   * messages renaming into one directory share its fsyncs.
   */
  private syncDir(path: string): Promise<void> {
    if (!this.fsync) return Promise.resolve();
    let entry = this.dirSyncs.get(path);
    if (!entry) {
      entry = { running: null, next: null };
      this.dirSyncs.set(path, entry);
    }
    const e = entry;
    const start = (): Promise<void> => {
      const p = fsyncPath(path).finally(() => {
        if (e.running === p) e.running = null;
        if (!e.running && !e.next && this.dirSyncs.get(path) === e) this.dirSyncs.delete(path);
      });
      e.running = p;
      return p;
    };
    if (!e.running) return start();
    e.next ??= e.running
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        e.next = null;
        return start();
      });
    return e.next;
  }

  /**
   * Makes a blob directory (ab or ab/cd) exist durably: made if missing, and its name in its
   * parent fsync'd — also when it was already there, once per process (a crash may have left a
   * name that was never synced). Cached: later blobs in it skip all of this.
   */
  private ensureDir(path: string): Promise<void> {
    let p = this.dirs.get(path);
    if (!p) {
      p = (async () => {
        const parent = dirname(path);
        if (parent !== this.dir) await this.ensureDir(parent);
        await mkdir(path).catch((err: unknown) => {
          if ((err as { code?: unknown })?.code !== 'EEXIST') throw err;
        });
        await this.syncDir(parent);
      })();
      this.dirs.set(path, p);
      p.catch(() => this.dirs.delete(path));
    }
    return p;
  }

  /** Moves a complete, synced tmp file into place as blob `id` (the name made durable too). */
  async place(tmp: string, id: string): Promise<void> {
    const final = this.pathOf(id);
    const dir = join(this.dir, id.slice(0, 2), id.slice(2, 4));
    await this.ensureDir(dir);
    try {
      await renameFile(tmp, final);
    } catch (err) {
      if (!isENOENT(err)) throw err;
      // the directory went away behind our back: make it again
      this.dirs.delete(dir);
      this.dirs.delete(dirname(dir));
      await this.ensureDir(dir);
      await renameFile(tmp, final);
    }
    await this.syncDir(dir);
  }

  /**
   * Blob `id` of `size` octets is already in place (same content stored before): true once its
   * name is durable too — another put of the same content may have renamed it a moment ago and
   * still be fsyncing the directory.
   */
  async storedAlready(id: string, size: number): Promise<boolean> {
    if (sizeSync(this.pathOf(id)) !== size) return false;
    const dir = join(this.dir, id.slice(0, 2), id.slice(2, 4));
    await this.ensureDir(dir);
    await this.syncDir(dir);
    return true;
  }

  /**
   * Stores a small blob whose bytes are in memory: written to a tmp file, fsync'd, renamed into
   * place, the directory fsync'd (see the header for the cost).
   */
  async putSmall(id: string, chunks: readonly Buffer[], size: number): Promise<void> {
    if (await this.storedAlready(id, size)) return;
    await this.init();
    // the id is known: its directory is made (and synced) while the data is written
    const dirReady = this.ensureDir(join(this.dir, id.slice(0, 2), id.slice(2, 4)));
    dirReady.catch(() => {}); // awaited (again) by place()
    const tmp = this.tmpPath();
    const fd = await openFd(tmp, 'wx', 0o640);
    try {
      await writeAll(fd, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      if (this.fsync) await fsyncFd(fd);
    } catch (err) {
      closeSync(fd);
      await rm(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    try {
      await this.place(tmp, id);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async put(data: Buffer): Promise<{ id: string; size: number }> {
    const id = createHash('sha256').update(data).digest('hex');
    if (data.length <= SMALL_MAX) {
      await this.putSmall(id, [data], data.length);
      return { id, size: data.length };
    }
    await this.init();
    if (await this.storedAlready(id, data.length)) return { id, size: data.length };
    const tmp = this.tmpPath();
    const fh = await open(tmp, 'wx', 0o640);
    try {
      await fh.writeFile(data);
      if (this.fsync) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    try {
      await this.place(tmp, id);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { id, size: data.length };
  }

  writer(): BlobWriter {
    return new FsBlobWriter(this, () => this.init(), () => this.tmpPath(), this.fsync);
  }

  async get(id: string): Promise<Buffer> {
    const p = this.pathOf(id);
    try {
      return await readFile(p);
    } catch (err) {
      if (isENOENT(err)) throw new WharfError('WHARF_NOT_FOUND', `no blob ${id}`);
      throw err;
    }
  }

  async read(id: string, start: number, end?: number): Promise<Buffer> {
    const p = this.pathOf(id);
    if (!Number.isInteger(start) || start < 0 || (end !== undefined && (!Number.isInteger(end) || end < 0))) {
      throw new WharfError('WHARF_INVALID', `bad range ${start}-${String(end)}`);
    }
    if (end !== undefined && end - start <= SYNC_READ_MAX) return this.readSmall(id, p, start, end);
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (err) {
      if (isENOENT(err)) throw new WharfError('WHARF_NOT_FOUND', `no blob ${id}`);
      throw err;
    }
    try {
      const size = (await fh.stat()).size;
      const stop = Math.min(end ?? size, size);
      const len = Math.max(0, stop - start);
      const buf = Buffer.alloc(len);
      let off = 0;
      while (off < len) {
        const { bytesRead } = await fh.read(buf, off, len - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === len ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  /**
   * A small range read synchronously: one open/read/close from the page cache costs a few
   * microseconds, where the promise API takes four thread-pool round trips (open, stat, read,
   * close) — the latency of every POP3 RETR and IMAP FETCH of a small message.
   */
  private readSmall(id: string, p: string, start: number, end: number): Buffer {
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (err) {
      if (isENOENT(err)) throw new WharfError('WHARF_NOT_FOUND', `no blob ${id}`);
      throw err;
    }
    try {
      const len = Math.max(0, end - start);
      const buf = Buffer.allocUnsafe(len);
      let off = 0;
      while (off < len) {
        const n = readSync(fd, buf, off, len - off, start + off);
        if (n === 0) break;
        off += n;
      }
      return off === len ? buf : buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  }

  stream(id: string, range?: { start: number; end?: number }): NodeJS.ReadableStream {
    const p = this.pathOf(id);
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) return Readable.from([]);
    // createReadStream's end is inclusive
    return createReadStream(p, { start, ...(end !== undefined ? { end: end - 1 } : {}) });
  }

  async size(id: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(id))).size;
    } catch (err) {
      if (isENOENT(err)) return null;
      throw err;
    }
  }

  async has(id: string): Promise<boolean> {
    return (await this.size(id)) !== null;
  }

  async delete(id: string): Promise<void> {
    try {
      await unlink(this.pathOf(id));
    } catch (err) {
      if (!isENOENT(err)) throw err;
    }
  }

  async *list(): AsyncIterable<string> {
    const level = async (p: string): Promise<string[]> => {
      try {
        return (await readdir(p)).sort();
      } catch (err) {
        if (isENOENT(err)) return [];
        throw err;
      }
    };
    for (const a of await level(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const b of await level(join(this.dir, a))) {
        if (!/^[0-9a-f]{2}$/.test(b)) continue;
        for (const name of await level(join(this.dir, a, b))) {
          if (ID_RE.test(name) && name.startsWith(a + b)) yield name;
        }
      }
    }
  }
}

class FsBlobWriter implements BlobWriter {
  private readonly hash = createHash('sha256');
  private size = 0;
  /** Held while the blob is small (no file yet). */
  private held: Buffer[] = [];
  private fh: FileHandle | undefined;
  private tmp: string | undefined;
  private done = false;
  private failed: unknown;
  /** Serialises writes so chunks land in call order even if not awaited. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: FsBlobStore,
    private readonly init: () => Promise<void>,
    private readonly tmpPath: () => string,
    private readonly fsync: boolean,
  ) {}

  private async file(): Promise<FileHandle> {
    if (!this.fh) {
      await this.init();
      this.tmp = this.tmpPath();
      this.fh = await open(this.tmp, 'wx', 0o640);
    }
    return this.fh;
  }

  private async writeOut(fh: FileHandle, data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await fh.write(data, off, data.length - off);
      off += bytesWritten;
    }
  }

  write(chunk: Buffer): Promise<void> {
    if (this.done) return Promise.reject(new WharfError('WHARF_INVALID', 'blob writer already finished'));
    if (chunk.length === 0) return this.chain;
    const data = Buffer.from(chunk);
    this.hash.update(data);
    this.size += data.length;
    if (!this.fh && this.tmp === undefined && this.size <= SMALL_MAX) {
      // small so far: keep it (written at commit, see putSmall)
      this.held.push(data);
      return this.chain;
    }
    const held = this.held;
    this.held = [];
    if (this.tmp === undefined) this.tmp = ''; // streaming from now on (file() opens it)
    const next = this.chain.then(async () => {
      if (this.failed !== undefined) throw this.failed;
      const fh = await this.file();
      for (const b of held) await this.writeOut(fh, b);
      await this.writeOut(fh, data);
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
      const id = this.hash.digest('hex');
      if (this.tmp === undefined) {
        const held = this.held;
        this.held = [];
        await this.store.putSmall(id, held, this.size);
        return { id, size: this.size };
      }
      const fh = await this.file();
      if (this.fsync) await fh.sync();
      await fh.close();
      this.fh = undefined;
      if (await this.store.storedAlready(id, this.size)) {
        await rm(this.tmp, { force: true });
      } else {
        await this.store.place(this.tmp, id);
      }
      return { id, size: this.size };
    } catch (err) {
      await this.cleanup();
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.done = true;
    this.held = [];
    await this.chain;
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    if (this.fh) {
      await this.fh.close().catch(() => {});
      this.fh = undefined;
    }
    if (this.tmp) await rm(this.tmp, { force: true });
  }
}
