// The data connection of one FTP session (RFC 959 §3.2-3.3): passive (PASV/EPSV, we listen) or
// active (PORT/EPRT, we connect), optionally wrapped in TLS (RFC 4217 §9, PROT P).
//
// Invariants
//  - A passive listener binds the control connection's local address, on a port from
//    ftp.passive_ports (or any free port), and accepts ONE connection, only from the control
//    connection's client address (RFC 2577 §5 port stealing): others are closed at once.
//  - An active target is checked by the session (RFC 2577 §3 bounce protection) before it gets here.
//  - Waiting for a data connection is bounded by the data timeout (425 when it never comes).
//  - TLS on the data channel uses the instance's shared SecureContext, so the client can resume
//    the control connection's TLS session (tickets), as lftp, FileZilla and curl expect.
//  - Every socket and server created here is closed by close(); nothing outlives the session.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { WharfError } from '../core/errors.js';
import { normalizeAddress } from '../core/net.js';

export interface PassiveOptions {
  /** Address to bind (the control connection's local address). */
  bindHost: string;
  /** Inclusive port range, or null for any free port. */
  ports: [number, number] | null;
  /** Only this client address may connect. */
  clientAddress: string;
}

type Pending =
  | { kind: 'passive'; server: net.Server; port: number; queue: net.Socket[]; waiter: ((s: net.Socket) => void) | null; closed: boolean }
  | { kind: 'active'; host: string; port: number; localAddress: string };

export interface OpenOptions {
  timeoutMs: number;
  /** Wrap in TLS (server side) with this context. */
  tls?: tls.SecureContext | undefined;
}

export class DataChannel {
  private pending: Pending | null = null;
  private readonly open = new Set<net.Socket>();
  /** Passive connections that came from the wrong address (for tests and logs). */
  refused = 0;

  get prepared(): 'passive' | 'active' | null {
    return this.pending?.kind ?? null;
  }

