// FsBlobStore: message bodies on the filesystem, content-addressed by hex SHA-256.
// Layout: `<dir>/ab/cd/<id>` where ab and cd are the first two byte pairs of the id.
// Invariants:
//  - a blob file, once in place, is complete: bytes are written to `<dir>/tmp/<random>`, fsync'd,
//    then renamed into place (atomic), and the directory is fsync'd (when opts.fsync), so a
//    crash leaves either the whole blob or nothing (stray tmp files are swept at start-up);
//  - same content = same id = stored once (a second put finds the file and writes nothing);
//  - ids are validated (64 lower-case hex digits) before touching a path: no traversal;
//  - writer() hashes while it writes: memory stays flat whatever the size.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { WharfError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from './store.js';

const ID_RE = /^[0-9a-f]{64}$/;

function isENOENT(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ENOENT';
}

/** Ranges up to this size are read synchronously (see readSmall). */
const SYNC_READ_MAX = 64 * 1024;

export class FsBlobStore implements BlobStore {
  readonly dir: string;
  private readonly fsync: boolean;
  private ready: Promise<void> | undefined;

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

  private pathOf(id: string): string {
    if (typeof id !== 'string' || !ID_RE.test(id)) throw new WharfError('WHARF_INVALID', `not a blob id: ${String(id).slice(0, 80)}`);
    return join(this.dir, id.slice(0, 2), id.slice(2, 4), id);
  }

  private tmpPath(): string {
    return join(this.dir, 'tmp', `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
  }

  private async syncDir(path: string): Promise<void> {
    if (!this.fsync) return;
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Moves a complete, synced tmp file into place as blob `id`. */
  private async place(tmp: string, id: string): Promise<void> {
    const final = this.pathOf(id);
    const dir = join(this.dir, id.slice(0, 2), id.slice(2, 4));
    const created = await mkdir(dir, { recursive: true });
    await rename(tmp, final);
    await this.syncDir(dir);
    if (created !== undefined) {
      // new directories must be durable too: their parents hold their names
      await this.syncDir(join(this.dir, id.slice(0, 2)));
      await this.syncDir(this.dir);
    }
  }

  async put(data: Buffer): Promise<{ id: string; size: number }> {
    await this.init();
    const id = createHash('sha256').update(data).digest('hex');
    const existing = await this.size(id);
    if (existing === data.length) return { id, size: data.length };
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
    return new FsBlobWriter(this, () => this.init(), () => this.tmpPath(), this.fsync, (tmp, id) => this.place(tmp, id));
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
    private readonly place: (tmp: string, id: string) => Promise<void>,
  ) {}

  private async file(): Promise<FileHandle> {
    if (!this.fh) {
      await this.init();
      this.tmp = this.tmpPath();
      this.fh = await open(this.tmp, 'wx', 0o640);
    }
    return this.fh;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.done) return Promise.reject(new WharfError('WHARF_INVALID', 'blob writer already finished'));
    const data = Buffer.from(chunk);
    const next = this.chain.then(async () => {
      const fh = await this.file();
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await fh.write(data, off, data.length - off);
        off += bytesWritten;
      }
      this.hash.update(data);
      this.size += data.length;
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
      const fh = await this.file();
      if (this.fsync) await fh.sync();
      await fh.close();
      this.fh = undefined;
      const id = this.hash.digest('hex');
      if ((await this.store.size(id)) === this.size) {
        await rm(this.tmp!, { force: true });
      } else {
        await this.place(this.tmp!, id);
      }
      return { id, size: this.size };
    } catch (err) {
      await this.cleanup();
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.done = true;
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
