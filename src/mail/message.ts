// RFC 5322 messages: header fields (with folding and obsolete syntax tolerated), address lists
// (groups, quoted strings, comments, obs-route), dates (§3.3 with obsolete zones) and
// Message-IDs. Pure functions; none throws on malformed input (they return null or what can be
// salvaged), so they are safe on whatever arrives over the wire.
import { randomBytes } from 'node:crypto';
import type { EnvelopeAddress } from './meta.js';
import { decodeHeaderBytes } from './mime/charset.js';
import { decodeWords, encodeWords } from './mime/encoded-words.js';

export interface HeaderField {
  /** As written (case kept). */
  name: string;
  /** The field's value as on the wire after the colon, folding kept, no final CRLF. */
  raw: string;
  /** Unfolded (RFC 5322 §2.2.3: CRLF before WSP removed) and trimmed. */
  value: string;
  /** Octet offsets of the whole field (name to its final CRLF included) within the parsed block. */
  start: number;
  end: number;
}

/** RFC 5322 §2.2.3: unfolding removes every CRLF that is followed by WSP. */
export function unfold(s: string): string {
  return s.replace(/\r?\n(?=[ \t])/g, '');
}

/**
 * Parses a header block (octets up to, and possibly including, the blank line). Lines that are
 * neither fields nor continuations are skipped (RFC 5322 §4 tolerance); parsing stops at the
 * first empty line.
 */
export function parseHeaderFields(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let pos = 0;
  let cur: { name: string; start: number; valueStart: number; end: number } | null = null;
  const finish = () => {
    if (!cur) return;
    let rawEnd = cur.end;
    if (block[rawEnd - 1] === 0x0a) rawEnd--;
    if (block[rawEnd - 1] === 0x0d) rawEnd--;
    const raw = decodeHeaderBytes(block.subarray(cur.valueStart, Math.max(cur.valueStart, rawEnd)));
    fields.push({ name: cur.name, raw, value: unfold(raw).trim(), start: cur.start, end: cur.end });
    cur = null;
  };
  while (pos < block.length) {
    let nl = block.indexOf(0x0a, pos);
    const lineEnd = nl < 0 ? block.length : nl + 1;
    let contentEnd = nl < 0 ? block.length : nl;
    if (contentEnd > pos && block[contentEnd - 1] === 0x0d) contentEnd--;
    if (contentEnd === pos) break; // the blank line ends the header
    const first = block[pos]!;
    if (first === 0x20 || first === 0x09) {
      if (cur) cur.end = lineEnd; // continuation (RFC 5322 §2.2.3)
    } else {
      finish();
      const rel = block.subarray(pos, contentEnd).indexOf(0x3a); // bounded to the line: linear
      const colon = rel < 0 ? -1 : pos + rel;
      if (colon > pos) {
        // RFC 5322 §3.6.8: field-name = 1*ftext; §4.5 obs-optional allows WSP before the colon.
        const name = block.toString('latin1', pos, colon).replace(/[ \t]+$/, '');
        if (name && /^[\x21-\x39\x3b-\x7e]+$/.test(name)) cur = { name, start: pos, valueStart: colon + 1, end: lineEnd };
      }
    }
    pos = lineEnd;
    nl = 0;
  }
  finish();
  return fields;
}

/** The first field named `name` (case-insensitive), unfolded; null when absent. */
export function getHeader(fields: readonly HeaderField[], name: string): string | null {
  const n = name.toLowerCase();
  for (const f of fields) if (f.name.toLowerCase() === n) return f.value;
  return null;
}

/** Every field named `name`, unfolded, in order. */
export function getHeaders(fields: readonly HeaderField[], name: string): string[] {
  const n = name.toLowerCase();
  return fields.filter((f) => f.name.toLowerCase() === n).map((f) => f.value);
}

