// Master-file parser (RFC 1035 §5.1, RFC 2308 §4 $TTL, RFC 3597 §5 generic RDATA).
//
// Invariants
//  - Output names are absolute presentation names in the case written; output types are
//    canonical mnemonics, data is typed for modelled types (RFC 3597 `\#` input of a known type
//    is converted) and opaque otherwise.
//  - Every fault throws ZoneParseError with file, line and column of the offending token.
//  - $INCLUDE is refused unless the caller passes { allowInclude: true, readFile }; the included
//    file starts with the including file's current origin (or the one given) and cannot change
//    the includer's origin (RFC 1035 §5.1). Include depth is bounded.
//  - TTL defaults: explicit, else $TTL, else options.defaultTtl, else the last explicit TTL
//    (RFC 1035 §5.1), else for the SOA its MINIMUM (as BIND does); otherwise an error.

import { dirname, isAbsolute, resolve } from 'node:path';
import { DnsWireError } from '../wire/errors.js';
import { bytesToText } from '../wire/bytes-text.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/address.js';
import { joinNames, labelsToName, nameToLabels } from '../wire/name.js';
import { QTYPES, normalizeClass, normalizeType, typedFromOpaque } from '../wire/records.js';
import type { RData, ResourceRecord } from '../wire/types.js';
import { ZoneParseError } from './errors.js';

export interface ParseZoneOptions {
  /** The zone's origin (absolute or not; a trailing dot is implied). */
  origin: string;
  /** File name for error messages and for resolving relative $INCLUDE paths. */
  file?: string;
  /** TTL for records without one when there is no $TTL. */
  defaultTtl?: number;
  allowInclude?: boolean;
  /** Reads an included file (synchronously); required with allowInclude. */
  readFile?: (path: string) => string;
}

export interface ParsedZone {
  origin: string;
  records: ResourceRecord[];
}

const MAX_INCLUDE_DEPTH = 8;
export const MAX_TTL = 0x7fffffff; // RFC 2181 §8

interface Token { text: string; quoted: boolean; line: number; col: number }
interface Entry { blankOwner: boolean; tokens: Token[]; line: number; col: number }

/** Splits master-file text into entries: one per logical line (parentheses join lines). */
function tokenize(text: string, file: string | undefined): Entry[] {
  const entries: Entry[] = [];
  let cur: Entry | null = null;
  let depth = 0;
  let openAt = { line: 0, col: 0 };
  let line = 1;
  let col = 1;
  let lineStartsBlank = false;
  let atLineStart = true;
  const n = text.length;
  let i = 0;
  const fail = (msg: string, l = line, c = col): never => { throw new ZoneParseError(msg, { file, line: l, column: c }); };
  const start = (l: number, c: number): Entry => {
    if (!cur) cur = { blankOwner: lineStartsBlank, tokens: [], line: l, col: c };
    return cur;
  };
  const finish = (): void => {
    if (cur && cur.tokens.length > 0) entries.push(cur);
    cur = null;
  };
  while (i < n) {
    const c = text[i]!;
    if (atLineStart) {
      lineStartsBlank = depth === 0 ? c === ' ' || c === '\t' : lineStartsBlank;
      atLineStart = false;
    }
    if (c === '\n') {
      if (depth === 0) finish();
      i++; line++; col = 1; atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') { i++; col++; continue; }
    if (c === ';') {
      while (i < n && text[i] !== '\n') { i++; col++; }
      continue;
    }
    if (c === '(') {
      if (depth > 0) fail('nested parenthesis');
      start(line, col);
      depth++;
      openAt = { line, col };
      i++; col++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) fail('")" without "("');
      depth--;
      i++; col++;
      continue;
    }
    const tl = line;
    const tc = col;
    if (c === '"') {
      i++; col++;
      let s = '';
      for (;;) {
        if (i >= n || text[i] === '\n') fail('unterminated quoted string', tl, tc);
        const d = text[i]!;
        if (d === '"') { i++; col++; break; }
        if (d === '\\') {
          if (i + 1 >= n || text[i + 1] === '\n') fail('unterminated quoted string', tl, tc);
          s += d + text[i + 1]!;
          i += 2; col += 2;
          continue;
        }
        s += d;
        i++; col++;
      }
      start(tl, tc).tokens.push({ text: s, quoted: true, line: tl, col: tc });
      continue;
    }
    let s = '';
    while (i < n) {
      const d = text[i]!;
      if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === ';' || d === '(' || d === ')' || d === '"') break;
      if (d === '\\') {
        if (i + 1 >= n || text[i + 1] === '\n') fail('backslash at end of line');
        s += d + text[i + 1]!;
        i += 2; col += 2;
        continue;
      }
      s += d;
      i++; col++;
    }
    start(tl, tc).tokens.push({ text: s, quoted: false, line: tl, col: tc });
  }
  if (depth > 0) fail('"(" is never closed', openAt.line, openAt.col);
  finish();
  return entries;
}

