// Worker pools: one TCP service (or a few) served by several processes sharing the listening
// sockets, so a node uses all its cores for it while the rest of Wharf stays in one process.
// `<section>.workers = N` (pop3, imap, proxy) means N processes: this one and N-1 children.
//
// Why this design (Node 20): worker_threads cannot share a socket (handles are per event loop)
// and SO_REUSEPORT (`reusePort`) only arrived in Node 22.12/23.1; node:cluster shares sockets but
// is process-global state (cluster.setupPrimary, one worker script per process), which breaks
// "several instances in one process". So the primary binds each listening socket itself (port 0
// resolved there), keeps serving on it, and forks N-1 children with child_process.fork, handing
// each the same net.Server over IPC (subprocess.send(msg, server)). The kernel gives each
// connection to one of the processes accepting on the socket ('kernel' balance), or, with
// 'least-connections' (POP3, IMAP: few long sessions, where the kernel's choice is lopsided), only
// the primary accepts and sends each unread socket over IPC to the process with the fewest live
// connections. src/dns/server/workers.ts does the same for DNS's UDP socket.
//
//   // in a service factory: the services of the sections, pooled when workers > 1
//   return pooledServices(wharf, { name: 'pop3', workers: cfg.pop3.workers, services: [pop3, pop3s] });
//
//   // or by hand: bind, serve here, and hand the same server to the children
//   const server = await listenShared('127.0.0.1', 0, 'proxy');
//   wharf.sharedListeners.set('proxy', server);            // our own listener adopts it
//   const pool = new WorkerPool({ wharf, name: 'proxy', count: 1, sections: ['proxy'], listeners: { proxy: server } });
//   await pool.start();  … await pool.stop(2000);
//
// Invariants
//  - A child is a Wharf instance built from the same config and data directory with only the
//    pool's sections enabled (every other `enabled` key off, their `workers` at 1), serving on
//    the handed servers through wharf.sharedListeners. It never forks a pool of its own.
//  - The primary keeps its descriptors open: a child that dies is forked again (at most
//    `restart.max` times per `restart.windowMs`, so a child that dies at once does not spin) and
//    handed the same sockets; the port never changes.
//  - Children forward their bus events (FORWARDED_EVENTS and the pool's `forward` extras; 'log'
//    above debug) to the primary's bus, but only while the primary has listeners for that event
//    (polled), so an unobserved node pays nothing. A child's session ids end in "@<pid>" so
//    they stay unique in the console.
//  - Per process: limits (max_connections, max_per_ip), the login throttle, caches. Shared
//    through the store: accounts, mailboxes, POP3 maildrop leases, IMAP change notifications.
//  - stop() asks every child to drain with the deadline and waits for it (SIGKILL one second
//    after); a child also exits when the primary's IPC channel closes (the primary died).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { WharfError, describeError } from './errors.js';
import { formatPeer } from './net.js';
import type { Logger } from './logger.js';

/** Bus events a child forwards to the primary while the primary listens for them. */
export const FORWARDED_EVENTS = ['transcript', 'dns-trace', 'mail-stored', 'mailbox-changed', 'log', 'connection'] as const;

/**
 * How connections are spread over the processes. 'kernel': every process accepts on the shared
 * socket and the kernel picks (no extra cost; uneven for a few connections arriving at once, as
 * the first process to wake accepts them all). 'least-connections': only the primary accepts
 * and gives each connection to the process with the fewest live ones (the socket travels over
 * IPC, unread); right for long sessions (POP3, IMAP).
 */
export type Balance = 'kernel' | 'least-connections';

/** Messages from the primary to a child (JSON over the IPC channel). */
export type ToChild =
  | { type: 'init'; name: string; config: Config; dataDir: string; listeners: string[]; events: string[]; dispatch?: Record<string, net.AddressInfo> }
  /** Carries one listening net.Server as the handle ('kernel'). */
  | { type: 'listener'; section: string }
  /** Carries one accepted, unread net.Socket as the handle ('least-connections'). */
  | { type: 'conn'; section: string }
  | { type: 'events'; events: string[] }
  | { type: 'stats'; id: number; inspector?: string }
  | { type: 'stop'; deadlineMs: number };

export type FromChild =
  | { type: 'hello' }
  | { type: 'ready'; bound: BoundAddress[] }
  | { type: 'failed'; error: string }
  | { type: 'event'; event: string; payload: unknown }
  /** A connection given with 'conn' closed. */
  | { type: 'closed' }
  | { type: 'stats'; id: number; stats: WorkerStats };

