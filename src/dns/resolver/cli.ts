// CLI: `wharf dns trace NAME [TYPE] [--root addr:port ...]` — resolves a name from the root
// hints with an empty cache and prints every step of the iteration (root, TLD, authoritative),
// the slides' iterated-query picture, then the answer. Uses dns.resolver.* from the config.
import { parseArgs } from 'node:util';
import type { Command } from '../../cli/context.js';
import { Exit, UsageError } from '../../cli/context.js';
import { isTypeName, normalizeType } from '../wire/records.js';
import { nameToLabels } from '../wire/name.js';
import { RCODE } from '../wire/types.js';
import { formatRecord } from '../zone/format.js';
import { Resolver } from './index.js';
import type { Resolution, ResolverTraceEvent } from './index.js';

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));

export function rcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}

/** "root", "TLD edu.", "umass.edu." — which level of the hierarchy a step asked. */
export function levelOf(e: ResolverTraceEvent): string {
  if (e.outcome === 'cache') return 'cache';
  if (e.zone === undefined) return '-';
  if (e.zone === '.') return 'root';
  return nameToLabels(e.zone).length === 1 ? `TLD ${e.zone}` : e.zone;
}

/** The trace as printable lines. */
export function formatTrace(name: string, type: string, res: Resolution, elapsedMs: number): string[] {
  const lines: string[] = [];
  const rows = res.trace.map((e) => [
    String(e.step).padStart(2),
    levelOf(e),
    e.serverName ? `${e.server} (${e.serverName})` : e.server,
    `${e.qname} ${e.qtype}`,
    e.outcome,
    e.detail ?? '',
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(r.map((c, i) => (i < 5 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd());
  const upstream = res.trace.filter((e) => e.outcome !== 'cache' && e.server !== '-').length;
  lines.push(`;; ${name} ${type}: ${rcodeName(res.rcode)}, ${res.answers.length} answer${res.answers.length === 1 ? '' : 's'}, ${upstream} upstream quer${upstream === 1 ? 'y' : 'ies'}, ${elapsedMs} ms`);
  for (const rr of res.answers) lines.push(formatRecord(rr));
  for (const rr of res.authority) lines.push(formatRecord(rr));
  return lines;
}

export const resolverCommands: Command[] = [
  {
    name: 'dns trace',
    usage: 'wharf dns trace NAME [TYPE] [--root ADDR[:PORT] ...] [--upstream-port N] [--qmin]',
    summary: 'Resolve NAME iteratively from the root hints and print every step (root, TLD, authoritative)',
    async run(ctx, args) {
      const { positionals, values } = parseArgs({
        args,
        options: { root: { type: 'string', multiple: true }, 'upstream-port': { type: 'string' }, qmin: { type: 'boolean' } },
        allowPositionals: true,
        strict: true,
      });
      if (positionals.length < 1 || positionals.length > 2) throw new UsageError('expected NAME [TYPE]');
      const name = positionals[0]!;
      const typeText = positionals[1] ?? 'A';
      if (!isTypeName(typeText)) throw new UsageError(`unknown record type "${typeText}"`);
      try { nameToLabels(name); } catch (err) { throw new UsageError(`bad name "${name}": ${(err as Error).message}`); }
      const cfg = ctx.config.dns.resolver;
      let upstreamPort = cfg.upstream_port;
      if (values['upstream-port'] !== undefined) {
        upstreamPort = Number(values['upstream-port']);
        if (!Number.isInteger(upstreamPort) || upstreamPort < 1 || upstreamPort > 65535) throw new UsageError('--upstream-port takes a port number');
      }
      const roots = values.root && values.root.length > 0 ? values.root : cfg.root_hints;
      const resolver = new Resolver({
        rootHints: roots,
        upstreamPort,
        cacheSize: cfg.cache_size,
        qnameMinimisation: values.qmin ?? cfg.qname_minimisation,
        maxOutstanding: cfg.max_outstanding,
        timeoutMs: cfg.timeout,
      });
      const type = normalizeType(typeText);
      const started = Date.now();
      try {
        const res = await resolver.resolve(name, type, { trace: true });
        ctx.out(`;; tracing ${name} ${type} from ${roots.join(', ')}`);
        for (const line of formatTrace(name, type, res, Date.now() - started)) ctx.out(line);
        return res.rcode === RCODE.SERVFAIL ? Exit.tempFail : Exit.ok;
      } finally {
        resolver.close();
      }
    },
  },
];
