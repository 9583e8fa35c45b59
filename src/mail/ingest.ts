// Message ingest: the one way a message enters Wharf (SMTP DATA/BDAT, `wharf deliver`, IMAP
// APPEND, the lab). Octets stream into the blob store and, in the same pass, into the metadata
// parser, so a message is read once and memory stays flat whatever its size.
//
// Invariants:
//  - with `normalize` (default) every bare LF and bare CR becomes CRLF (RFC 5322 §2.3: CR and
//    LF only appear together), correctly when a CR ends one chunk and its LF starts the next;
//    the stored blob is what the metadata describes, octet for octet;
//  - past maxSize nothing more is stored (the partial blob is dropped) but octets are still
//    counted, so a server can read the rest of the DATA and then refuse; commit() then throws
//    WharfError WHARF_TOO_BIG and leaves nothing behind;
//  - write() resolves when the blob writer accepted the chunk (backpressure); calls may overlap,
//    they are applied in order;
//  - abort() never leaves a blob behind.
import { WharfError } from '../core/errors.js';
import type { BlobStore, BlobWriter } from '../store/store.js';
import type { MessageMeta } from './meta.js';
import { createMetaParser } from './meta-parser.js';

export interface MessageSink {
  /** Feeds octets; resolves when they may be followed by more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Makes the blob durable; WHARF_TOO_BIG when past maxSize. */
  commit(): Promise<{ blobId: string; size: number; meta: MessageMeta }>;
  /** Drops everything written. Idempotent. */
  abort(): Promise<void>;
  /** Octets seen so far (after normalisation), stored or not. */
  readonly bytes: number;
  /** True once `bytes` passed maxSize. */
  readonly overflow: boolean;
}

export interface SinkOptions {
  /** Largest message stored, in octets (after normalisation); 0 or absent = no limit. */
  maxSize?: number;
  /** Bare LF / bare CR → CRLF (default true). */
  normalize?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const BCR = Buffer.from('\r');
const BLF = Buffer.from('\n');

/**
 * Line-end normaliser with state across chunks: bare LF → CRLF, bare CR → CRLF, CRLF kept.
 * `push` returns the normalised octets for a chunk; `flush` the octets held back at the end.
 */
export function createNormalizer(): { push(chunk: Buffer): Buffer; flush(): Buffer } {
  let pendingCR = false; // the previous chunk ended with a CR whose successor is unknown
  return {
    push(chunk: Buffer): Buffer {
      if (chunk.length === 0) return chunk;
      const out: Buffer[] = [];
      let start = 0; // start of the not-yet-emitted run
      let i = 0;
      if (pendingCR) {
        pendingCR = false;
        out.push(chunk[0] === LF ? BCR : CRLF);
        // A following LF stays in the run and is now preceded by the CR just emitted.
        if (chunk[0] === LF) i = 1;
      }
      const n = chunk.length;
      // Next LF / CR at or after i, cached so each is searched once per occurrence (linear).
      let lf = -2;
      let cr = -2;
      while (i < n) {
        if (lf !== n && lf < i) lf = chunk.indexOf(LF, i);
        if (lf < 0) lf = n;
        if (cr !== n && cr < i) cr = chunk.indexOf(CR, i);
        if (cr < 0) cr = n;
        if (lf === n && cr === n) break;
        if (cr < lf) {
          if (cr === n - 1) {
            // A CR at the very end: decided by the next chunk.
            if (cr > start) out.push(chunk.subarray(start, cr));
            start = n;
            pendingCR = true;
            break;
          }
          if (chunk[cr + 1] === LF) {
            i = cr + 2; // a proper CRLF
            continue;
          }
          // Bare CR: keep it, add the LF.
          out.push(chunk.subarray(start, cr + 1), BLF);
          start = cr + 1;
          i = cr + 1;
          continue;
        }
        // lf < cr: a LF not preceded by CR (a CRLF was skipped above; a LF at index 0 after a
        // pending CR was skipped too).
        out.push(chunk.subarray(start, lf), BCR);
        start = lf; // the LF itself starts the next run
        i = lf + 1;
      }
      if (start < n) out.push(start === 0 && out.length === 0 ? chunk : chunk.subarray(start));
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    flush(): Buffer {
      if (!pendingCR) return Buffer.alloc(0);
      pendingCR = false;
      return CRLF;
    },
  };
}

export function createMessageSink(blobs: BlobStore, opts: SinkOptions = {}): MessageSink {
  const maxSize = opts.maxSize && opts.maxSize > 0 ? opts.maxSize : Infinity;
  const normalizer = opts.normalize === false ? null : createNormalizer();
  const parser = createMetaParser();
  let writer: BlobWriter | null = blobs.writer();
  let bytes = 0;
  let overflow = false;
  let done = false;
  let failed: unknown = null;
  let chain: Promise<void> = Promise.resolve();

  const dropWriter = async () => {
    const w = writer;
    writer = null;
    if (w) await w.abort();
  };

  const feed = async (b: Buffer): Promise<void> => {
    if (b.length === 0) return;
    bytes += b.length;
    if (overflow) return;
    if (bytes > maxSize) {
      overflow = true;
      await dropWriter();
      return;
    }
    parser.write(b);
    if (writer) await writer.write(b);
  };

  const enqueue = (fn: () => Promise<void>): Promise<void> => {
    const p = chain.then(() => {
      if (failed) throw failed;
      return fn();
    });
    chain = p.catch((e: unknown) => {
      failed ??= e;
    });
    return p;
  };

  return {
    get bytes() {
      return bytes;
    },
    get overflow() {
      return overflow;
    },
    write(chunk: Buffer): Promise<void> {
      if (done) return Promise.reject(new WharfError('WHARF_CLOSED', 'the message sink is closed'));
      // Normalise now (in call order) so the state machine sees chunks in order.
      return enqueue(() => feed(normalizer ? normalizer.push(chunk) : chunk));
    },
    async commit() {
      if (done) throw new WharfError('WHARF_CLOSED', 'the message sink is closed');
      done = true; // no write may slip in after the final flush
      await enqueue(async () => {
        if (normalizer) await feed(normalizer.flush());
      });
      if (overflow) {
        await dropWriter();
        throw new WharfError('WHARF_TOO_BIG', `message exceeds ${maxSize} octets`, { size: bytes, maxSize });
      }
      const w = writer!;
      writer = null;
      const { id, size } = await w.commit();
      const meta = parser.end();
      return { blobId: id, size, meta };
    },
    async abort() {
      done = true;
      await chain.catch(() => {});
      await dropWriter();
    },
  };
}

/** Stores a whole message held in memory. */
export async function ingestBuffer(blobs: BlobStore, buf: Buffer, opts: SinkOptions = {}): Promise<{ blobId: string; size: number; meta: MessageMeta }> {
  const sink = createMessageSink(blobs, opts);
  try {
    await sink.write(buf);
    return await sink.commit();
  } catch (e) {
    await sink.abort().catch(() => {});
    throw e;
  }
}
