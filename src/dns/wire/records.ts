// Resource records: type/class mnemonics and RDATA codecs (RFC 1035 §3.2-3.4, RFC 3596 AAAA,
// RFC 2782 SRV, RFC 8659 CAA, RFC 3597 unknown types).
//
// Invariants
//  - typeName(typeCode(x)) is the canonical mnemonic; unknown codes are "TYPEn" (RFC 3597 §5)
//    and "TYPEn" of a known code maps to its mnemonic.
//  - Only the RFC 1035 types (NS, CNAME, PTR, SOA, MX) get their RDATA names compressed on
//    encode (RFC 3597 §4); decoding accepts pointers in SRV too (lenient, as BIND does).
//  - Every decoded RDATA must consume exactly RDLENGTH bytes, else DnsWireError.

import { DnsWireError } from './errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './address.js';
import { bytesToText, textToBytes } from './bytes-text.js';
import { readName, writeName } from './name.js';
import type { CompressionTable, Writer } from './name.js';
import type { KnownType, OpaqueData, RData, RDataByType, ResourceRecord, TypedRecord } from './types.js';

const TYPES: [string, number][] = [
  ['A', 1], ['NS', 2], ['MD', 3], ['MF', 4], ['CNAME', 5], ['SOA', 6], ['MB', 7], ['MG', 8], ['MR', 9],
  ['NULL', 10], ['WKS', 11], ['PTR', 12], ['HINFO', 13], ['MINFO', 14], ['MX', 15], ['TXT', 16],
  ['RP', 17], ['AFSDB', 18], ['SIG', 24], ['KEY', 25], ['AAAA', 28], ['LOC', 29], ['SRV', 33],
  ['NAPTR', 35], ['KX', 36], ['CERT', 37], ['DNAME', 39], ['OPT', 41], ['APL', 42], ['DS', 43],
  ['SSHFP', 44], ['IPSECKEY', 45], ['RRSIG', 46], ['NSEC', 47], ['DNSKEY', 48], ['DHCID', 49],
  ['NSEC3', 50], ['NSEC3PARAM', 51], ['TLSA', 52], ['SMIMEA', 53], ['HIP', 55], ['CDS', 59],
  ['CDNSKEY', 60], ['OPENPGPKEY', 61], ['CSYNC', 62], ['ZONEMD', 63], ['SVCB', 64], ['HTTPS', 65],
  ['SPF', 99], ['TKEY', 249], ['TSIG', 250], ['IXFR', 251], ['AXFR', 252], ['MAILB', 253],
  ['MAILA', 254], ['ANY', 255], ['URI', 256], ['CAA', 257],
];
const TYPE_BY_NAME = new Map(TYPES);
const TYPE_BY_CODE = new Map(TYPES.map(([n, c]) => [c, n]));

const CLASSES: [string, number][] = [['IN', 1], ['CH', 3], ['HS', 4], ['NONE', 254], ['ANY', 255]];
const CLASS_BY_NAME = new Map(CLASSES);
const CLASS_BY_CODE = new Map(CLASSES.map(([n, c]) => [c, n]));

/** Types whose RDATA is typed (RDataByType); the rest travel opaque. */
export const KNOWN_TYPES: readonly KnownType[] = ['A', 'AAAA', 'NS', 'CNAME', 'PTR', 'SOA', 'MX', 'TXT', 'SRV', 'CAA'];
const KNOWN = new Set<string>(KNOWN_TYPES);

/** Meta/query-only types (RFC 6895 §3.1): never stored in a zone. */
export const QTYPES = new Set(['IXFR', 'AXFR', 'MAILB', 'MAILA', 'ANY', 'OPT', 'TKEY', 'TSIG']);

function codeOf(kind: string, byName: Map<string, number>, prefix: string, text: string): number {
  const u = text.toUpperCase();
  const known = byName.get(u);
  if (known !== undefined) return known;
  if (u.startsWith(prefix) && /^[0-9]{1,5}$/.test(u.slice(prefix.length))) {
    const n = Number(u.slice(prefix.length));
    if (n <= 0xffff) return n;
  }
  throw new DnsWireError(`unknown DNS ${kind} "${text}"`);
}

