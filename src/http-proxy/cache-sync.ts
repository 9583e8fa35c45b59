// Keeps the proxy caches of a worker pool (proxy.workers > 1) coherent: the primary's
// CacheStore (role 'primary') owns the index; each child's store (role 'replica') keeps a copy.
// They talk over a Unix socket beside the cache folder, one JSON message a line. cache-store.ts
// says what the messages mean (PrimaryOp, ReplicaOp); this file only carries them.
//
//   primary                                    child
//   CacheSyncServer.start(path)  <--connect--  CacheSyncClient.connect(path)
//        snapshot, put..., ready  ---------->  (the child serves only after 'ready')
//        put / remove / update    ---------->  store.applyFromPrimary
//   store.applyFromReplica       <----------  commit / update / invalidate / drop / touch
//        ack n                    ---------->  (after sync n: everything before it applied)
//        events on|off            ---------->  (whether the primary listens for 'proxy-request')
//   bus.emit('proxy-request')    <----------  event
//
// Invariants
//  - Messages are applied in the order sent (one stream per child); the snapshot and 'ready'
//    are written before the connection can receive any broadcast, so a child misses nothing.
//  - A child's change reaches the other children in two hops (child -> primary -> children);
//    store.synced() (sync/ack) lets a child wait for that, e.g. before answering an unsafe
//    request whose invalidation others must see.
//  - Children forward 'proxy-request' events only while the primary's bus has listeners.
//  - Malformed lines are ignored; the socket is private to the data directory's owner (0600).
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { CacheStore, PrimaryOp, ReplicaOp } from './cache-store.js';

type ToChild = PrimaryOp | { op: 'ready' } | { op: 'ack'; n: number } | { op: 'events'; on: boolean };
type ToPrimary = ReplicaOp | { op: 'sync'; n: number } | { op: 'event'; ev: unknown };

/** Where the primary listens: beside the cache, or (a path too long for a socket) in the temp folder. */
export function syncSocketPath(cacheDir: string): string {
  const p = join(cacheDir, 'sync.sock');
  if (Buffer.byteLength(p) < 100) return p;
  return join(tmpdir(), `wharf-proxy-${createHash('sha256').update(cacheDir).digest('hex').slice(0, 20)}.sock`);
}

/** Calls onLine for each complete line read from the socket. */
function readLines(socket: net.Socket, onLine: (m: unknown) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line) continue;
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      if (m && typeof m === 'object') onLine(m);
    }
  });
}

function write(socket: net.Socket, m: ToChild | ToPrimary): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(m)}\n`);
}

export class CacheSyncServer {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private poll: NodeJS.Timeout | undefined;
  private eventsOn = false;
  private path = '';

  constructor(
    private readonly store: CacheStore,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  async start(path: string): Promise<void> {
    this.path = path;
    await fsp.unlink(path).catch(() => undefined); // a socket left by a primary that died
    const server = net.createServer((s) => this.onConnection(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fsp.chmod(path, 0o600).catch(() => undefined);
    server.on('error', (err) => this.logger.warn('proxy cache sync error', { err }));
    this.store.link = {
      broadcast: (op, except) => {
        for (const c of this.conns) if (c !== except) write(c, op);
      },
    };
    this.eventsOn = this.bus.listenerCount('proxy-request') > 0;
    this.poll = setInterval(() => {
      const on = this.bus.listenerCount('proxy-request') > 0;
      if (on === this.eventsOn) return;
      this.eventsOn = on;
      for (const c of this.conns) write(c, { op: 'events', on });
    }, 250);
    this.poll.unref();
  }

  private onConnection(s: net.Socket): void {
    s.on('error', () => undefined);
    // the whole index first, then the child may serve; broadcasts follow on the same stream
    const entries = this.store.snapshot();
    write(s, { op: 'snapshot', entries: [] });
    for (const entry of entries) write(s, { op: 'put', entry });
    write(s, { op: 'ready' });
    if (this.eventsOn) write(s, { op: 'events', on: true });
    this.conns.add(s);
    s.once('close', () => this.conns.delete(s));
    readLines(s, (raw) => {
      const m = raw as ToPrimary;
      switch (m.op) {
        case 'sync':
          write(s, { op: 'ack', n: m.n });
          break;
        case 'event':
          this.bus.emit('proxy-request', m.ev);
          break;
        case 'commit':
        case 'update':
        case 'invalidate':
        case 'drop':
        case 'touch':
          try {
            this.store.applyFromReplica(m, s);
          } catch (err) {
            this.logger.warn('proxy cache sync: bad message', { err, op: m.op });
          }
          break;
      }
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.poll);
    this.store.link = {};
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns) c.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    await fsp.unlink(this.path).catch(() => undefined);
  }
}

export class CacheSyncClient {
  private socket: net.Socket | undefined;
  private seq = 0;
  private readonly waiting = new Map<number, () => void>();
  private offEvents: (() => void) | undefined;
  private closing = false;

  constructor(
    private readonly store: CacheStore,
    private readonly bus: EventBus,
    private readonly logger: Logger,
  ) {}

  /** Connects and resolves once the primary's index is copied (rejects after timeoutMs). */
  connect(path: string, timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const s = net.connect(path);
      this.socket = s;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`proxy cache sync: no index from the primary at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.once('close', () => {
        clearTimeout(timer);
        this.offEvents?.();
        this.offEvents = undefined;
        for (const w of this.waiting.values()) w();
        this.waiting.clear();
        if (!this.closing) this.logger.warn('proxy cache sync: the primary went away; serving from the copy as it is');
      });
      readLines(s, (raw) => {
        const m = raw as ToChild;
        switch (m.op) {
          case 'ready':
            clearTimeout(timer);
            s.on('error', () => undefined);
            resolve();
            break;
          case 'ack':
            for (const [n, w] of this.waiting) {
              if (n > m.n) break;
              w();
              this.waiting.delete(n);
            }
            break;
          case 'events':
            this.forwardEvents(m.on);
            break;
          default:
            this.store.applyFromPrimary(m);
        }
      });
      this.store.link = {
        send: (op) => write(s, op),
        flush: () => {
          if (s.destroyed) return Promise.resolve();
          const n = ++this.seq;
          return new Promise<void>((done) => {
            this.waiting.set(n, done);
            write(s, { op: 'sync', n });
          });
        },
      };
    });
  }

  private forwardEvents(on: boolean): void {
    if (on && !this.offEvents) this.offEvents = this.bus.on('proxy-request', (ev) => write(this.socket!, { op: 'event', ev }));
    else if (!on && this.offEvents) {
      this.offEvents();
      this.offEvents = undefined;
    }
  }

  /** Ends the connection after what is queued (call after the store's close()). */
  async close(): Promise<void> {
    this.closing = true;
    this.offEvents?.();
    this.offEvents = undefined;
    this.store.link = {};
    const s = this.socket;
    if (!s || s.destroyed) return;
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        s.destroy();
        r();
      }, 2000);
      s.once('close', () => {
        clearTimeout(t);
        r();
      });
      s.end();
    });
  }
}
