// The mailbox model shared by POP3 and IMAP.
//
// A mailbox is a store row (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) and its messages: each has a
// UID that is strictly ascending and never reused, a size in octets as transmitted (CRLF line
// ends, the delivery headerPrefix included), flags and an internal date. The octets of a message
// are `headerPrefix ‖ blob` (src/store/store.ts).
//
// Deletion, as POP3 and IMAP agree on it: a message is gone when it is expunged from the store.
// POP3's DELE only marks it inside the session (RFC 1939 §6: the UPDATE state removes it), IMAP's
// \Deleted flag only marks it until EXPUNGE/CLOSE; both commit with store.expunge, which every
// other session sees (IMAP: an untagged EXPUNGE; POP3: the message is not in the next session's
// maildrop). A dropped POP3 session deletes nothing.
import { Readable } from 'node:stream';
import { WharfError } from '../core/errors.js';
import type { BlobStore, Mailbox, MessageSummary, StoredMessage, Store } from '../store/store.js';

/**
 * A unique-id for POP3 UIDL (RFC 1939 §7: 1 to 70 characters 0x21-0x7E, the same for a message
 * in every session): UIDVALIDITY and UID together, so a re-created mailbox never repeats one.
 */
export function uniqueId(uidValidity: number, uid: number): string {
  return `${uidValidity.toString(16)}.${uid.toString(16)}`;
}

/** Full rows read at once when a session asks for one it does not hold (see MailboxSnapshot.row). */
const ROW_WINDOW = 32;

/**
 * A fixed view of a mailbox's messages, numbered 1..n in UID order (POP3's maildrop).
 *
 * Full rows (blob id, header prefix) are read in windows: asking for message n reads n and the
 * next ROW_WINDOW-1 wanted ones in one query, so a client that retrieves its maildrop in order
 * costs one query per window, not one per message, and memory stays bounded by the window.
 */
export class MailboxSnapshot {
  private rows = new Map<number, StoredMessage>();

  private constructor(
    readonly mailbox: Mailbox,
    readonly messages: readonly MessageSummary[],
  ) {}

  static async open(store: Store, mailbox: Mailbox): Promise<MailboxSnapshot> {
    return new MailboxSnapshot(mailbox, await store.listMessages(mailbox.id));
  }

  get count(): number {
    return this.messages.length;
  }

  /** The message with this 1-based number, or undefined. */
  get(n: number): MessageSummary | undefined {
    return Number.isSafeInteger(n) && n >= 1 ? this.messages[n - 1] : undefined;
  }

  uniqueId(m: MessageSummary): string {
    return uniqueId(this.mailbox.uidValidity, m.uid);
  }

  /**
   * The full row of message n, or undefined when it is no longer in the store (expunged by
   * another session meanwhile: POP3 and IMAP share the mailbox). `wanted(k)` says whether
   * message k may be asked for later (POP3: not deleted in this session), for the read-ahead.
   */
  async row(store: Store, n: number, wanted: (k: number) => boolean = () => true): Promise<StoredMessage | undefined> {
    const m = this.get(n);
    if (!m) return undefined;
    const held = this.rows.get(m.uid);
    if (held) return held;
    const uids = [m.uid];
    for (let k = n + 1; k <= this.messages.length && uids.length < ROW_WINDOW; k++) if (wanted(k)) uids.push(this.messages[k - 1]!.uid);
    this.rows = new Map((await store.getMessages(this.mailbox.id, uids)).map((r) => [r.uid, r]));
    return this.rows.get(m.uid);
  }
}

/** Ranges up to this size are read in one call instead of streamed. */
const SMALL_READ = 256 * 1024;

/** Octets [start, end) of a stored message (prefix then blob), as chunks; memory stays flat. */
export async function* messageChunks(blobs: BlobStore, m: StoredMessage, start = 0, end = m.size): AsyncGenerator<Buffer> {
  const prefix = m.headerPrefix;
  const from = Math.max(0, start);
  const to = Math.min(end, m.size);
  if (to <= from) return;
  if (from < prefix.length) yield prefix.subarray(from, Math.min(to, prefix.length));
  if (to <= prefix.length) return;
  const bStart = Math.max(0, from - prefix.length);
  const bEnd = to - prefix.length;
  if (bEnd - bStart <= SMALL_READ) {
    // One positioned read costs fewer thread-pool round trips than a read stream.
    yield await blobs.read(m.blobId, bStart, bEnd);
    return;
  }
  for await (const chunk of blobs.stream(m.blobId, { start: bStart, end: bEnd })) {
    yield Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk as Uint8Array);
  }
}

/** A readable stream of a stored message's octets. */
export function messageStream(blobs: BlobStore, m: StoredMessage, start?: number, end?: number): Readable {
  return Readable.from(messageChunks(blobs, m, start, end), { objectMode: false });
}

/**
 * A whole stored message in memory as its parts, headerPrefix then blob (empty parts left out):
 * one read of the blob, no copy. Checked against the recorded size.
 */
export async function messageParts(blobs: BlobStore, m: StoredMessage): Promise<Buffer[]> {
  const prefix = m.headerPrefix;
  const blob = m.size > prefix.length ? await blobs.read(m.blobId, 0, m.size - prefix.length) : Buffer.alloc(0);
  if (prefix.length + blob.length !== m.size) {
    throw new WharfError('WHARF_STORE_CORRUPT', `message uid ${m.uid}: ${prefix.length + blob.length} octets stored, ${m.size} recorded`);
  }
  return prefix.length === 0 ? [blob] : blob.length === 0 ? [prefix] : [prefix, blob];
}

/** A whole stored message in memory (small messages, tests). */
export async function readMessage(blobs: BlobStore, m: StoredMessage): Promise<Buffer> {
  const parts = await messageParts(blobs, m);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, m.size);
}

/**
 * The header of a message and its first `lines` body lines (POP3 TOP, RFC 1939 §7), as chunks.
 * Reads only as far as needed. A message without a blank line is all header.
 */
export async function* headAndLines(blobs: BlobStore, m: StoredMessage, lines: number): AsyncGenerator<Buffer> {
  // States: in header (watching for an empty line), then counting body lines.
  let inHeader = true;
  let atLineStart = true;
  let left = lines;
  for await (const chunk of messageChunks(blobs, m)) {
    let i = 0;
    while (i < chunk.length) {
      if (!inHeader && left <= 0) {
        if (i > 0) yield chunk.subarray(0, i);
        return;
      }
      const lf = chunk.indexOf(0x0a, i);
      if (lf < 0) {
        // A partial line: an empty header line cannot start here unless it is just "\r".
        atLineStart = atLineStart && chunk.length - i === 1 && chunk[i] === 0x0d ? true : false;
        i = chunk.length;
        break;
      }
      const len = lf - i; // octets before LF on this piece
      const emptyLine = atLineStart && (len === 0 || (len === 1 && chunk[i] === 0x0d));
      if (inHeader) {
        if (emptyLine) inHeader = false;
      } else {
        left--;
      }
      atLineStart = true;
      i = lf + 1;
    }
    if (!inHeader && left <= 0) {
      yield chunk.subarray(0, i);
      return;
    }
    yield chunk;
  }
}
