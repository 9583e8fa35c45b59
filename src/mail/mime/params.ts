// MIME header parameters: Content-Type / Content-Disposition values (RFC 2045 §5.1, RFC 2183),
// quoted-string values (RFC 2045 / RFC 5322 §3.2.4), and RFC 2231 extensions: continuations
// (name*0, name*1, …), charset'language'percent-encoded values (name*=, name*0*=).
// Invariants: never throws; names are lower case; values are returned decoded to strings;
// comments (RFC 5322 CFWS) are skipped; garbage yields what can be salvaged.
import { decodeCharset } from './charset.js';
import { decodeWords } from './encoded-words.js';

export interface ParsedContentType {
  type: string;
  subtype: string;
  params: Record<string, string>;
}

/** Splits `value` into the leading token (before the first ";") and the raw parameter text. */
function splitValue(value: string): { head: string; rest: string } {
  let i = 0;
  let inQuote = false;
  let depth = 0;
  for (; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (inQuote || depth > 0)) {
      i++;
      continue;
    }
    if (inQuote) {
      if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (c === ';' && depth === 0) break;
  }
  return { head: stripComments(value.slice(0, i)).trim(), rest: value.slice(i) };
}

function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && (inQuote || depth > 0)) {
      if (depth === 0) out += c + s[i + 1];
      i++;
      continue;
    }
    if (depth === 0 && c === '"') inQuote = !inQuote;
    if (!inQuote && c === '(') {
      depth++;
      continue;
    }
    if (!inQuote && c === ')' && depth > 0) {
      depth--;
      continue;
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** Parses "text/plain; charset=us-ascii"; null type when the value is not type/subtype. */
export function parseContentType(value: string | null | undefined): ParsedContentType | null {
  if (value == null) return null;
  const { head, rest } = splitValue(value);
  const m = /^([^\s/;]+)\s*\/\s*([^\s;]+)$/.exec(head);
  if (!m) return null;
  return { type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params: parseParams(rest) };
}

/** Parses "attachment; filename=x" (RFC 2183). */
export function parseDisposition(value: string | null | undefined): { type: string; params: Record<string, string> } | null {
  if (value == null) return null;
  const { head, rest } = splitValue(value);
  if (!head) return null;
  return { type: head.toLowerCase(), params: parseParams(rest) };
}

interface RawParam {
  name: string;
  section: number | null;
  extended: boolean;
  value: string;
}

/** Parses `; a=b; c="d e"` into lower-case names and decoded values (RFC 2231 §3, §4). */
export function parseParams(text: string): Record<string, string> {
  const raw: RawParam[] = [];
  let i = 0;
  const n = text.length;
  const skipCfws = () => {
    for (;;) {
      while (i < n && /[\s;]/.test(text[i]!)) i++;
      if (text[i] === '(') {
        let depth = 0;
        for (; i < n; i++) {
          if (text[i] === '\\') {
            i++;
            continue;
          }
          if (text[i] === '(') depth++;
          else if (text[i] === ')' && --depth === 0) {
            i++;
            break;
          }
        }
        continue;
      }
      break;
    }
  };
  while (i < n) {
    skipCfws();
    if (i >= n) break;
    const nameStart = i;
    while (i < n && !/[=;\s()"]/.test(text[i]!)) i++;
    let name = text.slice(nameStart, i).toLowerCase();
    while (i < n && /[ \t]/.test(text[i]!)) i++;
    if (text[i] !== '=') {
      // Not a parameter; skip to the next ';'.
      if (i === nameStart) i++;
      while (i < n && text[i] !== ';') i++;
      continue;
    }
    i++; // '='
    while (i < n && /[ \t]/.test(text[i]!)) i++;
    let value = '';
    if (text[i] === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      const vs = i;
      while (i < n && text[i] !== ';' && !/[\s(]/.test(text[i]!)) i++;
      value = text.slice(vs, i);
    }
    if (!name) continue;
    // RFC 2231 §3/§4: name*N or name*N* or name*.
    let section: number | null = null;
    let extended = false;
    if (name.endsWith('*')) {
      extended = true;
      name = name.slice(0, -1);
    }
    const sm = /^(.*)\*(\d+)$/.exec(name);
    if (sm) {
      name = sm[1]!;
      section = Number(sm[2]);
    }
    raw.push({ name, section, extended, value });
  }

  // RFC 2231 §3/§4: sections (name*0…) win over name*=, which wins over a plain name= (a
  // sender adding both means the extended form for RFC 2231-aware readers).
  const plain = new Map<string, string>();
  const extended = new Map<string, string>();
  const groups = new Map<string, RawParam[]>();
  for (const p of raw) {
    if (p.section === null) {
      if (p.extended) {
        if (!extended.has(p.name)) extended.set(p.name, decode2231(p.value, true).text);
      } else if (!plain.has(p.name)) {
        // Plain values may carry RFC 2047 words in practice (not standard, but common); never a
        // boundary, whose exact octets matter.
        plain.set(p.name, p.value.includes('=?') && p.name !== 'boundary' ? decodeWords(p.value) : p.value);
      }
      continue;
    }
    let g = groups.get(p.name);
    if (!g) groups.set(p.name, (g = []));
    g.push(p);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of plain) out[k] = v;
  for (const [k, v] of extended) out[k] = v;
  for (const [name, parts] of groups) {
    parts.sort((a, b) => a.section! - b.section!);
    if (parts[0]!.section !== 0) continue;
    // RFC 2231 §3: the charset and language appear only in section 0; sections are decoded as
    // one octet sequence, then as one string.
    let charset: string | null = null;
    const bytes: number[] = [];
    let expected = 0;
    for (const p of parts) {
      if (p.section !== expected) break; // a missing or repeated section: keep what is contiguous
      expected++;
      let v = p.value;
      if (p.extended) {
        if (p.section === 0) {
          const m = /^([^']*)'[^']*'(.*)$/s.exec(v);
          if (m) {
            charset = m[1] || null;
            v = m[2]!;
          }
        }
        pushPercentDecoded(bytes, v);
      } else {
        for (const b of Buffer.from(v, 'utf8')) bytes.push(b);
      }
    }
    const buf = Buffer.from(bytes);
    out[name] = (charset ? decodeCharset(buf, charset) : null) ?? buf.toString('utf8');
  }
  return out;
}

function pushPercentDecoded(bytes: number[], v: string): void {
  const b = Buffer.from(v, 'utf8');
  for (let k = 0; k < b.length; k++) {
    const c = b[k]!;
    if (c === 0x25 && k + 2 < b.length + 0 && isHex(b[k + 1]) && isHex(b[k + 2])) {
      bytes.push(parseInt(String.fromCharCode(b[k + 1]!, b[k + 2]!), 16));
      k += 2;
    } else bytes.push(c);
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102));
}

/** RFC 2231 §4: charset'language'%XX-encoded → text. */
export function decode2231(v: string, withCharset: boolean): { text: string; charset: string | null; language: string | null } {
  let charset: string | null = null;
  let language: string | null = null;
  if (withCharset) {
    const m = /^([^']*)'([^']*)'(.*)$/s.exec(v);
    if (m) {
      charset = m[1] || null;
      language = m[2] || null;
      v = m[3]!;
    }
  }
  const bytes: number[] = [];
  pushPercentDecoded(bytes, v);
  const buf = Buffer.from(bytes);
  return { text: (charset ? decodeCharset(buf, charset) : null) ?? buf.toString('utf8'), charset, language };
}

const TSPECIALS = /[()<>@,;:\\"/[\]?=\s]/;

/** Formats parameters, quoting values that need it; non-ASCII values use RFC 2231 UTF-8 encoding. */
export function formatParams(params: Record<string, string>): string {
  let out = '';
  for (const [name, value] of Object.entries(params)) {
    if (/[^\x20-\x7e]/.test(value)) {
      out += `; ${name}*=utf-8''${encodeURIComponent(value).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`;
    } else if (value === '' || TSPECIALS.test(value)) {
      out += `; ${name}="${value.replace(/["\\]/g, '\\$&')}"`;
    } else out += `; ${name}=${value}`;
  }
  return out;
}
