// Authoritative answers from loaded zones (RFC 1034 §4.3.2 algorithm), pure: a query Message in,
// a response Message out. No sockets, no store; the server encodes with the UDP size limit.
//
// Invariants
//  - answerQuery returns null when the question is not in any zone we serve (the caller recurses
//    or REFUSES) and for messages that are responses (QR=1), which must never be answered.
//  - Responses copy the id, opcode, RD and CD bits and the question exactly as received (case
//    kept); RA = opts.recursionAvailable; EDNS is echoed (version 0, udp 1232, DO copied) only
//    when the query had it (RFC 6891 §7), BADVERS for versions above 0.
//  - AA is set for everything we answer from zone data (answers, NXDOMAIN, NODATA) and clear on
//    a referral that is the whole answer (RFC 1034 §4.3.2 step 3b).
//  - Negative answers carry the zone's SOA in authority with TTL = min(SOA TTL, MINIMUM)
//    (RFC 2308 §3); NXDOMAIN only for names that do not exist at all — an empty non-terminal is
//    NODATA (RFC 8020 §2).
//  - Wildcards (RFC 4592 §3.3.1): "*.<closest encloser>" answers only names that do not exist;
//    any existing name, empty non-terminals included, blocks it; the synthesized owner is the
//    query name.
//  - CNAMEs are followed inside and across our zones, at most MAX_CHAIN links, never in a loop.
//  - An RRset's records share the lowest TTL of its members (RFC 2181 §5.2); duplicates are
//    dropped (RFC 2181 §5).

import { WharfError } from '../core/errors.js';
import { canonicalName, labelsToName, nameToLabels } from './wire/name.js';
import { isOpaque, rdataTargetName, writeRData } from './wire/records.js';
import { Writer } from './wire/name.js';
import { OPCODE, RCODE, emptyFlags } from './wire/types.js';
import type { Message, Question, ResourceRecord, SoaData } from './wire/types.js';
import { DEFAULT_UDP_SIZE, badVersResponse, responseEdns } from './wire/edns.js';
import { assertValidZone } from './zone/validate.js';

export const MAX_CHAIN = 16;

export interface ZoneInput {
  origin: string;
  records: readonly ResourceRecord[];
}

interface Node {
  /** RRsets by upper-case type, in zone order. */
  rrsets: Map<string, ResourceRecord[]>;
}

/** Keys (canonical names) of `name` and its ancestors, from the name itself up to the root. */
function ancestorKeys(name: string): string[] {
  const labels = nameToLabels(name);
  const out: string[] = [];
  for (let i = 0; i <= labels.length; i++) out.push(labelsToName(labels.slice(i), true));
  return out;
}

function rdataKey(rr: ResourceRecord): string {
  const w = new Writer(64);
  writeRData(w, rr.type, rr.data);
  return w.result().toString('hex');
}

/** One zone, indexed for lookups. */
export class Zone {
  readonly origin: string;
  readonly key: string;
  readonly soa: ResourceRecord & { data: SoaData };
  private readonly nodes = new Map<string, Node>();
  /** Every name that exists: owners and their ancestors down from the apex (empty non-terminals). */
  private readonly names = new Set<string>();
  /** Delegation points: names below the apex that own NS records. */
  private readonly cuts = new Set<string>();
  readonly depth: number;

  constructor(input: ZoneInput) {
    this.origin = labelsToName(nameToLabels(input.origin));
    this.key = canonicalName(this.origin);
    this.depth = nameToLabels(this.origin).length;
    assertValidZone(this.origin, input.records);
    for (const rr of input.records) {
      const key = canonicalName(rr.name);
      const type = rr.type.toUpperCase();
      let node = this.nodes.get(key);
      if (!node) { node = { rrsets: new Map() }; this.nodes.set(key, node); }
      const set = node.rrsets.get(type) ?? [];
      if (!set.some((r) => rdataKey(r) === rdataKey(rr))) set.push({ ...rr, type });
      node.rrsets.set(type, set);
      for (const a of ancestorKeys(rr.name)) {
        this.names.add(a);
        if (a === this.key) break;
      }
      if (type === 'NS' && key !== this.key) this.cuts.add(key);
    }
    for (const node of this.nodes.values()) {
      for (const [t, set] of node.rrsets) {
        const ttl = Math.min(...set.map((r) => r.ttl));
        node.rrsets.set(t, set.map((r) => (r.ttl === ttl ? r : { ...r, ttl })));
      }
    }
    const soa = this.nodes.get(this.key)!.rrsets.get('SOA')![0]!;
    if (isOpaque(soa.data)) throw new WharfError('WHARF_ZONE_INVALID', `zone ${this.origin}: SOA data is not typed`);
    this.soa = soa as ResourceRecord & { data: SoaData };
  }

