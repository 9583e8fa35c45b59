// TSIG (RFC 8945) with HMAC-SHA256: find and verify the TSIG of a request, sign responses
// (single messages and the messages of a zone transfer), and sign requests (our NOTIFYs, tests).
//
// Invariants
//  - Work is on raw bytes: the MAC covers the message exactly as transmitted, minus the TSIG RR,
//    with ARCOUNT decremented and the original ID restored (RFC 8945 §4.3.2).
//  - A TSIG must be the last additional record, at most one (§5.2), else FORMERR.
//  - Checks run in the RFC's order: key, MAC, time (§5.2). BADKEY/BADSIG answers are unsigned,
//    BADTIME answers are signed and carry our time in Other Data (§5.2.3, §5.3.2).
//  - MACs are compared in constant time; a truncated MAC must be at least 16 octets
//    (max(10, 32/2), §5.2.2.1).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DnsWireError } from '../wire/errors.js';
import { Writer, canonicalName, readName, writeName } from '../wire/name.js';
import { HEADER_SIZE } from '../wire/message.js';

export const TSIG_TYPE = 250;
const CLASS_ANY = 255;
export const TSIG_ERROR = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export const DEFAULT_FUDGE = 300;
const ALGORITHMS: Record<string, { hash: string; size: number }> = {
  'hmac-sha256.': { hash: 'sha256', size: 32 },
};

export interface TsigKey {
  /** Key name, absolute, lower case ("update-key."). */
  name: string;
  /** Algorithm name, absolute, lower case ("hmac-sha256."). */
  algorithm: string;
  secret: Buffer;
}

/** Config "name:hmac-sha256:base64secret" entries -> keys by canonical name. */
export function parseTsigKeys(entries: readonly string[]): Map<string, TsigKey> {
  const out = new Map<string, TsigKey>();
  for (const e of entries) {
    const m = /^([^:]+):([^:]+):([A-Za-z0-9+/=]+)$/.exec(e.trim());
    if (!m) throw new DnsWireError(`TSIG key "${e.split(':')[0]}" is not "name:hmac-sha256:base64secret"`);
    const name = canonicalName(m[1]!.endsWith('.') ? m[1]! : m[1]! + '.');
    const algorithm = canonicalName(m[2]!.endsWith('.') ? m[2]! : m[2]! + '.');
    if (!ALGORITHMS[algorithm]) throw new DnsWireError(`TSIG key ${name}: algorithm ${m[2]} is not supported (hmac-sha256)`);
    out.set(name, { name, algorithm, secret: Buffer.from(m[3]!, 'base64') });
  }
  return out;
}