export interface WorkerStats {
  pid: number;
  rss: number;
  uptimeMs: number;
  /** What the child's wharf.inspectors[inspector] returned, when one was asked for. */
  data?: unknown;
}

export interface WorkerPoolOptions {
  /** The primary instance: its config, data directory, bus and logger. */
  wharf: Wharf;
  /** For logs and the inspector ("pop3"). */
  name: string;
  /** Children to fork (workers - 1: the primary serves too). */
  count: number;
  /** Config sections the children run; every other section with `enabled` is turned off. */
  sections: string[];
  /** The listening servers, by config section ('kernel': handed over, the child's services adopt them). */
  listeners: Record<string, net.Server> | Map<string, net.Server>;
  /**
   * Default 'kernel'. With 'least-connections' the pool accepts on `listeners` itself (bind them
   * with listenShared(…, true): pauseOnConnect) until stop(); close them at stop (pooledServices does).
   */
  balance?: Balance;
  /** 'least-connections': where this process's own share goes, by section (what its services adopted); none = children only. */
  local?: Record<string, ConnectionFeed> | Map<string, ConnectionFeed>;
  /** Config for the children (default: the primary's). */
  config?: Config;
  /** How long a child may take to open the store and start (default 30 s). */
  startTimeoutMs?: number;
  /** Restart-storm guard: at most `max` re-forks per `windowMs` (default 5 a minute), each after `delayMs` (500). */
  restart?: { max?: number; windowMs?: number; delayMs?: number };
  /** How often the primary's bus is checked for listeners of the forwarded events (default 250 ms). */
  eventPollMs?: number;
  /** Bus events the children forward besides FORWARDED_EVENTS (same rule: while the primary listens), e.g. 'queue-kick'. */
  forward?: readonly string[];
}

/** The config a child runs: only `sections` enabled, their `workers` at 1, transcripts logged by the primary. */
export function childConfig(config: Config, sections: readonly string[]): Config {
  const out = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const [key, section] of Object.entries(out)) {
    if (!section || typeof section !== 'object') continue;
    if (typeof section.enabled === 'boolean') section.enabled = sections.includes(key);
    if (sections.includes(key) && typeof section.workers === 'number') section.workers = 1;
  }
  // The primary logs the children's transcripts (they are forwarded while it listens).
  (out.log as Record<string, unknown>).transcripts = false;
  return out as unknown as Config;
}

/**
 * Binds a listening TCP server for sharing (port 0 is resolved); WHARF_LISTEN_FAILED when busy.
 * pauseOnConnect for 'least-connections' (a socket given to a child must be unread).
 */
export function listenShared(host: string, port: number, service: string, pauseOnConnect = false): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: false, pauseOnConnect });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new WharfError('WHARF_LISTEN_FAILED', `${service}: cannot listen on ${formatPeer(host, port)}: ${err.code ?? err.message}`, { service, host, port }, { cause: err })),
    );
    server.listen({ host, port }, () => resolve(server));
  });
}

/** The child entry, beside this file (worker-main.ts under tsx, .js when built), and our loader flags. */
function entry(): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './worker-main.ts' : './worker-main.js', import.meta.url));
  // Keep only the loader flags of our own command line (tsx), never --test and the like.
  const keep: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['--import', '--loader', '--experimental-loader', '--require', '-r'].includes(a) && i + 1 < argv.length) keep.push(a, argv[++i]!);
    else if (/^--(import|loader|experimental-loader|require)=/.test(a)) keep.push(a);
  }
  if (ts && keep.length === 0) keep.push('--import', 'tsx');
  return { file, execArgv: keep };
}

/**
 * A net.Server that never listens: a worker pool gives it connections (emit('connection')), and
 * address() is the shared socket's, so a TcpListener adopts it like a listening one.
 */
export class ConnectionFeed extends net.Server {
  constructor(private readonly addr: net.AddressInfo) {
    super();
  }
  override address(): net.AddressInfo {
    return this.addr;
  }
  override close(cb?: (err?: Error) => void): this {
    queueMicrotask(() => {
      this.emit('close');
      cb?.();
    });
    return this;
  }
}

interface Child {
  proc: ChildProcess;
  ready: boolean;
  startedAt: number;
  /** Live connections given to it ('least-connections'). */
  load: number;
  /** Sockets given to it but not yet written to the channel (a handle in flight queues the next). */
  sending: Map<net.Socket, string>;
}