  /** RFC 959 §4.1.1 PASV / RFC 2428 §3 EPSV: listens and resolves the port. */
  async listen(opts: PassiveOptions): Promise<number> {
    this.reset();
    const clientAddress = normalizeAddress(opts.clientAddress);
    const candidates = portCandidates(opts.ports);
    let lastErr: unknown;
    for (const port of candidates) {
      const server = net.createServer({ pauseOnConnect: true });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: opts.bindHost, port, exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        lastErr = err;
        server.close();
        continue;
      }
      server.on('error', () => {});
      const p: Pending = { kind: 'passive', server, port: (server.address() as net.AddressInfo).port, queue: [], waiter: null, closed: false };
      server.on('connection', (s: net.Socket) => {
        s.on('error', () => {});
        // RFC 2577 §5: only the client that asked may use the port.
        if (normalizeAddress(s.remoteAddress ?? '') !== clientAddress || p.closed) {
          this.refused++;
          s.destroy();
          return;
        }
        // One data connection per PASV: stop listening now.
        p.closed = true;
        server.close();
        if (p.waiter) {
          const w = p.waiter;
          p.waiter = null;
          w(s);
        } else p.queue.push(s);
        this.track(s);
      });
      this.pending = p;
      return p.port;
    }
    throw new WharfError('WHARF_NO_PASSIVE_PORT', `no free passive port: ${(lastErr as Error | undefined)?.message ?? 'range empty'}`);
  }

  /** RFC 959 §4.1.1 PORT / RFC 2428 §2 EPRT: remembers where to connect. */
  connectTo(host: string, port: number, localAddress: string): void {
    this.reset();
    this.pending = { kind: 'active', host, port, localAddress };
  }

  /**
   * The data connection for one transfer: waits for the passive connection or connects out,
   * then does the TLS handshake when asked. Consumes the preparation (one connection per command).
   * Rejects with WHARF_DATA_TIMEOUT / WHARF_DATA_FAILED.
   */
  async connect(opts: OpenOptions, signal?: AbortSignal): Promise<net.Socket | tls.TLSSocket> {
    const p = this.pending;
    if (!p) throw new WharfError('WHARF_NO_DATA_PORT', 'no PORT/PASV given');
    this.pending = null;
    let sock: net.Socket;
    if (p.kind === 'passive') {
      try {
        sock = await this.acceptOne(p, opts.timeoutMs, signal);
      } finally {
        p.closed = true;
        p.server.close();
      }
    } else {
      sock = await this.dial(p, opts.timeoutMs, signal);
    }
    sock.setNoDelay(true);
    // Left paused: the transfer's pipeline starts the flow once it is attached.
    if (!opts.tls) return sock;
    return this.secure(sock, opts.tls, opts.timeoutMs, signal);
  }

  private acceptOne(p: Extract<Pending, { kind: 'passive' }>, ms: number, signal?: AbortSignal): Promise<net.Socket> {
    const ready = p.queue.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, s?: net.Socket) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        p.waiter = null;
        if (err) reject(err);
        else resolve(s!);
      };
      const timer = setTimeout(() => done(new WharfError('WHARF_DATA_TIMEOUT', `no data connection within ${ms} ms`)), ms);
      const onAbort = () => done(new WharfError('WHARF_DATA_ABORTED', 'aborted'));
      signal?.addEventListener('abort', onAbort);
      p.waiter = (s) => done(null, s);
    });
  }

  private dial(p: Extract<Pending, { kind: 'active' }>, ms: number, signal?: AbortSignal): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      // RFC 959 §3.2: the server's active data connection comes from its own address (port L-1
      // traditionally; any port here, as every modern server does).
      const s = net.connect({ host: p.host, port: p.port, localAddress: p.localAddress || undefined });
      this.track(s);
      const done = (err: Error | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        s.off('connect', onConnect);
        if (err) {
          s.destroy();
          reject(err);
        } else resolve(s);
      };
      const onConnect = () => done(null);
      const onAbort = () => done(new WharfError('WHARF_DATA_ABORTED', 'aborted'));
      const timer = setTimeout(() => done(new WharfError('WHARF_DATA_TIMEOUT', `connect timed out after ${ms} ms`)), ms);
      s.once('connect', onConnect);
      s.once('error', (err) => done(new WharfError('WHARF_DATA_FAILED', `connect failed: ${err.message}`)));
      signal?.addEventListener('abort', onAbort);
      s.pause();
    });
  }

  private secure(raw: net.Socket, context: tls.SecureContext, ms: number, signal?: AbortSignal): Promise<tls.TLSSocket> {
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    t.on('error', () => {});
    this.track(t);
    raw.resume();
    return new Promise((resolve, reject) => {
      const done = (err: Error | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        t.off('secure', onSecure);
        t.off('close', onClose);
        if (err) {
          t.destroy();
          raw.destroy();
          reject(err);
        } else resolve(t);
      };
      const onSecure = () => done(null);
      const onClose = () => done(new WharfError('WHARF_DATA_FAILED', 'data connection closed during the TLS handshake'));
      const onAbort = () => done(new WharfError('WHARF_DATA_ABORTED', 'aborted'));
      const timer = setTimeout(() => done(new WharfError('WHARF_DATA_TIMEOUT', `data TLS handshake timed out after ${ms} ms`)), ms);
      t.once('secure', onSecure);
      t.once('close', onClose);
      t.once('error', (err) => done(new WharfError('WHARF_DATA_FAILED', `data TLS handshake failed: ${err.message}`)));
      signal?.addEventListener('abort', onAbort);
    });
  }

  private track(s: net.Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }

  /** Forgets a preparation (closes a passive listener and any connection it queued). */
  reset(): void {
    const p = this.pending;
    this.pending = null;
    if (p?.kind === 'passive') {
      p.closed = true;
      p.server.close();
      for (const s of p.queue) s.destroy();
      p.waiter = null;
    }
  }

  /** Closes everything (session end). */
  close(): void {
    this.reset();
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}

/** Ports to try: the range from a random start (wrapping), or just 0. */
function portCandidates(range: [number, number] | null): number[] {
  if (!range) return [0];
  const [lo, hi] = range;
  const n = hi - lo + 1;
  const start = Math.floor(Math.random() * n);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(lo + ((start + i) % n));
  return out;
}

/** "50000-50100" -> [50000, 50100]; "" -> null. */
export function parsePortRange(s: string): [number, number] | null {
  const m = /^(\d+)-(\d+)$/.exec(s.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}
