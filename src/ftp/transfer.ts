// The byte paths of FTP transfers: a file to the data connection (RETR), the data connection to
// a file (STOR/APPE/STOU), TYPE A line-end conversion both ways (RFC 959 §3.1.1.1: NVT-ASCII uses
// CRLF on the wire), a byte counter (STAT progress) and a byte budget (quota), and the batched
// directory fsync that makes an upload's rename durable.
//
// Invariants
//  - Memory per transfer is bounded whatever the file size: a download reads into two buffers of
//    SEND_CHUNK used in turn (one is read while the other is written; a buffer is reused only
//    after the socket's write callback, when the kernel has the bytes), so it makes no garbage
//    per chunk; an upload holds at most RECEIVE_BATCH bytes (plus one socket read) before the
//    data socket is paused, and writes them with one writev.
//  - The file is only touched through its FileHandle, so FileHandle.close() waits for a read or
//    write still in flight: a failed transfer never leaves an operation on a closed (or reused)
//    descriptor. Neither function settles while one of its file operations is in flight.
//  - The CRLF converters keep O(1) state across chunk boundaries (a trailing CR, the last byte),
//    so conversion is correct whatever the chunking.
//  - DirSync: a waiter is released by an fsync of the folder that began after it asked, so the
//    rename it made before asking is covered; uploads finishing together share one fsync.
import { Transform } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable, TransformCallback, Writable } from 'node:stream';
import { WharfError } from '../core/errors.js';

const CR = 0x0d;
const LF = 0x0a;

/** Download chunk: two of these per RETR. 256 KiB: few thread-pool round trips, small memory. */
export const SEND_CHUNK = 256 * 1024;
/** Upload batch: bytes gathered (while the previous write is in flight) for one writev. */
export const RECEIVE_BATCH = 512 * 1024;

// ---- TYPE A conversion ---------------------------------------------------------------------------

/** Outgoing TYPE A: a LF not already preceded by CR becomes CRLF. */
export class CrlfEncoder {
  private last = -1;
  encode(chunk: Buffer): Buffer {
    const before = this.last;
    if (chunk.length) this.last = chunk[chunk.length - 1]!;
    let extra = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && (i === 0 ? before : chunk[i - 1]) !== CR) extra++;
    }
    if (extra === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let j = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF && (i === 0 ? before : chunk[i - 1]) !== CR) out[j++] = CR;
      out[j++] = b;
    }
    return out;
  }
}

/** Incoming TYPE A: CRLF becomes LF (a lone CR is kept). */
export class CrlfDecoder {
  private pendingCr = false;
  decode(chunk: Buffer): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let j = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length > 0 && chunk[0] !== LF) out[j++] = CR;
    }
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === CR) {
        if (i === chunk.length - 1) {
          this.pendingCr = true;
          continue;
        }
        if (chunk[i + 1] === LF) continue;
      }
      out[j++] = b;
    }
    return out.subarray(0, j);
  }
  /** What is held back at the end of the data (a last lone CR). */
  flush(): Buffer {
    const out = this.pendingCr ? Buffer.from([CR]) : Buffer.alloc(0);
    this.pendingCr = false;
    return out;
  }
}

/** CrlfEncoder as a stream stage (listings in TYPE A, tests). */
export class ToCrlf extends Transform {
  private readonly enc = new CrlfEncoder();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, this.enc.encode(chunk));
  }
}

/** CrlfDecoder as a stream stage. */
export class FromCrlf extends Transform {
  private readonly dec = new CrlfDecoder();
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, this.dec.decode(chunk));
  }
  override _flush(cb: TransformCallback): void {
    const tail = this.dec.flush();
    cb(null, tail.length ? tail : undefined);
  }
}

// ---- counting ------------------------------------------------------------------------------------

/** Bytes moved so far on the data connection (STAT during a transfer, the transcript). */
export interface Progress {
  bytes: number;
}

/** Where an upload's bytes are charged (the quota counter, quota.ts): false = no room. */
export interface Budget {
  take(n: number): boolean;
}

/**
 * Counts bytes passing through (listings); fails with WHARF_QUOTA when a chunk would go past
 * `limit` (a number of bytes or a Budget). A refused chunk is not counted.
 */
