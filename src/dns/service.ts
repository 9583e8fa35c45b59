// The DNS service of an instance: the authoritative server (UDP and TCP on dns.host:dns.port,
// zones from the store, AXFR/NOTIFY to dns.secondaries, UPDATE with TSIG, RRL) and the
// recursive resolver behind it, which is also the instance's DnsLookup (wharf.dnsLookup).
//
// Invariants
//  - The resolver exists whenever this module runs, even with the listener disabled (the mail
//    queue and the proxy resolve through wharf.dnsLookup); it is closed at stop.
//  - A zone whose serial changes (UPDATE, `wharf zone`, another node) is NOTIFYed to every
//    secondary.
import type { Config } from '../config/schema.js';
import { describeError } from '../core/errors.js';
import type { Service, ServiceFactory } from '../service.js';
import type { Wharf } from '../wharf.js';
import { AddressList, parseHostPort } from './server/acl.js';
import { DnsListener } from './server/listener.js';
import { Notifier } from './server/notify.js';
import { ResponseRateLimiter } from './server/rrl.js';
import { DnsServer } from './server/server.js';
import type { Recursor } from './server/server.js';
import { TCP_DEFAULTS } from './server/tcp.js';
import { parseTsigKeys } from './server/tsig.js';
import { ZoneRegistry } from './server/zones.js';
import type { LoadedZone } from './server/zones.js';
import { formatZone } from './zone/format.js';
import type { ResourceRecord, SoaData } from './wire/types.js';
import { isIP } from 'node:net';

type Closable = Recursor & { close?: () => unknown; stop?: () => unknown };

/** The resolver of src/dns/resolver/ (helper D2), or undefined when it cannot be built. */
async function makeResolver(wharf: Wharf, cfg: Config['dns']): Promise<Closable | undefined> {
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

async function closeResolver(r: Closable | undefined): Promise<void> {
  if (!r) return;
  if (typeof r.close === 'function') await r.close();
  else if (typeof r.stop === 'function') await r.stop();
}

export class DnsService implements Service {
  readonly name = 'dns';
  private listener: DnsListener | null = null;
  private zones: ZoneRegistry | null = null;
  private notifier: Notifier | null = null;
  server: DnsServer | null = null;

  constructor(private readonly wharf: Wharf, private readonly resolver: Closable | undefined) {}

  async start() {
    const wharf = this.wharf;
    const cfg = wharf.config.dns;
    if (this.resolver) wharf.dnsLookup = this.resolver as unknown as NonNullable<Wharf['dnsLookup']>;
    if (!cfg.enabled) return [];
    const logger = wharf.logger.child({ service: 'dns' });
    const secondaries = cfg.secondaries.map((s) => parseHostPort(s, 53));
    const secondaryHosts = new AddressList(secondaries.filter((s) => isIP(s.host)).map((s) => s.host));
    const notifier = new Notifier({ logger });
    this.notifier = notifier;
    const onChange = (z: LoadedZone): void => {
      if (secondaries.length === 0) return;
      const soa = z.records.find((r) => r.type.toUpperCase() === 'SOA');
      void notifier.notify(z.origin, soa, secondaries);
    };
    const zones = new ZoneRegistry(wharf.store, logger, onChange);
    this.zones = zones;
    await zones.start();
    const server = new DnsServer({
      zones,
      logger,
      bus: wharf.bus,
      recursion: { enabled: cfg.recursion.enabled, allow: new AddressList(cfg.recursion.allow), resolver: this.resolver },
      tsigKeys: parseTsigKeys(cfg.tsig.keys),
      transferAllowed: (a) => secondaryHosts.has(a),
      saveZone: async (origin: string, records: ResourceRecord[]) => {
        const soa = records.find((r) => r.type.toUpperCase() === 'SOA')!;
        await wharf.store.putZone(origin, formatZone(origin, records), (soa.data as SoaData).serial);
      },
    });
    this.server = server;
    const rrl = cfg.rrl.enabled ? new ResponseRateLimiter({ responsesPerSecond: cfg.rrl.responses_per_second, window: cfg.rrl.window, slip: cfg.rrl.slip }) : undefined;
    const listener = new DnsListener(server, logger, { rrl, tcp: TCP_DEFAULTS });
    const bound = await listener.start(cfg.host, cfg.port);
    this.listener = listener;
    return [bound];
  }

  async stop(deadlineMs: number): Promise<void> {
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