/** "A" -> 1, "TYPE123" -> 123, case-insensitive; throws on anything else. */
export function typeCode(name: string): number {
  return codeOf('type', TYPE_BY_NAME, 'TYPE', name);
}
/** 1 -> "A", 123 -> "TYPE123". */
export function typeName(code: number): string {
  return TYPE_BY_CODE.get(code) ?? `TYPE${code}`;
}
/** Canonical mnemonic of a type given in any accepted spelling ("type1" -> "A"). */
export function normalizeType(name: string): string {
  return typeName(typeCode(name));
}
export function isTypeName(name: string): boolean {
  try { typeCode(name); return true; } catch { return false; }
}
export function classCode(name: string): number {
  return codeOf('class', CLASS_BY_NAME, 'CLASS', name);
}
export function className(code: number): string {
  return CLASS_BY_CODE.get(code) ?? `CLASS${code}`;
}
export function normalizeClass(name: string): string {
  return className(classCode(name));
}
export function isClassName(name: string): boolean {
  try { classCode(name); return true; } catch { return false; }
}

export function isOpaque(data: RData): data is OpaqueData {
  return (data as OpaqueData).rdata instanceof Uint8Array;
}

/** Narrows a record to its typed form when its type is `type` and its data is typed. */
export function isRecordOfType<T extends KnownType>(rr: ResourceRecord, type: T): rr is ResourceRecord & TypedRecord<T> {
  return rr.type.toUpperCase() === type && !isOpaque(rr.data);
}

/** The typed data of `rr` as type `type`, or undefined when it is another type or opaque. */
export function rdataOf<T extends KnownType>(rr: ResourceRecord, type: T): RDataByType[T] | undefined {
  return isRecordOfType(rr, type) ? (rr.data as RDataByType[T]) : undefined;
}

/** Names inside the RDATA that name other records (NS host, MX exchange, …), for additional-
 * section processing and glue. */
export function rdataTargetName(rr: ResourceRecord): string | undefined {
  if (isOpaque(rr.data)) return undefined;
  switch (rr.type.toUpperCase()) {
    case 'NS': return (rr.data as RDataByType['NS']).host;
    case 'MX': return (rr.data as RDataByType['MX']).exchange;
    case 'SRV': return (rr.data as RDataByType['SRV']).target;
    case 'CNAME': case 'PTR': return (rr.data as RDataByType['CNAME']).target;
    default: return undefined;
  }
}

function need<T>(v: T | undefined | null, what: string): T {
  if (v === undefined || v === null) throw new DnsWireError(`RDATA is missing ${what}`);
  return v;
}
function u16(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw new DnsWireError(`${what} must be an integer 0..65535`);
  return v;
}
function u32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new DnsWireError(`${what} must be an integer 0..4294967295`);
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new DnsWireError(`${what} must be a string`);
  return v;
}

/**
 * Writes RDATA (without RDLENGTH) for `type`. `table` enables compression of the names the
 * RFC 1035 types carry.
 */
export function writeRData(w: Writer, type: string, data: RData, table?: CompressionTable): void {
  if (isOpaque(data)) { w.bytes(data.rdata); return; }
  const t = type.toUpperCase();
  const d = data as unknown as { [k: string]: unknown };
  switch (t) {
    case 'A': w.bytes(parseIpv4(str(d.address, 'A address'))); return;
    case 'AAAA': w.bytes(parseIpv6(str(d.address, 'AAAA address'))); return;
    case 'NS': writeName(w, str(d.host, 'NS host'), table); return;
    case 'CNAME': case 'PTR': writeName(w, str(d.target, `${t} target`), table); return;
    case 'SOA':
      writeName(w, str(d.mname, 'SOA mname'), table);
      writeName(w, str(d.rname, 'SOA rname'), table);
      w.u32(u32(d.serial, 'SOA serial'));
      w.u32(u32(d.refresh, 'SOA refresh'));
      w.u32(u32(d.retry, 'SOA retry'));
      w.u32(u32(d.expire, 'SOA expire'));
      w.u32(u32(d.minimum, 'SOA minimum'));
      return;
    case 'MX':
      w.u16(u16(d.preference, 'MX preference'));
      writeName(w, str(d.exchange, 'MX exchange'), table);
      return;
    case 'TXT': {
      const strings = need(d.strings as unknown[] | undefined, 'TXT strings');
      if (!Array.isArray(strings) || strings.length === 0) throw new DnsWireError('TXT needs at least one string');
      for (const s of strings) writeCharString(w, str(s, 'TXT string'));
      return;
    }
    case 'SRV':
      w.u16(u16(d.priority, 'SRV priority'));
      w.u16(u16(d.weight, 'SRV weight'));
      w.u16(u16(d.port, 'SRV port'));
      writeName(w, str(d.target, 'SRV target')); // RFC 2782: no compression
      return;
    case 'CAA': {
      const flags = d.flags;
      if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255) throw new DnsWireError('CAA flags must be 0..255');
      const tag = str(d.tag, 'CAA tag');
      // RFC 8659 §4.1: tag is 1..15 ASCII letters and digits.
      if (!/^[A-Za-z0-9]{1,15}$/.test(tag)) throw new DnsWireError(`bad CAA tag "${tag}"`);
      w.u8(flags);
      w.u8(tag.length);
      w.bytes(Buffer.from(tag, 'ascii'));
      w.bytes(textToBytes(str(d.value, 'CAA value')));
      return;
    }
    default:
      throw new DnsWireError(`type ${type} needs opaque RDATA ({ rdata })`);
  }
}

