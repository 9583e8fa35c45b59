// The Wharf instance: one validated config, one data directory, one store, one event bus, and
// the services the config enables. No module-level state: several instances live in one
// process (the lab runs a DNS hierarchy and two mail domains side by side; tests start their own).
//
//   const wharf = new Wharf({ config, dataDir });
//   const bound = await wharf.start();   // one BoundAddress per listener (ports resolved)
//   await wharf.stop();                  // graceful, then the store is closed
import { mkdirSync, createWriteStream } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Server as NetServer } from 'node:net';
import { Accounts } from './accounts.js';
import { createAuthenticator } from './auth/authenticator.js';
import type { Authenticator } from './auth/authenticator.js';
import { LoginThrottle } from './auth/throttle.js';
import type { Config } from './config/schema.js';
import { EventBus } from './core/events.js';
import { IdGenerator } from './core/ids.js';
import { Logger } from './core/logger.js';
import { loadOrCreateTls } from './core/tls.js';
import type { TlsMaterial } from './core/tls.js';
import { services as serviceModules } from './services.js';
import type { DnsLookup } from './dns/lookup.js';
import type { BoundAddress, Service } from './service.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';

export interface WharfOptions {
  config: Config;
  /** All state lives here (database, blobs, TLS material, FTP homes, proxy cache). */
  dataDir: string;
  logger?: Logger;
  /** Where logs go when no logger is given (default: config log.file, else stderr). */
  logStream?: Writable | null;
}