/** True when a line (no line end) is a header field start: ftext+ [WSP] ":". */
export function isFieldLine(line: Buffer): boolean {
  const colon = line.indexOf(0x3a);
  if (colon <= 0) return false;
  let end = colon;
  while (end > 0 && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
  if (end === 0) return false;
  for (let i = 0; i < end; i++) {
    const c = line[i]!;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * RFC 3501 §6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT: the fields of a header block whose names
 * are (or, with `not`, are not) in `names`, as on the wire, followed by the blank line.
 */
export function headerFields(block: Buffer, names: readonly string[], not = false): Buffer {
  const set = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  for (const f of parseHeaderFields(block)) {
    if (set.has(f.name.toLowerCase()) !== not) out.push(block.subarray(f.start, f.end));
  }
  // Fields at the very end of a header without a final CRLF get one.
  const joined: Buffer[] = [];
  for (const b of out) {
    joined.push(b);
    if (b[b.length - 1] !== 0x0a) joined.push(CRLF);
  }
  joined.push(CRLF);
  return Buffer.concat(joined);
}

const CRLF = Buffer.from('\r\n');

// ---- addresses ---------------------------------------------------------------------------

/** A lexical token; `ws` when white space (or a comment) preceded it. */
type Tok = { t: 'atom' | 'qs' | 'lit' | 'sp' | 'comment'; v: string; ws?: boolean };

/** RFC 5322 §3.2: lexical tokens; specials are single-character `sp` tokens. */
function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const n = s.length;
  let ws = false;
  const push = (t: Tok) => {
    if (ws) t.ws = true;
    ws = t.t === 'comment';
    toks.push(t);
  };
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      ws = true;
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        else if (s[i] === '\r' || s[i] === '\n') {
          i++;
          continue;
        }
        v += s[i];
        i++;
      }
      i++;
      push({ t: 'qs', v });
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let v = '';
      for (; i < n; i++) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < n) {
          v += s[++i];
          continue;
        }
        if (d === '(') {
          if (depth++ > 0) v += d;
        } else if (d === ')') {
          if (--depth === 0) {
            i++;
            break;
          }
          v += d;
        } else v += d;
      }
      push({ t: 'comment', v: v.trim() });
      continue;
    }
    if (c === '[') {
      const end = s.indexOf(']', i);
      const e = end < 0 ? n : end + 1;
      push({ t: 'lit', v: s.slice(i, e) });
      i = e;
      continue;
    }
    if ('<>@,;:.'.includes(c)) {
      push({ t: 'sp', v: c });
      i++;
      continue;
    }
    let j = i;
    while (j < n && !' \t\r\n"(<>@,;:.['.includes(s[j]!) && s[j] !== ')') j++;
    if (j === i) j++; // a stray ")" or similar: one character atom
    push({ t: 'atom', v: s.slice(i, j) });
    i = j;
  }
  return toks;
}

const MISSING_MAILBOX = 'MISSING_MAILBOX';
const MISSING_DOMAIN = 'MISSING_DOMAIN';

/**
 * Parses an address-list (RFC 5322 §3.4, with obs-phrase, obs-route, obs-local-part and empty
 * list elements) into IMAP ENVELOPE addresses (RFC 3501 §7.4.2): a group becomes a start marker
 * (mailbox = group name, host null) and an end marker (all null). Display names are the phrase
 * with quotes removed and encoded words kept; a missing local part or domain is spelt
 * MISSING_MAILBOX / MISSING_DOMAIN (as Dovecot does) so that host is never null for a mailbox.
 */