/** Bytes of a character-string token, escapes (`\"`, `\\`, `\DDD`) decoded. */
function charStringBytes(tok: Token, file: string | undefined): Uint8Array {
  const out: number[] = [];
  const s = tok.text;
  for (let i = 0; i < s.length;) {
    const c = s[i]!;
    if (c === '\\') {
      const d = s[i + 1] ?? '';
      if (/[0-9]/.test(d)) {
        const ddd = s.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(ddd) || Number(ddd) > 255) throw new ZoneParseError(`bad \\DDD escape "\\${ddd}"`, { file, line: tok.line, column: tok.col });
        out.push(Number(ddd));
        i += 4;
        continue;
      }
      const cp = s.codePointAt(i + 1)!;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
      i += cp > 0xffff ? 3 : 2;
      continue;
    }
    const cp = s.codePointAt(i)!;
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b);
    i += cp > 0xffff ? 2 : 1;
  }
  return Uint8Array.from(out);
}

/** "3600", "1h", "1h30m", "2W" -> seconds; undefined when not a TTL. */
export function parseTtl(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (!/^([0-9]+[wdhms])+$/i.test(text)) return undefined;
  const mult: { [k: string]: number } = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)([wdhms])/gi)) total += Number(m[1]) * mult[m[2]!.toLowerCase()]!;
  return total;
}

function endsWithUnescapedDot(s: string): boolean {
  if (!s.endsWith('.')) return false;
  let bs = 0;
  for (let k = s.length - 2; k >= 0 && s[k] === '\\'; k--) bs++;
  return bs % 2 === 0;
}

const ZONE_CLASSES = new Set(['IN', 'CH', 'HS']);

class Parser {
  readonly records: ResourceRecord[] = [];
  private ttlDefault: number | undefined; // $TTL
  private lastTtl: number | undefined;
  private lastOwner: string | undefined;
  private lastClass = 'IN';

  constructor(private readonly opts: ParseZoneOptions) {}

  parse(text: string, origin: string, file: string | undefined, depth: number): void {
    const entries = tokenize(text, file);
    let o = origin;
    for (const e of entries) {
      const first = e.tokens[0]!;
      if (!e.blankOwner && !first.quoted && first.text.startsWith('$')) o = this.directive(e, o, file, depth);
      else this.record(e, o, file);
    }
  }

  private fail(msg: string, tok: { line: number; col: number }, file: string | undefined): never {
    throw new ZoneParseError(msg, { file, line: tok.line, column: tok.col });
  }

  private name(tok: Token, origin: string, file: string | undefined): string {
    try {
      if (tok.text === '@') return origin;
      if (tok.text === '') this.fail('empty name', tok, file);
      if (endsWithUnescapedDot(tok.text)) return labelsToName(nameToLabels(tok.text));
      return joinNames(tok.text, origin);
    } catch (err) {
      if (err instanceof DnsWireError) this.fail(`bad name "${tok.text}": ${err.message}`, tok, file);
      throw err;
    }
  }

  private directive(e: Entry, origin: string, file: string | undefined, depth: number): string {
    const [d, ...args] = e.tokens;
    const word = d!.text.toUpperCase();
    if (word === '$ORIGIN') {
      if (args.length !== 1) this.fail('$ORIGIN takes one name', d!, file);
      return this.name(args[0]!, origin, file);
    }
    if (word === '$TTL') {
      if (args.length !== 1) this.fail('$TTL takes one value', d!, file);
      this.ttlDefault = this.ttl(args[0]!, file);
      return origin;
    }
    if (word === '$INCLUDE') {
      if (!this.opts.allowInclude || !this.opts.readFile) this.fail('$INCLUDE is not allowed here', d!, file);
      if (args.length < 1 || args.length > 2) this.fail('$INCLUDE takes a file name and an optional origin', d!, file);
      if (depth >= MAX_INCLUDE_DEPTH) this.fail(`$INCLUDE nested more than ${MAX_INCLUDE_DEPTH} deep`, d!, file);
      const p = args[0]!.text;
      const path = isAbsolute(p) || !file ? p : resolve(dirname(file), p);
      const incOrigin = args[1] ? this.name(args[1], origin, file) : origin;
      let text: string;
      try {
        text = this.opts.readFile!(path);
      } catch (err) {
        return this.fail(`cannot read $INCLUDE file "${p}": ${err instanceof Error ? err.message : String(err)}`, args[0]!, file);
      }
      this.parse(text, incOrigin, path, depth + 1);
      return origin; // RFC 1035 §5.1: the origin reverts after the included file
    }
    return this.fail(`unknown directive ${d!.text}`, d!, file);
  }

