// Zone routes of the admin API: the same rules as `wharf zone …` (src/dns/cli.ts): a zone is
// stored only when it parses and validates; adding or deleting records bumps the SOA serial and
// stores the zone in its formatted master-file form. A running DNS server notices the change
// through store.watchZones.
//
// Input comes from a browser, so each record field is checked to be one line that cannot start
// a directive ($INCLUDE, $ORIGIN): a record is exactly one record.
import { Zone } from '../dns/authoritative.js';
import { rdataKey } from '../dns/server/update.js';
import { canonicalName, labelsToName, nameToLabels } from '../dns/wire/name.js';
import type { ResourceRecord, SoaData } from '../dns/wire/types.js';
import { ZoneParseError } from '../dns/zone/errors.js';
import { formatRData, formatZone } from '../dns/zone/format.js';
import { parseZone } from '../dns/zone/parse.js';
import { withBumpedSerial } from '../dns/zone/serial.js';
import { validateZone } from '../dns/zone/validate.js';
import { isWharfError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { HttpError } from './http.js';

export function absName(name: string): string {
  try {
    return labelsToName(nameToLabels(name.endsWith('.') ? name : name + '.'));
  } catch {
    throw new HttpError(400, `"${name}" is not a domain name`);
  }
}

/** Parse and validation failures as 400s with line and column when known. */
function invalid(err: unknown): never {
  if (err instanceof ZoneParseError) throw new HttpError(400, err.message, { line: err.line, column: err.column });
  if (isWharfError(err) && (err.code === 'WHARF_ZONE_INVALID' || err.code === 'WHARF_DNS_FORMAT')) throw new HttpError(400, err.message);
  throw err;
}

function checkProblems(origin: string, records: readonly ResourceRecord[]): void {
  const problems = validateZone(origin, records).filter((p) => p.level !== 'warning');
  if (problems.length) {
    throw new HttpError(400, problems.map((p) => `${p.name}${p.type ? ' ' + p.type : ''}: ${p.message}`).join('; '), {
      problems: problems.map((p) => ({ name: p.name, type: p.type ?? null, message: p.message })),
    });
  }
}

async function save(store: Store, origin: string, records: ResourceRecord[]): Promise<number> {
  try {
    new Zone({ origin, records }); // throws WHARF_ZONE_INVALID when the zone would not load
  } catch (err) {
    invalid(err);
  }
  const soa = records.find((r) => r.type.toUpperCase() === 'SOA')!;
  const serial = (soa.data as SoaData).serial;
  await store.putZone(origin, formatZone(origin, records), serial);
  return serial;
}

async function load(store: Store, name: string): Promise<{ origin: string; records: ResourceRecord[]; serial: number; text: string }> {
  const row = await store.getZone(absName(name));
  if (!row) throw new HttpError(404, `no zone ${absName(name)}`);
  const { records } = parseZone(row.text, { origin: row.name, file: `zone ${row.name}` });
  return { origin: row.name, records, serial: row.serial, text: row.text };
}

export async function listZones(store: Store): Promise<{ name: string; serial: number }[]> {
  return (await store.listZones()).map((z) => ({ name: z.name, serial: z.serial }));
}

export async function showZone(store: Store, name: string): Promise<unknown> {
  const z = await load(store, name);
  return {
    name: z.origin,
    serial: z.serial,
    text: z.text,
    records: z.records.map((r) => ({ name: labelsToName(nameToLabels(r.name)), ttl: r.ttl, class: r.class, type: r.type, data: formatRData(r.type, r.data) })),
  };
}

function field(v: unknown, what: string, optional = false): string | undefined {
  if (v === undefined && optional) return undefined;
  if (typeof v === 'number' && what === 'ttl') return String(v);
  if (typeof v !== 'string' || v.trim() === '') throw new HttpError(400, `"${what}" must be a non-empty string`);
  if (/[\r\n\0]/.test(v)) throw new HttpError(400, `"${what}" must be one line`);
  return v.trim();
}

/** POST /api/zones {"text","name"?}: origin from "name", else the file's first absolute $ORIGIN. */
export async function importZone(store: Store, body: { text?: unknown; name?: unknown }): Promise<{ name: string; serial: number; records: number }> {
  if (typeof body.text !== 'string' || body.text.trim() === '') throw new HttpError(400, '"text" must be a master file (RFC 1035 §5)');
  let origin: string;
  if (body.name !== undefined) origin = absName(field(body.name, 'name')!);
  else {
    const m = /^\$ORIGIN[ \t]+(\S+)/im.exec(body.text);
    if (!m || !m[1]!.endsWith('.')) throw new HttpError(400, 'give "name" or start the text with an absolute $ORIGIN');
    origin = absName(m[1]!);
  }
  let records: ResourceRecord[] = [];
  try {
    ({ records } = parseZone(body.text, { origin, file: 'zone', allowInclude: false }));
  } catch (err) {
    invalid(err);
  }
  checkProblems(origin, records);
  const serial = await save(store, origin, records);
  return { name: origin, serial, records: records.length };
}

const key = (r: ResourceRecord): string => `${canonicalName(r.name)} ${r.type.toUpperCase()} ${rdataKey(r.type, r.data)}`;

/** POST /api/zones/:name/records {"name","ttl"?,"type","data"}: one record, names relative to the zone. */
export async function addRecord(store: Store, zoneName: string, body: { name?: unknown; ttl?: unknown; type?: unknown; data?: unknown }): Promise<{ name: string; serial: number }> {
  const owner = field(body.name, 'name')!;
  const ttl = field(body.ttl, 'ttl', true);
  const type = field(body.type, 'type')!;
  const data = field(body.data, 'data')!;
  if (owner.startsWith('$') || !/^[A-Za-z0-9-]+$/.test(type) || (ttl !== undefined && !/^\d+[smhdwSMHDW]?$/.test(ttl))) throw new HttpError(400, 'bad record name, type or ttl');
  if (type.toUpperCase() === 'SOA') throw new HttpError(400, 'the SOA cannot be added; it is edited by serial bumps');
  const z = await load(store, zoneName);
  const soa = z.records.find((r) => r.type.toUpperCase() === 'SOA');
  let added: ResourceRecord[] = [];
  try {
    added = parseZone(`${owner} ${ttl ?? ''} IN ${type} ${data}`, { origin: z.origin, file: 'record', defaultTtl: soa?.ttl ?? 3600, allowInclude: false }).records;
  } catch (err) {
    invalid(err);
  }
  if (added.length !== 1) throw new HttpError(400, 'give exactly one record');
  const rr = added[0]!;
  if (z.records.some((r) => key(r) === key(rr))) throw new HttpError(409, `the record is already in ${z.origin}`);
  const records = withBumpedSerial([...z.records, rr]);
  checkProblems(z.origin, records);
  return { name: z.origin, serial: await save(store, z.origin, records) };
}

/** DELETE /api/zones/:name/records {"name","type","data"?}: all of that owner and type, or the one with data. */
export async function deleteRecords(store: Store, zoneName: string, body: { name?: unknown; type?: unknown; data?: unknown }): Promise<{ name: string; serial: number; deleted: number }> {
  const ownerText = field(body.name, 'name')!;
  const typeText = field(body.type, 'type')!;
  const dataText = field(body.data, 'data', true);
  if (ownerText.startsWith('$') || !/^[A-Za-z0-9-]+$/.test(typeText)) throw new HttpError(400, 'bad record name or type');
  const type = typeText.toUpperCase();
  if (type === 'SOA') throw new HttpError(400, 'the SOA cannot be deleted');
  const z = await load(store, zoneName);
  let owner = '';
  let target: ResourceRecord | undefined;
  try {
    // Through the master-file parser, so relative names, @ and RDATA mean what they mean in a zone.
    const probe = parseZone(dataText !== undefined ? `${ownerText} 0 IN ${typeText} ${dataText}` : `${ownerText} 0 IN TXT "x"`, { origin: z.origin, file: 'record', allowInclude: false });
    if (probe.records.length !== 1) throw new HttpError(400, 'give exactly one record');
    owner = probe.records[0]!.name;
    if (dataText !== undefined) target = probe.records[0];
  } catch (err) {
    if (err instanceof HttpError) throw err;
    invalid(err);
  }
  const match = (r: ResourceRecord): boolean => canonicalName(r.name) === canonicalName(owner) && r.type.toUpperCase() === type && (!target || rdataKey(r.type, r.data) === rdataKey(target.type, target.data));
  const kept = z.records.filter((r) => !match(r));
  const deleted = z.records.length - kept.length;
  if (deleted === 0) throw new HttpError(404, `no ${type} record at ${owner}${target ? ' with that data' : ''}`);
  const records = withBumpedSerial(kept);
  checkProblems(z.origin, records);
  return { name: z.origin, serial: await save(store, z.origin, records), deleted };
}

export async function deleteZone(store: Store, name: string): Promise<void> {
  if (!(await store.deleteZone(absName(name)))) throw new HttpError(404, `no zone ${absName(name)}`);
}