function writeCharString(w: Writer, s: string): void {
  const b = textToBytes(s);
  if (b.length > 255) throw new DnsWireError('character-string longer than 255 bytes');
  w.u8(b.length);
  w.bytes(b);
}

/** Decodes RDATA of `type` lying in buf[start, start+len); names may point anywhere before. */
export function readRData(buf: Uint8Array, type: string, start: number, len: number): RData {
  const end = start + len;
  if (end > buf.length) throw new DnsWireError('RDATA runs past the end of the message');
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const fixed = (n: number): void => { if (len !== n) throw new DnsWireError(`${type} RDATA must be ${n} bytes, got ${len}`); };
  const nameAt = (pos: number): { name: string; next: number } => readName(buf, pos, end);
  const done = (pos: number): void => { if (pos !== end) throw new DnsWireError(`${type} RDATA length mismatch`); };
  const atLeast = (pos: number, n: number): void => { if (pos + n > end) throw new DnsWireError(`${type} RDATA too short`); };
  if (!KNOWN.has(type)) return { rdata: Uint8Array.from(buf.subarray(start, end)) };
  switch (type as KnownType) {
    case 'A': fixed(4); return { address: formatIpv4(buf.subarray(start, end)) };
    case 'AAAA': fixed(16); return { address: formatIpv6(buf.subarray(start, end)) };
    case 'NS': { const n = nameAt(start); done(n.next); return { host: n.name }; }
    case 'CNAME': case 'PTR': { const n = nameAt(start); done(n.next); return { target: n.name }; }
    case 'SOA': {
      const m = nameAt(start);
      const r = nameAt(m.next);
      atLeast(r.next, 20);
      done(r.next + 20);
      const p = r.next;
      return {
        mname: m.name, rname: r.name,
        serial: view.readUInt32BE(p), refresh: view.readUInt32BE(p + 4), retry: view.readUInt32BE(p + 8),
        expire: view.readUInt32BE(p + 12), minimum: view.readUInt32BE(p + 16),
      };
    }
    case 'MX': {
      atLeast(start, 2);
      const n = nameAt(start + 2);
      done(n.next);
      return { preference: view.readUInt16BE(start), exchange: n.name };
    }
    case 'TXT': {
      if (len === 0) throw new DnsWireError('TXT RDATA is empty');
      const strings: string[] = [];
      let p = start;
      while (p < end) {
        const l = buf[p]!;
        atLeast(p + 1, l);
        strings.push(bytesToText(buf.subarray(p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return { strings };
    }
    case 'SRV': {
      atLeast(start, 6);
      const n = nameAt(start + 6);
      done(n.next);
      return { priority: view.readUInt16BE(start), weight: view.readUInt16BE(start + 2), port: view.readUInt16BE(start + 4), target: n.name };
    }
    case 'CAA': {
      atLeast(start, 2);
      const flags = buf[start]!;
      const tl = buf[start + 1]!;
      if (tl === 0 || tl > 15) throw new DnsWireError('CAA tag length must be 1..15');
      atLeast(start + 2, tl);
      const tag = Buffer.from(buf.subarray(start + 2, start + 2 + tl)).toString('latin1');
      if (!/^[A-Za-z0-9]+$/.test(tag)) throw new DnsWireError('CAA tag must be letters and digits');
      return { flags, tag, value: bytesToText(buf.subarray(start + 2 + tl, end)) };
    }
  }
  /* c8 ignore next */
  throw new DnsWireError(`unhandled type ${type}`);
}

/** RDATA bytes of one record, uncompressed (for comparisons, RFC 3597 text and zone files). */
export function rdataBytes(type: string, data: RData, w: Writer): Uint8Array {
  const from = w.pos;
  writeRData(w, type, data);
  return Uint8Array.from(w.buf.subarray(from, w.pos));
}

/** Typed data for a known type given as RFC 3597 opaque bytes (zone files may use `\#` for any
 * type); other types stay opaque. Throws DnsWireError if the bytes do not fit the type. */
export function typedFromOpaque(type: string, rdata: Uint8Array): RData {
  const t = normalizeType(type);
  if (!KNOWN.has(t)) return { rdata };
  // Names in RDATA here are never compressed: decode within the RDATA alone.
  return readRData(rdata, t, 0, rdata.length);
}