export function parseAddressList(value: string | null | undefined): EnvelopeAddress[] {
  if (!value) return [];
  const toks = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let i = 0;
  let inGroup = false;
  const isSp = (k: number, v: string) => toks[k]?.t === 'sp' && toks[k]!.v === v;
  while (i < toks.length) {
    if (isSp(i, ',')) {
      i++;
      continue;
    }
    if (isSp(i, ';')) {
      if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
      inGroup = false;
      i++;
      continue;
    }
    // Phrase (or local part) words, up to a special that tells what this is.
    const words: Tok[] = [];
    let lastComment: string | null = null;
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.t === 'sp' && t.v !== '.') break;
      if (t.t === 'comment') lastComment = t.v;
      else words.push(t);
      i++;
    }
    const next = toks[i];
    if (next && next.t === 'sp' && next.v === ':' && !inGroup) {
      // group = display-name ":" [group-list] ";"
      out.push({ name: null, adl: null, mailbox: phraseText(words) || '', host: null });
      inGroup = true;
      i++;
      continue;
    }
    if (next && next.t === 'sp' && next.v === '<') {
      i++;
      // obs-route: "@a,@b:" before the addr-spec.
      let adl: string | null = null;
      if (isSp(i, '@')) {
        const start = i;
        while (i < toks.length && !isSp(i, ':') && !isSp(i, '>')) i++;
        if (isSp(i, ':')) {
          adl = toks.slice(start, i).filter((t) => t.t !== 'comment').map((t) => t.v).join('');
          i++;
        } else i = start;
      }
      const local: Tok[] = [];
      while (i < toks.length && !isSp(i, '@') && !isSp(i, '>')) {
        if (toks[i]!.t !== 'comment') local.push(toks[i]!);
        else lastComment ??= toks[i]!.v;
        i++;
      }
      const dom: Tok[] = [];
      if (isSp(i, '@')) {
        i++;
        while (i < toks.length && !isSp(i, '>')) {
          const t = toks[i]!;
          if (t.t === 'comment') lastComment ??= t.v;
          else if (t.t === 'sp' && (t.v === ',' || t.v === ';')) break;
          else dom.push(t);
          i++;
        }
      }
      if (isSp(i, '>')) i++;
      // Trailing comment after the angle-addr.
      while (toks[i]?.t === 'comment') {
        lastComment ??= (toks[i] as { v: string }).v;
        i++;
      }
      const name = phraseText(words);
      out.push({
        name: name || (words.length === 0 && lastComment ? lastComment : null),
        adl,
        mailbox: localText(local) || MISSING_MAILBOX,
        host: dom.map((t) => t.v).join('') || MISSING_DOMAIN,
      });
      continue;
    }
    if (next && next.t === 'sp' && next.v === '@') {
      i++;
      const dom: Tok[] = [];
      while (i < toks.length) {
        const t = toks[i]!;
        if (t.t === 'sp' && (t.v === ',' || t.v === ';' || t.v === '<' || t.v === '>' || t.v === ':')) break;
        if (t.t === 'comment') lastComment = t.v;
        else dom.push(t);
        i++;
      }
      if (isSp(i, '>') || isSp(i, '<') || (isSp(i, ':') && inGroup)) i++;
      out.push({ name: lastComment || null, adl: null, mailbox: localText(words) || MISSING_MAILBOX, host: dom.map((t) => t.v).join('') || MISSING_DOMAIN });
      continue;
    }
    if (words.length > 0) {
      // A bare word: a mailbox with no domain (e.g. "undisclosed-recipients" without ":;").
      out.push({ name: lastComment || null, adl: null, mailbox: localText(words), host: MISSING_DOMAIN });
    }
    if (next && next.t === 'sp' && (next.v === '>' || next.v === ':' || next.v === '@')) i++; // stray special
  }
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}

function phraseText(words: Tok[]): string {
  // RFC 5322 §3.2.5 phrase / obs-phrase (dots allowed); quotes removed, encoded words kept;
  // the original spacing between words is kept as one space.
  let s = '';
  for (const w of words) {
    if (s && w.ws) s += ' ';
    s += w.v;
  }
  return s.trim();
}

function localText(words: Tok[]): string {
  // obs-local-part: words separated by dots (CFWS around them dropped).
  return words.map((w) => w.v).join('');
}

/** A simple address: display name (decoded, RFC 2047) and "local@domain". */
export interface Address {
  name: string | null;
  address: string;
}

/** The mailboxes of an address list, groups flattened, names decoded. */
export function parseAddresses(value: string | null | undefined): Address[] {
  return parseAddressList(value)
    .filter((a) => a.host !== null)
    .map((a) => ({ name: a.name === null ? null : decodeWords(a.name), address: a.host === MISSING_DOMAIN ? a.mailbox! : `${a.mailbox}@${a.host}` }));
}

const ATOM_RE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;

/** Formats one address: `Name <local@domain>`, quoting/encoding the name when needed. */
export function formatAddress(a: Address): string {
  const at = a.address.lastIndexOf('@');
  let addr = a.address;
  if (at > 0) {
    const local = a.address.slice(0, at);
    // RFC 5322 §3.4.1: dot-atom, or a quoted string.
    if (!local.split('.').every((p) => ATOM_RE.test(p))) addr = `"${local.replace(/["\\]/g, '\\$&')}"${a.address.slice(at)}`;
  }
  if (!a.name) return addr;
  return `${formatPhrase(a.name)} <${addr}>`;
}

