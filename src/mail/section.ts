// Message sections for IMAP FETCH BODY[...] (RFC 3501 §6.4.5) and POP3 TOP (RFC 1939 §7), from
// stored MessageMeta: no re-parsing, only offset arithmetic and header-field filtering.
//
// Offsets are blob offsets (MessageMeta). A stored message is `headerPrefix ‖ blob`: a caller
// serving the whole message adds headerPrefix.length to every offset and treats the prefix as
// part of the top-level header (HEADER, HEADER.FIELDS and TEXT of the top level).
import type { BodyPart, MessageMeta } from './meta.js';
import { headerFields } from './message.js';

/**
 * The body part at an IMAP part path ([] = the message, [1], [2, 1], …). RFC 3501 §6.4.5:
 * a non-multipart entity has one part, number 1 (itself); after a message/rfc822 part, the
 * numbers continue into the encapsulated message's body.
 */
export function findPart(meta: MessageMeta, path: readonly number[]): BodyPart | null {
  let cur: BodyPart | undefined = meta.body;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    if (!Number.isInteger(n) || n < 1 || !cur) return null;
    if (i > 0 && cur.message) cur = cur.message.body;
    if (cur.type === 'multipart') cur = cur.parts?.[n - 1];
    else if (n !== 1) return null;
  }
  return cur ?? null;
}

export type SectionText = '' | 'HEADER' | 'TEXT' | 'MIME';

/**
 * The octet range of BODY[path.spec] in the blob, or null when the section does not exist.
 * HEADER/TEXT apply to the top level ([]) or to a message/rfc822 part; MIME to a part.
 * HEADER includes the blank line that ends the header (RFC 3501 §6.4.5).
 */
export function sectionRange(meta: MessageMeta, path: readonly number[], spec: SectionText): { start: number; end: number } | null {
  if (path.length === 0) {
    switch (spec) {
      case '':
        return { start: 0, end: meta.size };
      case 'HEADER':
        return { start: 0, end: meta.headerEnd };
      case 'TEXT':
        return { start: meta.headerEnd, end: meta.size };
      default:
        return null;
    }
  }
  const part = findPart(meta, path);
  if (!part) return null;
  switch (spec) {
    case '':
      return { start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { start: part.headerStart, end: part.bodyStart };
    case 'HEADER':
    case 'TEXT': {
      const inner = part.message?.body;
      if (!inner) return null;
      return spec === 'HEADER' ? { start: inner.headerStart, end: inner.bodyStart } : { start: inner.bodyStart, end: inner.bodyEnd };
    }
  }
}

/**
 * BODY[path.HEADER.FIELDS (names)] / .HEADER.FIELDS.NOT: the matching fields of the header of the
 * message at `path` ([] = top level), as on the wire, ending with the blank line; null when the
 * section does not exist. Pass `prefix` (the stored headerPrefix) for the top level.
 */
export function extractHeaderFields(blob: Buffer, meta: MessageMeta, path: readonly number[], names: readonly string[], not = false, prefix?: Buffer): Buffer | null {
  const r = sectionRange(meta, path, 'HEADER');
  if (!r) return null;
  let block = blob.subarray(r.start, r.end);
  if (path.length === 0 && prefix && prefix.length) block = Buffer.concat([prefix, block]);
  return headerFields(block, names, not);
}

/** POP3 TOP (RFC 1939 §7): the header, the blank line, and the first `n` lines of the body. */
export function topLines(msg: Buffer, headerEnd: number, n: number): Buffer {
  let end = headerEnd;
  for (let i = 0; i < n && end < msg.length; i++) {
    const nl = msg.indexOf(0x0a, end);
    end = nl < 0 ? msg.length : nl + 1;
  }
  return msg.subarray(0, end);
}
