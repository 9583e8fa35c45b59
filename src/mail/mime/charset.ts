// Charset decoding for MIME text (RFC 2045 §5.1 charset parameter, RFC 2047 encoded words).
// Invariants: never throws; an unknown charset yields null so callers can keep the raw text.
// us-ascii and iso-8859-1 are decoded exactly (WHATWG's TextDecoder maps "iso-8859-1" to
// windows-1252, which is not what the label means in mail).

import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  let d = decoders.get(label);
  if (d !== undefined) return d;
  try {
    d = new TextDecoder(label, { fatal: false });
  } catch {
    d = null;
  }
  decoders.set(label, d);
  return d;
}

/** Decodes bytes in `charset`; null when the charset is unknown. */
export function decodeCharset(bytes: Uint8Array, charset: string | null | undefined): string | null {
  const cs = (charset ?? 'us-ascii').trim().toLowerCase().replace(/^"|"$/g, '');
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (cs) {
    case '':
    case 'us-ascii':
    case 'ascii':
    case 'ansi_x3.4-1968':
    case 'iso-8859-1':
    case 'iso8859-1':
    case 'latin1':
    case 'latin-1':
    case 'l1':
      // Bytes above 127 in "us-ascii" are common in practice; read them as Latin-1.
      return buf.toString('latin1');
    case 'utf-8':
    case 'utf8':
      return buf.toString('utf8');
    case 'windows-1252':
    case 'cp1252':
    case 'x-cp1252':
      // Node's TextDecoder reads this label as Latin-1 (nodejs/node#56542); map 0x80–0x9F here.
      return decode1252(buf);
    default: {
      const d = decoderFor(cs);
      return d ? d.decode(buf) : null;
    }
  }
}

/** Decodes header bytes: UTF-8 when valid (RFC 6532), else Latin-1 (keeps every octet). */
export function decodeHeaderBytes(bytes: Buffer): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! > 127) return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
  }
  return bytes.toString('latin1');
}

function isUtf8(b: Buffer): boolean {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) need = 2;
    else if (c >= 0xf0 && c <= 0xf4) need = 3;
    else return false;
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return false;
    }
    i += need + 1;
  }
  return true;
}

// windows-1252 octets 0x80–0x9F (the rest is Latin-1); undefined positions map to themselves.
const CP1252 = '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

function decode1252(buf: Buffer): string {
  const s = buf.toString('latin1');
  return /[\x80-\x9f]/.test(s) ? s.replace(/[\x80-\x9f]/g, (c) => CP1252[c.charCodeAt(0) - 0x80]!) : s;
}
