// Zone validation: the structural rules a zone must meet before it is served.
//
// Rules (each problem names the owner, type and rule):
//  - exactly one SOA, owned by the apex (RFC 1035 §5.2, RFC 1034 §4.2.1);
//  - at least one NS at the apex (RFC 1034 §4.2.1);
//  - no data outside the zone's origin;
//  - one class for the whole zone;
//  - a CNAME owner has no other data and only one CNAME (RFC 1034 §3.6.2, RFC 2181 §10.1)
//    (RRSIG/NSEC may sit beside it, RFC 4035 §2.5);
//  - TTLs within 0..2^31-1 (RFC 2181 §8); all TTLs of an RRset equal (RFC 2181 §5.2: a warning,
//    as in BIND; the authoritative server answers with the lowest);
//  - no query-only types (ANY, AXFR, OPT …).

import { canonicalName, isSubdomain, labelsToName, nameToLabels } from '../wire/name.js';
import { QTYPES } from '../wire/records.js';
import type { ResourceRecord } from '../wire/types.js';
import { ZONE_INVALID } from './errors.js';
import { WharfError } from '../../core/errors.js';

export interface ZoneProblem {
  name: string;
  type?: string;
  message: string;
  /** 'warning' problems do not stop a zone from loading (assertValidZone ignores them). */
  level?: 'error' | 'warning';
}

const CNAME_COMPANIONS = new Set(['CNAME', 'RRSIG', 'NSEC']);

export function validateZone(origin: string, records: readonly ResourceRecord[]): ZoneProblem[] {
  const o = labelsToName(nameToLabels(origin));
  const apex = canonicalName(o);
  const problems: ZoneProblem[] = [];
  const soas = records.filter((r) => r.type.toUpperCase() === 'SOA');
  if (soas.length === 0) problems.push({ name: o, type: 'SOA', message: 'zone has no SOA record' });
  for (const s of soas) {
    if (canonicalName(s.name) !== apex) problems.push({ name: s.name, type: 'SOA', message: 'SOA record is not at the zone apex' });
  }
  if (soas.filter((s) => canonicalName(s.name) === apex).length > 1) problems.push({ name: o, type: 'SOA', message: 'more than one SOA record at the apex' });
  if (!records.some((r) => r.type.toUpperCase() === 'NS' && canonicalName(r.name) === apex)) {
    problems.push({ name: o, type: 'NS', message: 'zone has no NS record at the apex' });
  }
  const classes = new Set(records.map((r) => r.class.toUpperCase()));
  if (classes.size > 1) problems.push({ name: o, message: `records of several classes: ${[...classes].join(', ')}` });
  const byName = new Map<string, { name: string; types: Map<string, ResourceRecord[]> }>();
  for (const r of records) {
    if (!isSubdomain(r.name, o)) {
      problems.push({ name: r.name, type: r.type, message: `record is outside the zone ${o}` });
      continue;
    }
    const t = r.type.toUpperCase();
    if (QTYPES.has(t)) problems.push({ name: r.name, type: t, message: `type ${t} cannot be stored in a zone` });
    if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > 0x7fffffff) problems.push({ name: r.name, type: t, message: `TTL ${r.ttl} outside 0..2147483647` });
    const key = canonicalName(r.name);
    let e = byName.get(key);
    if (!e) { e = { name: r.name, types: new Map() }; byName.set(key, e); }
    const list = e.types.get(t) ?? [];
    list.push(r);
    e.types.set(t, list);
  }
  for (const { name, types } of byName.values()) {
    const cnames = types.get('CNAME');
    if (cnames) {
      if (cnames.length > 1) problems.push({ name, type: 'CNAME', message: 'more than one CNAME record at this name' });
      const others = [...types.keys()].filter((t) => !CNAME_COMPANIONS.has(t));
      if (others.length > 0) problems.push({ name, type: 'CNAME', message: `CNAME beside other data (${others.join(', ')})` });
    }
    for (const [t, list] of types) {
      if (new Set(list.map((r) => r.ttl)).size > 1) problems.push({ name, type: t, message: 'records of one RRset have different TTLs', level: 'warning' });
    }
  }
  return problems;
}

/** Throws a WharfError (WHARF_ZONE_INVALID) listing every problem, if there is any. */
export function assertValidZone(origin: string, records: readonly ResourceRecord[]): void {
  const problems = validateZone(origin, records).filter((p) => p.level !== 'warning');
  if (problems.length === 0) return;
  const text = problems.map((p) => `${p.name}${p.type ? ' ' + p.type : ''}: ${p.message}`).join('; ');
  throw new WharfError(ZONE_INVALID, `zone ${origin} is invalid: ${text}`, { problems });
}
