// Multi-line POP3 responses on the wire (RFC 1939 §3): a status line, the data with every line
// that starts with "." given another ".", and the terminator CRLF "." CRLF — built in ONE buffer
// so that a RETR of a small message is one write (one segment, one wake-up of the client).
//
// Invariants
//  - The output is byte for byte what src/core/dot-codec.ts's dotStuff + dotStuffEnd produce for
//    the same data (bare CR or LF completed to CRLF, leading dots doubled, the last line closed):
//    stuffChunk is a fast path of dotStuff, not a second definition. wire.test.ts checks it on
//    random data against dotStuff.
//  - The fast path applies to a chunk whose line ends are all CRLF (what the store holds: ingest
//    normalises, src/mail/ingest.ts). It finds line ends and dots with Buffer#indexOf (native
//    memchr), not a JavaScript loop over every octet, and copies only when a dot must be added.
//    Anything else goes through dotStuff unchanged.
import { dotStuff, dotStuffEnd, newDotStuffState } from '../core/dot-codec.js';
import type { DotStuffState } from '../core/dot-codec.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/**
 * The offsets of the dots to double in a chunk whose line ends are all CRLF (a "." at a line
 * start; offset 0 counts when `lineStart`), or null when the chunk has a bare CR or LF.
 */
function crlfDots(b: Buffer, lineStart: boolean): number[] | null {
  const at: number[] = [];
  if (lineStart && b.length > 0 && b[0] === DOT) at.push(0);
  for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, i + 1)) {
    if (i === 0 || b[i - 1] !== CR) return null;
    if (b[i + 1] === DOT) at.push(i + 1);
  }
  for (let i = b.indexOf(CR); i >= 0; i = b.indexOf(CR, i + 2)) {
    if (b[i + 1] !== LF) return null;
  }
  return at;
}

/** Every CR is followed by LF and every LF follows a CR, within the chunk. */
export function crlfOnly(b: Buffer): boolean {
  return crlfDots(b, false) !== null;
}

/** What stuffing a chunk takes: `dots` to insert (fast path) or null (use dotStuff). */
function plan(b: Buffer, st: DotStuffState): number[] | null {
  return st.cr ? null : crlfDots(b, st.lineStart);
}

function copyStuffed(b: Buffer, dots: readonly number[], out: Buffer, o: number): number {
  let from = 0;
  for (const d of dots) {
    o += b.copy(out, o, from, d);
    out[o++] = DOT;
    from = d; // the original dot follows the inserted one
  }
  return o + b.copy(out, o, from);
}

function advance(b: Buffer, st: DotStuffState): void {
  if (b.length > 0) st.lineStart = b[b.length - 1] === LF;
  st.cr = false;
}

/** dotStuff(b, st), faster for CRLF-only data; returns b itself when nothing changes. */
export function stuffChunk(b: Buffer, st: DotStuffState): Buffer {
  const dots = plan(b, st);
  if (!dots) return dotStuff(b, st);
  advance(b, st);
  if (dots.length === 0) return b;
  const out = Buffer.allocUnsafe(b.length + dots.length);
  copyStuffed(b, dots, out, 0);
  return out;
}

/**
 * The whole response: `status` CRLF, the parts (one message: headerPrefix then blob) stuffed,
 * the terminator. One allocation and one copy of the data when it is CRLF-only.
 */
export function multiline(status: string, parts: readonly Buffer[]): Buffer {
  const st = newDotStuffState();
  // A status line is short and ASCII: copied by hand, cheaper than a call into the encoder.
  const ascii = /^[\x00-\x7f]*$/.test(status);
  const head = (ascii ? status.length : Buffer.byteLength(status, 'utf8')) + 2;
  let size = head;
  const pieces: { b: Buffer; dots: number[] | null }[] = [];
  for (const b of parts) {
    if (b.length === 0) continue;
    const dots = plan(b, st);
    const piece = dots ? b : dotStuff(b, st);
    if (dots) advance(b, st);
    pieces.push({ b: piece, dots });
    size += piece.length + (dots ? dots.length : 0);
  }
  const end = dotStuffEnd(st);
  const out = Buffer.allocUnsafe(size + end.length);
  let o = 0;
  if (ascii) for (; o < status.length; o++) out[o] = status.charCodeAt(o);
  else o = out.write(status, 0, 'utf8');
  out[o++] = CR;
  out[o++] = LF;
  for (const p of pieces) o = p.dots ? copyStuffed(p.b, p.dots, out, o) : o + p.b.copy(out, o);
  end.copy(out, o);
  return out;
}
