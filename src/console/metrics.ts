// /metrics in the Prometheus text exposition format 0.0.4, and its JSON twin /api/counters.
// Counters only, never content: service names, rcodes and results are the only label values
// besides the source names. Everything is read from the Hub's counters (derived from bus
// events) and, for the proxy, from its published inspector ('proxy-cache': hits, misses).
import type { Hub } from './hub.js';

/** Label values escaped as the format asks: backslash, double quote, line feed. */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: [Record<string, string>, number][];
}

async function proxyCounts(inspect: (() => unknown) | undefined): Promise<{ hits: number; misses: number } | null> {
  if (!inspect) return null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const v = (await Promise.race([Promise.resolve(inspect()), new Promise((r) => (timer = setTimeout(r, 1000)))])) as { enabled?: unknown; hits?: unknown; misses?: unknown } | undefined;
    if (v && typeof v.hits === 'number' && typeof v.misses === 'number') return { hits: v.hits, misses: v.misses };
  } catch {
    // an inspector that fails (or takes over a second) shows no proxy counters
  } finally {
    clearTimeout(timer);
  }
  return null;
}

export async function renderMetrics(hub: Hub, extra: { sseClients: number; sessions: number }): Promise<string> {
  const f = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, samples: [] });
  const conns = f('wharf_connections_total', 'counter', 'TCP connections accepted (past the limits), per source and service.');
  const active = f('wharf_connections_active', 'gauge', 'TCP connections open now, per source and service.');
  const lines = f('wharf_transcript_lines_total', 'counter', 'Transcript lines (S:, C:, *) seen by the console, per source and service.');
  const dnsQ = f('wharf_dns_queries_total', 'counter', 'DNS queries answered by the server, per response code.');
  const dnsR = f('wharf_dns_resolutions_total', 'counter', 'Recursive resolutions traced by the resolver.');
  const mail = f('wharf_mail_stored_total', 'counter', 'Messages stored in mailboxes.');
  const queue = f('wharf_queue_attempts_total', 'counter', 'Outgoing delivery attempts, per result.');
  const proxy = f('wharf_proxy_requests_total', 'counter', 'Proxy requests answered, per cache outcome.');
  for (const ref of hub.sourceRefs) {
    const c = hub.counters(ref.name)!;
    const source = ref.name;
    for (const [service, s] of [...c.services].sort(([a], [b]) => a.localeCompare(b))) {
      conns.samples.push([{ source, service }, s.connections]);
      active.samples.push([{ source, service }, s.active]);
      lines.samples.push([{ source, service }, s.lines]);
    }
    for (const [rcode, n] of c.dnsQueries) dnsQ.samples.push([{ source, rcode }, n]);
    dnsR.samples.push([{ source }, c.dnsResolutions]);
    mail.samples.push([{ source }, c.mailStored]);
    for (const [result, n] of c.queueAttempts) queue.samples.push([{ source, result }, n]);
    const p = await proxyCounts(ref.wharf.inspectors.get('proxy-cache'));
    if (p) {
      proxy.samples.push([{ source, cache: 'hit' }, p.hits]);
      proxy.samples.push([{ source, cache: 'miss' }, p.misses]);
    }
  }
  const rss = f('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  rss.samples.push([{}, process.memoryUsage.rss()]);
  const startT = f('process_start_time_seconds', 'gauge', 'Start time of the process since the epoch, in seconds.');
  startT.samples.push([{}, Math.round((Date.now() - process.uptime() * 1000) / 10) / 100]);
  const sse = f('wharf_console_event_streams', 'gauge', 'Browsers following the console\'s live event stream.');
  sse.samples.push([{}, extra.sseClients]);
  const sess = f('wharf_console_sessions', 'gauge', 'Console login sessions in memory.');
  sess.samples.push([{}, extra.sessions]);
  let out = '';
  for (const fam of [conns, active, lines, dnsQ, dnsR, mail, queue, proxy, rss, startT, sse, sess]) {
    out += `# HELP ${fam.name} ${fam.help}\n# TYPE ${fam.name} ${fam.type}\n`;
    for (const [l, v] of fam.samples) out += `${fam.name}${Object.keys(l).length ? labels(l) : ''} ${v}\n`;
  }
  return out;
}

/** GET /api/counters: {"sources":{"NAME":{"smtp":{"connections","active","lines"},…}},"totals":{"NAME":{dnsQueries,…}}}. */
export function countersJson(hub: Hub): unknown {
  const sources: Record<string, unknown> = {};
  const totals: Record<string, unknown> = {};
  for (const ref of hub.sourceRefs) {
    const c = hub.counters(ref.name)!;
    const o: Record<string, unknown> = {};
    for (const [service, s] of c.services) o[service] = { ...s };
    sources[ref.name] = o;
    totals[ref.name] = {
      dnsQueries: Object.fromEntries(c.dnsQueries),
      dnsResolutions: c.dnsResolutions,
      mailStored: c.mailStored,
      queueAttempts: Object.fromEntries(c.queueAttempts),
    };
  }
  return { sources, totals };
}
