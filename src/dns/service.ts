// The DNS service of an instance: the authoritative server (UDP and TCP on dns.host:dns.port,
// zones from the store, AXFR/NOTIFY to dns.secondaries, UPDATE with TSIG, RRL) and the
// recursive resolver behind it, which is also the instance's DnsLookup (wharf.dnsLookup).
//
// Invariants
//  - The resolver exists whenever this module runs, even with the listener disabled (the mail
//    queue and the proxy resolve through wharf.dnsLookup); it is closed at stop.
//  - A zone whose serial changes (UPDATE, `wharf zone`, another node) is NOTIFYed to every
//    secondary (by the primary process only when dns.workers > 1).
//  - dns.workers = 1 serves in this process; N > 1 adds N-1 worker processes on the same
//    sockets (server/workers.ts explains the design), each built by buildDnsStack.
import type { Config } from '../config/schema.js';
import { describeError } from '../core/errors.js';
import type { Service, ServiceFactory } from '../service.js';
import type { Wharf } from '../wharf.js';
import { AddressList, parseHostPort } from './server/acl.js';
import { DnsListener } from './server/listener.js';
import { Notifier } from './server/notify.js';
import { ResponseRateLimiter } from './server/rrl.js';
import { DnsServer } from './server/server.js';
import type { DnsServerStats, Recursor } from './server/server.js';
import { TCP_DEFAULTS } from './server/tcp.js';
import { parseTsigKeys } from './server/tsig.js';
import { DnsWorkerPool } from './server/workers.js';
import { ZoneRegistry } from './server/zones.js';
import type { LoadedZone } from './server/zones.js';
import { formatZone } from './zone/format.js';
import type { ResourceRecord, SoaData } from './wire/types.js';
import { isIP } from 'node:net';

export type Closable = Recursor & { close?: () => unknown; stop?: () => unknown };

/** The resolver of src/dns/resolver/ (helper D2), or undefined when it cannot be built. */
export async function makeResolver(wharf: Wharf, cfg: Config['dns']): Promise<Closable | undefined> {
  try {
    const mod = await import('./resolver/index.js');
    const resolver = new mod.Resolver({
      rootHints: cfg.resolver.root_hints,
      upstreamPort: cfg.resolver.upstream_port,
      cacheSize: cfg.resolver.cache_size,
      qnameMinimisation: cfg.resolver.qname_minimisation,
      maxOutstanding: cfg.resolver.max_outstanding,
      timeoutMs: cfg.resolver.timeout,
      bus: wharf.bus,
      logger: wharf.logger,
    });
    return resolver as unknown as Closable;
  } catch (err) {
    wharf.logger.warn('dns resolver unavailable; recursion disabled', { err: describeError(err) });
    return undefined;
  }
}

export async function closeResolver(r: Closable | undefined): Promise<void> {
  if (!r) return;
  if (typeof r.close === 'function') await r.close();
  else if (typeof r.stop === 'function') await r.stop();
}

export interface DnsStack {
  server: DnsServer;
  zones: ZoneRegistry;
  /** Sends NOTIFY to dns.secondaries (null in worker processes). */
  notifier: Notifier | null;
  rrl: ResponseRateLimiter | undefined;
  logger: Wharf['logger'];
}

/**
 * The authoritative server of an instance, zones loaded and watched: what DnsService and each
 * dns.workers process serve with. `notify` false leaves NOTIFY to another process.
 */
export async function buildDnsStack(wharf: Wharf, resolver: Closable | undefined, opts: { notify: boolean }): Promise<DnsStack> {
  const cfg = wharf.config.dns;
  const logger = wharf.logger.child({ service: 'dns' });
  const secondaries = cfg.secondaries.map((s) => parseHostPort(s, 53));
  const secondaryHosts = new AddressList(secondaries.filter((s) => isIP(s.host)).map((s) => s.host));
  const notifier = opts.notify ? new Notifier({ logger }) : null;
  const onChange = (z: LoadedZone): void => {
    if (!notifier || secondaries.length === 0) return;
    const soa = z.records.find((r) => r.type.toUpperCase() === 'SOA');
    void notifier.notify(z.origin, soa, secondaries);
  };
  const zones = new ZoneRegistry(wharf.store, logger, onChange);
  await zones.start();
  const server = new DnsServer({
    zones,
    logger,
    bus: wharf.bus,
    recursion: { enabled: cfg.recursion.enabled, allow: new AddressList(cfg.recursion.allow), resolver },
    tsigKeys: parseTsigKeys(cfg.tsig.keys),
    transferAllowed: (a) => secondaryHosts.has(a),
    saveZone: async (origin: string, records: ResourceRecord[]) => {
      const soa = records.find((r) => r.type.toUpperCase() === 'SOA')!;
      await wharf.store.putZone(origin, formatZone(origin, records), (soa.data as SoaData).serial);
    },
  });
  const rrl = cfg.rrl.enabled ? new ResponseRateLimiter({ responsesPerSecond: cfg.rrl.responses_per_second, window: cfg.rrl.window, slip: cfg.rrl.slip }) : undefined;
  return { server, zones, notifier, rrl, logger };
}

export class DnsService implements Service {
  readonly name = 'dns';
  private listener: DnsListener | null = null;
  private zones: ZoneRegistry | null = null;
  private notifier: Notifier | null = null;
  private pool: DnsWorkerPool | null = null;
  server: DnsServer | null = null;

  constructor(private readonly wharf: Wharf, private readonly resolver: Closable | undefined) {}

  async start() {
    const wharf = this.wharf;
    const cfg = wharf.config.dns;
    if (this.resolver) wharf.dnsLookup = this.resolver as unknown as NonNullable<Wharf['dnsLookup']>;
    if (!cfg.enabled) return [];
    const stack = await buildDnsStack(wharf, this.resolver, { notify: true });
    this.zones = stack.zones;
    this.notifier = stack.notifier;
    this.server = stack.server;
    const listener = new DnsListener(stack.server, stack.logger, { rrl: stack.rrl, tcp: TCP_DEFAULTS });
    this.listener = listener;
    if (cfg.workers <= 1) return [await listener.start(cfg.host, cfg.port)];
    const shared = await listener.startShared(cfg.host, cfg.port);
    const pool = new DnsWorkerPool({ count: cfg.workers - 1, config: wharf.config, dataDir: wharf.dataDir, logger: stack.logger, udp: shared.udp, tcp: shared.tcp });
    this.pool = pool;
    await pool.start();
    return [shared.bound];
  }

  /** The server counters of every process serving DNS (this one first). */
  async stats(): Promise<DnsServerStats[]> {
    const own = this.server ? [{ ...this.server.stats }] : [];
    return [...own, ...(this.pool ? await this.pool.stats() : [])];
  }

  async stop(deadlineMs: number): Promise<void> {
    await this.pool?.stop(Math.min(deadlineMs, 2000));
    this.pool = null;
    this.notifier?.close();
    this.zones?.stop();
    await this.listener?.stop(Math.min(deadlineMs, 2000));
    this.listener = null;
    if (this.resolver && this.wharf.dnsLookup === (this.resolver as unknown)) this.wharf.dnsLookup = undefined;
    await closeResolver(this.resolver);
  }
}

export const dnsServices: ServiceFactory = async (wharf) => {
  const cfg = wharf.config.dns;
  const resolver = await makeResolver(wharf, cfg);
  return new DnsService(wharf, resolver);
};