export class WorkerPool {
  private readonly children = new Set<Child>();
  private readonly listeners: Map<string, net.Server>;
  private readonly log: Logger;
  private stopping = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: WorkerStats | null) => void>();
  private restartTimes: number[] = [];
  private restartsTotal = 0;
  private events: string[] = [];
  private poll: NodeJS.Timeout | undefined;
  private readonly local: Map<string, ConnectionFeed>;
  private localLoad = 0;
  private turn = 0;
  private readonly dispatchers: (() => void)[] = [];
  /** FORWARDED_EVENTS and this pool's extra `forward` events. */
  private readonly forwardable: string[];

  constructor(private readonly opts: WorkerPoolOptions) {
    this.forwardable = [...new Set<string>([...FORWARDED_EVENTS, ...(opts.forward ?? [])])];
    this.listeners = opts.listeners instanceof Map ? new Map(opts.listeners) : new Map(Object.entries(opts.listeners));
    const local = opts.local ?? {};
    this.local = local instanceof Map ? new Map(local) : new Map(Object.entries(local));
    this.log = opts.wharf.logger.child({ service: opts.name });
    if (opts.balance === 'least-connections') {
      for (const [section, server] of this.listeners) {
        const fn = (s: net.Socket) => this.dispatch(section, s);
        server.on('connection', fn);
        this.dispatchers.push(() => server.off('connection', fn));
      }
    }
  }

  /** 'least-connections': gives the connection to the process with the fewest (ties in turn). */
  private dispatch(section: string, socket: net.Socket): void {
    socket.on('error', () => {});
    const feed = this.local.get(section);
    const children = [...this.children].filter((c) => c.ready && c.proc.connected);
    type Target = { load: number; child?: Child };
    const targets: Target[] = [...(feed ? [{ load: this.localLoad }] : []), ...children.map((c) => ({ load: c.load, child: c }))];
    if (targets.length === 0 || this.stopping) {
      socket.destroy();
      return;
    }
    const min = Math.min(...targets.map((t) => t.load));
    const least = targets.filter((t) => t.load === min);
    const pick = least[this.turn++ % least.length]!;
    const toLocal = (): void => {
      if (!feed) return void socket.destroy();
      this.localLoad++;
      socket.once('close', () => this.localLoad--);
      feed.emit('connection', socket);
    };
    const child = pick.child;
    if (!child) return toLocal();
    child.load++;
    child.sending.set(socket, section);
    try {
      child.proc.send({ type: 'conn', section } satisfies ToChild, socket, (err) => {
        child.sending.delete(socket);
        if (!err) return;
        child.load--;
        this.redispatch(section, socket);
      });
    } catch {
      child.sending.delete(socket);
      child.load--;
      this.redispatch(section, socket);
    }
  }

  /**
   * A socket that never reached its child (it died with the socket queued behind another
   * handle): still unread and ours, so another process serves it; one whose handle already left
   * is closed by Node or the kernel, never left hanging.
   */
  private redispatch(section: string, socket: net.Socket): void {
    if (socket.destroyed || !(socket as unknown as { _handle: unknown })._handle) return;
    this.dispatch(section, socket);
  }

  /** Forks the children; resolves when every one serves (rejects, leaving none, if one fails to start). */
  async start(): Promise<void> {
    this.events = this.wanted();
    this.poll = setInterval(() => this.refreshEvents(), this.opts.eventPollMs ?? 250);
    this.poll.unref();
    const started = await Promise.allSettled(Array.from({ length: this.opts.count }, () => this.spawn()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop(1000);
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Pids of the children serving now. */
  get pids(): number[] {
    return [...this.children].filter((c) => c.ready && c.proc.pid !== undefined).map((c) => c.proc.pid!);
  }

  /** What the console shows: this process and the children, with the restarts so far. */
  describe(): { primary: number; balance: Balance; forwarding: string[]; children: { pid: number; since: string; connections?: number }[]; restarts: number; connections?: number } {
    const counted = this.opts.balance === 'least-connections';
    return {
      primary: process.pid,
      balance: this.opts.balance ?? 'kernel',
      // Told to the children before anything sent after this moment.
      forwarding: [...this.events],
      ...(counted ? { connections: this.localLoad } : {}),
      children: [...this.children]
        .filter((c) => c.ready)
        .map((c) => ({ pid: c.proc.pid!, since: new Date(c.startedAt).toISOString(), ...(counted ? { connections: c.load } : {}) })),
      restarts: this.restartsTotal,
    };
  }

  /** Every serving child's process figures (and its `inspector`'s data) within `timeoutMs`. */
  async stats(inspector?: string, timeoutMs = 2000): Promise<WorkerStats[]> {
    const all = await Promise.all(
      [...this.children].filter((c) => c.ready && c.proc.connected).map(
        (c) =>
          new Promise<WorkerStats | null>((resolve) => {
            const id = this.nextId++;
            const t = setTimeout(() => {
              this.waiting.delete(id);
              resolve(null);
            }, timeoutMs);
            this.waiting.set(id, (s) => {
              clearTimeout(t);
              resolve(s);
            });
            this.send(c, { type: 'stats', id, ...(inspector ? { inspector } : {}) });
          }),
      ),
    );
    return all.filter((s): s is WorkerStats => s !== null);
  }

  /** The forwarded events the primary's bus has listeners for now. */
  private wanted(): string[] {
    return this.forwardable.filter((e) => this.opts.wharf.bus.listenerCount(e) > 0);
  }


  private refreshEvents(): void {
    const now = this.wanted();
    if (now.join() === this.events.join()) return;
    this.events = now;
    for (const c of this.children) if (c.ready) this.send(c, { type: 'events', events: now });
  }

  private send(c: Child, m: ToChild, handle?: net.Server): void {
    if (!c.proc.connected) return;
    try {
      if (handle) c.proc.send(m, handle);
      else c.proc.send(m);
    } catch (err) {
      this.log.debug('worker ipc send failed', { worker: c.proc.pid, err: describeError(err) });
    }
  }

  private spawn(): Promise<void> {
    const { file, execArgv } = entry();
    const proc = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const child: Child = { proc, ready: false, startedAt: Date.now(), load: 0, sending: new Map() };
    this.children.add(child);
    const log = this.log.child({ worker: proc.pid });
    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new WharfError('WHARF_WORKER_FAILED', `${this.opts.name} worker ${proc.pid} did not start within ${timeoutMs} ms`));
        proc.kill('SIGKILL');
      }, timeoutMs);
      proc.on('message', (m: FromChild) => {
        switch (m.type) {
          case 'hello': {
            const config = childConfig(this.opts.config ?? this.opts.wharf.config, this.opts.sections);
            const init: ToChild & { type: 'init' } = { type: 'init', name: this.opts.name, config, dataDir: this.opts.wharf.dataDir, listeners: [...this.listeners.keys()], events: this.events };
            if (this.opts.balance === 'least-connections') {
              init.dispatch = Object.fromEntries([...this.listeners].map(([section, server]) => [section, server.address() as net.AddressInfo]));
              this.send(child, init);
              break;
            }
            this.send(child, init);
            // The same listening servers for every child; ours stay open for re-forks.
            for (const [section, server] of this.listeners) this.send(child, { type: 'listener', section }, server);
            break;
          }
          case 'ready':
            child.ready = true;
            log.info('worker serving');
            // The subscriptions may have changed while it started.
            if (this.events.length > 0) this.send(child, { type: 'events', events: this.events });
            settle();
            break;
          case 'failed':
            log.error('worker failed to start', { error: m.error });
            settle(new WharfError('WHARF_WORKER_FAILED', `${this.opts.name} worker failed to start: ${m.error}`));
            break;
          case 'event':
            this.forward(m.event, m.payload, proc.pid);
            break;
          case 'closed':
            child.load = Math.max(0, child.load - 1);
            break;
          case 'stats':
            this.waiting.get(m.id)?.(m.stats);
            this.waiting.delete(m.id);
            break;
        }
      });
      proc.on('error', (err) => log.warn('worker ipc error', { err: describeError(err) }));
      proc.once('exit', (code, signal) => {
        this.children.delete(child);
        const stranded = [...child.sending];
        child.sending.clear();
        if (!this.stopping) for (const [socket, section] of stranded) this.redispatch(section, socket);
        else for (const [socket] of stranded) socket.destroy();
        settle(new WharfError('WHARF_WORKER_FAILED', `${this.opts.name} worker exited at start (code ${code}, signal ${signal})`));
        if (this.stopping || !child.ready) return;
        log.error('worker exited; forking another', { code, signal });
        this.respawn();
      });
    });
  }

  private forward(event: string, payload: unknown, pid: number | undefined): void {
    if (!this.forwardable.includes(event)) return;
    const bus = this.opts.wharf.bus;
    if (event === 'log' && payload && typeof payload === 'object') bus.emit('log', { ...(payload as { level: 'info'; msg: string }), worker: pid });
    else bus.emit(event, payload);
  }

  /** Re-forks a dead child, unless too many died lately (the storm guard). */
  private respawn(): void {
    const max = this.opts.restart?.max ?? 5;
    const windowMs = this.opts.restart?.windowMs ?? 60_000;
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    if (this.restartTimes.length >= max) {
      this.log.error('workers keep dying; not forking more until restart', { restarts: this.restartTimes.length, windowMs });
      return;
    }
    this.restartTimes.push(now);
    this.restartsTotal++;
    setTimeout(() => {
      if (this.stopping) return;
      this.spawn().catch((err: unknown) => {
        this.log.error('worker restart failed', { err: describeError(err) });
        this.respawn();
      });
    }, this.opts.restart?.delayMs ?? 500).unref();
  }

  /** Drains every child (deadline, then SIGKILL a second later); resolves when none is left. */
  async stop(deadlineMs = 2000): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    for (const off of this.dispatchers.splice(0)) off();
    for (const [, w] of this.waiting) w(null);
    this.waiting.clear();
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.proc.kill('SIGKILL'), deadlineMs + 1000);
            c.proc.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (c.proc.connected) this.send(c, { type: 'stop', deadlineMs });
            else c.proc.kill('SIGTERM');
          }),
      ),
    );
    this.children.clear();
  }
}

