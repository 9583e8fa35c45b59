// Dynamic UPDATE (RFC 2136) as a pure function: a decoded UPDATE message and a zone's records
// in, an RCODE and (when something changed) the zone's new records out. The server checks TSIG,
// serialises updates per zone and writes the result back to the store.
//
// Invariants
//  - Sections: zone = questions, prerequisites = answers, updates = authorities (§2).
//  - Prerequisites are all checked before any update is applied, and a failed prescan or
//    prerequisite changes nothing (§3.2, §3.4.1: the update is atomic).
//  - The apex SOA and the last apex NS are never deleted; a CNAME and other data never share a
//    name (§3.4.2.2); an SOA update with a serial not greater than the current one is ignored.
//  - When anything changed and the SOA was not replaced explicitly, the serial is bumped (§3.6).
import { Writer, canonicalName, isSubdomain } from '../wire/name.js';
import { isOpaque, writeRData } from '../wire/records.js';
import { RCODE } from '../wire/types.js';
import type { Message, RData, ResourceRecord, SoaData } from '../wire/types.js';
import { bumpSerial, compareSerial } from '../zone/serial.js';

export interface UpdateResult {
  rcode: number;
  /** The zone's new records when the update changed something. */
  records?: ResourceRecord[];
  /** Human-readable reason for a non-NOERROR rcode (logs). */
  reason?: string;
}

const META = new Set(['ANY', 'AXFR', 'IXFR', 'MAILA', 'MAILB', 'OPT', 'TSIG', 'TKEY']);
const NAME_FIELDS: Record<string, string[]> = {
  NS: ['host'], CNAME: ['target'], PTR: ['target'], MX: ['exchange'], SRV: ['target'], SOA: ['mname', 'rname'],
};

/** Comparable key of an RR's RDATA: wire bytes with embedded names lower-cased (RFC 4343). */
export function rdataKey(type: string, data: RData): string {
  let d = data;
  const fields = NAME_FIELDS[type.toUpperCase()];
  if (fields && !isOpaque(data)) {
    const copy: Record<string, unknown> = { ...(data as unknown as Record<string, unknown>) };
    for (const f of fields) if (typeof copy[f] === 'string') copy[f] = canonicalName(copy[f] as string);
    d = copy as unknown as RData;
  }
  const w = new Writer(64);
  writeRData(w, type, d);
  return Buffer.from(w.result()).toString('hex');
}

const key = (name: string, type: string): string => `${canonicalName(name)}|${type.toUpperCase()}`;
const rrKey = (rr: ResourceRecord): string => `${key(rr.name, rr.type)}|${rdataKey(rr.type, rr.data)}`;

class Fail extends Error {
  constructor(readonly rcode: number, reason: string) { super(reason); }
}

/** Applies `msg` (opcode UPDATE) to the zone `origin` with `records` (see the header). */
export function applyUpdate(msg: Message, origin: string, records: readonly ResourceRecord[], now: Date = new Date()): UpdateResult {
  try {
    return run(msg, origin, records, now);
  } catch (err) {
    if (err instanceof Fail) return { rcode: err.rcode, reason: err.message };
    // RDATA we cannot encode/compare is a malformed update.
    return { rcode: RCODE.FORMERR, reason: err instanceof Error ? err.message : String(err) };
  }
}

