// The DNS server's TCP side (RFC 7766, RFC 1035 §4.2.2): each message is preceded by a two-byte
// length; a connection carries several queries, answered as they complete (out of order is
// allowed, RFC 7766 §6.2.1.1); connections idle too long are closed.
//
// Invariants
//  - Connection limits and graceful stop come from core/listener.ts.
//  - At most MAX_INFLIGHT queries of one connection are processed at once; beyond that the
//    socket stops being read (backpressure), so one client cannot queue unbounded work.
//  - A length under 12 cannot hold a header: the connection is closed (nothing to answer).
//  - Responses are written whole (length and message in one write), never interleaved.
import type * as net from 'node:net';
import { describeError } from '../../core/errors.js';
import { TcpListener } from '../../core/listener.js';
import type { Logger } from '../../core/logger.js';
import { normalizeAddress } from '../../core/net.js';
import type { BoundAddress } from '../../service.js';
import type { DnsServer } from './server.js';

export interface TcpDnsOptions {
  maxConnections: number;
  maxPerIp: number;
  /** Close a connection with no query in flight after this long (RFC 7766 §6.2.3). */
  idleTimeoutMs: number;
  maxInflight?: number;
}

export const TCP_DEFAULTS: TcpDnsOptions = { maxConnections: 500, maxPerIp: 50, idleTimeoutMs: 10_000, maxInflight: 32 };

export class TcpDnsListener {
  private listener: TcpListener | null = null;
  /** dns.workers: a listening server shared with other processes (adopt()). */
  private shared: { server: net.Server; live: Set<net.Socket>; onConnection: (s: net.Socket) => void } | null = null;

  constructor(
    private readonly server: DnsServer,
    private readonly logger: Logger,
    private readonly opts: TcpDnsOptions = TCP_DEFAULTS,
  ) {}

  async bind(host: string, port: number): Promise<BoundAddress> {
    const l = new TcpListener({
      service: 'dns',
      host,
      port,
      maxConnections: this.opts.maxConnections,
      maxPerIp: this.opts.maxPerIp,
      logger: this.logger,
      onConnection: (socket) => this.session(socket as net.Socket),
    });
    const bound = await l.start();
    this.listener = l;
    return bound;
  }

  /**
   * Serves connections accepted on a listening server shared by several processes (dns.workers;
   * the kernel gives each connection to one of them). The limits of TcpDnsOptions apply per
   * process; close() stops this process accepting and leaves the others serving.
   */
  adopt(server: net.Server): void {
    const live = new Set<net.Socket>();
    const perIp = new Map<string, number>();
    const onConnection = (socket: net.Socket): void => {
      const ip = normalizeAddress(socket.remoteAddress ?? '');
      const n = perIp.get(ip) ?? 0;
      if (live.size >= this.opts.maxConnections || n >= this.opts.maxPerIp) {
        socket.destroy();
        return;
      }
      live.add(socket);
      perIp.set(ip, n + 1);
      socket.on('error', () => {});
      void this.session(socket)
        .catch((err: unknown) => this.logger.error('dns tcp session failed', { client: ip, err: describeError(err) }))
        .finally(() => {
          live.delete(socket);
          const left = (perIp.get(ip) ?? 1) - 1;
          if (left <= 0) perIp.delete(ip);
          else perIp.set(ip, left);
        });
    };
    server.on('connection', onConnection);
    server.on('error', (err) => this.logger.error('listener error', { err: describeError(err) }));
    this.shared = { server, live, onConnection };
  }

  private session(socket: net.Socket): Promise<void> {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const port = socket.remotePort ?? 0;
    const maxInflight = this.opts.maxInflight ?? 32;
    return new Promise<void>((resolve) => {
      let buf: Buffer = Buffer.alloc(0);
      let inflight = 0;
      let closed = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (closed) return;
        closed = true;
        if (timer) clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      const arm = (): void => {
        if (timer) clearTimeout(timer);
        timer = inflight === 0 ? setTimeout(finish, this.opts.idleTimeoutMs) : undefined;
      };
      const pump = (): void => {
        while (!closed && inflight < maxInflight && buf.length >= 2) {
          const len = buf.readUInt16BE(0);
          if (len < 12) { finish(); return; }
          if (buf.length < 2 + len) break;
          const msg = Buffer.from(buf.subarray(2, 2 + len));
          buf = buf.subarray(2 + len);
          inflight++;
          arm();
          void this.server.handle(msg, { address, port, transport: 'tcp' }).then((out) => {
            inflight--;
            if (closed) return;
            for (const m of out) {
              const frame = Buffer.alloc(2 + m.length);
              frame.writeUInt16BE(m.length, 0);
              m.copy(frame, 2);
              socket.write(frame);
            }
            if (socket.isPaused() && inflight < maxInflight) socket.resume();
            pump();
            arm();
          });
        }
        if (inflight >= maxInflight) socket.pause();
      };
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        if (buf.length > 262_144) { finish(); return; } // bounded buffering while paused
        pump();
      });
      socket.on('end', () => {
        // Half-close: answer what is in flight, then go.
        const wait = (): void => { if (inflight === 0) finish(); else setTimeout(wait, 20); };
        wait();
      });
      socket.on('close', finish);
      socket.on('error', finish);
      arm();
    });
  }

  /** Stops accepting and closes connections (after `deadlineMs` at most). */
  async close(deadlineMs = 1000): Promise<void> {
    const sh = this.shared;
    this.shared = null;
    if (sh) {
      sh.server.off('connection', sh.onConnection);
      sh.server.close();
      // Sessions in flight get a moment to answer, then go.
      const until = Date.now() + Math.min(deadlineMs, 500);
      while (sh.live.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      for (const s of sh.live) s.destroy();
    }
    const l = this.listener;
    this.listener = null;
    if (l) await l.stop(deadlineMs);
  }
}