export interface PooledOptions {
  /** Pool name, for logs and the inspector "workers:<name>" ("pop3"). */
  name: string;
  /** Processes serving (the config's `<section>.workers`); 1 = no pool. */
  workers: number;
  /** The services to pool; each one's name is its config section (host, port) and it serves on wharf.sharedListeners. */
  services: Service[];
  /** Default 'kernel'. */
  balance?: Balance;
  /** Extra bus events the children forward (WorkerPoolOptions.forward). */
  forward?: readonly string[];
}

/**
 * The services as they are when workers <= 1 (or in a worker child, which was handed their
 * sockets); otherwise one Service that binds their sockets, serves on them here and in
 * workers - 1 children.
 */
export function pooledServices(wharf: Wharf, opts: PooledOptions): Service[] {
  if (opts.workers <= 1 || opts.services.length === 0 || opts.services.some((s) => wharf.sharedListeners.has(s.name))) return opts.services;
  return [new PooledService(wharf, opts)];
}

class PooledService implements Service {
  readonly name: string;
  private pool: WorkerPool | null = null;
  private started: Service[] = [];
  /** 'least-connections': the listening servers the pool accepts on (ours to close). */
  private accepting: net.Server[] = [];

  constructor(
    private readonly wharf: Wharf,
    private readonly opts: PooledOptions,
  ) {
    this.name = opts.name;
  }

