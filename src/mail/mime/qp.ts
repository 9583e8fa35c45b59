// Quoted-Printable (RFC 2045 §6.7) and tolerant base64 (RFC 2045 §6.8).
// Invariants: decoders never throw and keep what they cannot decode (an "=" not followed by two
// hex digits or a line end stays literal, RFC 2045 §6.7 note 1); encoders produce lines of at
// most 76 characters with CRLF line ends.

const HEX = '0123456789ABCDEF';

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87; // lower case tolerated (§6.7 (1))
  return -1;
}

/** RFC 2045 §6.7: decodes quoted-printable octets. */
export function decodeQP(input: Buffer | string): Buffer {
  const b = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  let lfs = 0;
  for (let k = b.indexOf(0x0a); k >= 0; k = b.indexOf(0x0a, k + 1)) lfs++;
  const out = Buffer.allocUnsafe(b.length + lfs); // a lone LF becomes CRLF
  let o = 0;
  let i = 0;
  const n = b.length;
  while (i < n) {
    // Find the line: trailing whitespace before a line end is dropped (§6.7 (3)).
    let nl = b.indexOf(0x0a, i);
    const hasEol = nl >= 0;
    if (!hasEol) nl = n;
    let end = nl;
    if (hasEol && end > i && b[end - 1] === 0x0d) end--;
    let trimmed = end;
    while (trimmed > i && (b[trimmed - 1] === 0x20 || b[trimmed - 1] === 0x09)) trimmed--;
    let soft = false;
    for (let k = i; k < trimmed; k++) {
      const c = b[k]!;
      if (c === 0x3d) {
        if (k === trimmed - 1) {
          // "=" at the end of a line: soft line break (§6.7 (5)).
          soft = true;
          break;
        }
        const h = hexVal(b[k + 1] ?? -1);
        const l = hexVal(b[k + 2] ?? -1);
        if (h >= 0 && l >= 0 && k + 2 < trimmed) {
          out[o++] = (h << 4) | l;
          k += 2;
          continue;
        }
        out[o++] = c; // not a valid escape: keep literally
        continue;
      }
      out[o++] = c;
    }
    if (hasEol && !soft) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (!hasEol && !soft) {
      // Last line without a line end: keep its trailing whitespace as is.
      for (let k = trimmed; k < end; k++) out[o++] = b[k]!;
    }
    i = hasEol ? nl + 1 : n;
  }
  return Buffer.from(out.subarray(0, o));
}

/**
 * RFC 2045 §6.7: encodes octets as quoted-printable. In text mode (default) CRLF (or LF) line
 * ends are hard line breaks; in binary mode CR and LF are encoded too.
 */
export function encodeQP(input: Buffer | string, opts: { binary?: boolean } = {}): string {
  const b = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let out = '';
  let line = '';
  const push = (tok: string) => {
    // §6.7 (5): lines of at most 76 characters, the soft break "=" included.
    if (line.length + tok.length > 75) {
      out += line + '=\r\n';
      line = '';
    }
    line += tok;
  };
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (!opts.binary && (c === 0x0a || (c === 0x0d && b[i + 1] === 0x0a))) {
      if (c === 0x0d) i++;
      out += line + '\r\n';
      line = '';
      continue;
    }
    const nextIsEol = i + 1 >= b.length || (!opts.binary && (b[i + 1] === 0x0a || (b[i + 1] === 0x0d && b[i + 2] === 0x0a)));
    // §6.7 (2): printable ASCII except "=" as is; (3) whitespace at a line end encoded.
    if ((c >= 33 && c <= 126 && c !== 61) || ((c === 0x20 || c === 0x09) && !nextIsEol)) push(String.fromCharCode(c));
    else push('=' + HEX[c >> 4] + HEX[c & 15]);
  }
  return out + line;
}

/** RFC 2045 §6.8: decodes base64, ignoring whitespace and any character outside the alphabet. */
export function decodeBase64(input: Buffer | string): Buffer {
  const s = typeof input === 'string' ? input : input.toString('latin1');
  let clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  // A dangling single character cannot carry an octet.
  if (clean.length % 4 === 1) clean = clean.slice(0, -1);
  return Buffer.from(clean, 'base64');
}

/** Encodes base64 in lines of 76 characters (RFC 2045 §6.8) with CRLF. */
export function encodeBase64(input: Buffer | string): string {
  const s = (typeof input === 'string' ? Buffer.from(input, 'utf8') : input).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += 76) lines.push(s.slice(i, i + 76));
  return lines.join('\r\n');
}
