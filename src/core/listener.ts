// A TCP listener for the line protocols: accepts connections, enforces the total and per-address
// connection limits, optionally performs the implicit-TLS handshake (SMTPS 465, POP3S 995,
// IMAPS 993), runs one session per connection and drains gracefully on stop().
//
// Invariants
//  - No socket event or session error ever crashes the process: every socket has an 'error'
//    listener from the moment it is accepted; a rejected onConnection is logged with service and
//    remote; the socket is destroyed once the session settles.
//  - Limits count live sessions (a refused or failed-handshake socket never counts). Addresses are
//    normalised (::ffff:10.0.0.1 is 10.0.0.1) so one client cannot double its quota.
//  - After stop() nothing new is accepted; stop() resolves only when every socket is gone.
//  - Limits are per listener, so per process when a worker pool shares the listening socket.
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Logger } from './logger.js';
import type { BoundAddress } from '../service.js';
import { WharfError, describeError } from './errors.js';
import { formatPeer, normalizeAddress } from './net.js';

export interface ListenerOptions {
  /** "pop3", "pop3s", … */
  service: string;
  host: string;
  port: number;
  /** implicit TLS listener when given (called per connection, so a reloaded certificate applies) */
  tls?: () => tls.SecureContext;
  maxConnections: number;
  maxPerIp: number;
  logger: Logger;
  /** Called once per accepted connection; the listener destroys the socket when it settles. */
  onConnection: (socket: net.Socket | tls.TLSSocket, info: { id: number; remote: string }) => Promise<void>;
  /** Answer sent to a client refused for limits, before closing (e.g. "421 4.7.0 Too many connections\r\n"). */
  refuseMessage?: string;
  /** Implicit-TLS handshake limit (default 30 s). */
  handshakeTimeoutMs?: number;
}