export interface TsigRecord {
  /** Offset of the TSIG RR in the message. */
  start: number;
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

function skipName(buf: Uint8Array, pos: number): number {
  return readName(buf, pos).next;
}

/**
 * The TSIG of a message, or null when it has none. Throws DnsWireError when a TSIG is present
 * but not last, not alone, or unreadable (the caller answers FORMERR, RFC 8945 §5.2).
 */
export function findTsig(buf: Uint8Array): TsigRecord | null {
  if (buf.length < HEADER_SIZE) throw new DnsWireError('message shorter than its header');
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const qd = view.readUInt16BE(4);
  const total = view.readUInt16BE(6) + view.readUInt16BE(8) + view.readUInt16BE(10);
  let pos = HEADER_SIZE;
  for (let i = 0; i < qd; i++) pos = skipName(buf, pos) + 4;
  let found: TsigRecord | null = null;
  for (let i = 0; i < total; i++) {
    const start = pos;
    const owner = readName(buf, pos);
    pos = owner.next;
    if (pos + 10 > buf.length) throw new DnsWireError('record header runs past the end of the message');
    const type = view.readUInt16BE(pos);
    const rdlen = view.readUInt16BE(pos + 8);
    const rd = pos + 10;
    pos = rd + rdlen;
    if (pos > buf.length) throw new DnsWireError('RDATA runs past the end of the message');
    if (type !== TSIG_TYPE) continue;
    if (i !== total - 1 || i < total - view.readUInt16BE(10)) throw new DnsWireError('TSIG is not the last additional record');
    const alg = readName(buf, rd, pos);
    let p = alg.next;
    if (p + 10 > pos) throw new DnsWireError('TSIG RDATA too short');
    const timeSigned = view.readUInt16BE(p) * 2 ** 32 + view.readUInt32BE(p + 2);
    const fudge = view.readUInt16BE(p + 6);
    const macLen = view.readUInt16BE(p + 8);
    p += 10;
    if (p + macLen + 6 > pos) throw new DnsWireError('TSIG RDATA too short');
    const mac = Buffer.from(buf.subarray(p, p + macLen));
    p += macLen;
    const originalId = view.readUInt16BE(p);
    const error = view.readUInt16BE(p + 2);
    const otherLen = view.readUInt16BE(p + 4);
    p += 6;
    if (p + otherLen !== pos) throw new DnsWireError('TSIG RDATA length mismatch');
    found = { start, keyName: canonicalName(owner.name), algorithm: canonicalName(alg.name), timeSigned, fudge, mac, originalId, error, other: Buffer.from(buf.subarray(p, pos)) };
  }
  if (pos !== buf.length && found) throw new DnsWireError('bytes after the TSIG record');
  return found;
}

function nameWire(name: string): Buffer {
  const w = new Writer(64);
  writeName(w, canonicalName(name));
  return Buffer.from(w.result());
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n % 2 ** 32, 2);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** The message as it was before the TSIG was added: TSIG cut, ARCOUNT-1, original ID. */
function strip(buf: Uint8Array, t: TsigRecord): Buffer {
  const m = Buffer.from(buf.subarray(0, t.start));
  m.writeUInt16BE(t.originalId, 0);
  m.writeUInt16BE(m.readUInt16BE(10) - 1, 10);
  return m;
}

/** TSIG Variables (RFC 8945 §4.3.3). */
function variables(keyName: string, algorithm: string, time: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([nameWire(keyName), u16(CLASS_ANY), Buffer.alloc(4), nameWire(algorithm), u48(time), u16(fudge), u16(error), u16(other.length), other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(ALGORITHMS[key.algorithm]!.hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

export type VerifyResult =
  | { ok: true; key: TsigKey; tsig: TsigRecord }
  | { ok: false; error: number; key?: TsigKey; tsig: TsigRecord };

/**
 * Verifies a signed request (RFC 8945 §5.2) or, with `requestMac`, a signed response. Throws
 * DnsWireError for a MAC size the RFC says to answer with FORMERR.
 */
export function verifyTsig(buf: Uint8Array, tsig: TsigRecord, keys: ReadonlyMap<string, TsigKey>, nowSec: number, requestMac?: Buffer): VerifyResult {
  const key = keys.get(tsig.keyName);
  // §5.2.1: unknown key or algorithm.
  if (!key || key.algorithm !== tsig.algorithm || !ALGORITHMS[tsig.algorithm]) return { ok: false, error: TSIG_ERROR.BADKEY, tsig };
  const size = ALGORITHMS[key.algorithm]!.size;
  // §5.2.2.1: MAC size bounds.
  if (tsig.mac.length > size || tsig.mac.length < Math.max(10, size / 2)) throw new DnsWireError(`TSIG MAC of ${tsig.mac.length} octets`);
  const parts = [strip(buf, tsig), variables(tsig.keyName, tsig.algorithm, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)];
  if (requestMac) parts.unshift(u16(requestMac.length), requestMac);
  const mac = hmac(key, parts).subarray(0, tsig.mac.length);
  if (!timingSafeEqual(mac, tsig.mac)) return { ok: false, error: TSIG_ERROR.BADSIG, key, tsig };
  // §5.2.3: time check.
  if (Math.abs(nowSec - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TSIG_ERROR.BADTIME, key, tsig };
  return { ok: true, key, tsig };
}

export interface SignOptions {
  key: TsigKey;
  /** The request's MAC (a response's first message); omit for a request. */
  requestMac?: Buffer;
  /** For the 2nd and later messages of a transfer: the previous message's MAC (timers only). */
  priorMac?: Buffer;
  timeSigned?: number;
  fudge?: number;
  error?: number;
  other?: Buffer;
  /** Produce an unsigned TSIG (MAC size 0): BADKEY/BADSIG answers (§5.3.2); `key` then only
   * names the key and algorithm. */
  unsigned?: boolean;
}

/** Appends a TSIG RR to an encoded message; returns the signed message and its MAC. */
export function signMessage(msg: Buffer, opts: SignOptions): { buf: Buffer; mac: Buffer } {
  const { key } = opts;
  const time = opts.timeSigned ?? Math.floor(Date.now() / 1000);
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const error = opts.error ?? 0;
  const other = opts.other ?? Buffer.alloc(0);
  let mac: Buffer = Buffer.alloc(0);
  if (!opts.unsigned) {
    if (opts.priorMac) {
      // RFC 8945 §5.3.1: prior MAC, the message, TSIG timers.
      mac = hmac(key, [u16(opts.priorMac.length), opts.priorMac, msg, u48(time), u16(fudge)]);
    } else {
      const parts = [msg, variables(key.name, key.algorithm, time, fudge, error, other)];
      if (opts.requestMac && opts.requestMac.length > 0) parts.unshift(u16(opts.requestMac.length), opts.requestMac);
      mac = hmac(key, parts);
    }
  }
  const rdata = Buffer.concat([nameWire(key.algorithm), u48(time), u16(fudge), u16(mac.length), mac, u16(msg.readUInt16BE(0)), u16(error), u16(other.length), other]);
  const rr = Buffer.concat([nameWire(key.name), u16(TSIG_TYPE), u16(CLASS_ANY), Buffer.alloc(4), u16(rdata.length), rdata]);
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return { buf: out, mac };
}

/** Octets a TSIG RR for `key` adds to a message (for size budgets). */
export function tsigLength(key: TsigKey, otherLen = 6): number {
  return nameWire(key.name).length + 10 + nameWire(key.algorithm).length + 16 + ALGORITHMS[key.algorithm]!.size + otherLen;
}

/** 48-bit time as Other Data for BADTIME answers. */
export function timeOther(nowSec: number): Buffer {
  return u48(nowSec);
}
