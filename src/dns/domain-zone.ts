// The zone Wharf creates for a new mail domain (dns.zone_for_domains): SOA, NS, MX and the
// addresses they need, as a master file ready for store.putZone.
//
// Invariants
//  - The NS is the server's hostname; the MX is the hostname when it lies inside the domain,
//    else mail.<domain>. Every name of ours that the NS or MX point at inside the zone gets an
//    A (or AAAA for an IPv6 address) record, so the zone is self-contained (no missing glue).
//  - The output parses back (parseZone) to a zone that validates (assertValidZone).
import { isIP } from 'node:net';
import { canonicalName, isSubdomain, labelsToName, nameToLabels } from './wire/name.js';
import type { ResourceRecord } from './wire/types.js';
import { formatZone } from './zone/format.js';
import { dateSerial } from './zone/serial.js';

export interface DomainZoneOptions {
  /** The server's host name (config hostname). */
  hostname: string;
  /** Address for the A/AAAA records (dns.zone_address). */
  address: string;
  /** SOA serial (default: today's YYYYMMDD00). */
  serial?: number;
  /** TTL of every record (default 3600). */
  ttl?: number;
}

export function domainZoneText(domain: string, opts: DomainZoneOptions): string {
  return formatZone(abs(domain), domainZoneRecords(domain, opts));
}

function abs(name: string): string {
  return labelsToName(nameToLabels(name.endsWith('.') ? name : name + '.'));
}

export function domainZoneRecords(domain: string, opts: DomainZoneOptions): ResourceRecord[] {
  const origin = abs(domain);
  const host = abs(opts.hostname);
  const ttl = opts.ttl ?? 3600;
  const serial = opts.serial ?? dateSerial(new Date());
  const addrType = isIP(opts.address) === 6 ? 'AAAA' : 'A';
  if (!isIP(opts.address)) throw new Error(`zone address "${opts.address}" is not an IP address`);
  const rr = (name: string, type: string, data: unknown): ResourceRecord => ({ name, type, class: 'IN', ttl, data: data as ResourceRecord['data'] });
  const hostInside = isSubdomain(host, origin);
  const mx = hostInside ? host : `mail.${origin}`;
  const records: ResourceRecord[] = [
    rr(origin, 'SOA', { mname: host, rname: `hostmaster.${origin}`, serial, refresh: 3600, retry: 900, expire: 1_209_600, minimum: 300 }),
    rr(origin, 'NS', { host }),
    rr(origin, 'MX', { preference: 10, exchange: mx }),
    rr(origin, addrType, { address: opts.address }),
  ];
  const withAddress = new Set([canonicalName(origin)]);
  for (const name of [host, mx]) {
    if (!isSubdomain(name, origin) || withAddress.has(canonicalName(name))) continue;
    withAddress.add(canonicalName(name));
    records.push(rr(name, addrType, { address: opts.address }));
  }
  return records;
}
