// A worker-pool child process (forked by worker-pool.ts): builds a Wharf instance from the
// primary's config (only the pool's sections enabled) and data directory, and serves on the
// listening servers the primary hands over IPC (through wharf.sharedListeners).
//
// Protocol: child 'hello' → primary 'init', then one 'listener' message per server (the handle)
// → child starts its instance → 'ready' (or 'failed'). Then 'events' (which bus events to
// forward), 'stats', 'stop'.
//
// Invariants
//  - A handed server accepts from the moment it arrives: until our listener is attached, its
//    connections are held (unread) and given to the listener once the instance started,
//    so no client is dropped or left hanging while the child starts.
//  - Session ids end in "@<pid>", unique beside the primary's and the other children's.
//  - Exits when told to stop, when the primary's IPC channel closes, or when start-up fails
//    (reported to the primary first). Unexpected errors are logged, never fatal to serving.
import type * as net from 'node:net';
import { describeError } from './errors.js';
import { ConnectionFeed } from './worker-pool.js';
import { IdGenerator } from './ids.js';
import { Wharf } from '../wharf.js';
import type { FromChild, ToChild, WorkerStats } from './worker-pool.js';

/** Session ids "pop3-3@4242": the pid keeps them apart from the other processes' "pop3-3". */
class WorkerIds extends IdGenerator {
  override next(prefix: string): string {
    return `${super.next(prefix)}@${process.pid}`;
  }
}

class WorkerWharf extends Wharf {
  override readonly ids: IdGenerator = new WorkerIds();
}

interface Held {
  server: net.Server;
  queued: net.Socket[];
  hold: (s: net.Socket) => void;
}

/** The child's state (one per process: this file is the process's main module). */
class WorkerChild {
  private init: (ToChild & { type: 'init' }) | undefined;
  private readonly held = new Map<string, Held>();
  private readonly feeds = new Map<string, ConnectionFeed>();
  private wharf: Wharf | undefined;
  private readonly forwarding = new Map<string, () => void>();
  private stopping = false;
  private readonly started = Date.now();

  send(m: FromChild): void {
    if (process.connected) process.send!(m);
  }

  onMessage(m: ToChild, handle: unknown): void {
    switch (m.type) {
      case 'init':
        this.init = m;
        // 'least-connections': the primary gives us connections one by one ('conn'), never
        // before we are ready.
        for (const [section, addr] of Object.entries(m.dispatch ?? {})) this.feeds.set(section, new ConnectionFeed(addr));
        this.maybeStart();
        break;
      case 'conn': {
        const socket = handle as net.Socket | undefined;
        if (!socket) break;
        socket.once('close', () => this.send({ type: 'closed' }));
        const feed = this.feeds.get(m.section);
        if (feed && this.wharf && !this.stopping) feed.emit('connection', socket);
        else socket.destroy();
        break;
      }
      case 'listener':
        this.hold(m.section, handle as net.Server);
        this.maybeStart();
        break;
      case 'events':
        this.subscribe(m.events);
        break;
      case 'stats':
        void this.stats(m.inspector).then((stats) => this.send({ type: 'stats', id: m.id, stats }));
        break;
      case 'stop':
        void this.stop(m.deadlineMs);
        break;
    }
  }

  /** Holds the connections accepted before our listener is attached (see the invariants). */
  private hold(section: string, server: net.Server): void {
    const h: Held = {
      server,
      queued: [],
      hold: (s) => {
        if (server.listenerCount('connection') > 1) return; // the listener has it
        // Unread data waits in the socket's buffer (no 'data' listener yet, so it does not flow).
        s.on('error', () => s.destroy());
        h.queued.push(s);
      },
    };
    server.on('connection', h.hold);
    this.held.set(section, h);
  }

  private maybeStart(): void {
    const init = this.init;
    if (!init || this.wharf || init.listeners.some((l) => !this.held.has(l) && !this.feeds.has(l))) return;
    this.start(init).then(
      (bound) => this.send({ type: 'ready', bound }),
      (err: unknown) => {
        this.send({ type: 'failed', error: describeError(err).message });
        for (const h of this.held.values()) for (const s of h.queued) s.destroy();
        setTimeout(() => process.exit(1), 100);
      },
    );
  }

  private async start(init: ToChild & { type: 'init' }) {
    const wharf = new WorkerWharf({ config: init.config, dataDir: init.dataDir });
    this.wharf = wharf;
    for (const [section, h] of this.held) wharf.sharedListeners.set(section, h.server);
    for (const [section, feed] of this.feeds) wharf.sharedListeners.set(section, feed);
    const bound = await wharf.start();
    for (const h of this.held.values()) {
      h.server.off('connection', h.hold);
      for (const s of h.queued.splice(0)) h.server.emit('connection', s);
    }
    this.subscribe(init.events);
    // For tests and the console: which events this child forwards now.
    wharf.inspectors.set('worker-forwarding', () => [...this.forwarding.keys()]);
    return bound;
  }

  /** Forwards exactly `events` from our bus to the primary ('log' above debug). */
  private subscribe(events: string[]): void {
    const wharf = this.wharf;
    if (!wharf) return;
    for (const [event, off] of this.forwarding) {
      if (!events.includes(event)) {
        off();
        this.forwarding.delete(event);
      }
    }
    for (const event of events) {
      if (this.forwarding.has(event)) continue;
      this.forwarding.set(
        event,
        wharf.bus.on(event, (payload: unknown) => {
          if (event === 'log' && (payload as { level?: string }).level === 'debug') return;
          this.send({ type: 'event', event, payload });
        }),
      );
    }
  }

  private async stats(inspector: string | undefined): Promise<WorkerStats> {
    const stats: WorkerStats = { pid: process.pid, rss: process.memoryUsage().rss, uptimeMs: Date.now() - this.started };
    const fn = inspector ? this.wharf?.inspectors.get(inspector) : undefined;
    if (fn) {
      try {
        stats.data = await fn();
      } catch (err) {
        stats.data = { error: describeError(err).message };
      }
    }
    return stats;
  }

  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const off of this.forwarding.values()) off();
    try {
      await this.wharf?.stop(deadlineMs);
    } catch (err) {
      this.wharf?.logger.warn('worker stop failed', { err: describeError(err) });
    }
    process.exit(0);
  }

  logError(what: string, err: unknown): void {
    if (this.wharf) this.wharf.logger.error(what, { err: describeError(err) });
    else process.stderr.write(`wharf worker ${process.pid}: ${what}: ${describeError(err).message}\n`);
  }
}

const child = new WorkerChild();
process.on('message', (m: ToChild, handle: unknown) => child.onMessage(m, handle));
// The primary went away: nobody will ask us to stop.
process.on('disconnect', () => void child.stop(1000));
process.on('uncaughtException', (err) => child.logError('worker: uncaught exception', err));
process.on('unhandledRejection', (err) => child.logError('worker: unhandled rejection', err));
child.send({ type: 'hello' });