  private ttl(tok: Token, file: string | undefined): number {
    const v = tok.quoted ? undefined : parseTtl(tok.text);
    if (v === undefined) this.fail(`bad TTL "${tok.text}"`, tok, file);
    if (v > MAX_TTL) this.fail(`TTL ${tok.text} above ${MAX_TTL}`, tok, file);
    return v;
  }

  private record(e: Entry, origin: string, file: string | undefined): void {
    const toks = e.tokens;
    let k = 0;
    let owner: string;
    if (e.blankOwner) {
      if (this.lastOwner === undefined) this.fail('record without an owner name and no previous owner', toks[0]!, file);
      owner = this.lastOwner;
    } else {
      owner = this.name(toks[k++]!, origin, file);
    }
    let ttl: number | undefined;
    let klass: string | undefined;
    while (k < toks.length && !toks[k]!.quoted) {
      const t = toks[k]!;
      if (ttl === undefined && parseTtl(t.text) !== undefined) { ttl = this.ttl(t, file); k++; continue; }
      const up = t.text.toUpperCase();
      if (klass === undefined && (ZONE_CLASSES.has(up) || /^CLASS[0-9]+$/.test(up))) {
        try { klass = normalizeClass(up); } catch { this.fail(`bad class "${t.text}"`, t, file); }
        k++;
        continue;
      }
      break;
    }
    const typeTok = toks[k++];
    if (!typeTok) this.fail('record has no type', toks[toks.length - 1]!, file);
    let type: string;
    try {
      type = normalizeType(typeTok.text);
    } catch {
      return this.fail(`unknown type "${typeTok.text}"`, typeTok, file);
    }
    if (typeTok.quoted) this.fail(`unknown type "${typeTok.text}"`, typeTok, file);
    if (QTYPES.has(type)) this.fail(`type ${type} cannot appear in a zone`, typeTok, file);
    const rd = new RDataReader(toks.slice(k), typeTok, file, origin, this);
    const data = rd.parse(type);
    if (klass !== undefined) {
      if (this.records.length > 0 && klass !== this.lastClass) this.fail(`class ${klass} differs from the zone's class ${this.lastClass}`, toks[0]!, file);
      this.lastClass = klass;
    }
    if (ttl === undefined) {
      ttl = this.ttlDefault ?? this.opts.defaultTtl ?? this.lastTtl;
      if (ttl === undefined && type === 'SOA') ttl = this.lastTtl = (data as { minimum?: number }).minimum;
      if (ttl === undefined) this.fail('no TTL on this record and no $TTL before it', toks[0]!, file);
    } else {
      this.lastTtl = ttl;
    }
    this.lastOwner = owner;
    this.records.push({ name: owner, type, class: klass ?? this.lastClass, ttl, data });
  }

  nameIn(tok: Token, origin: string, file: string | undefined): string {
    return this.name(tok, origin, file);
  }
}

class RDataReader {
  private k = 0;
  constructor(
    private readonly toks: Token[],
    private readonly typeTok: Token,
    private readonly file: string | undefined,
    private readonly origin: string,
    private readonly parser: Parser,
  ) {}

  private fail(msg: string, tok: Token = this.toks[this.k] ?? this.typeTok): never {
    throw new ZoneParseError(msg, { file: this.file, line: tok.line, column: tok.col });
  }
  private next(what: string): Token {
    const t = this.toks[this.k];
    if (!t) this.fail(`missing ${what}`, this.toks[this.toks.length - 1] ?? this.typeTok);
    this.k++;
    return t;
  }
  private int(what: string, max: number, allowUnits = false): number {
    const t = this.next(what);
    const v = allowUnits ? parseTtl(t.text) : /^[0-9]+$/.test(t.text) ? Number(t.text) : undefined;
    if (t.quoted || v === undefined || v > max) this.fail(`bad ${what} "${t.text}" (expected an integer 0..${max})`, t);
    return v;
  }
  private dname(what: string): string {
    return this.parser.nameIn(this.next(what), this.origin, this.file);
  }
  private charString(what: string): string {
    const t = this.next(what);
    const b = charStringBytes(t, this.file);
    if (b.length > 255) this.fail(`${what} longer than 255 bytes; split it into several quoted strings`, t);
    return bytesToText(b);
  }
  private end(type: string): void {
    const t = this.toks[this.k];
    if (t) this.fail(`unexpected "${t.text}" after ${type} data`, t);
  }

