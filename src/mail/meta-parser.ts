// Incremental message metadata parser: octets in (any chunking), MessageMeta out.
//
// One pass, line by line, over the message as stored (CRLF line ends; a bare LF is accepted as a
// line end too). Memory stays flat whatever the size: only header blocks (capped) and the first
// octets of each line (enough to recognise a boundary) are kept; body octets are counted, not
// kept. Work is linear (Buffer.indexOf for line ends, no string concatenation of bodies).
//
// The MIME tree (RFC 2045, RFC 2046) is built with a stack of open entities. A boundary line
// closes every entity opened inside the multipart it belongs to, so a nested multipart whose
// closing boundary is missing is tolerated (RFC 2046 §5.1.2). Offsets follow RFC 2046 §5.1.1:
// the CRLF before a boundary line belongs to the boundary, so a part's bodyEnd excludes it.
//
// Never throws on any input: what does not look like a message gets `problem`.
import type { BodyPart, Envelope, MessageMeta } from './meta.js';
import { displayAddresses, getHeader, parseAddressList, parseDate, parseHeaderFields } from './message.js';
import type { HeaderField } from './message.js';
import { decodeWords } from './mime/encoded-words.js';
import { parseContentType, parseDisposition } from './mime/params.js';

/** Header octets kept per entity; beyond this a header is counted but not parsed further. */
const MAX_HEADER_BYTES = 1 << 20;
/** Octets of a line kept for boundary recognition (RFC 2046 §5.1.1: boundary ≤ 70 chars). */
const MAX_BOUNDARY_LINE = 1024;
/** Deeper entities are treated as opaque leaves (bounds memory and stack). */
const MAX_DEPTH = 64;
/**
 * Most MIME entities per message: the metadata is kept in the store and sent in BODYSTRUCTURE,
 * so a message made of millions of empty parts must not make it huge. Further delimiters are
 * body text (close-delimiters still close).
 */
export const MAX_ENTITIES = 5000;

export interface MetaParser {
  write(chunk: Buffer): void;
  end(): MessageMeta;
  /** Octets seen so far. */
  readonly size: number;
}

interface Entity {
  /** 'message': a whole message (top level or inside message/rfc822); 'part': a MIME body part. */
  kind: 'message' | 'part';
  part: BodyPart;
  inHeader: boolean;
  header: Buffer[];
  headerBytes: number;
  /** Complete lines seen before bodyStart. */
  linesAtBodyStart: number;
  /** Default Content-Type for this entity (RFC 2046 §5.1.5: digest parts default to message/rfc822). */
  digestChild: boolean;
  /** Multipart state, when this entity is a multipart with a boundary. */
  boundary: Buffer | null;
  mpState: 'preamble' | 'part' | 'epilogue';
  /** For an embedded message: the message/rfc822 part it belongs to. */
  owner: Entity | null;
  envelope: Envelope | null;
  fields: HeaderField[] | null;
  depth: number;
}

function emptyEnvelope(): Envelope {
  return { date: null, subject: null, from: [], sender: [], replyTo: [], to: [], cc: [], bcc: [], inReplyTo: null, messageId: null };
}

function newPart(headerStart: number): BodyPart {
  return {
    type: 'text',
    subtype: 'plain',
    params: {},
    id: null,
    description: null,
    encoding: '7bit',
    md5: null,
    disposition: null,
    language: null,
    location: null,
    headerStart,
    bodyStart: headerStart,
    bodyEnd: headerStart,
    lines: 0,
  };
}

/** RFC 5322 §3.6.2: Sender and Reply-To default to From in IMAP's ENVELOPE (RFC 3501 §7.4.2). */
export function envelopeOf(fields: readonly HeaderField[]): Envelope {
  const env = emptyEnvelope();
  const str = (n: string) => getHeader(fields, n);
  env.date = str('date');
  env.subject = str('subject');
  env.from = parseAddressList(str('from'));
  const sender = parseAddressList(str('sender'));
  env.sender = sender.length ? sender : env.from;
  const replyTo = parseAddressList(str('reply-to'));
  env.replyTo = replyTo.length ? replyTo : env.from;
  env.to = parseAddressList(str('to'));
  env.cc = parseAddressList(str('cc'));
  env.bcc = parseAddressList(str('bcc'));
  env.inReplyTo = str('in-reply-to');
  env.messageId = str('message-id');
  return env;
}

