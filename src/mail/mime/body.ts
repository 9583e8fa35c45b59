// Body decoding for search and display: Content-Transfer-Encoding (RFC 2045 §6) then charset.
// Never throws; an unknown charset falls back to UTF-8 (replacement characters) so search still
// sees the ASCII words.
import { decodeCharset } from './charset.js';
import { decodeBase64, decodeQP } from './qp.js';

/** The octets of a part body with its transfer encoding removed. */
export function decodeTransfer(bytes: Buffer, encoding: string | null | undefined): Buffer {
  switch ((encoding ?? '7bit').trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(bytes);
    case 'quoted-printable':
      return decodeQP(bytes);
    default:
      return bytes; // 7bit, 8bit, binary, and unknown ones (RFC 2045 §6.4: treat as opaque)
  }
}

/** Decodes a part body to text (transfer encoding, then charset; default us-ascii). */
export function decodeBody(bytes: Buffer, encoding: string | null | undefined, charset: string | null | undefined): string {
  const raw = decodeTransfer(bytes, encoding);
  return decodeCharset(raw, charset ?? 'us-ascii') ?? raw.toString('utf8');
}
