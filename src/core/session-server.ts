// A listener that runs one line-protocol session per connection: the shape POP3 and IMAP share
// (plain listener with STARTTLS, or implicit TLS). It builds the connection with the protocol's
// limits and a transcript, works out whether cleartext passwords may be used on it, keeps the
// live sessions, and on stop tells each to drain (a session waiting for a command says goodbye
// at once; one in the middle of a command finishes it first).
import type * as net from 'node:net';
import type { SecureContext } from 'node:tls';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { Connection } from './connection.js';
import { Transcript } from './events.js';
import { TcpListener } from './listener.js';
import type { Logger } from './logger.js';
import { formatPeer, isLoopback } from './net.js';

export interface LineSession {
  run(): Promise<void>;
  drain(): void;
}

export interface SessionContext {
  conn: Connection;
  sessionId: string;
  transcript: Transcript;
  logger: Logger;
  /** Cleartext passwords only inside TLS, on a loopback connection, or when the config says so. */
  cleartextAllowed: () => boolean;
  /** The context for STARTTLS/STLS on a plain listener; undefined on an implicit-TLS one. */
  tls: (() => SecureContext) | undefined;
}

export interface SessionServerOptions {
  /** Config section of the listener ("pop3s"). */
  name: string;
  implicitTls: boolean;
  /** The protocol's limits (its main section's max_connections, max_per_ip, idle_timeout). */
  limits: { max_connections: number; max_per_ip: number; idle_timeout: number };
  maxLine: number;
  /** Sent to a client refused for the connection limits. */
  refuseMessage: string;
  makeSession(ctx: SessionContext): LineSession;
}

export class SessionServer implements Service {
  readonly name: string;
  private readonly listener: TcpListener;
  private readonly sessions = new Set<LineSession>();

  constructor(
    private readonly wharf: Wharf,
    private readonly opts: SessionServerOptions,
  ) {
    this.name = opts.name;
    const section = (wharf.config as unknown as Record<string, { host: string; port: number }>)[opts.name]!;
    this.listener = new TcpListener({
      service: opts.name,
      host: section.host,
      port: section.port,
      ...(opts.implicitTls ? { tls: () => wharf.tls.context } : {}),
      maxConnections: opts.limits.max_connections,
      maxPerIp: opts.limits.max_per_ip,
      logger: wharf.logger,
      refuseMessage: opts.refuseMessage,
      onConnection: (socket) => this.session(socket),
    });
    this.listener.onDrain(() => {
      for (const s of this.sessions) s.drain();
    });
  }

  async start(): Promise<BoundAddress[]> {
    return [await this.listener.start(this.wharf.sharedListeners.get(this.name))];
  }

  stop(deadlineMs: number): Promise<void> {
    return this.listener.stop(deadlineMs);
  }

  private async session(socket: net.Socket): Promise<void> {
    const w = this.wharf;
    const sessionId = w.ids.next(this.name);
    const transcript = new Transcript(w.bus, this.name, sessionId, formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
    const conn = new Connection(socket, { maxLine: this.opts.maxLine, idleTimeoutMs: this.opts.limits.idle_timeout, transcript });
    const session = this.opts.makeSession({
      conn,
      sessionId,
      transcript,
      logger: w.logger.child({ service: this.name, session: sessionId }),
      cleartextAllowed: () => conn.secure || isLoopback(conn.localAddress) || w.config.auth.allow_insecure,
      tls: this.opts.implicitTls ? undefined : () => w.tls.context,
    });
    this.sessions.add(session);
    try {
      await session.run();
    } finally {
      this.sessions.delete(session);
    }
  }
}
