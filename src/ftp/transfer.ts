// Stream helpers for FTP transfers: TYPE A line-end conversion both ways (RFC 959 §3.1.1.1:
// NVT-ASCII uses CRLF on the wire), a byte counter (STAT progress, quota) and a byte limit.
//
// Invariants: each Transform keeps O(1) state across chunk boundaries (a trailing CR, the last
// byte), so conversion is correct whatever the chunking and memory stays flat.
import { Transform, Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import type { TransformCallback } from 'node:stream';
import { WharfError } from '../core/errors.js';

const CR = 0x0d;
const LF = 0x0a;

/** Outgoing TYPE A: a LF not already preceded by CR becomes CRLF. */
export class ToCrlf extends Transform {
  private last = -1;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let extra = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && (i === 0 ? this.last : chunk[i - 1]) !== CR) extra++;
    }
    if (extra === 0) {
      if (chunk.length) this.last = chunk[chunk.length - 1]!;
      cb(null, chunk);
      return;
    }
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let j = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF && (i === 0 ? this.last : chunk[i - 1]) !== CR) out[j++] = CR;
      out[j++] = b;
    }
    this.last = chunk[chunk.length - 1]!;
    cb(null, out);
  }
}

/** Incoming TYPE A: CRLF becomes LF (a lone CR is kept). */
export class FromCrlf extends Transform {
  private pendingCr = false;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let j = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length > 0 && chunk[0] !== LF) out[j++] = CR;
    }
    for (; i < chunk.length; i++) {
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
    cb(null, out.subarray(0, j));
  }
  override _flush(cb: TransformCallback): void {
    cb(null, this.pendingCr ? Buffer.from([CR]) : undefined);
  }
}

/** Counts bytes passing through; fails with WHARF_QUOTA once past `limit` (when given). */
export class Meter extends Transform {
  bytes = 0;
  constructor(private readonly limit = Infinity) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(new WharfError('WHARF_QUOTA', 'quota exceeded'));
      return;
    }
    cb(null, chunk);
  }
}

/**
 * Writes a stream into an open FileHandle at a position (or appending), without taking ownership
 * of the handle: the caller fsyncs and closes it after the pipeline (fs write streams close their
 * handle when destroyed, which would make fsync-before-226 impossible).
 */
export class FileSink extends Writable {
  private pos: number | null;
  constructor(
    private readonly fh: FileHandle,
    /** null = append (the handle was opened with 'a') */
    start: number | null,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.pos = start;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeAll(chunk).then(() => cb(), cb);
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.writeAll(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk))).then(() => cb(), cb);
  }
  private async writeAll(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.pos);
      off += bytesWritten;
      if (this.pos !== null) this.pos += bytesWritten;
    }
  }
}