export class Meter extends Transform implements Progress {
  bytes = 0;
  private readonly budget: Budget | null;
  constructor(limit: number | Budget = Infinity) {
    super();
    this.budget = typeof limit === 'number' ? (limit === Infinity ? null : { take: (n) => this.bytes + n <= limit }) : limit;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.budget && !this.budget.take(chunk.length)) {
      cb(quotaError());
      return;
    }
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

function quotaError(): WharfError {
  return new WharfError('WHARF_QUOTA', 'quota exceeded');
}

function prematureClose(): Error {
  return Object.assign(new Error('data connection closed before the end of the data'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

// ---- a file handle closed once ---------------------------------------------------------------------

/** An open file of a transfer: close() is idempotent and never throws. */
export class TransferFile {
  private closing: Promise<void> | null = null;
  constructor(readonly fh: FileHandle) {}
  static async open(file: string, flags: string | number, mode?: number): Promise<TransferFile> {
    return new TransferFile(await open(file, flags, mode));
  }
  close(): Promise<void> {
    this.closing ??= this.fh.close().catch(() => {});
    return this.closing;
  }
}

// ---- download --------------------------------------------------------------------------------------

export interface SendOptions {
  /** File offset of `first` (REST). */
  position: number;
  /** The first chunk, already read (RETR reads it before its 150 to check the file). */
  first: { buf: Buffer; bytes: number };
  /** Bytes to send in all from `position` (the size at fstat time, less the offset). */
  length: number;
  /** TYPE A. */
  encoder?: CrlfEncoder | undefined;
  progress: Progress;
  /** Where the second buffer comes from, and both go back to after a clean end. */
  pool: { take(): Buffer; give(b: Buffer): void };
}

/**
 * Sends `length` bytes of a file to the data socket (less if the file shrank), ends the socket and
 * resolves when the kernel has all of it. Rejects when the socket fails or closes first.
 */
export async function sendFile(file: TransferFile, sock: Writable, o: SendOptions): Promise<void> {
  const out = socketWriter(sock);
  try {
    let cur = o.first.buf;
    let n = o.first.bytes;
    let spare: Buffer | null = null;
    let pos = o.position + n;
    let left = o.length - n;
    while (n > 0) {
      const data = o.encoder ? o.encoder.encode(cur.subarray(0, n)) : cur.subarray(0, n);
      const wrote = out.write(data);
      // Read the next chunk while this one is written; the read settles before anything throws.
      let next: Promise<number> = Promise.resolve(0);
      let into: Buffer | null = null;
      if (left > 0) {
        into = spare ?? o.pool.take();
        const target = into;
        next = file.fh.read(target, 0, Math.min(target.length, left), pos).then((r) => r.bytesRead);
      }
      const [w, r] = await Promise.allSettled([wrote, next]);
      if (w.status === 'rejected') throw w.reason;
      if (r.status === 'rejected') throw r.reason;
      o.progress.bytes += data.length;
      n = r.value;
      pos += n;
      left -= n;
      if (into) {
        spare = cur;
        cur = into;
      }
    }
    await out.end();
    o.pool.give(cur);
    if (spare) o.pool.give(spare);
  } finally {
    out.release();
  }
}

// ---- upload ----------------------------------------------------------------------------------------

export interface ReceiveOptions {
  /** Where to write; null = at the end (the handle was opened for appending). */
  position: number | null;
  decoder?: CrlfDecoder | undefined;
  budget?: Budget | undefined;
  progress: Progress;
}

/**
 * Writes everything the data socket sends into the file, until its EOF. Rejects (after any write
 * in flight has finished) when the socket fails or closes without EOF, a write fails, or the
 * budget refuses a chunk (WHARF_QUOTA; nothing of that chunk is written).
 */
export function receiveFile(sock: Readable, file: TransferFile, o: ReceiveOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let writing = false;
    let ended = false;
    let failure: unknown = null;
    let settled = false;
    let pos = o.position;

    const settle = () => {
      if (settled || writing) return;
      if (failure === null && !(ended && pendingBytes === 0)) return;
      settled = true;
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      sock.off('close', onClose);
      if (failure !== null) reject(failure);
      else resolve();
    };
    const fail = (err: unknown) => {
      failure ??= err;
      pending = [];
      pendingBytes = 0;
      sock.pause();
      settle();
    };
    const flush = () => {
      if (writing || failure !== null) return;
      if (pendingBytes === 0) {
        settle();
        return;
      }
      const bufs = pending;
      const len = pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = true;
      writeAll(file.fh, bufs, len, pos).then(
        () => {
          writing = false;
          if (pos !== null) pos += len;
          if (failure !== null) return settle();
          if (sock.isPaused() && !ended) sock.resume();
          flush();
        },
        (err) => {
          writing = false;
          fail(err);
        },
      );
    };
    const onData = (chunk: Buffer) => {
      if (failure !== null) return;
      const data = o.decoder ? o.decoder.decode(chunk) : chunk;
      if (o.budget && !o.budget.take(data.length)) return fail(quotaError());
      o.progress.bytes += data.length;
      if (data.length === 0) return;
      pending.push(data);
      pendingBytes += data.length;
      if (!writing) flush();
      else if (pendingBytes >= RECEIVE_BATCH) sock.pause();
    };
    const onEnd = () => {
      if (failure !== null) return;
      ended = true;
      const tail = o.decoder?.flush();
      if (tail?.length) {
        if (o.budget && !o.budget.take(tail.length)) return fail(quotaError());
        o.progress.bytes += tail.length;
        pending.push(tail);
        pendingBytes += tail.length;
      }
      flush();
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => {
      if (!ended) fail(prematureClose());
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    sock.on('close', onClose);
    if (sock.readableEnded) onEnd();
    else if (sock.destroyed) onClose();
    else sock.resume();
  });
}

/** One writev of all the buffers (again for the rest after a short write). */
async function writeAll(fh: FileHandle, bufs: Buffer[], len: number, pos: number | null): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesWritten } = await fh.writev(done === 0 ? bufs : rest(bufs, done), pos === null ? undefined : pos + done);
    if (bytesWritten <= 0) throw new WharfError('WHARF_WRITE_FAILED', 'short write');
    done += bytesWritten;
  }
}

function rest(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

// ---- socket writes ---------------------------------------------------------------------------------

/**
 * Writes to a socket one buffer at a time: write() resolves on the write callback (the kernel has
 * the bytes, the buffer may be reused); everything rejects once the socket errs or closes.
 */
function socketWriter(sock: Writable): { write(b: Buffer): Promise<void>; end(): Promise<void>; release(): void } {
  let gone: Error | null = null;
  let wake: ((err: Error) => void) | null = null;
  const onError = (err: Error) => {
    gone ??= err;
    wake?.(gone);
  };
  const onClose = () => {
    gone ??= prematureClose();
    wake?.(gone);
  };
  sock.on('error', onError);
  sock.on('close', onClose);
  const wait = (start: (done: (err?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (gone) return reject(gone);
      let settled = false;
      const done = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        wake = null;
        if (err) reject(err);
        else resolve();
      };
      wake = done;
      start(done);
    });
  return {
    write: (b) => wait((done) => sock.write(b, done)),
    end: () => wait((done) => sock.end(done)),
    release: () => {
      sock.off('error', onError);
      sock.off('close', onClose);
    },
  };
}

// ---- durable renames -------------------------------------------------------------------------------

/**
 * fsync of folders, shared: sync(dir) resolves after an fsync of `dir` that began after the call.
 * While one runs, later callers wait for the next one, which then covers all of them; the
 * folder stays open from one round to the next while callers keep coming, and is closed when
 * none waits (so a folder replaced later is opened afresh).
 */
export class DirSync {
  private readonly dirs = new Map<string, { running: boolean; waiters: (() => void)[] }>();
  /** fsyncs done (tests). */
  count = 0;

  sync(dir: string): Promise<void> {
    let e = this.dirs.get(dir);
    if (!e) {
      e = { running: false, waiters: [] };
      this.dirs.set(dir, e);
    }
    const entry = e;
    const p = new Promise<void>((resolve) => entry.waiters.push(resolve));
    if (!entry.running) void this.run(dir, entry);
    return p;
  }

  private async run(dir: string, e: { running: boolean; waiters: (() => void)[] }): Promise<void> {
    e.running = true;
    // Errors are ignored: not every file system can fsync a folder.
    const fd = await open(dir, 'r').catch(() => null);
    while (e.waiters.length) {
      const batch = e.waiters;
      e.waiters = [];
      this.count++;
      await fd?.sync().catch(() => {});
      for (const w of batch) w();
    }
    e.running = false;
    this.dirs.delete(dir);
    await fd?.close().catch(() => {});
  }
}