  async start(): Promise<BoundAddress[]> {
    const wharf = this.wharf;
    const sections = wharf.config as unknown as Record<string, { host: string; port: number }>;
    const servers = new Map<string, net.Server>();
    const feeds = new Map<string, ConnectionFeed>();
    const dispatch = this.opts.balance === 'least-connections';
    const bound: BoundAddress[] = [];
    try {
      for (const s of this.opts.services) {
        const server = await listenShared(sections[s.name]!.host, sections[s.name]!.port, s.name, dispatch);
        servers.set(s.name, server);
        if (dispatch) {
          this.accepting.push(server);
          const feed = new ConnectionFeed(server.address() as net.AddressInfo);
          feeds.set(s.name, feed);
          wharf.sharedListeners.set(s.name, feed);
        } else wharf.sharedListeners.set(s.name, server);
      }
      for (const s of this.opts.services) {
        bound.push(...(await s.start()));
        this.started.push(s);
      }
      const pool = new WorkerPool({
        wharf,
        name: this.opts.name,
        count: this.opts.workers - 1,
        sections: this.opts.services.map((s) => s.name),
        listeners: servers,
        ...(dispatch ? { balance: 'least-connections' as const, local: feeds } : {}),
        ...(this.opts.forward ? { forward: this.opts.forward } : {}),
      });
      this.pool = pool;
      await pool.start();
      wharf.inspectors.set(`workers:${this.opts.name}`, () => pool.describe());
      return bound;
    } catch (err) {
      this.pool = null;
      await this.stop(1000);
      // Servers whose service never started (and so did not close them) are ours to close.
      for (const server of servers.values()) if (server.listening) server.close();
      throw err;
    }
  }

  /** The pool (for tests and the console); null before start and after stop. */
  get workers(): WorkerPool | null {
    return this.pool;
  }

  async stop(deadlineMs: number): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    const services = this.started.splice(0);
    this.wharf.inspectors.delete(`workers:${this.opts.name}`);
    for (const server of this.accepting.splice(0)) server.close();
    // Everyone stops accepting and drains at once.
    await Promise.all([pool?.stop(deadlineMs), ...services.map((s) => s.stop(deadlineMs))]);
    for (const s of this.opts.services) this.wharf.sharedListeners.delete(s.name);
  }
}