/** Fills a BodyPart's MIME fields from its header (RFC 2045 §5.2 defaults). */
function applyMimeHeader(part: BodyPart, fields: readonly HeaderField[], digestChild: boolean): void {
  const ct = parseContentType(getHeader(fields, 'content-type'));
  if (ct) {
    part.type = ct.type;
    part.subtype = ct.subtype;
    part.params = ct.params;
  } else if (digestChild) {
    // RFC 2046 §5.1.5: in a digest the default is message/rfc822.
    part.type = 'message';
    part.subtype = 'rfc822';
    part.params = {};
  } else {
    // RFC 2045 §5.2: default (and the fallback for a malformed Content-Type).
    part.type = 'text';
    part.subtype = 'plain';
    part.params = { charset: 'us-ascii' };
  }
  if (part.type === 'text' && !ct) part.params = { charset: 'us-ascii' };
  const enc = getHeader(fields, 'content-transfer-encoding');
  part.encoding = enc ? enc.replace(/\([^)]*\)/g, '').trim().toLowerCase() || '7bit' : '7bit';
  part.id = getHeader(fields, 'content-id');
  part.description = getHeader(fields, 'content-description');
  part.md5 = getHeader(fields, 'content-md5');
  part.disposition = parseDisposition(getHeader(fields, 'content-disposition'));
  const lang = getHeader(fields, 'content-language');
  part.language = lang ? lang.split(/[\s,]+/).filter(Boolean) : null;
  part.location = getHeader(fields, 'content-location');
}

