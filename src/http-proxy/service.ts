// The caching HTTP proxy service of an instance (forward proxy, or reverse with proxy.upstream).
// Builds the cache store (bodies under proxy.cache.dir, default <data>/proxy-cache) and the
// HttpProxy listener; origin names resolve through wharf.dnsLookup, else the system resolver.
import { promises as dns } from 'node:dns';
import { isAbsolute, join } from 'node:path';
import type { BoundAddress, Service, ServiceFactory } from '../service.js';
import type { Wharf } from '../wharf.js';
import { CacheStore } from './cache-store.js';
import { HttpProxy } from './proxy.js';

export class ProxyService implements Service {
  readonly name = 'proxy';
  private proxy: HttpProxy | undefined;
  private cache: CacheStore | null = null;

  constructor(private readonly wharf: Wharf) {}

  async start(): Promise<BoundAddress[]> {
    const w = this.wharf;
    const c = w.config.proxy;
    if (c.cache.enabled) {
      const dir = c.cache.dir ? (isAbsolute(c.cache.dir) ? c.cache.dir : join(w.dataDir, c.cache.dir)) : join(w.dataDir, 'proxy-cache');
      this.cache = new CacheStore({ dir, maxSize: c.cache.max_size, maxObjectSize: c.cache.max_object_size, logger: w.logger.child({ service: 'proxy' }) });
      await this.cache.open();
    }
    this.proxy = new HttpProxy({
      host: c.host,
      port: c.port,
      allow: c.allow,
      upstream: c.upstream,
      connectPorts: c.connect_ports.map(Number),
      cache: this.cache,
      timeouts: c.timeouts,
      maxHeaderSize: c.max_header_size,
      maxConnections: c.max_connections,
      maxPerIp: c.max_per_ip,
      idleTimeout: c.idle_timeout,
      hostname: w.config.hostname,
      bus: w.bus,
      ids: w.ids,
      logger: w.logger.child({ service: 'proxy' }),
      resolve: async (host) => {
        if (w.dnsLookup) return w.dnsLookup.addresses(host);
        const list = await dns.lookup(host, { all: true });
        return list.map((a) => a.address);
      },
    });
    const a = await this.proxy.start();
    return [{ service: 'proxy', host: a.host, port: a.port, transport: 'tcp' }];
  }

  async stop(deadlineMs: number): Promise<void> {
    await this.proxy?.stop(deadlineMs);
    await this.cache?.close();
  }
}

export const proxyServices: ServiceFactory = (wharf) => (wharf.config.proxy.enabled ? new ProxyService(wharf) : null);
