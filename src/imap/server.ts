// The IMAP listeners of an instance: `imap` (plain, STARTTLS offered) and `imaps` (implicit TLS,
// RFC 8314). Each connection runs one ImapSession; stopping drains them (a session waiting for a
// command or in IDLE gets "* BYE"; one in the middle of a command finishes it).
import { Connection } from '../core/connection.js';
import { Transcript } from '../core/events.js';
import { TcpListener } from '../core/listener.js';
import { formatPeer, isLoopback } from '../core/net.js';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { ImapSession } from './session.js';

export class ImapServer implements Service {
  private readonly listener: TcpListener;
  private readonly sessions = new Set<ImapSession>();

  constructor(
    private readonly wharf: Wharf,
    readonly name: 'imap' | 'imaps',
  ) {
    const cfg = wharf.config;
    const section = cfg[name];
    const implicitTls = name === 'imaps';
    this.listener = new TcpListener({
      service: name,
      host: section.host,
      port: section.port,
      ...(implicitTls ? { tls: () => wharf.tls.context } : {}),
      maxConnections: cfg.imap.max_connections,
      maxPerIp: cfg.imap.max_per_ip,
      logger: wharf.logger,
      refuseMessage: '* BYE [UNAVAILABLE] too many connections, try again later\r\n',
      onConnection: (socket) => this.session(socket),
    });
    this.listener.onDrain(() => {
      for (const s of this.sessions) s.drain();
    });
  }

  async start(): Promise<BoundAddress[]> {
    return [await this.listener.start()];
  }

  stop(deadlineMs: number): Promise<void> {
    return this.listener.stop(deadlineMs);
  }

  private async session(socket: import('node:net').Socket): Promise<void> {
    const w = this.wharf;
    const sessionId = w.ids.next(this.name);
    const transcript = new Transcript(w.bus, this.name, sessionId, formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
    const conn = new Connection(socket, { maxLine: w.config.imap.max_line, idleTimeoutMs: w.config.imap.idle_timeout, transcript });
    const session = new ImapSession(conn, {
      store: w.store,
      authenticator: w.authenticator,
      logger: w.logger.child({ service: this.name, session: sessionId }),
      transcript,
      hostname: w.config.hostname,
      // Cleartext passwords only inside TLS, on a loopback connection, or when the config says so.
      cleartextAllowed: () => conn.secure || isLoopback(conn.localAddress) || w.config.auth.allow_insecure,
      ...(this.name === 'imap' ? { tls: () => w.tls.context } : {}),
      maxLiteral: w.config.imap.max_literal,
    });
    this.sessions.add(session);
    try {
      await session.run();
    } finally {
      this.sessions.delete(session);
    }
  }
}