  /** The RRset of `type` at `name`, or undefined. */
  rrset(name: string, type: string): ResourceRecord[] | undefined {
    return this.nodes.get(canonicalName(name))?.rrsets.get(type.toUpperCase());
  }

  /** All RRsets at `name` in zone order (empty for an empty non-terminal or a missing name). */
  rrsets(name: string): ResourceRecord[][] {
    return [...(this.nodes.get(canonicalName(name))?.rrsets.values() ?? [])];
  }

  /** Whether the name exists in the zone (owner or empty non-terminal). */
  exists(name: string): boolean {
    return this.names.has(canonicalName(name));
  }

  /** The highest zone cut at or above `name` (below the apex), or undefined. */
  findCut(name: string): string | undefined {
    const keys = ancestorKeys(name);
    const below = keys.length - 1 - this.depth; // keys[below] is the apex
    for (let i = below - 1; i >= 0; i--) if (this.cuts.has(keys[i]!)) return keys[i]!;
    return undefined;
  }

  /** The SOA for a negative answer: TTL = min(SOA TTL, MINIMUM) (RFC 2308 §3). */
  negativeSoa(): ResourceRecord {
    return { ...this.soa, ttl: Math.min(this.soa.ttl, this.soa.data.minimum) };
  }

  /** Address records (A, AAAA) at `name`, ignoring cuts (glue). */
  addressesAt(name: string): ResourceRecord[] {
    const node = this.nodes.get(canonicalName(name));
    if (!node) return [];
    return [...(node.rrsets.get('A') ?? []), ...(node.rrsets.get('AAAA') ?? [])];
  }

  /** Closest encloser of a name that does not exist: its longest existing ancestor. */
  closestEncloser(name: string): string {
    for (const k of ancestorKeys(name)) if (this.names.has(k)) return k;
    return this.key;
  }
}

/** The zones we serve, found by closest enclosing origin. */
export class ZoneSet {
  private readonly byKey = new Map<string, Zone>();

  constructor(zones: readonly ZoneInput[]) {
    for (const z of zones) {
      const zone = new Zone(z);
      if (this.byKey.has(zone.key)) throw new WharfError('WHARF_ZONE_INVALID', `zone ${zone.origin} is loaded twice`);
      this.byKey.set(zone.key, zone);
    }
  }

  /** A set of already-indexed zones (the server swaps one reloaded zone in without re-indexing the rest). */
  static fromZones(zones: readonly Zone[]): ZoneSet {
    const set = new ZoneSet([]);
    for (const zone of zones) {
      if (set.byKey.has(zone.key)) throw new WharfError('WHARF_ZONE_INVALID', `zone ${zone.origin} is loaded twice`);
      set.byKey.set(zone.key, zone);
    }
    return set;
  }

  /** The zone whose origin is the closest ancestor of (or equal to) `qname`. */
  find(qname: string): Zone | undefined {
    let keys: string[];
    try { keys = ancestorKeys(qname); } catch { return undefined; }
    for (const k of keys) {
      const z = this.byKey.get(k);
      if (z) return z;
    }
    return undefined;
  }

  get zones(): Zone[] {
    return [...this.byKey.values()];
  }
}

export interface AnswerOptions {
  recursionAvailable: boolean;
  /** UDP payload size we advertise in OPT (default 1232). */
  udpSize?: number;
}

function baseResponse(query: Message, opts: AnswerOptions, rcode: number, questions: Question[] = query.questions): Message {
  const msg: Message = {
    id: query.id,
    flags: emptyFlags({ qr: true, opcode: query.flags.opcode, rd: query.flags.rd, cd: query.flags.cd, ra: opts.recursionAvailable, rcode }),
    questions: questions.map((q) => ({ ...q })),
    answers: [],
    authorities: [],
    additionals: [],
  };
  const edns = responseEdns(query, opts.udpSize ?? DEFAULT_UDP_SIZE);
  if (edns) msg.edns = edns;
  return msg;
}

const ADDITIONAL_FOR = new Set(['MX', 'NS', 'SRV']);

/**
 * Answers `query` from `zones`, or returns null when it is not ours (see the header).
 */
