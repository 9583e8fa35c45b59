// IMAP command arguments (RFC 3501 §9 grammar, RFC 7888 LITERAL+/LITERAL-), read by a cursor.
//
// A command arrives as one or more lines: every line but the last ends with a literal marker
// `{n}` / `{n+}` / `{n-}`, and the literal's octets follow it. The reader (reader.ts) keeps the
// lines joined by CRLF in `text` and the literal octets, in order, in `literals`, so a literal's
// bytes never have to be scanned as syntax. The cursor here walks `text`; at a marker it takes
// the next literal.
//
// Pure: no I/O. Syntax errors throw ParseError (the session answers BAD).

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

/** A literal whose octets went somewhere else (APPEND streams the message into the blob store). */
export interface StreamedLiteral {
  streamed: true;
  size: number;
}

export type Literal = Buffer | StreamedLiteral;

/** RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials ( ) { SP CTL % * " \ ]. */
function isAtomChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return c >= 0x80; // 8-bit allowed leniently (UTF-8 mailbox names)
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x5d;
}

/** ASTRING-CHAR = ATOM-CHAR / resp-specials ("]"). */
function isAstringChar(c: number): boolean {
  return isAtomChar(c) || c === 0x5d;
}

/** list-mailbox chars: ATOM-CHAR / list-wildcards / resp-specials. */
function isListChar(c: number): boolean {
  return isAstringChar(c) || c === 0x25 || c === 0x2a;
}

/** The literal marker at the end of a line, if any: `{123}`, `{123+}` or `{123-}`. */
export function literalMarker(line: string): { size: number; nonSync: boolean; at: number } | null {
  const m = /\{(\d{1,20})([+-]?)\}$/.exec(line);
  if (!m) return null;
  const size = Number(m[1]);
  return { size, nonSync: m[2] !== '', at: m.index };
}

export class Args {
  pos = 0;
  private lit = 0;

