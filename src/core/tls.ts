// TLS material for every listener (STARTTLS, implicit TLS, FTPS data channels). Either the
// configured PEM files (tls.cert / tls.key) or a self-signed certificate generated once under
// <data>/tls and reused across restarts, so that a fresh `wharf start` can offer STARTTLS
// without any setup. The certificate is built here: a minimal DER (X.690) encoder, an X.509 v3
// TBSCertificate (RFC 5280 §4.1) for an EC P-256 key, signed with ECDSA-SHA256 by node:crypto.
// No dependency and no openssl binary needed.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { WharfError } from './errors.js';

export interface TlsMaterial {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Where the certificate is (clients in tests trust it as their CA). */
  certFile: string;
  /** One shared server context (session resumption works across connections of a listener). */
  context: SecureContext;
}

// ---- DER ---------------------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);
const explicit = (n: number, c: Buffer) => tlv(0xa0 + n, c);
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const b: number[] = [p & 0x7f];
    for (let v = p >>> 7; v > 0; v >>>= 7) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Buffer.from(out));
}
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  if (b[0]! >= 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}
// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}
const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bitString = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const octetString = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

/** A self-signed EC P-256 certificate for these names (DNS names and IP addresses). */
export function selfSignedCertificate(names: string[], opts: { days?: number; now?: Date } = {}): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 825) * 86_400_000);
  const cn = names[0] ?? 'localhost';
  const name = seq(set(seq(oid('2.5.4.3'), utf8String(cn))), set(seq(oid('2.5.4.10'), utf8String('Wharf self-signed'))));
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const san = seq(...[...new Set(names)].map((n) => (isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))));
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }: SKI = SHA-1 of the key bits (RFC 5280 §4.2.1.2 (1)).
  const keyBits = spki.subarray(spki.length - 65);
  const extensions = seq(
    seq(oid('2.5.29.19'), bool(true), octetString(seq(bool(true)))), // basicConstraints: CA (trusted directly by clients)
    seq(oid('2.5.29.14'), octetString(octetString(createHash('sha1').update(keyBits).digest()))),
    seq(oid('2.5.29.17'), octetString(san)),
    seq(oid('2.5.29.37'), octetString(seq(oid('1.3.6.1.5.5.7.3.1')))), // extKeyUsage: serverAuth
  );
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = seq(explicit(0, integer(Buffer.from([2]))), integer(serial), ecdsaSha256, name, seq(time(notBefore), time(notAfter)), name, spki, explicit(3, extensions));
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, ecdsaSha256, bitString(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export interface LoadTlsOptions {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  dataDir: string;
  hostname: string;
}

export async function loadOrCreateTls(opts: LoadTlsOptions): Promise<TlsMaterial> {
  let certFile: string;
  let keyFile: string;
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new WharfError('WHARF_CONFIG_INVALID', 'tls.cert and tls.key must be given together');
    certFile = opts.certFile;
    keyFile = opts.keyFile;
  } else {
    const dir = join(opts.dataDir, 'tls');
    certFile = join(dir, 'self-signed.crt');
    keyFile = join(dir, 'self-signed.key');
    if (!existsSync(certFile) || !existsSync(keyFile) || !coversHost(readFileSync(certFile, 'utf8'), opts.hostname)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const made = selfSignedCertificate([opts.hostname, 'localhost', '127.0.0.1', '::1']);
      writeFileSync(keyFile, made.key, { mode: 0o600 });
      chmodSync(keyFile, 0o600);
      writeFileSync(certFile, made.cert);
    }
  }
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
    const x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    createPublicKey(key);
  } catch (err) {
    throw new WharfError('WHARF_CONFIG_INVALID', `cannot use TLS certificate ${certFile} with key ${keyFile}: ${(err as Error).message}`);
  }
  const context = createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  return { cert, key, certFile, context };
}

function coversHost(pem: string, host: string): boolean {
  try {
    const x = new X509Certificate(pem);
    return x.checkHost(host) !== undefined && new Date(x.validTo).getTime() > Date.now() + 86_400_000;
  } catch {
    return false;
  }
}
