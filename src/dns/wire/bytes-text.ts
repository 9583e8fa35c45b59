// Lossless bytes <-> text for DNS character-strings (TXT, CAA values): valid UTF-8 becomes the
// text it encodes; any byte that is not part of a valid UTF-8 sequence becomes the lone
// surrogate U+DC00+byte ("surrogate-escape", as Python does), and encoding maps it back. So
// decode(encode(s)) === s for text and encode(decode(b)) equals b for all bytes.

const FATAL = new TextDecoder('utf-8', { fatal: true });

export function bytesToText(b: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  try {
    return FATAL.decode(b);
  } catch {
    return slowDecode(b);
  }
}

function slowDecode(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c < 0x80) { out += String.fromCharCode(c); i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; min = 0x10000; }
    let ok = need > 0 && i + need < b.length;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const cc = b[i + k];
        if (cc === undefined || (cc & 0xc0) !== 0x80) { ok = false; break; }
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    // Reject overlongs, UTF-16 surrogates and values above U+10FFFF.
    if (ok && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) { out += String.fromCodePoint(cp); i += need + 1; }
    else { out += String.fromCharCode(0xdc00 + c); i++; }
  }
  return out;
}

export function textToBytes(s: string): Uint8Array {
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc80 && c <= 0xdcff) { plain = false; break; }
  }
  if (plain) return Buffer.from(s, 'utf8');
  const parts: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xdc80 && cp <= 0xdcff) parts.push(cp - 0xdc00);
    else for (const byte of Buffer.from(ch, 'utf8')) parts.push(byte);
  }
  return Uint8Array.from(parts);
}
