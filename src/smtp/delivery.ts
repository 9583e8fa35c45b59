// Relay of one queue job (one message, one destination domain) to the domain's mail servers.
//
// Routing (RFC 5321 §5.1): queue.relay_host when set (a smarthost, all mail goes there);
// otherwise the MX records by preference, the domain itself as an implicit MX when it has none,
// and a null MX (RFC 7505 §3: a single MX "." ) means the domain accepts no mail: fail at once.
// Each MX host's addresses are tried in order; a connection failure, a network error before the
// transaction, or a 4xx/5xx greeting / EHLO moves on to the next address and MX. Once a
// transaction has started its replies decide (no second MX: that could deliver twice).
// A temporary DNS failure defers; a domain that does not exist fails (5.1.2).
import { isIP } from 'node:net';
import { Transcript } from '../core/events.js';
import { isWharfError } from '../core/errors.js';
import type { QueueJob, JobOutcome } from '../store/store.js';
import type { Wharf } from '../wharf.js';
import { SmtpClient, SmtpNetworkError, outcomes, replyText } from './client.js';

export interface Hop {
  /** Host name (for TLS SNI and logs). */
  name: string;
  /** Addresses to connect to, in order; [name] when the OS should resolve it. */
  addresses: string[];
  port: number;
}

export type Routing = { kind: 'hops'; hops: Hop[] } | { kind: 'fail'; reply: string } | { kind: 'defer'; reply: string };

/** "host", "host:port", "[v6]:port", "[v4]" (brackets: do not look up MX, as Postfix). */
export function parseRelayHost(spec: string, defaultPort: number): { host: string; port: number } | null {
  const s = spec.trim();
  if (!s) return null;
  let m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
  m = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
  if (isIP(s) === 6) return { host: s, port: defaultPort };
  return null;
}

export async function route(wharf: Wharf, domain: string): Promise<Routing> {
  const cfg = wharf.config.queue;
  const relay = parseRelayHost(cfg.relay_host, cfg.relay_port);
  if (relay) return { kind: 'hops', hops: [{ name: relay.host, addresses: [relay.host], port: relay.port }] };
  const dns = wharf.dnsLookup;
  if (!dns) return { kind: 'defer', reply: '451 4.4.3 No DNS resolver available for MX lookup' };
  let mx;
  try {
    mx = await dns.mx(domain);
  } catch (err) {
    if (isWharfError(err, 'WHARF_DNS_NXDOMAIN')) return { kind: 'fail', reply: `550 5.1.2 Domain ${domain} does not exist` };
    return { kind: 'defer', reply: `451 4.4.3 MX lookup for ${domain} failed: ${(err as Error).message}` };
  }
  // RFC 7505 §3: a null MX is the only MX record, with exchange "."
  if (mx.some((r) => r.exchange === '' || r.exchange === '.')) return { kind: 'fail', reply: `556 5.1.10 Domain ${domain} accepts no mail (null MX)` };
  const hosts = mx.length ? [...mx].sort((a, b) => a.preference - b.preference).map((r) => r.exchange) : [domain]; // RFC 5321 §5.1 implicit MX
  const hops: Hop[] = [];
  let temp = '';
  let nx = 0;
  for (const host of hosts) {
    try {
      const addresses = isIP(host) ? [host] : await dns.addresses(host);
      if (addresses.length) hops.push({ name: host, addresses, port: cfg.relay_port });
    } catch (err) {
      if (isWharfError(err, 'WHARF_DNS_NXDOMAIN')) nx++;
      else temp = (err as Error).message;
    }
  }
  if (hops.length) return { kind: 'hops', hops };
  if (!temp && (nx === hosts.length || mx.length === 0)) return { kind: 'fail', reply: `550 5.1.2 No mail server address found for ${domain}` };
  return { kind: 'defer', reply: `451 4.4.3 No reachable mail server for ${domain}${temp ? `: ${temp}` : ''}` };
}

export interface AttemptResult {
  outcomes: JobOutcome[];
  /** Summary for the job's last error, null when all done. */
  error: string | null;
  /** The host that answered the transaction (for DSN Remote-MTA). */
  remoteMta: string | null;
  /** The receiver offered DSN (RFC 3461): it reports success itself. */
  peerDsn?: boolean;
}

/** One delivery attempt for a job: every pending recipient gets an outcome. */
export async function attemptJob(wharf: Wharf, job: QueueJob, opts: { maxTimeoutMs?: number } = {}): Promise<AttemptResult> {
  const rcpts = job.recipients;
  const all = (outcome: 'failed' | 'deferred', reply: string): AttemptResult => ({
    outcomes: rcpts.map((r) => ({ recipientId: r.id, outcome, reply })),
    error: reply,
    remoteMta: null,
  });
  if (rcpts.length === 0) return { outcomes: [], error: null, remoteMta: null };
  const routing = await route(wharf, job.domain);
  if (routing.kind !== 'hops') return all(routing.kind === 'fail' ? 'failed' : 'deferred', routing.reply);
  let lastError = 'no mail server tried';
  const m = job.message;
  for (const hop of routing.hops) {
    for (const address of hop.addresses) {
      const transcript = new Transcript(wharf.bus, 'queue', wharf.ids.next('relay'), `${address}:${hop.port}`, true);
      let client: SmtpClient;
      try {
        client = await SmtpClient.connect({
          host: address,
          port: hop.port,
          connectTimeoutMs: wharf.config.queue.connect_timeout,
          ...(wharf.config.queue.source_address ? { localAddress: wharf.config.queue.source_address } : {}),
          transcript,
          ...(opts.maxTimeoutMs ? { maxTimeoutMs: opts.maxTimeoutMs } : {}),
        });
      } catch (err) {
        lastError = `451 4.4.1 ${hop.name} [${address}]:${hop.port}: ${(err as Error).message}`;
        continue;
      }
      let started = false;
      try {
        const hello = await client.hello(wharf.config.hostname, { starttls: true, helo: wharf.config.queue.greeting === 'HELO' });
        if (hello.code !== 250) {
          lastError = `${hop.name} [${address}] said: ${replyText(hello)}`;
          await client.quit();
          continue; // RFC 5321 §5.1: try the next MX
        }
        started = true;
        const result = await client.transaction({
          sender: m.sender,
          recipients: rcpts.map((r) => ({ address: r.address, notify: r.notify, orcpt: r.orcpt })),
          size: m.headerPrefix.length + m.size,
          ret: m.ret,
          envid: m.envid,
          body: () => messageStream(wharf, m.headerPrefix, m.blobId),
        });
        await client.quit();
        const per = outcomes(result, rcpts.length);
        const deferred = per.filter((o) => o.outcome === 'deferred');
        return {
          outcomes: per.map((o, i) => ({ recipientId: rcpts[i]!.id, outcome: o.outcome, reply: `${hop.name} [${address}] said: ${o.reply}` })),
          error: deferred.length ? `${hop.name} [${address}] said: ${deferred[0]!.reply}` : null,
          remoteMta: hop.name,
          peerDsn: client.extensions.has('DSN'),
        };
      } catch (err) {
        client.destroy();
        const why = err instanceof SmtpNetworkError ? err.message : `error: ${(err as Error).message}`;
        lastError = `451 4.4.2 ${hop.name} [${address}]: ${why}`;
        if (started) return all('deferred', lastError);
      }
    }
  }
  return all('deferred', lastError);
}

async function* messageStream(wharf: Wharf, prefix: Buffer, blobId: string): AsyncIterable<Buffer> {
  if (prefix.length) yield prefix;
  for await (const chunk of wharf.store.blobs.stream(blobId)) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
}
