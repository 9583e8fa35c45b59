// What an upstream response means to an iterating resolver, pure: bailiwick scrubbing and
// classification into answer / CNAME / referral / NXDOMAIN / NODATA / lame / error.
//
// Invariants
//  - sanitize(msg, zone): a server asked as authority for `zone` may only speak about names at
//    or below `zone`; every record outside it, in any section, is dropped before anything is
//    looked at or cached (RFC 5452 §6, "bailiwick"). Owner names come back canonical (lower
//    case), undoing 0x20 case randomisation.
//  - A referral must delegate to a zone strictly below the one asked and at or above the query
//    name; a delegation upward or sideways is lame (RFC 1034 §5.3.3, RFC 2308 §2.1 referral form).
//  - Negative answers (RFC 2308 §2): NXDOMAIN by RCODE; NODATA is NOERROR with no answer and an
//    SOA (or AA) and no referral.

import { canonicalName, isSubdomain, namesEqual } from '../wire/name.js';
import { isOpaque, rdataTargetName } from '../wire/records.js';
import { RCODE } from '../wire/types.js';
import type { Message, ResourceRecord } from '../wire/types.js';

export type Classified =
  | { kind: 'answer'; chain: ResourceRecord[]; records: ResourceRecord[] }
  | { kind: 'cname'; chain: ResourceRecord[]; target: string }
  | { kind: 'referral'; zone: string; ns: ResourceRecord[]; glue: ResourceRecord[] }
  | { kind: 'nxdomain'; chain: ResourceRecord[]; soa: ResourceRecord | undefined }
  | { kind: 'nodata'; chain: ResourceRecord[]; soa: ResourceRecord | undefined }
  | { kind: 'lame'; reason: string }
  | { kind: 'error'; rcode: number; reason: string };

/** Drops every record whose owner is not at or below `zone` (RFC 5452 §6). */
export function sanitize(msg: Message, zone: string): { message: Message; dropped: number } {
  let dropped = 0;
  const keep = (records: ResourceRecord[]): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (const r of records) {
      if (r.class.toUpperCase() !== 'IN' || !isSubdomain(r.name, zone)) { dropped++; continue; }
      out.push(lowerNames({ ...r, name: canonicalName(r.name), type: r.type.toUpperCase() }));
    }
    return out;
  };
  return {
    message: { ...msg, answers: keep(msg.answers), authorities: keep(msg.authorities), additionals: keep(msg.additionals) },
    dropped,
  };
}

/** Names inside RDATA compressed against a 0x20 question carry its random case: lower them. */
function lowerNames(r: ResourceRecord): ResourceRecord {
  if (isOpaque(r.data)) return r;
  const d = r.data as unknown as Record<string, unknown>;
  const field = r.type === 'NS' ? 'host' : r.type === 'CNAME' || r.type === 'PTR' || r.type === 'SRV' ? 'target' : r.type === 'MX' ? 'exchange' : undefined;
  if (r.type === 'SOA') return { ...r, data: { ...d, mname: canonicalName(String(d.mname)), rname: canonicalName(String(d.rname)) } as unknown as ResourceRecord['data'] };
  if (field === undefined || typeof d[field] !== 'string') return r;
  return { ...r, data: { ...d, [field]: canonicalName(d[field] as string) } as unknown as ResourceRecord['data'] };
}

function rrsetAt(records: ResourceRecord[], name: string, type: string): ResourceRecord[] {
  const k = canonicalName(name);
  return records.filter((r) => r.type === type && canonicalName(r.name) === k);
}

/** Groups records into RRsets (same owner and type), in first-seen order. */
export function groupRRsets(records: ResourceRecord[]): ResourceRecord[][] {
  const sets = new Map<string, ResourceRecord[]>();
  for (const r of records) {
    const k = `${canonicalName(r.name)} ${r.type.toUpperCase()}`;
    const s = sets.get(k);
    if (s) s.push(r);
    else sets.set(k, [r]);
  }
  return [...sets.values()];
}

export const MAX_CHAIN_IN_RESPONSE = 16;

/**
 * Classifies a sanitised response to `qname`/`qtype` from a server authoritative for `zone`.
 */
export function classify(msg: Message, qname: string, qtype: string, zone: string): Classified {
  const rcode = msg.flags.rcode;
  if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) {
    return { kind: 'error', rcode, reason: rcode === RCODE.REFUSED ? 'refused' : `rcode ${rcode}` };
  }
  if (msg.flags.tc) return { kind: 'error', rcode, reason: 'truncated' };
  const type = qtype.toUpperCase();
  // Follow a CNAME chain inside the answer section (RFC 1034 §4.3.2 step 3a).
  const chain: ResourceRecord[] = [];
  let current = canonicalName(qname);
  const seen = new Set<string>();
  for (let i = 0; i < MAX_CHAIN_IN_RESPONSE && !seen.has(current); i++) {
    seen.add(current);
    const exact = rrsetAt(msg.answers, current, type);
    if (exact.length > 0) return { kind: 'answer', chain, records: exact };
    const cname = type === 'CNAME' ? [] : rrsetAt(msg.answers, current, 'CNAME');
    if (cname.length === 0) break;
    chain.push(cname[0]!);
    const target = rdataTargetName(cname[0]!);
    if (target === undefined) return { kind: 'error', rcode, reason: 'CNAME without a target' };
    current = canonicalName(target);
  }
  const soa = msg.authorities.find((r) => r.type === 'SOA' && isSubdomain(current, r.name));
  if (rcode === RCODE.NXDOMAIN) return { kind: 'nxdomain', chain, soa };
  if (chain.length > 0) {
    // With an SOA the server says the chain's end has no such data; else it is not theirs.
    if (soa) return { kind: 'nodata', chain, soa };
    return { kind: 'cname', chain, target: current };
  }
  if (msg.answers.length > 0) return { kind: 'lame', reason: 'answer does not match the question' };
  // Referral: NS RRset for a zone strictly below the one asked, at or above the name.
  const nsOwners = groupRRsets(msg.authorities.filter((r) => r.type === 'NS'));
  const down = nsOwners.find((set) => {
    const owner = set[0]!.name;
    return !namesEqual(owner, zone) && isSubdomain(owner, zone) && isSubdomain(current, owner);
  });
  if (down && !soa) {
    const hosts = new Set(down.map((r) => canonicalName(rdataTargetName(r) ?? '.')));
    const glue = msg.additionals.filter((r) => (r.type === 'A' || r.type === 'AAAA') && hosts.has(canonicalName(r.name)));
    return { kind: 'referral', zone: canonicalName(down[0]!.name), ns: down, glue };
  }
  if (soa || msg.flags.aa) return { kind: 'nodata', chain, soa };
  if (nsOwners.length > 0) return { kind: 'lame', reason: `referral to ${nsOwners[0]![0]!.name} does not lead below ${zone}` };
  return { kind: 'lame', reason: 'empty non-authoritative answer' };
}
