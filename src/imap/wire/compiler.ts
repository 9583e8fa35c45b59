// IMAP response values (RFC 3501 §9 grammar, §4): strings as quoted or literal, NIL, lists.
//
// A response is built as a list of parts: text (ASCII/UTF-8 strings) and literal payloads
// (Buffers, or async chunk sources for message bodies that stream). `quoted()` is used only for
// text that may be quoted (no CR, LF, NUL, 8-bit unless utf8 is allowed, and short); anything
// else becomes a literal `{n}\r\n<octets>`.

/** Longest text sent as a quoted string; longer values go as literals. */
const MAX_QUOTED = 1024;

export type Part = string | Buffer;

/** True if `s` can be a quoted string (RFC 3501 §9 QUOTED-CHAR; RFC 6855 allows UTF-8). */
export function canQuote(s: string, utf8 = false): boolean {
  if (s.length > MAX_QUOTED) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
    if (c >= 0x80 && !utf8) return false;
  }
  return true;
}

export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A string value: quoted when possible, else a literal. */
export function str(s: string, utf8 = false): string {
  if (canQuote(s, utf8)) return quote(s);
  return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
}

/** nstring: NIL for null. */
export function nstr(s: string | null | undefined, utf8 = false): string {
  return s === null || s === undefined ? 'NIL' : str(s, utf8);
}

/** astring: an atom when it is one, else a string (mailbox names in LIST/STATUS). */
export function astr(s: string, utf8 = false): string {
  if (s.length > 0 && /^[\x21-\x7e]+$/.test(s) && !/[(){ %*"\\\]]/.test(s)) return s;
  return str(s, utf8);
}

/** "(" a SP b ... ")" or NIL for an empty/null list when nilIfEmpty. */
export function list(items: readonly string[], nilIfEmpty = false): string {
  if (items.length === 0 && nilIfEmpty) return 'NIL';
  return `(${items.join(' ')})`;
}

/** A literal header for `n` octets (the octets follow). */
export function literalHead(n: number): string {
  return `{${n}}\r\n`;
}

/** RFC 3501 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (UTC here). */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function formatInternalDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}

/** Parses date-time ("dd-Mon-yyyy hh:mm:ss +zzzz", day may be " d") or date ("d-Mon-yyyy"). */
export function parseImapDate(s: string, withTime: boolean): Date | null {
  const re = withTime ? /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/ : /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/;
  const m = re.exec(s);
  if (!m) return null;
  const mon = MONTHS.findIndex((x) => x.toLowerCase() === m[2]!.toLowerCase());
  if (mon < 0) return null;
  const day = Number(m[1]);
  if (day < 1 || day > 31) return null;
  if (!withTime) return new Date(Date.UTC(Number(m[3]), mon, day));
  const [h, mi, se] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (h > 23 || mi > 59 || se > 60) return null;
  const off = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  return new Date(Date.UTC(Number(m[3]), mon, day, h, mi, se) - off * 60_000);
}