function run(msg: Message, origin: string, input: readonly ResourceRecord[], now: Date): UpdateResult {
  const apex = canonicalName(origin);
  // §3.1.1: exactly one zone, type SOA.
  if (msg.questions.length !== 1 || msg.questions[0]!.type.toUpperCase() !== 'SOA') throw new Fail(RCODE.FORMERR, 'the zone section must hold one SOA question');
  if (canonicalName(msg.questions[0]!.name) !== apex) throw new Fail(RCODE.NOTAUTH, 'not authoritative for the zone');
  const soa = input.find((r) => r.type.toUpperCase() === 'SOA' && canonicalName(r.name) === apex);
  const zclass = (soa?.class ?? 'IN').toUpperCase();
  const inZone = (name: string): boolean => isSubdomain(name, origin);

  let records = input.map((r) => ({ ...r, type: r.type.toUpperCase() }));
  const rrset = (name: string, type: string): ResourceRecord[] => records.filter((r) => key(r.name, r.type) === key(name, type));
  const nameInUse = (name: string): boolean => records.some((r) => canonicalName(r.name) === canonicalName(name));

  // §3.2: prerequisites.
  const valueDependent = new Map<string, ResourceRecord[]>();
  for (const rr of msg.answers) {
    const cls = rr.class.toUpperCase();
    const type = rr.type.toUpperCase();
    const empty = isOpaque(rr.data) && rr.data.rdata.length === 0;
    if (rr.ttl !== 0) throw new Fail(RCODE.FORMERR, 'prerequisite with a non-zero TTL');
    if (!inZone(rr.name)) throw new Fail(RCODE.NOTZONE, `prerequisite ${rr.name} is outside the zone`);
    if (cls === 'ANY') {
      if (!empty) throw new Fail(RCODE.FORMERR, 'class ANY prerequisite with RDATA');
      if (type === 'ANY') { if (!nameInUse(rr.name)) throw new Fail(RCODE.NXDOMAIN, `${rr.name} is not in use`); }
      else if (rrset(rr.name, type).length === 0) throw new Fail(RCODE.NXRRSET, `${rr.name} ${type} does not exist`);
    } else if (cls === 'NONE') {
      if (!empty) throw new Fail(RCODE.FORMERR, 'class NONE prerequisite with RDATA');
      if (type === 'ANY') { if (nameInUse(rr.name)) throw new Fail(RCODE.YXDOMAIN, `${rr.name} is in use`); }
      else if (rrset(rr.name, type).length > 0) throw new Fail(RCODE.YXRRSET, `${rr.name} ${type} exists`);
    } else if (cls === zclass) {
      const k = key(rr.name, type);
      valueDependent.set(k, [...(valueDependent.get(k) ?? []), { ...rr, type }]);
    } else {
      throw new Fail(RCODE.FORMERR, `prerequisite of class ${cls}`);
    }
  }
  // §3.2.3: value-dependent "RRset exists" — the sets must be equal.
  for (const [k, want] of valueDependent) {
    const [name, type] = [want[0]!.name, want[0]!.type];
    const have = new Set(rrset(name, type).map((r) => rdataKey(type, r.data)));
    const wantKeys = new Set(want.map((r) => rdataKey(type, r.data)));
    if (have.size !== wantKeys.size || [...have].some((x) => !wantKeys.has(x))) throw new Fail(RCODE.NXRRSET, `${k} differs`);
  }

  // §3.4.1: prescan.
  for (const rr of msg.authorities) {
    const cls = rr.class.toUpperCase();
    const type = rr.type.toUpperCase();
    const empty = isOpaque(rr.data) && rr.data.rdata.length === 0;
    if (!inZone(rr.name)) throw new Fail(RCODE.NOTZONE, `update ${rr.name} is outside the zone`);
    if (cls === zclass) {
      if (META.has(type)) throw new Fail(RCODE.FORMERR, `cannot add type ${type}`);
    } else if (cls === 'ANY') {
      if (rr.ttl !== 0 || !empty || (META.has(type) && type !== 'ANY')) throw new Fail(RCODE.FORMERR, 'bad class ANY update');
    } else if (cls === 'NONE') {
      if (rr.ttl !== 0 || META.has(type)) throw new Fail(RCODE.FORMERR, 'bad class NONE update');
    } else {
      throw new Fail(RCODE.FORMERR, `update of class ${cls}`);
    }
  }

  // §3.4.2: apply.
  let changed = false;
  let soaReplaced = false;
  const isApex = (name: string): boolean => canonicalName(name) === apex;
  for (const u of msg.authorities) {
    const cls = u.class.toUpperCase();
    const type = u.type.toUpperCase();
    if (cls === zclass) {
      const rr: ResourceRecord = { ...u, type, class: zclass };
      const atName = records.filter((r) => canonicalName(r.name) === canonicalName(u.name));
      if (type === 'CNAME' && atName.some((r) => r.type !== 'CNAME')) continue; // §3.4.2.2
      if (type !== 'CNAME' && atName.some((r) => r.type === 'CNAME')) continue;
      if (type === 'SOA') {
        if (!isApex(u.name) || !soa) continue;
        const cur = records.find((r) => r.type === 'SOA')!;
        if (compareSerial((rr.data as SoaData).serial, (cur.data as SoaData).serial) !== 1) continue;
        records = records.map((r) => (r === cur ? rr : r));
        changed = soaReplaced = true;
        continue;
      }
      if (type === 'CNAME' && atName.some((r) => r.type === 'CNAME')) {
        // a name has one CNAME: replace it
        records = records.filter((r) => !(canonicalName(r.name) === canonicalName(u.name) && r.type === 'CNAME'));
        records.push(rr);
        changed = true;
        continue;
      }
      const k = rrKey(rr);
      const i = records.findIndex((r) => rrKey(r) === k);
      if (i >= 0) {
        if (records[i]!.ttl !== rr.ttl) { records[i] = { ...records[i]!, ttl: rr.ttl }; changed = true; }
        continue;
      }
      records.push(rr);
      changed = true;
    } else if (cls === 'ANY') {
      const before = records.length;
      if (type === 'ANY') {
        records = records.filter((r) => canonicalName(r.name) !== canonicalName(u.name) || (isApex(u.name) && (r.type === 'SOA' || r.type === 'NS')));
      } else {
        if (isApex(u.name) && (type === 'SOA' || type === 'NS')) continue;
        records = records.filter((r) => key(r.name, r.type) !== key(u.name, type));
      }
      if (records.length !== before) changed = true;
    } else {
      // class NONE: delete one RR
      if (type === 'SOA') continue;
      if (type === 'NS' && isApex(u.name) && rrset(u.name, 'NS').length <= 1) continue;
      const k = rrKey({ ...u, type });
      const before = records.length;
      records = records.filter((r) => rrKey(r) !== k);
      if (records.length !== before) changed = true;
    }
  }
  if (!changed) return { rcode: RCODE.NOERROR };
  if (!soaReplaced) {
    // §3.6: bump the serial.
    records = records.map((r) => (r.type === 'SOA' && isApex(r.name) ? { ...r, data: { ...(r.data as SoaData), serial: bumpSerial((r.data as SoaData).serial, now) } } : r));
  }
  return { rcode: RCODE.NOERROR, records };
}
