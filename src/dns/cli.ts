// CLI commands of this module: `wharf zone import|list|show|add-record|del-record|del`. They
// work on the store (ctx.open()), so they work while a server runs on the same data directory:
// the server notices the change (store.watchZones), reloads the zone and NOTIFYs secondaries.
//
// Invariants
//  - A zone is stored only when it parses and validates; parse errors name file:line:col and
//    exit 65 (EX_DATAERR), like every invalid-data error here.
//  - add-record and del-record bump the SOA serial (zone/serial.ts) and store the zone in its
//    formatted master-file form.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { isWharfError } from '../core/errors.js';
import type { CliContext, Command } from '../cli/context.js';
import { Exit, UsageError, readTextFile } from '../cli/context.js';
import { Zone } from './authoritative.js';
import { rdataKey } from './server/update.js';
import { canonicalName, labelsToName, nameToLabels } from './wire/name.js';
import type { ResourceRecord, SoaData } from './wire/types.js';
import { ZoneParseError } from './zone/errors.js';
import { formatZone } from './zone/format.js';
import { parseZone } from './zone/parse.js';
import { withBumpedSerial } from './zone/serial.js';
import { validateZone } from './zone/validate.js';

function opts<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionals: number) {
  const r = parseArgs({ args, options, allowPositionals: true, strict: true as const });
  if (r.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${r.positionals.length}`);
  return r;
}

function absName(name: string): string {
  return labelsToName(nameToLabels(name.endsWith('.') ? name : name + '.'));
}

/** Zone parse or validation problems: printed, exit 65. */
function dataError(ctx: CliContext, cmd: string, err: unknown): number {
  if (err instanceof ZoneParseError || (isWharfError(err) && err.code === 'WHARF_ZONE_INVALID') || (isWharfError(err) && err.code === 'WHARF_DNS_FORMAT')) {
    ctx.err(`wharf ${cmd}: ${(err as Error).message}`);
    return Exit.dataErr;
  }
  throw err;
}

/** Validation errors (not warnings) of a zone, printed; true when there were any. */
function reportProblems(ctx: CliContext, cmd: string, origin: string, records: readonly ResourceRecord[]): boolean {
  const problems = validateZone(origin, records);
  for (const p of problems) ctx.err(`wharf ${cmd}: ${p.level === 'warning' ? 'warning: ' : ''}${p.name}${p.type ? ' ' + p.type : ''}: ${p.message}`);
  return problems.some((p) => p.level !== 'warning');
}

async function loadZone(ctx: CliContext, name: string): Promise<{ origin: string; records: ResourceRecord[] } | null> {
  const w = await ctx.open();
  const row = await w.store.getZone(absName(name));
  if (!row) return null;
  return parseZone(row.text, { origin: row.name, file: `zone ${row.name}` });
}

async function saveZone(ctx: CliContext, origin: string, records: ResourceRecord[]): Promise<number> {
  new Zone({ origin, records }); // throws WHARF_ZONE_INVALID when the result would not load
  const soa = records.find((r) => r.type.toUpperCase() === 'SOA')!;
  const serial = (soa.data as SoaData).serial;
  const w = await ctx.open();
  await w.store.putZone(origin, formatZone(origin, records), serial);
  return serial;
}

/** The origin a file names: --name, else its first $ORIGIN, else its file name without .zone/.db. */
function originOf(text: string, file: string, given: string | undefined): string {
  if (given) return absName(given);
  const m = /^\$ORIGIN[ \t]+(\S+)/im.exec(text);
  if (m && m[1]!.endsWith('.')) return absName(m[1]!);
  return absName(basename(file).replace(/\.(zone|db|txt)$/i, ''));
}

const noZone = (ctx: CliContext, cmd: string, name: string): number => {
  ctx.err(`wharf ${cmd}: no zone ${absName(name)}`);
  return Exit.failure;
};

export const dnsCommands: Command[] = [
  {
    name: 'zone import',
    usage: 'wharf zone import FILE [--name ORIGIN]',
    summary: 'Validate a master file (RFC 1035 §5) and store it as a zone (replacing one of that name)',
    async run(ctx, args) {
      const { positionals, values } = opts(args, { name: { type: 'string' } }, 1);
      const file = positionals[0]!;
      let text: string;
      try {
        text = readTextFile(file);
      } catch (err) {
        ctx.err(`wharf zone import: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return Exit.failure;
      }
      let origin: string;
      let records: ResourceRecord[];
      try {
        origin = originOf(text, file, values.name);
        ({ records } = parseZone(text, { origin, file }));
      } catch (err) {
        return dataError(ctx, 'zone import', err);
      }
      if (reportProblems(ctx, 'zone import', origin, records)) return Exit.dataErr;
      try {
        const serial = await saveZone(ctx, origin, records);
        ctx.out(`imported zone ${origin} (${records.length} records, serial ${serial})`);
      } catch (err) {
        return dataError(ctx, 'zone import', err);
      }
      return Exit.ok;
    },
  },
  {
    name: 'zone list',
    usage: 'wharf zone list',
    summary: 'List the zones served, with their serials',
    async run(ctx, args) {
      opts(args, {}, 0);
      const w = await ctx.open();
      for (const z of await w.store.listZones()) ctx.out(`${z.name}\t${z.serial}`);
      return Exit.ok;
    },
  },
  {
    name: 'zone show',
    usage: 'wharf zone show NAME',
    summary: 'Print a zone as a master file',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 1);
      const w = await ctx.open();
      const row = await w.store.getZone(absName(positionals[0]!));
      if (!row) return noZone(ctx, 'zone show', positionals[0]!);
      ctx.out(row.text.trimEnd());
      return Exit.ok;
    },
  },
  {
    name: 'zone add-record',
    usage: 'wharf zone add-record NAME "OWNER [TTL] [CLASS] TYPE RDATA"',
    summary: 'Add a record to a zone (names relative to the zone) and bump its serial',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 2);
      const [name, line] = positionals as [string, string];
      const zone = await loadZone(ctx, name);
      if (!zone) return noZone(ctx, 'zone add-record', name);
      const soa = zone.records.find((r) => r.type.toUpperCase() === 'SOA');
      let added: ResourceRecord[];
      try {
        added = parseZone(line, { origin: zone.origin, file: 'record', defaultTtl: soa?.ttl ?? 3600 }).records;
      } catch (err) {
        return dataError(ctx, 'zone add-record', err);
      }
      if (added.length !== 1) throw new UsageError('give exactly one record');
      const rr = added[0]!;
      if (rr.type.toUpperCase() === 'SOA') throw new UsageError('the SOA cannot be added; it is edited by serial bumps');
      const key = (r: ResourceRecord): string => `${canonicalName(r.name)} ${r.type.toUpperCase()} ${rdataKey(r.type, r.data)}`;
      if (zone.records.some((r) => key(r) === key(rr))) {
        ctx.err(`wharf zone add-record: the record is already in ${zone.origin}`);
        return Exit.failure;
      }
      const records = withBumpedSerial([...zone.records, rr]);
      if (reportProblems(ctx, 'zone add-record', zone.origin, records)) return Exit.dataErr;
      try {
        const serial = await saveZone(ctx, zone.origin, records);
        ctx.out(`added to ${zone.origin}; serial ${serial}`);
      } catch (err) {
        return dataError(ctx, 'zone add-record', err);
      }
      return Exit.ok;
    },
  },
  {
    name: 'zone del-record',
    usage: 'wharf zone del-record NAME "OWNER TYPE [RDATA]"',
    summary: 'Delete records (all of that owner and type, or the one with RDATA) and bump the serial',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 2);
      const [name, spec] = positionals as [string, string];
      const zone = await loadZone(ctx, name);
      if (!zone) return noZone(ctx, 'zone del-record', name);
      const m = /^\s*(\S+)\s+(\S+)(?:\s+(.*\S))?\s*$/.exec(spec);
      if (!m) throw new UsageError('give "OWNER TYPE [RDATA]"');
      const [, ownerText, typeText, rdataText] = m as unknown as [string, string, string, string | undefined];
      let target: ResourceRecord | undefined;
      let owner: string;
      let type: string;
      try {
        // Parse through the master-file parser so relative names, @ and RDATA mean what they mean in a zone.
        const probe = parseZone(`${ownerText} 0 IN ${typeText} ${rdataText ?? ''}`, { origin: zone.origin, file: 'record' });
        target = probe.records[0];
        owner = target!.name;
        type = target!.type.toUpperCase();
      } catch (err) {
        if (rdataText !== undefined) return dataError(ctx, 'zone del-record', err);
        // No RDATA: the parser wants some; resolve owner and type alone.
        try {
          const probe = parseZone(`${ownerText} 0 IN TXT "x"`, { origin: zone.origin, file: 'record' });
          owner = probe.records[0]!.name;
          type = typeText.toUpperCase();
          target = undefined;
        } catch (err2) {
          return dataError(ctx, 'zone del-record', err2);
        }
      }
      if (type === 'SOA') throw new UsageError('the SOA cannot be deleted');
      const match = (r: ResourceRecord): boolean =>
        canonicalName(r.name) === canonicalName(owner) && r.type.toUpperCase() === type && (rdataText === undefined || !target || rdataKey(r.type, r.data) === rdataKey(target.type, target.data));
      const kept = zone.records.filter((r) => !match(r));
      const removed = zone.records.length - kept.length;
      if (removed === 0) {
        ctx.err(`wharf zone del-record: no ${type} record at ${owner}${rdataText ? ' with that data' : ''}`);
        return Exit.failure;
      }
      const records = withBumpedSerial(kept);
      if (reportProblems(ctx, 'zone del-record', zone.origin, records)) return Exit.dataErr;
      try {
        const serial = await saveZone(ctx, zone.origin, records);
        ctx.out(`deleted ${removed} record${removed === 1 ? '' : 's'} from ${zone.origin}; serial ${serial}`);
      } catch (err) {
        return dataError(ctx, 'zone del-record', err);
      }
      return Exit.ok;
    },
  },
  {
    name: 'zone del',
    usage: 'wharf zone del NAME',
    summary: 'Delete a zone',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 1);
      const w = await ctx.open();
      if (!(await w.store.deleteZone(absName(positionals[0]!)))) return noZone(ctx, 'zone del', positionals[0]!);
      ctx.out(`deleted zone ${absName(positionals[0]!)}`);
      return Exit.ok;
    },
  },
];
