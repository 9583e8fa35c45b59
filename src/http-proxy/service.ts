// The caching HTTP proxy service of an instance (forward proxy, or reverse with proxy.upstream).
// Builds the cache store (bodies under proxy.cache.dir, default <data>/proxy-cache) and the
// HttpProxy listener; origin names resolve through wharf.dnsLookup, else the system resolver.
// Publishes the 'proxy-cache' inspector for the console while running (the 500 most recently
// used entries and the totals; /work/notes/console-api.md has the shape).
//
// proxy.workers = N > 1 (src/core/worker-pool.ts): this process binds the listening socket,
// serves on it, and forks N-1 children that serve on the same socket. The cache stays one
// cache across them (cache-store.ts and cache-sync.ts have the design and the invariants):
//  - here (the primary) the store owns the index and a CacheSyncServer tells the children;
//  - a child (it was handed the socket: wharf.sharedListeners has 'proxy') copies the index
//    from the primary before it serves, and sends its changes there.
//  - The inspector lives in the primary and counts every process's hits (<= 1 s late).
//  - Concurrent misses are collapsed per process (two processes may each ask the origin once).
import { promises as dns } from 'node:dns';
import type * as net from 'node:net';
import { isAbsolute, join } from 'node:path';
import { WorkerPool, listenShared } from '../core/worker-pool.js';
import type { BoundAddress, Service, ServiceFactory } from '../service.js';
import type { Wharf } from '../wharf.js';
import { CacheStore } from './cache-store.js';
import { CacheSyncClient, CacheSyncServer, syncSocketPath } from './cache-sync.js';
import { HttpProxy } from './proxy.js';

/** Entries the console is shown at most (the most recently used). */
const INSPECT_LIMIT = 500;

export class ProxyService implements Service {
  readonly name = 'proxy';
  private proxy: HttpProxy | undefined;
  private cache: CacheStore | null = null;
  private syncServer: CacheSyncServer | undefined;
  private syncClient: CacheSyncClient | undefined;
  private pool: WorkerPool | undefined;

  constructor(private readonly wharf: Wharf) {}

  /** The worker pool (primary with proxy.workers > 1), for tests and the console. */
  get workers(): WorkerPool | undefined {
    return this.pool;
  }

  async start(): Promise<BoundAddress[]> {
    const w = this.wharf;
    const c = w.config.proxy;
    const handed = w.sharedListeners.get('proxy');
    const role = handed ? 'replica' : c.workers > 1 ? 'primary' : 'solo';
    const logger = w.logger.child({ service: 'proxy' });
    let shared: net.Server | undefined = handed;
    try {
      if (c.cache.enabled) {
        const dir = c.cache.dir ? (isAbsolute(c.cache.dir) ? c.cache.dir : join(w.dataDir, c.cache.dir)) : join(w.dataDir, 'proxy-cache');
        this.cache = new CacheStore({ dir, maxSize: c.cache.max_size, maxObjectSize: c.cache.max_object_size, logger, role });
        await this.cache.open();
        if (role === 'primary') {
          this.syncServer = new CacheSyncServer(this.cache, w.bus, logger);
          await this.syncServer.start(syncSocketPath(dir));
        } else if (role === 'replica') {
          this.syncClient = new CacheSyncClient(this.cache, w.bus, logger);
          await this.syncClient.connect(syncSocketPath(dir));
        }
      }
      if (role === 'primary') shared = await listenShared(c.host, c.port, 'proxy');
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
        logger,
        resolve: async (host) => {
          if (w.dnsLookup) return w.dnsLookup.addresses(host);
          const list = await dns.lookup(host, { all: true });
          return list.map((a) => a.address);
        },
      });
      const a = await this.proxy.start(shared);
      if (role === 'primary' && shared) {
        this.pool = new WorkerPool({ wharf: w, name: 'proxy', count: c.workers - 1, sections: ['proxy'], listeners: { proxy: shared } });
        await this.pool.start();
        const pool = this.pool;
        w.inspectors.set('workers:proxy', () => pool.describe());
      }
      const cache = this.cache;
      if (cache && role !== 'replica') w.inspectors.set('proxy-cache', () => cache.inspect(Date.now() / 1000, INSPECT_LIMIT));
      return [{ service: 'proxy', host: a.host, port: a.port, transport: 'tcp' }];
    } catch (err) {
      await this.stop(1000);
      if (role === 'primary' && shared?.listening) shared.close();
      throw err;
    }
  }

  async stop(deadlineMs: number): Promise<void> {
    const w = this.wharf;
    w.inspectors.delete('proxy-cache');
    if (this.pool) w.inspectors.delete('workers:proxy');
    // everyone stops accepting and drains at once
    await Promise.all([this.pool?.stop(deadlineMs), this.proxy?.stop(deadlineMs)]);
    this.pool = undefined;
    this.proxy = undefined;
    await this.syncServer?.stop();
    this.syncServer = undefined;
    await this.cache?.close();
    await this.syncClient?.close();
    this.syncClient = undefined;
    this.cache = null;
  }
}

export const proxyServices: ServiceFactory = (wharf) => (wharf.config.proxy.enabled ? new ProxyService(wharf) : null);
