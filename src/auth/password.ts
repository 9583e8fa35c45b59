// Password hashing. scrypt (RFC 7914) through node:crypto, stored in a self-describing string
//   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64>$<hash b64>
// so the cost can be raised later without breaking existing hashes (needsRehash tells when).
// Verification is constant-time. Passwords are never logged; callers redact them from transcripts.
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';

const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function options(ln: number, r: number, p: number): ScryptOptions {
  // maxmem must cover 128 * N * r with headroom, or node refuses the larger costs.
  return { N: 2 ** ln, r, p, maxmem: 256 * 2 ** ln * r + 1024 * 1024 };
}

export async function hashPassword(password: string, opts: { cost?: number } = {}): Promise<string> {
  const ln = opts.cost ?? 15;
  const r = 8;
  const p = 1;
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, options(ln, r, p));
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface Parsed {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(hash: string): Parsed | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return null;
  const ln = Number(m[1]);
  if (ln < 1 || ln > 22) return null;
  return { ln, r: Number(m[2]), p: Number(m[3]), salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

/** True when the password matches. A malformed stored hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const h = parse(hash);
  if (!h || h.key.length === 0) return false;
  const key = await scrypt(password, h.salt, options(h.ln, h.r, h.p));
  return key.length === h.key.length && timingSafeEqual(key, h.key);
}

/** True when the hash was made with a lower cost than wanted (rehash at next login). */
export function needsRehash(hash: string, cost: number): boolean {
  const h = parse(hash);
  return !h || h.ln < cost;
}

/** A hash of a random password: verifying against it costs the same time as a real one. */
export async function dummyHash(cost: number): Promise<string> {
  return hashPassword(randomBytes(18).toString('base64'), { cost });
}