/** A display name as an RFC 5322 phrase: atoms, a quoted string, or RFC 2047 words. */
export function formatPhrase(name: string): string {
  if (/[^\x20-\x7e]/.test(name)) return encodeWords(name, { q: true }).replace(/\r\n /g, ' ');
  if (name.split(' ').every((w) => ATOM_RE.test(w))) return name;
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

export function formatAddressList(list: readonly Address[]): string {
  return list.map(formatAddress).join(', ');
}

/** Display form of an address header: names decoded; "Name <addr>" or "addr". */
export function displayAddresses(value: string | null | undefined): string {
  if (!value) return '';
  const list = parseAddressList(value);
  if (list.length === 0) return decodeWords(value);
  const parts: string[] = [];
  for (const a of list) {
    if (a.host === null) continue; // group markers
    const addr = a.host === MISSING_DOMAIN ? a.mailbox! : `${a.mailbox}@${a.host}`;
    parts.push(a.name ? `${decodeWords(a.name)} <${addr}>` : addr);
  }
  return parts.join(', ');
}

// ---- dates -------------------------------------------------------------------------------

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

// RFC 5322 §4.3 obs-zone.
const ZONES: Record<string, number> = {
  ut: 0, gmt: 0, z: 0, utc: 0,
  edt: -4 * 60, est: -5 * 60, cdt: -5 * 60, cst: -6 * 60,
  mdt: -6 * 60, mst: -7 * 60, pdt: -7 * 60, pst: -8 * 60,
};

/**
 * RFC 5322 §3.3 date-time (and §4.3 obsolete forms: 2- and 3-digit years, alphabetic zones,
 * comments, missing seconds, missing day-of-week, extra whitespace) → epoch ms; null when it
 * cannot be read. Military zones other than Z are taken as -0000 (RFC 5322 §4.3).
 */
export function parseDate(value: string | null | undefined): number | null {
  if (!value) return null;
  // Drop comments and the day of week.
  let s = value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  s = s.replace(/^[A-Za-z]+\s*,?\s*/, (m) => (/^[A-Za-z]{3,}/.test(m) && !MONTHS.includes(m.trim().slice(0, 3).toLowerCase()) ? '' : m));
  const m = /^(\d{1,2})[\s-]+([A-Za-z]{3})[A-Za-z]*\.?[\s-]+(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*([+-]\d{4}|[A-Za-z]+)?/.exec(s);
  if (!m) return null;
  const day = Number(m[1]);
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let year = Number(m[3]);
  // RFC 5322 §4.3: a 2-digit year below 50 is 20xx, else 19xx; 3 digits add 1900.
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const min = Number(m[5]);
  const sec = m[6] ? Number(m[6]) : 0;
  if (day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return null;
  let offset = 0;
  const z = m[7];
  if (z) {
    if (/^[+-]\d{4}$/.test(z)) {
      const sign = z[0] === '-' ? -1 : 1;
      const hh = Number(z.slice(1, 3));
      const mm = Number(z.slice(3, 5));
      if (mm > 59) return null;
      offset = sign * (hh * 60 + mm);
    } else offset = ZONES[z.toLowerCase()] ?? 0;
  }
  const ms = Date.UTC(year, mon, day, hour, min, Math.min(sec, 59)) - offset * 60_000;
  return Number.isFinite(ms) ? ms : null;
}

/**
 * RFC 5322 §3.3: "Mon, 23 Nov 2026 10:59:47 +0000". The zone is UTC unless `offsetMinutes` is
 * given (east of UTC positive).
 */
export function formatDate(d: Date | number = new Date(), offsetMinutes = 0): string {
  const t = (typeof d === 'number' ? d : d.getTime()) + offsetMinutes * 60_000;
  const x = new Date(t);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  const mon = MONTHS[x.getUTCMonth()]!;
  return `${DAYS[x.getUTCDay()]}, ${x.getUTCDate()} ${mon[0]!.toUpperCase()}${mon.slice(1)} ${x.getUTCFullYear()} ${p2(x.getUTCHours())}:${p2(x.getUTCMinutes())}:${p2(x.getUTCSeconds())} ${sign}${p2(Math.floor(off / 60))}${p2(off % 60)}`;
}

/** RFC 5322 §3.6.4: a unique msg-id, "<time.random@hostname>". */
export function makeMessageId(hostname: string): string {
  const host = hostname.replace(/[^A-Za-z0-9.\-]/g, '') || 'localhost';
  return `<${Date.now().toString(36)}.${randomBytes(9).toString('base64url')}@${host}>`;
}
