// RFC 2047 encoded words: "=?charset?B|Q?text?=" in header text, decode and encode.
// Invariants: decoding never throws; a word with an unknown charset or a broken encoding is kept
// as it appears; linear white space between two adjacent encoded words is dropped (RFC 2047
// §6.2), anywhere else it is kept. Adjacent words in the same charset are joined as octets
// before decoding, so a multi-octet character split across two words survives.
import { decodeCharset } from './charset.js';

// RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="; RFC 2231 §5 adds
// an optional "*language" after the charset.
const WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeQ(text: string): Buffer {
  // RFC 2047 §4.2: "_" is space, "=XX" an octet.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out.push(0x20);
    else if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(c & 0xff);
  }
  return Buffer.from(out);
}

function decodeB(text: string): Buffer | null {
  const clean = text.replace(/[^A-Za-z0-9+/]/g, '');
  if (clean.length % 4 === 1) return null;
  return Buffer.from(clean, 'base64');
}

/** Decodes every encoded word in a header value (unfolded or not). */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  // A run of adjacent encoded words in one charset, decoded together.
  let pending: { charset: string; bytes: Buffer[]; raw: string } | null = null;
  let gap = '';
  const flush = () => {
    if (!pending) return;
    const text = decodeCharset(Buffer.concat(pending.bytes), pending.charset);
    out += text ?? pending.raw;
    pending = null;
  };
  WORD.lastIndex = 0;
  for (let m = WORD.exec(value); m; m = WORD.exec(value)) {
    const between = value.slice(last, m.index);
    const adjacent = pending !== null && /^[ \t\r\n]*$/.test(between);
    const charset = m[1]!.toLowerCase();
    const enc = m[2]!.toUpperCase();
    const bytes = enc === 'B' ? decodeB(m[3]!) : decodeQ(m[3]!);
    const known = bytes !== null && decodeCharset(Buffer.alloc(0), charset) !== null;
    if (!known) {
      // Kept raw, with the text before it.
      flush();
      out += between + m[0];
      last = m.index + m[0].length;
      gap = '';
      continue;
    }
    if (adjacent) {
      const p = pending as unknown as { charset: string; bytes: Buffer[]; raw: string };
      if (p.charset === charset) {
        p.bytes.push(bytes);
        p.raw += between + m[0];
      } else {
        flush();
        pending = { charset, bytes: [bytes], raw: m[0] };
      }
    } else {
      flush();
      out += between;
      pending = { charset, bytes: [bytes], raw: m[0] };
    }
    gap = between;
    last = m.index + m[0].length;
  }
  void gap;
  flush();
  return out + value.slice(last);
}

/** True when text can go in a header as is (printable US-ASCII, no "=?" that would look encoded). */
function plain(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text) && !text.includes('=?');
}

/**
 * Encodes text for an unstructured header (Subject) or a display name: unchanged when plain,
 * else UTF-8 B words of at most 75 characters (RFC 2047 §2), separated by CRLF SP (folds).
 */
export function encodeWords(text: string, opts: { q?: boolean } = {}): string {
  if (plain(text)) return text;
  const words: string[] = [];
  const maxBytes = opts.q ? 20 : 45; // keeps every word under 75 characters
  let cur = '';
  let curBytes = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (curBytes + b > maxBytes && cur) {
      words.push(cur);
      cur = '';
      curBytes = 0;
    }
    cur += ch;
    curBytes += b;
  }
  if (cur) words.push(cur);
  return words.map((w) => encodeWord(w, opts.q ? 'Q' : 'B')).join('\r\n ');
}

/** One encoded word (UTF-8). */
export function encodeWord(text: string, enc: 'B' | 'Q' = 'B'): string {
  const bytes = Buffer.from(text, 'utf8');
  if (enc === 'B') return `=?UTF-8?B?${bytes.toString('base64')}?=`;
  let q = '';
  for (const c of bytes) {
    // RFC 2047 §5(3): in a phrase only letters, digits and !*+-/ may appear unencoded.
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 0x21 || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2f) q += String.fromCharCode(c);
    else if (c === 0x20) q += '_';
    else q += '=' + c.toString(16).toUpperCase().padStart(2, '0');
  }
  return `=?UTF-8?Q?${q}?=`;
}