export class Wharf {
  readonly config: Config;
  readonly dataDir: string;
  readonly bus = new EventBus();
  readonly ids = new IdGenerator();
  readonly logger: Logger;
  /** Identifies this process among the nodes sharing a store (queue leases, POP3 locks). */
  readonly nodeId = `${osHostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly throttle: LoginThrottle;
  /**
   * How this instance looks up MX records and host addresses (the mail queue, the proxy).
   * Set by the DNS module when the instance starts its resolver; tests may set a fake first.
   */
  dnsLookup: DnsLookup | undefined;
  /**
   * Read-only views services publish for the console, by name ("proxy-cache", …): each returns
   * JSON-serialisable data describing the service's live state. Registered by a service at
   * start, removed at stop.
   */
  readonly inspectors = new Map<string, () => unknown | Promise<unknown>>();
  /**
   * Listening TCP servers bound elsewhere, by config section ("pop3"): a service serves on the
   * one for its section instead of binding its own (src/core/worker-pool.ts: the primary binds
   * once and every worker process serves on the same socket).
   */
  readonly sharedListeners = new Map<string, NetServer>();
  private storeValue: Store | undefined;
  private tlsValue: TlsMaterial | undefined;
  private authValue: Authenticator | undefined;
  private accountsValue: Accounts | undefined;
  private running: Service[] = [];
  private boundValue: BoundAddress[] = [];
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private readonly cleanups: (() => void | Promise<void>)[] = [];

  constructor(opts: WharfOptions) {
    this.config = opts.config;
    this.dataDir = resolve(opts.dataDir);
    let stream: Writable | null | undefined = opts.logStream;
    if (stream === undefined && this.config.log.file) {
      mkdirSync(this.dataDir, { recursive: true });
      const s = createWriteStream(resolve(this.dataDir, this.config.log.file), { flags: 'a' });
      this.cleanups.push(() => new Promise<void>((r) => s.end(r)));
      stream = s;
    }
    this.logger = opts.logger ?? new Logger({ level: this.config.log.level, bus: this.bus, ...(stream !== undefined ? { stream } : {}) });
    const t = this.config.auth.throttle;
    this.throttle = new LoginThrottle({ freeAttempts: t.free_attempts, baseDelayMs: t.base_delay, maxDelayMs: t.max_delay, windowMs: t.window });
    if (this.config.log.transcripts) {
      this.cleanups.push(
        this.bus.on('transcript', (ev) => this.logger.info('transcript', { service: ev.service, session: ev.session, client: ev.client, dir: ev.dir, text: ev.text, ...(ev.user ? { user: ev.user } : {}) })),
      );
    }
  }

  get store(): Store {
    if (!this.storeValue) throw new Error('the store is not open (call open() or start() first)');
    return this.storeValue;
  }

  get tls(): TlsMaterial {
    if (!this.tlsValue) throw new Error('TLS material is not loaded (call start() first)');
    return this.tlsValue;
  }

  get authenticator(): Authenticator {
    if (!this.authValue) throw new Error('the instance is not open');
    return this.authValue;
  }

  get accounts(): Accounts {
    if (!this.accountsValue) throw new Error('the instance is not open');
    return this.accountsValue;
  }

  /** Addresses bound by start(), ports resolved. */
  get bound(): readonly BoundAddress[] {
    return this.boundValue;
  }

  /** The bound address of one listener, e.g. port('pop3'). */
  address(service: string): BoundAddress {
    const b = this.boundValue.find((x) => x.service === service);
    if (!b) throw new Error(`service ${service} is not running`);
    return b;
  }

  /** Opens the store and the accounts, without starting listeners (the CLI's admin commands). */
  async open(): Promise<void> {
    if (this.storeValue) return;
    mkdirSync(this.dataDir, { recursive: true });
    const store: Store = await openStore({ config: this.config.store, dataDir: this.dataDir, logger: this.logger, fsync: this.config.store.fsync });
    this.storeValue = store;
    this.authValue = createAuthenticator({
      findAccount: async (address: string) => {
        const a = await store.resolveAddress(address);
        return a ? { id: a.id, address: a.address, passwordHash: a.passwordHash, disabled: a.disabled, apopSecret: a.apopSecret } : null;
      },
      throttle: this.throttle,
      defaultDomain: this.config.auth.default_domain,
      dummyCost: this.config.auth.scrypt_cost,
    });
    const dns = this.config.dns;
    this.accountsValue = new Accounts(store, {
      scryptCost: this.config.auth.scrypt_cost,
      apop: this.config.pop3.apop,
      // dns.zone_for_domains: a new mail domain gets a zone (SOA, NS, MX, A) unless it has one.
      ...(dns.zone_for_domains
        ? {
            onDomainAdded: async (name: string) => {
              const { domainZoneText } = await import('./dns/domain-zone.js');
              const { dateSerial } = await import('./dns/zone/serial.js');
              if (await store.getZone(`${name}.`)) return;
              const serial = dateSerial(new Date());
              await store.putZone(`${name}.`, domainZoneText(name, { hostname: this.config.hostname, address: dns.zone_address, serial }), serial);
            },
          }
        : {}),
    });
  }

  async start(): Promise<BoundAddress[]> {
    if (this.state !== 'new') throw new Error(`cannot start an instance that is ${this.state}`);
    this.state = 'starting';
    try {
      await this.open();
      this.tlsValue = await loadOrCreateTls({ certFile: this.config.tls.cert || undefined, keyFile: this.config.tls.key || undefined, dataDir: this.dataDir, hostname: this.config.hostname });
      const sections = this.config as unknown as Record<string, { enabled?: unknown }>;
      for (const mod of serviceModules) {
        if (!mod.sections.some((s) => sections[s]?.enabled === true)) continue;
        const factory = await mod.load();
        const made = await factory(this);
        for (const svc of made === null ? [] : Array.isArray(made) ? made : [made]) {
          const bound = await svc.start();
          this.running.push(svc);
          this.boundValue.push(...bound);
          for (const b of bound) this.logger.info('listening', { service: b.service, host: b.host, port: b.port, transport: b.transport, tls: b.tls ?? false });
        }
      }
      this.state = 'running';
      return [...this.boundValue];
    } catch (err) {
      await this.stop().catch(() => {});
      throw err;
    }
  }

  /** Registers something to undo at stop() (timers, subscriptions). */
  onStop(fn: () => void | Promise<void>): void {
    this.cleanups.push(fn);
  }

  async stop(deadlineMs = 5000): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    const services = this.running.reverse();
    this.running = [];
    await Promise.allSettled(services.map((s) => s.stop(deadlineMs)));
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        this.logger.warn('cleanup failed', { err });
      }
    }
    await this.storeValue?.close();
    this.storeValue = undefined;
    this.boundValue = [];
    this.state = 'stopped';
  }
}