export function createMetaParser(): MetaParser {
  let size = 0;
  let completeLines = 0;
  let eightBit = false;
  let problem: string | null = null;
  let sawFirstLine = false;
  let headerEnd = -1;

  // The line being assembled across chunks: its start offset, total content length so far, and
  // up to `keepLimit` octets of it.
  let lineStart = 0;
  let lineLen = 0; // octets so far, including a trailing CR if any
  let carry = Buffer.allocUnsafe(256);
  let carryLen = 0;

  let entityCount = 0;
  const top: Entity = makeEntity('message', 0, false, 0);
  const stack: Entity[] = [top];
  let topMeta: { envelope: Envelope; decoded: MessageMeta['decoded']; dateMs: number | null } | null = null;

  function makeEntity(kind: Entity['kind'], headerStart: number, digestChild: boolean, depth: number): Entity {
    entityCount++;
    return {
      kind,
      part: newPart(headerStart),
      inHeader: true,
      header: [],
      headerBytes: 0,
      linesAtBodyStart: 0,
      digestChild,
      boundary: null,
      mpState: 'preamble',
      owner: null,
      envelope: null,
      fields: null,
      depth,
    };
  }

  /** Bodies of entities with open header or a boundary to watch need the line's octets. */
  function keepLimit(): number {
    const cur = stack[stack.length - 1]!;
    return cur.inHeader ? MAX_HEADER_BYTES : MAX_BOUNDARY_LINE;
  }

  function appendCarry(src: Buffer, start: number, end: number): void {
    const limit = keepLimit();
    const room = limit - carryLen;
    if (room <= 0) return;
    const n = Math.min(room, end - start);
    if (carryLen + n > carry.length) {
      let cap = carry.length * 2;
      while (cap < carryLen + n) cap *= 2;
      const nb = Buffer.allocUnsafe(cap);
      carry.copy(nb, 0, 0, carryLen);
      carry = nb;
    }
    src.copy(carry, carryLen, start, start + n);
    carryLen += n;
  }

  /** The last octet of the pending partial line (CR detection when LF starts the next chunk). */
  let lastPartialByte = -1;
  /** Line end length (1 or 2) of the last complete line: the CRLF a boundary owns. */
  let lastEol = 2;

  function write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!eightBit) {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i]! > 0x7f) {
          eightBit = true;
          break;
        }
      }
    }
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        // Partial line: keep its head (capped), count the rest.
        appendCarry(chunk, pos, chunk.length);
        lineLen += chunk.length - pos;
        size += chunk.length - pos;
        lastPartialByte = chunk[chunk.length - 1]!;
        return;
      }
      const segLen = nl - pos; // octets before the LF in this chunk
      let content: Buffer;
      let contentLen: number;
      let eol: number;
      if (lineLen === 0) {
        // The whole line is in this chunk: no copy.
        const cr = segLen > 0 && chunk[nl - 1] === 0x0d;
        contentLen = cr ? segLen - 1 : segLen;
        eol = cr ? 2 : 1;
        content = chunk.subarray(pos, pos + Math.min(contentLen, keepLimit()));
      } else {
        appendCarry(chunk, pos, nl);
        const total = lineLen + segLen;
        const lastByte = segLen > 0 ? chunk[nl - 1] : lastPartialByte;
        const cr = lastByte === 0x0d;
        contentLen = cr ? total - 1 : total;
        eol = cr ? 2 : 1;
        content = carry.subarray(0, Math.min(carryLen, contentLen));
      }
      size += segLen + 1;
      line(lineStart, content, contentLen, eol);
      completeLines++;
      lastEol = eol;
      lineStart = size;
      lineLen = 0;
      carryLen = 0;
      lastPartialByte = -1;
      pos = nl + 1;
    }
  }

  /** Does `content` (a line without its end) delimit `boundary`? 'open' | 'close' | null. */
  function matchBoundary(content: Buffer, boundary: Buffer): 'open' | 'close' | null {
    // RFC 2046 §5.1.1: dash-boundary = "--" boundary, then transport-padding (LWSP) and CRLF;
    // close-delimiter adds "--".
    const bl = boundary.length;
    if (content.length < bl + 2) return null;
    if (content[0] !== 0x2d || content[1] !== 0x2d) return null;
    if (content.compare(boundary, 0, bl, 2, 2 + bl) !== 0) return null;
    let i = 2 + bl;
    let kind: 'open' | 'close' = 'open';
    if (content[i] === 0x2d && content[i + 1] === 0x2d) {
      kind = 'close';
      i += 2;
    }
    for (; i < content.length; i++) {
      const c = content[i];
      if (c !== 0x20 && c !== 0x09) return null;
    }
    return kind;
  }

  function line(start: number, content: Buffer, contentLen: number, eol: number): void {
    if (!sawFirstLine) {
      sawFirstLine = true;
      if (contentLen === 0) problem ??= 'no header fields (the message starts with an empty line)';
      else if (!isHeaderLine(content)) problem ??= 'the first line is not a header field';
    }
    // A boundary of any open multipart (innermost first) takes precedence.
    if (content.length >= 3 && content[0] === 0x2d && content[1] === 0x2d) {
      for (let k = stack.length - 1; k >= 0; k--) {
        const e = stack[k]!;
        if (!e.boundary || e.inHeader) continue;
        const kind = matchBoundary(content, e.boundary);
        if (!kind) continue;
        if (e.mpState === 'epilogue' && k === stack.length - 1) break; // text in the epilogue
        if (e.mpState === 'epilogue') continue;
        if (kind === 'open' && entityCount >= MAX_ENTITIES) break;
        // Close everything opened inside e (RFC 2046 §5.1.1: the CRLF before belongs to the boundary).
        const end = start - lastEol;
        while (stack.length - 1 > k) closeEntity(stack.pop()!, end, true);
        if (kind === 'open') {
          e.mpState = 'part';
          const child = makeEntity('part', start + contentLen + eol, e.part.subtype === 'digest', e.depth + 1);
          e.part.parts!.push(child.part);
          child.linesAtBodyStart = completeLines + 1;
          stack.push(child);
        } else e.mpState = 'epilogue';
        return;
      }
    }
    const cur = stack[stack.length - 1]!;
    if (cur.inHeader) headerLine(cur, start, content, contentLen, eol);
  }

  function isHeaderLine(content: Buffer): boolean {
    const colon = content.indexOf(0x3a);
    if (colon <= 0) return false;
    let end = colon;
    while (end > 0 && (content[end - 1] === 0x20 || content[end - 1] === 0x09)) end--;
    if (end === 0) return false;
    for (let i = 0; i < end; i++) {
      const c = content[i]!;
      if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
  }

  function headerLine(e: Entity, start: number, content: Buffer, contentLen: number, eol: number): void {
    if (contentLen === 0) {
      // The empty line ends the header (RFC 5322 §2.1).
      endHeader(e, start + eol, completeLines + 1, false);
      return;
    }
    const first = content[0]!;
    const continuation = first === 0x20 || first === 0x09;
    if (!continuation && !isHeaderLine(content)) {
      // Not a field: the header ended without its blank line; this line is body (lenient, as
      // real servers are). The top level was flagged above when this is the first line.
      endHeader(e, start, completeLines, false);
      const inner = stack[stack.length - 1]!;
      if (inner !== e && inner.inHeader) headerLine(inner, start, content, contentLen, eol);
      return;
    }
    if (e === top && content.indexOf(0) >= 0) problem ??= 'NUL octet in the header';
    if (e.headerBytes < MAX_HEADER_BYTES) {
      const b = Buffer.allocUnsafe(content.length + 2);
      content.copy(b, 0);
      b[content.length] = 0x0d;
      b[content.length + 1] = 0x0a;
      e.header.push(b);
      e.headerBytes += b.length;
    }
  }

  /** The header of `e` ended; `closing` when the entity ends there too (nothing is pushed). */
  function endHeader(e: Entity, bodyStart: number, linesAtBodyStart: number, closing: boolean): void {
    e.inHeader = false;
    e.part.bodyStart = bodyStart;
    e.linesAtBodyStart = linesAtBodyStart;
    const fields = parseHeaderFields(Buffer.concat(e.header));
    e.header = [];
    e.fields = fields;
    if (e === top) headerEnd = bodyStart;
    applyMimeHeader(e.part, fields, e.digestChild);
    if (e.kind === 'message') {
      e.envelope = envelopeOf(fields);
      if (e.owner) e.owner.part.message = { envelope: e.envelope, body: e.part };
      else {
        const from = getHeader(fields, 'from');
        topMeta = {
          envelope: e.envelope,
          decoded: {
            subject: decodeWords(getHeader(fields, 'subject') ?? ''),
            from: displayAddresses(from),
            to: displayAddresses(getHeader(fields, 'to')),
          },
          dateMs: parseDate(getHeader(fields, 'date')),
        };
      }
    }
    if (e.depth >= MAX_DEPTH) return;
    const p = e.part;
    const opaque = p.encoding !== '7bit' && p.encoding !== '8bit' && p.encoding !== 'binary';
    if (p.type === 'multipart') {
      p.parts = [];
      const b = p.params['boundary'];
      if (b) {
        e.boundary = Buffer.from(b, 'latin1');
        e.mpState = 'preamble';
      }
    } else if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global') && !opaque) {
      // RFC 2046 §5.2.1: the body is a whole message.
      const inner = makeEntity('message', bodyStart, false, e.depth + 1);
      inner.owner = e;
      inner.linesAtBodyStart = linesAtBodyStart;
      if (closing) {
        endHeader(inner, bodyStart, linesAtBodyStart, true);
        inner.part.bodyEnd = bodyStart;
      } else stack.push(inner);
    }
  }

  /**
   * A body's size in text lines (RFC 3501 §7.4.2 body-fld-lines): the line ends within it, as
   * Dovecot counts them, so an unterminated last line does not count — whether the body ends at
   * a boundary (the CRLF before "--boundary" belongs to the delimiter, RFC 2046 §5.1.1) or at the
   * end of the input.
   */
  function linesOf(e: Entity, byBoundary: boolean): number {
    const n = completeLines - e.linesAtBodyStart;
    return Math.max(0, byBoundary ? n - 1 : n);
  }

  function closeEntity(e: Entity, end: number, byBoundary: boolean): void {
    if (e.inHeader) {
      // The header never ended: the whole entity is header, its body empty.
      const at = Math.max(e.part.headerStart, end);
      endHeader(e, at, completeLines, true);
      e.part.bodyEnd = at;
      e.part.lines = 0;
      return;
    }
    e.part.bodyEnd = Math.max(e.part.bodyStart, end);
    e.part.lines = e.part.bodyEnd > e.part.bodyStart ? linesOf(e, byBoundary) : 0;
  }

  function end(): MessageMeta {
    const total = size;
    // Everything still open ends with the input (a missing close-delimiter is tolerated).
    while (stack.length > 0) closeEntity(stack.pop()!, total, false);
    if (total === 0) problem = 'empty message';
    if (headerEnd < 0) headerEnd = total;
    const meta: MessageMeta = {
      version: 1,
      size: total,
      lines: completeLines + (lineLen > 0 ? 1 : 0),
      headerEnd,
      envelope: topMeta?.envelope ?? emptyEnvelope(),
      body: top.part,
      decoded: topMeta?.decoded ?? { subject: '', from: '', to: '' },
      dateMs: topMeta?.dateMs ?? null,
      eightBit,
      problem,
    };
    return meta;
  }

  const parser: MetaParser = {
    write,
    end,
    get size() {
      return size;
    },
  };
  return parser;
}

/** The metadata of a whole message in memory. */
export function messageMeta(buf: Buffer): MessageMeta {
  const p = createMetaParser();
  p.write(buf);
  return p.end();
}