/** Error codes that are the client's doing, not ours: logged at debug. */
const PEER_GONE = new Set(['WHARF_CLOSED', 'WHARF_TIMEOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export class TcpListener {
  private readonly opts: ListenerOptions;
  private readonly log: Logger;
  private server: net.Server | null = null;
  private nextId = 1;
  private stopping = false;
  /** Every socket we hold (handshaking, refused-and-closing, or in a session). */
  private readonly sockets = new Set<net.Socket>();
  /** Live sessions: their settle promises. */
  private readonly sessions = new Set<Promise<void>>();
  private readonly perIp = new Map<string, number>();
  private readonly drainFns: Array<() => void> = [];

  constructor(opts: ListenerOptions) {
    if (!(opts.maxConnections >= 1) || !(opts.maxPerIp >= 1)) {
      throw new WharfError('WHARF_CONFIG_INVALID', `${opts.service}: maxConnections and maxPerIp must be at least 1`);
    }
    this.opts = opts;
    this.log = opts.logger.child({ service: opts.service });
  }

  /** Live sessions (connections past the limits and the TLS handshake). */
  get connections(): number {
    return this.sessions.size;
  }

  /** Called by stop() before waiting: lets sessions say goodbye (e.g. "421 shutting down"). */
  onDrain(fn: () => void): void {
    this.drainFns.push(fn);
  }

  /**
   * Resolves once listening; the port is the real one when 0 was asked. With `shared`, serves on
   * that already-listening server instead of binding (a socket bound by a worker-pool primary
   * and handed to several processes, src/core/worker-pool.ts); stop() closes it like our own.
   */
  start(shared?: net.Server): Promise<BoundAddress> {
    if (this.server) return Promise.reject(new WharfError('WHARF_STATE', `${this.opts.service}: listener already started`));
    if (shared) {
      try {
        return Promise.resolve(this.adopt(shared));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const server = net.createServer({ allowHalfOpen: false, pauseOnConnect: false });
    this.server = server;
    server.on('connection', (s) => this.accept(s));
    return new Promise<BoundAddress>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server = null;
        reject(
          new WharfError('WHARF_LISTEN_FAILED', `${this.opts.service}: cannot listen on ${formatPeer(this.opts.host, this.opts.port)}: ${err.code ?? err.message}`, { service: this.opts.service, host: this.opts.host, port: this.opts.port }, { cause: err }),
        );
      };
      server.once('error', onError);
      server.listen({ host: this.opts.host, port: this.opts.port }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log.error('listener error', { err: describeError(err) }));
        const addr = server.address() as net.AddressInfo;
        this.log.debug('listening', { host: addr.address, port: addr.port, tls: !!this.opts.tls });
        const bound: BoundAddress = { service: this.opts.service, host: addr.address, port: addr.port, transport: 'tcp' };
        if (this.opts.tls) bound.tls = true;
        resolve(bound);
      });
    });
  }

  private adopt(server: net.Server): BoundAddress {
    // A worker pool may hand a server that never listens itself but is given connections
    // (ConnectionFeed); its address() is the shared socket's.
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new WharfError('WHARF_STATE', `${this.opts.service}: the shared server has no TCP address`);
    this.server = server;
    server.on('connection', (s: net.Socket) => this.accept(s));
    server.on('error', (err) => this.log.error('listener error', { err: describeError(err) }));
    const bound: BoundAddress = { service: this.opts.service, host: addr.address, port: addr.port, transport: 'tcp' };
    if (this.opts.tls) bound.tls = true;
    return bound;
  }

  private accept(socket: net.Socket): void {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const remote = formatPeer(address, socket.remotePort ?? 0);
    socket.on('error', (err: NodeJS.ErrnoException) => this.log.debug('socket error', { remote, code: err.code, msg: err.message }));
    if (this.stopping || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.track(socket);
    // Replies are written as soon as they are ready; with Nagle a status line followed by data
    // would wait for the client's delayed ACK (~40 ms per exchange).
    socket.setNoDelay(true);
    const fromIp = this.perIp.get(address) ?? 0;
    if (this.sessions.size >= this.opts.maxConnections || fromIp >= this.opts.maxPerIp) {
      const why = fromIp >= this.opts.maxPerIp ? 'per-ip' : 'total';
      this.log.warn('connection refused: limit', { remote, limit: why, connections: this.sessions.size, fromIp });
      this.refuse(socket);
      return;
    }
    // Count it now (before the handshake) so a burst cannot slip past the limits.
    const id = this.nextId++;
    this.perIp.set(address, fromIp + 1);
    // Counted per service by whoever listens (the console's metrics); free when nobody does.
    this.opts.logger.bus?.emit('connection', { service: this.opts.service, remote, open: true });
    let settle!: () => void;
    const session = new Promise<void>((r) => (settle = r));
    this.sessions.add(session);
    const release = () => {
      this.sessions.delete(session);
      const n = (this.perIp.get(address) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(address);
      else this.perIp.set(address, n);
      this.opts.logger.bus?.emit('connection', { service: this.opts.service, remote, open: false });
      socket.destroy();
      settle();
    };
    void this.run(socket, id, remote).finally(release);
  }

  private async run(socket: net.Socket, id: number, remote: string): Promise<void> {
    let s: net.Socket | tls.TLSSocket = socket;
    if (this.opts.tls) {
      const t = await this.handshake(socket, remote);
      if (!t) return;
      s = t;
    }
    try {
      await this.opts.onConnection(s, { id, remote });
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (typeof code === 'string' && PEER_GONE.has(code)) this.log.debug('session ended by the peer', { remote, session: id, code });
      else this.log.error('session failed', { remote, session: id, err: describeError(err) });
    } finally {
      s.destroy();
    }
  }

  /** Implicit TLS: resolves the TLS socket, or null when the handshake failed (logged at debug). */
  private handshake(socket: net.Socket, remote: string): Promise<tls.TLSSocket | null> {
    let ctx: tls.SecureContext;
    try {
      ctx = this.opts.tls!();
    } catch (err) {
      this.log.error('TLS context unavailable', { remote, err: describeError(err) });
      return Promise.resolve(null);
    }
    const t = new tls.TLSSocket(socket, { isServer: true, secureContext: ctx });
    this.track(t as unknown as net.Socket);
    const ms = this.opts.handshakeTimeoutMs ?? 30_000;
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean, why?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        t.off('secure', onSecure);
        t.off('close', onClose);
        if (ok) resolve(t);
        else {
          this.log.debug('TLS handshake failed', { remote, reason: why });
          t.destroy();
          socket.destroy();
          resolve(null);
        }
      };
      const onSecure = () => finish(true);
      const onClose = () => finish(false, 'closed during handshake');
      const timer = setTimeout(() => finish(false, `timeout after ${ms} ms`), ms);
      t.on('error', (err: NodeJS.ErrnoException) => {
        if (done) this.log.debug('socket error', { remote, code: err.code, msg: err.message });
        else finish(false, err.code ?? err.message);
      });
      t.once('secure', onSecure);
      t.once('close', onClose);
    });
  }

  /** Over a limit: say why (plain listeners only), then close. */
  private refuse(socket: net.Socket): void {
    const msg = this.opts.refuseMessage;
    // Never read what the client sends; give the answer a moment to leave, then go.
    socket.pause();
    const kill = setTimeout(() => socket.destroy(), 2000);
    kill.unref();
    socket.once('close', () => clearTimeout(kill));
    if (msg && !this.opts.tls) socket.end(msg);
    else socket.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Stops accepting; lets sessions finish up to deadlineMs (after the drain callbacks); then destroys the rest. */
  async stop(deadlineMs: number): Promise<void> {
    const server = this.server;
    if (!server || this.stopping) return;
    this.stopping = true;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const fn of this.drainFns) {
      try {
        fn();
      } catch (err) {
        this.log.error('drain callback failed', { err: describeError(err) });
      }
    }
    if (this.sessions.size > 0) {
      this.log.info('draining', { sessions: this.sessions.size, deadlineMs });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadlineMs))));
      await Promise.race([Promise.all([...this.sessions]), deadline]);
      clearTimeout(timer);
    }
    if (this.sessions.size > 0 || this.sockets.size > 0) {
      this.log.info('closing remaining connections', { sessions: this.sessions.size, sockets: this.sockets.size });
      for (const s of this.sockets) s.destroy();
    }
    // Sessions settle once their socket is gone; wait for them so nothing outlives stop().
    await Promise.race([Promise.all([...this.sessions]), new Promise((r) => setTimeout(r, 1000).unref())]);
    await closed;
    this.server = null;
    this.log.info('stopped');
  }
}