export function answerQuery(query: Message, zones: ZoneSet, opts: AnswerOptions): Message | null {
  if (query.flags.qr) return null; // never answer a response (reflection loops)
  if (query.flags.opcode !== OPCODE.QUERY) return baseResponse(query, opts, RCODE.NOTIMP);
  const bad = badVersResponse(query, opts.udpSize ?? DEFAULT_UDP_SIZE);
  if (bad) return { ...bad, flags: { ...bad.flags, ra: opts.recursionAvailable } };
  if (query.questions.length !== 1) return baseResponse(query, opts, RCODE.FORMERR);
  const q = query.questions[0]!;
  const qtype = q.type.toUpperCase();
  const qclass = q.class.toUpperCase();
  if (qtype === 'OPT') return baseResponse(query, opts, RCODE.FORMERR);
  if (qclass !== 'IN' && qclass !== 'ANY') return null;
  const zone = zones.find(q.name);
  if (!zone) return null;
  // Zone transfers are a TCP conversation of their own (RFC 5936), not answered here.
  if (qtype === 'AXFR' || qtype === 'IXFR') return baseResponse(query, opts, RCODE.REFUSED);
  if (qtype === 'MAILA' || qtype === 'MAILB') return baseResponse(query, opts, RCODE.NOTIMP);

  const res = baseResponse(query, opts, RCODE.NOERROR);
  res.flags.aa = true;
  let z: Zone = zone;
  let name = q.name;
  const seen = new Set<string>();
  for (let hop = 0; ; hop++) {
    const key = canonicalName(name);
    if (seen.has(key) || hop >= MAX_CHAIN) break; // CNAME loop or too long: answer what we have
    seen.add(key);

    // RFC 1034 §4.3.2 step 3b: a zone cut at or above the name: referral.
    const cut = z.findCut(name);
    if (cut !== undefined && !(qtype === 'DS' && cut === key)) {
      const ns = z.rrset(cut, 'NS')!;
      res.authorities.push(...ns);
      for (const r of ns) addAddresses(res, zones, rdataTargetName(r), z);
      if (res.answers.length === 0) res.flags.aa = false;
      break;
    }

    const owner = labelsToName(nameToLabels(name)); // absolute, in the case asked
    let sets: ResourceRecord[][] | undefined;
    if (z.exists(name)) {
      sets = z.rrsets(name);
    } else {
      // RFC 4592 §3.3.1: the source of synthesis is "*.<closest encloser>".
      const ce = z.closestEncloser(name);
      const wild = '*.' + (ce === '.' ? '' : ce);
      if (z.exists(wild)) sets = z.rrsets(wild).map((set) => set.map((r) => ({ ...r, name: owner })));
    }
    if (!sets) {
      res.flags.rcode = RCODE.NXDOMAIN;
      res.authorities.push(z.negativeSoa());
      break;
    }
    const byType = new Map(sets.map((s) => [s[0]!.type, s] as const));
    const exact = qtype === 'ANY' ? pickAny(sets) : byType.get(qtype);
    if (exact) {
      res.answers.push(...exact);
      if (ADDITIONAL_FOR.has(exact[0]!.type)) for (const r of exact) addAddresses(res, zones, rdataTargetName(r));
      break;
    }
    const cname = byType.get('CNAME');
    if (cname) {
      res.answers.push(...cname);
      const target = rdataTargetName(cname[0]!);
      const next = target === undefined ? undefined : zones.find(target);
      if (!next || target === undefined) break; // outside our zones: the resolver follows it
      z = next;
      name = target;
      continue;
    }
    // NODATA (RFC 2308 §2.2).
    res.authorities.push(z.negativeSoa());
    break;
  }
  return res;
}

/** RFC 8482 §4.1: answer ANY with one RRset (the first in zone order; a CNAME if there is one). */
function pickAny(sets: ResourceRecord[][]): ResourceRecord[] | undefined {
  return sets.find((s) => s[0]!.type === 'CNAME') ?? sets[0];
}

/**
 * Additional-section processing (RFC 1034 §4.3.2 step 6): A/AAAA of `target` from our
 * authoritative data; with `glueZone`, glue below the zone's cuts is used too (referrals).
 */
function addAddresses(res: Message, zones: ZoneSet, target: string | undefined, glueZone?: Zone): void {
  if (target === undefined) return;
  let records: ResourceRecord[] = [];
  if (glueZone && glueZone.exists(target)) {
    records = glueZone.addressesAt(target);
  } else {
    const z = zones.find(target);
    if (!z || z.findCut(target) !== undefined) return;
    records = z.addressesAt(target);
  }
  const have = new Set([...res.answers, ...res.additionals].map((r) => `${canonicalName(r.name)} ${r.type} ${rdataKey(r)}`));
  for (const r of records) {
    const k = `${canonicalName(r.name)} ${r.type} ${rdataKey(r)}`;
    if (!have.has(k)) { res.additionals.push(r); have.add(k); }
  }
}
