// Master-file writer: formatZone(origin, records) produces text that parseZone() reads back to
// the same records (names compared case-sensitively, data deep-equal).
//
// Invariants
//  - Starts with $ORIGIN; the SOA comes first, then the records in the order given.
//  - Owner and RDATA names are written relative to the origin ("@" for the apex) when they are
//    inside it, absolute otherwise; every TTL and class is explicit.
//  - Character-strings are always quoted; `"` and `\` are escaped, bytes outside printable
//    ASCII are written as \DDD so the file is plain ASCII.
//  - Opaque data is written in the RFC 3597 form `\# len hex`.

import { isOpaque, rdataOf } from '../wire/records.js';
import { textToBytes } from '../wire/bytes-text.js';
import { relativeName, labelsToName, nameToLabels } from '../wire/name.js';
import type { RData, ResourceRecord } from '../wire/types.js';

/** A character-string in quotes, escaped. */
export function quoteString(s: string): string {
  let out = '"';
  for (const b of textToBytes(s)) {
    if (b === 0x22 || b === 0x5c) out += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += '\\' + String(b).padStart(3, '0');
  }
  return out + '"';
}

function nameText(name: string, origin: string): string {
  return relativeName(name, origin);
}

/** Presentation form of RDATA; names relative to `origin` when given. */
export function formatRData(type: string, data: RData, origin = '.'): string {
  if (isOpaque(data)) return data.rdata.length === 0 ? '\\# 0' : `\\# ${data.rdata.length} ${Buffer.from(data.rdata).toString('hex')}`;
  const rr: ResourceRecord = { name: '.', type: type.toUpperCase(), class: 'IN', ttl: 0, data };
  const n = (x: string): string => (origin === '.' ? labelsToName(nameToLabels(x)) : nameText(x, origin));
  const a = rdataOf(rr, 'A') ?? rdataOf(rr, 'AAAA');
  if (a) return a.address;
  const ns = rdataOf(rr, 'NS');
  if (ns) return n(ns.host);
  const t = rdataOf(rr, 'CNAME') ?? rdataOf(rr, 'PTR');
  if (t) return n(t.target);
  const soa = rdataOf(rr, 'SOA');
  if (soa) return `${n(soa.mname)} ${n(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}`;
  const mx = rdataOf(rr, 'MX');
  if (mx) return `${mx.preference} ${n(mx.exchange)}`;
  const txt = rdataOf(rr, 'TXT');
  if (txt) return txt.strings.map(quoteString).join(' ');
  const srv = rdataOf(rr, 'SRV');
  if (srv) return `${srv.priority} ${srv.weight} ${srv.port} ${n(srv.target)}`;
  const caa = rdataOf(rr, 'CAA');
  if (caa) return `${caa.flags} ${caa.tag} ${quoteString(caa.value)}`;
  throw new TypeError(`cannot format typed data for type ${type}`);
}

/** One record as a master-file line with absolute names (dig style). */
export function formatRecord(rr: ResourceRecord): string {
  return `${labelsToName(nameToLabels(rr.name))}\t${rr.ttl}\t${rr.class}\t${rr.type}\t${formatRData(rr.type, rr.data)}`;
}

export function formatZone(origin: string, records: readonly ResourceRecord[]): string {
  const o = labelsToName(nameToLabels(origin));
  const soa = records.filter((r) => r.type.toUpperCase() === 'SOA');
  const rest = records.filter((r) => r.type.toUpperCase() !== 'SOA');
  const lines = [`$ORIGIN ${o}`];
  for (const rr of [...soa, ...rest]) {
    lines.push(`${nameText(rr.name, o)}\t${rr.ttl}\t${rr.class}\t${rr.type}\t${formatRData(rr.type, rr.data, o)}`);
  }
  return lines.join('\n') + '\n';
}
