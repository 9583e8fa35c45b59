// Dot-stuffing codec for dot-terminated data blocks: SMTP DATA (RFC 5321 §4.5.2) and POP3
// multi-line responses (RFC 1939 §3). Pure and streaming: state lives in the caller's object, so a
// chunk boundary may fall anywhere (inside "\r\n.\r\n", between a dot and its CR, …).
//
// Invariants
//  - Reading (DotUnstuffer): the block ends ONLY at CRLF "." CRLF (or "." CRLF as the very first
//    line). A "." line next to a bare LF is data, not the end: treating "\n.\r\n" or "\r\n.\n" as
//    the end is the SMTP-smuggling ambiguity, so we never do. Bare LF line ends are converted to
//    CRLF; a leading dot is removed only when other characters follow it on the line
//    (RFC 5321 §4.5.2). Bytes after the terminator are handed back (`rest`) for pipelining.
//  - Writing (dotStuff): output is always well-formed: every bare LF and every bare CR becomes
//    CRLF (RFC 5321 §2.3.8: CR and LF only as CRLF), every line starting with "." gets another
//    dot, and dotStuffEnd() closes the block with "CRLF.CRLF" whatever the last byte was.
const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** Streaming state of dotStuff(); start each block with newDotStuffState(). */
export interface DotStuffState {
  /** The next byte starts a line. */
  lineStart: boolean;
  /** The last byte written was a CR whose LF has not been seen yet. */
  cr: boolean;
}

export function newDotStuffState(): DotStuffState {
  return { lineStart: true, cr: false };
}

/** Dot-stuffs one chunk of a payload (RFC 5321 §4.5.2 transparency), normalising line ends. */
export function dotStuff(buf: Buffer, state: DotStuffState): Buffer {
  const out = Buffer.allocUnsafe(buf.length * 2 + 2);
  let o = 0;
  let { lineStart, cr } = state;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b === LF) {
      if (!cr) out[o++] = CR; // bare LF -> CRLF
      out[o++] = LF;
      lineStart = true;
      cr = false;
      continue;
    }
    if (cr) {
      // A CR not followed by LF: complete it (RFC 5321 §2.3.8), the line ends here.
      out[o++] = LF;
      lineStart = true;
      cr = false;
    }
    if (lineStart && b === DOT) out[o++] = DOT; // RFC 5321 §4.5.2: double a leading period
    out[o++] = b;
    lineStart = false;
    if (b === CR) cr = true;
  }
  state.lineStart = lineStart;
  state.cr = cr;
  return out.subarray(0, o);
}

/** The terminator for a block stuffed with `state`: ends an open line first. */
export function dotStuffEnd(state: DotStuffState): Buffer {
  let s: string;
  if (state.cr) s = '\n.\r\n';
  else if (!state.lineStart) s = '\r\n.\r\n';
  else s = '.\r\n';
  state.lineStart = true;
  state.cr = false;
  return Buffer.from(s, 'latin1');
}

/** Stuffs a whole payload, terminator included (tests, small replies). */
export function dotStuffAll(payload: Buffer | string): Buffer {
  const st = newDotStuffState();
  const body = dotStuff(Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'), st);
  return Buffer.concat([body, dotStuffEnd(st)]);
}

const enum S {
  LineStart,
  Dot, // "." at line start, held back
  DotCr, // "." CR at line start, held back
  Mid,
  Cr, // CR inside a line, held back until we know whether LF follows
  Done,
}

export interface UnstuffResult {
  /** Un-stuffed data from this chunk, CRLF line ends. May be empty. */
  data: Buffer;
  /** The terminating "." line was seen. */
  done: boolean;
  /** Bytes after the terminator (the next pipelined commands); empty unless done. */
  rest: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** Streaming reader of a dot-terminated block. Feed chunks with push() until `done`. */
export class DotUnstuffer {
  private s: S = S.LineStart;
  /** The line being started was preceded by CRLF (or is the first line). */
  private cleanStart = true;

  get done(): boolean {
    return this.s === S.Done;
  }

  push(chunk: Buffer): UnstuffResult {
    if (this.s === S.Done) return { data: EMPTY, done: true, rest: chunk };
    const out = Buffer.allocUnsafe(chunk.length * 2 + 4);
    let o = 0;
    let s = this.s;
    let i = 0;
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (s) {
        case S.LineStart:
          if (b === DOT) s = S.Dot;
          else if (b === CR) s = S.Cr;
          else if (b === LF) {
            out[o++] = CR;
            out[o++] = LF;
            this.cleanStart = false; // bare LF
          } else {
            out[o++] = b;
            s = S.Mid;
          }
          break;
        case S.Dot:
          if (b === CR) s = S.DotCr;
          else if (b === LF) {
            // ".<LF>": a lone dot is not stuffed (nothing follows it) and a bare LF never ends the block.
            out[o++] = DOT;
            out[o++] = CR;
            out[o++] = LF;
            this.cleanStart = false;
            s = S.LineStart;
          } else {
            // RFC 5321 §4.5.2: "the first character is deleted"
            out[o++] = b;
            s = S.Mid;
          }
          break;
        case S.DotCr:
          if (b === LF) {
            if (this.cleanStart) {
              this.s = S.Done;
              return { data: out.subarray(0, o), done: true, rest: chunk.subarray(i + 1) };
            }
            // "<LF>.<CR><LF>": not the end (see header); keep the dot as data.
            out[o++] = DOT;
            out[o++] = CR;
            out[o++] = LF;
            this.cleanStart = true;
            s = S.LineStart;
          } else {
            // "." CR x: the dot had company, so it was stuffing; the CR was a bare CR.
            out[o++] = CR;
            if (b === CR) s = S.Cr;
            else {
              out[o++] = b;
              s = S.Mid;
            }
          }
          break;
        case S.Mid: {
          // Fast path: copy the run up to the next CR or LF.
          let j = i;
          while (j < chunk.length && chunk[j] !== CR && chunk[j] !== LF) j++;
          if (j > i) {
            chunk.copy(out, o, i, j);
            o += j - i;
          }
          if (j === chunk.length) {
            i = j;
            break;
          }
          if (chunk[j] === CR) s = S.Cr;
          else {
            out[o++] = CR;
            out[o++] = LF;
            this.cleanStart = false;
            s = S.LineStart;
          }
          i = j;
          break;
        }
        case S.Cr:
          if (b === LF) {
            out[o++] = CR;
            out[o++] = LF;
            this.cleanStart = true;
            s = S.LineStart;
          } else {
            out[o++] = CR; // bare CR stays data
            if (b !== CR) {
              out[o++] = b;
              s = S.Mid;
            }
          }
          break;
      }
    }
    this.s = s;
    return { data: out.subarray(0, o), done: false, rest: EMPTY };
  }
}
