// Mailbox names on the wire (RFC 3501 §5.1.3 modified UTF-7; RFC 9051 §5.1 and RFC 6855 §3
// UTF-8). Wharf keeps names as Unicode strings; an IMAP4rev1 client sees and sends them in
// modified UTF-7, a client that enabled IMAP4rev2 or UTF8=ACCEPT in UTF-8.
//
// Modified UTF-7: printable US-ASCII (0x20-0x7e) stands for itself, except "&", which is "&-";
// anything else is UTF-16BE in modified BASE64 ("," for "/", no "=" padding) between "&" and
// "-". Invariants: encode() is canonical (one shift per run of non-ASCII, zero padding bits),
// and decode() accepts exactly the canonical forms: decode(s) succeeds iff encode(decode(s))
// === s. Anything else (8-bit octets, a missing "-", bad BASE64, non-zero padding bits,
// printable ASCII or lone surrogates inside a shift, two adjacent shifts) throws ParseError,
// which the session answers with BAD.
import { ParseError } from './parser.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';

function isDirect(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

function encodeRun(units: number[]): string {
  let out = '&';
  let bits = 0;
  let acc = 0;
  for (const u of units) {
    acc = (acc << 16) | u;
    bits += 16;
    while (bits >= 6) {
      bits -= 6;
      out += B64[(acc >> bits) & 0x3f];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B64[(acc << (6 - bits)) & 0x3f];
  return out + '-';
}

/** Unicode name → modified UTF-7. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let run: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (isDirect(c)) {
      if (run.length) {
        out += encodeRun(run);
        run = [];
      }
      out += c === 0x26 ? '&-' : name[i];
    } else run.push(c);
  }
  if (run.length) out += encodeRun(run);
  return out;
}

/** Modified UTF-7 → Unicode name; ParseError for anything not canonical (see header). */
export function decodeMailboxName(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!isDirect(c)) throw new ParseError('mailbox name is not valid modified UTF-7 (8-bit or control character)');
    if (c !== 0x26) {
      out += s[i];
      i++;
      continue;
    }
    const end = s.indexOf('-', i + 1);
    if (end < 0) throw new ParseError('mailbox name is not valid modified UTF-7 (unterminated "&")');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    let acc = 0;
    let bits = 0;
    const units: number[] = [];
    for (let j = i + 1; j < end; j++) {
      const v = B64.indexOf(s[j]!);
      if (v < 0) throw new ParseError('mailbox name is not valid modified UTF-7 (bad BASE64)');
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 16) {
        bits -= 16;
        units.push((acc >> bits) & 0xffff);
      }
    }
    if (bits >= 6 || (acc & ((1 << bits) - 1)) !== 0) throw new ParseError('mailbox name is not valid modified UTF-7 (bad padding)');
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (isDirect(u)) throw new ParseError('mailbox name is not valid modified UTF-7 (encoded ASCII)');
      if (u >= 0xd800 && u <= 0xdbff) {
        const lo = units[k + 1];
        if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw new ParseError('mailbox name is not valid modified UTF-7 (lone surrogate)');
        k++;
      } else if (u >= 0xdc00 && u <= 0xdfff) throw new ParseError('mailbox name is not valid modified UTF-7 (lone surrogate)');
    }
    if (s[end + 1] === '&' && s[end + 2] !== '-') throw new ParseError('mailbox name is not valid modified UTF-7 (adjacent shifts)');
    out += String.fromCharCode(...units);
    i = end + 1;
  }
  return out;
}

/** A UTF-8 name from a UTF8=ACCEPT / IMAP4rev2 client: well-formed, no controls (RFC 9051 §5.1). */
export function checkUtf8MailboxName(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0xfffd) throw new ParseError('mailbox name is not valid UTF-8');
    if (c >= 0xd800 && c <= 0xdbff) {
      const lo = s.charCodeAt(i + 1);
      if (!(lo >= 0xdc00 && lo <= 0xdfff)) throw new ParseError('mailbox name is not valid UTF-8');
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new ParseError('mailbox name is not valid UTF-8');
  }
  return s;
}