  constructor(
    readonly text: string,
    readonly literals: readonly Literal[] = [],
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Fails unless everything was consumed. */
  end(): void {
    if (!this.atEnd) throw new ParseError(`unexpected "${this.text.slice(this.pos, this.pos + 20)}"`);
  }

  sp(): void {
    if (this.text[this.pos] !== ' ') throw new ParseError(this.atEnd ? 'missing argument' : 'expected a space');
    this.pos++;
  }

  /** Consumes a space if there is one followed by more input. */
  maybeSp(): boolean {
    if (this.text[this.pos] === ' ' && this.pos + 1 < this.text.length) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Consumes `s` (case-insensitive) if next. */
  accept(s: string): boolean {
    if (this.text.slice(this.pos, this.pos + s.length).toUpperCase() === s.toUpperCase()) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  expect(s: string): void {
    if (!this.accept(s)) throw new ParseError(`expected "${s}"`);
  }

  private run(pred: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length && pred(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  atom(): string {
    const a = this.run(isAtomChar);
    if (!a) throw new ParseError(this.atEnd ? 'missing argument' : `unexpected "${this.peek()}"`);
    return a;
  }

  /** An atom that may contain "[...]" sections (FETCH items, BODY[HEADER.FIELDS (A B)]<0.10>). */
  fetchAtom(): string {
    const start = this.pos;
    for (;;) {
      this.run((c) => isAtomChar(c) && c !== 0x5b);
      if (this.text[this.pos] !== '[') break;
      const close = this.text.indexOf(']', this.pos);
      if (close < 0) throw new ParseError('unbalanced "["');
      this.pos = close + 1;
    }
    if (this.pos === start) throw new ParseError(this.atEnd ? 'missing argument' : `unexpected "${this.peek()}"`);
    return this.text.slice(start, this.pos);
  }

  number(): number {
    const d = this.run((c) => c >= 0x30 && c <= 0x39);
    if (!d) throw new ParseError('expected a number');
    const n = Number(d);
    if (!Number.isSafeInteger(n)) throw new ParseError('number too large');
    return n;
  }

  /** RFC 3501 nz-number within 32 bits. */
  number32(): number {
    const n = this.number();
    if (n > 0xffffffff) throw new ParseError('number too large');
    return n;
  }

  /** quoted / literal, as octets. */
  stringBytes(): Buffer {
    const c = this.peek();
    if (c === '"') return Buffer.from(this.quoted(), 'utf8');
    if (c === '{' || (c === '~' && this.text[this.pos + 1] === '{')) return this.literal();
    throw new ParseError('expected a string');
  }

  string(): string {
    return this.stringBytes().toString('utf8');
  }

  /** astring = 1*ASTRING-CHAR / string. */
  astring(): string {
    const c = this.peek();
    if (c === '"' || c === '{') return this.string();
    const a = this.run(isAstringChar);
    if (!a) throw new ParseError(this.atEnd ? 'missing argument' : `unexpected "${c}"`);
    return a;
  }

  /** nstring / NIL. */
  nstring(): string | null {
    if (this.accept('NIL')) return null;
    return this.string();
  }

  /** list-mailbox = 1*list-char / string. */
  listMailbox(): string {
    const c = this.peek();
    if (c === '"' || c === '{') return this.string();
    const a = this.run(isListChar);
    if (!a) throw new ParseError('expected a mailbox pattern');
    return a;
  }

  quoted(): string {
    if (this.text[this.pos] !== '"') throw new ParseError('expected a quoted string');
    let out = '';
    let i = this.pos + 1;
    for (;;) {
      if (i >= this.text.length) throw new ParseError('unterminated quoted string');
      const ch = this.text[i]!;
      if (ch === '"') break;
      if (ch === '\r' || ch === '\n') throw new ParseError('CR or LF in a quoted string');
      if (ch === '\\') {
        const next = this.text[i + 1];
        if (next !== '"' && next !== '\\') throw new ParseError('bad escape in a quoted string');
        out += next;
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    this.pos = i + 1;
    return out;
  }

  /** `{n}` CRLF octets (or `~{n}` for RFC 3516 literal8). The octets are the next literal. */
  literal(): Buffer {
    const l = this.literalAny();
    if (!Buffer.isBuffer(l)) throw new ParseError('literal not available here');
    return l;
  }

  literalAny(): Literal {
    if (this.text[this.pos] === '~') this.pos++;
    const m = /^\{(\d{1,20})[+-]?\}\r\n/.exec(this.text.slice(this.pos, this.pos + 26));
    if (!m) throw new ParseError('bad literal');
    const lit = this.literals[this.lit];
    if (lit === undefined) throw new ParseError('literal missing');
    this.lit++;
    this.pos += m[0].length;
    return lit;
  }

  /** True if a literal marker is next. */
  atLiteral(): boolean {
    const c = this.peek();
    return c === '{' || (c === '~' && this.text[this.pos + 1] === '{');
  }

  /** "(" item *(SP item) ")" — `item` reads one element. An empty list "()" is allowed. */
  list<T>(item: () => T): T[] {
    this.expect('(');
    const out: T[] = [];
    if (this.accept(')')) return out;
    for (;;) {
      out.push(item());
      if (this.accept(')')) return out;
      this.sp();
    }
  }

  /** flag-list item: "\Seen", "$Label", atoms. */
  flag(): string {
    if (this.text[this.pos] === '\\') {
      this.pos++;
      if (this.accept('*')) return '\\*';
      return '\\' + this.atom();
    }
    return this.atom();
  }

  /** Sequence set (RFC 3501 §9 sequence-set, RFC 5182 "$"). */
  seqSet(): SeqSet {
    if (this.accept('$')) return { saved: true, ranges: [] };
    const ranges: SeqRange[] = [];
    for (;;) {
      const a = this.seqNumber();
      let b = a;
      if (this.accept(':')) b = this.seqNumber();
      ranges.push([a, b]);
      if (!this.accept(',')) break;
    }
    return { saved: false, ranges };
  }

  private seqNumber(): number {
    if (this.accept('*')) return STAR;
    const n = this.number();
    if (n < 1 || n > 0xffffffff) throw new ParseError('bad sequence number');
    return n;
  }
}

/** "*" in a sequence set: the largest number in use. */
export const STAR = -1;
export type SeqRange = [number, number];
export interface SeqSet {
  /** "$": the saved search result (RFC 5182). */
  saved: boolean;
  ranges: SeqRange[];
}

/**
 * The members of `set` among `values` (ascending numbers: sequence numbers 1..n or UIDs), where
 * "*" stands for `max`. RFC 3501 §9: a range may be given in either order; "n:*" includes the
 * largest value even when n is larger. Linear in values × ranges: never expands a range, so
 * `1:4294967295` costs no more than `1:*`.
 */
export function resolveSet(set: SeqSet, values: readonly number[], max: number): number[] {
  const rs = set.ranges.map(([a, b]) => {
    const x = a === STAR ? max : a;
    const y = b === STAR ? max : b;
    return x <= y ? [x, y] : [y, x];
  });
  return values.filter((v) => rs.some(([lo, hi]) => v >= lo! && v <= hi!));
}

/** Compact form of ascending numbers: "1:3,7,9:10" (COPYUID, APPENDUID, ESEARCH ALL). */
export function formatSet(nums: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out.push(i === j ? String(nums[i]) : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Tag and command name of a command's first line; null when not even that parses. */
export function splitCommand(text: string): { tag: string; verb: string; rest: Args } | null {
  const a = new Args(text);
  const tag = /^[\x21-\x7e]+/.exec(text)?.[0];
  if (!tag || tag.includes('+') || tag.includes('{') || tag.includes('(') || tag.includes('*') || tag.includes('"')) return null;
  a.pos = tag.length;
  if (!a.accept(' ')) return { tag, verb: '', rest: a };
  const verb = /^[A-Za-z0-9.-]+/.exec(text.slice(a.pos))?.[0];
  if (!verb) return { tag, verb: '', rest: a };
  a.pos += verb.length;
  return { tag, verb: verb.toUpperCase(), rest: a };
}