  parse(type: string): RData {
    const first = this.toks[0];
    if (first && !first.quoted && first.text === '\\#') return this.generic(type);
    let d: RData;
    switch (type) {
      case 'A': case 'AAAA': {
        const t = this.next('address');
        try {
          d = { address: type === 'A' ? formatIpv4(parseIpv4(t.text)) : formatIpv6(parseIpv6(t.text)) };
        } catch {
          return this.fail(`bad ${type === 'A' ? 'IPv4' : 'IPv6'} address "${t.text}"`, t);
        }
        break;
      }
      case 'NS': d = { host: this.dname('NS host name') }; break;
      case 'CNAME': case 'PTR': d = { target: this.dname(`${type} target`) }; break;
      case 'SOA':
        d = {
          mname: this.dname('SOA primary name server (MNAME)'),
          rname: this.dname('SOA responsible mailbox (RNAME)'),
          serial: this.int('SOA serial', 0xffffffff),
          refresh: this.int('SOA refresh', MAX_TTL, true),
          retry: this.int('SOA retry', MAX_TTL, true),
          expire: this.int('SOA expire', MAX_TTL, true),
          minimum: this.int('SOA minimum', MAX_TTL, true),
        };
        break;
      case 'MX': d = { preference: this.int('MX preference', 0xffff), exchange: this.dname('MX exchange') }; break;
      case 'SRV':
        d = {
          priority: this.int('SRV priority', 0xffff), weight: this.int('SRV weight', 0xffff),
          port: this.int('SRV port', 0xffff), target: this.dname('SRV target'),
        };
        break;
      case 'TXT': case 'SPF': {
        if (type === 'SPF') return this.fail('SPF records are obsolete (RFC 7208 §3.1); use TXT');
        const strings: string[] = [this.charString('TXT string')];
        while (this.k < this.toks.length) strings.push(this.charString('TXT string'));
        d = { strings };
        break;
      }
      case 'CAA': {
        const flags = this.int('CAA flags', 255);
        const tagTok = this.next('CAA tag');
        if (!/^[A-Za-z0-9]{1,15}$/.test(tagTok.text)) this.fail(`bad CAA tag "${tagTok.text}"`, tagTok);
        const vt = this.next('CAA value');
        d = { flags, tag: tagTok.text, value: bytesToText(charStringBytes(vt, this.file)) };
        break;
      }
      default:
        return this.fail(`type ${type} must be written in the RFC 3597 form: \\# <length> <hex>`, this.typeTok);
    }
    this.end(type);
    return d;
  }

  // RFC 3597 §5: \# <length> <hex words>
  private generic(type: string): RData {
    this.k = 1;
    const len = this.int('RDATA length', 0xffff);
    let hex = '';
    while (this.k < this.toks.length) {
      const t = this.next('hex');
      if (t.quoted || !/^[0-9a-fA-F]*$/.test(t.text)) this.fail(`bad hex "${t.text}"`, t);
      hex += t.text;
    }
    if (hex.length % 2 !== 0) this.fail('odd number of hex digits', this.toks[this.toks.length - 1]);
    if (hex.length / 2 !== len) this.fail(`\\# length ${len} does not match ${hex.length / 2} bytes of data`, this.toks[1]);
    const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
    try {
      return typedFromOpaque(type, bytes);
    } catch (err) {
      return this.fail(`\\# data is not valid ${type} RDATA: ${err instanceof Error ? err.message : String(err)}`, this.toks[0]);
    }
  }
}

/** Parses master-file text into records (see the invariants above). */
export function parseZone(text: string, options: ParseZoneOptions): ParsedZone {
  let origin: string;
  try {
    origin = labelsToName(nameToLabels(options.origin));
  } catch (err) {
    throw new ZoneParseError(`bad origin "${options.origin}": ${err instanceof Error ? err.message : String(err)}`, { file: options.file, line: 0, column: 0 });
  }
  if (options.defaultTtl !== undefined && (!Number.isInteger(options.defaultTtl) || options.defaultTtl < 0 || options.defaultTtl > MAX_TTL)) {
    throw new ZoneParseError(`bad defaultTtl ${options.defaultTtl}`, { file: options.file, line: 0, column: 0 });
  }
  const p = new Parser(options);
  p.parse(text.startsWith('\ufeff') ? text.slice(1) : text, origin, options.file, 0);
  return { origin, records: p.records };
}
