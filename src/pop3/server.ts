// The POP3 listeners of an instance: `pop3` (plain, STLS offered) and `pop3s` (implicit TLS,
// RFC 8314). Each connection runs one Pop3Session; stopping drains them (a session waiting for
// a command is told the server is going away; one in the middle of a RETR finishes it).
import { Connection } from '../core/connection.js';
import { Transcript } from '../core/events.js';
import { TcpListener } from '../core/listener.js';
import { formatPeer, isLoopback } from '../core/net.js';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { Pop3Session } from './session.js';

/** RFC 2449 §4 limits a command to 255 octets; SASL responses may be longer, so allow more. */
const MAX_LINE = 8192;

export class Pop3Server implements Service {
  private readonly listener: TcpListener;
  private readonly sessions = new Set<Pop3Session>();

  constructor(
    private readonly wharf: Wharf,
    readonly name: 'pop3' | 'pop3s',
  ) {
    const cfg = wharf.config;
    const section = cfg[name];
    const implicitTls = name === 'pop3s';
    this.listener = new TcpListener({
      service: name,
      host: section.host,
      port: section.port,
      ...(implicitTls ? { tls: () => wharf.tls.context } : {}),
      maxConnections: cfg.pop3.max_connections,
      maxPerIp: cfg.pop3.max_per_ip,
      logger: wharf.logger,
      refuseMessage: '-ERR [SYS/TEMP] too many connections, try again later\r\n',
      onConnection: (socket, info) => this.session(socket, info.id),
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

  private async session(socket: import('node:net').Socket, _id: number): Promise<void> {
    const w = this.wharf;
    const sessionId = w.ids.next(this.name);
    const transcript = new Transcript(w.bus, this.name, sessionId, formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
    const conn = new Connection(socket, { maxLine: MAX_LINE, idleTimeoutMs: w.config.pop3.idle_timeout, transcript });
    const session = new Pop3Session(conn, {
      store: w.store,
      authenticator: w.authenticator,
      logger: w.logger.child({ service: this.name, session: sessionId }),
      transcript,
      hostname: w.config.hostname,
      owner: `${w.nodeId}/${sessionId}`,
      // Cleartext passwords only inside TLS, on a loopback connection, or when the config says so.
      cleartextAllowed: () => conn.secure || isLoopback(conn.localAddress) || w.config.auth.allow_insecure,
      ...(this.name === 'pop3' ? { tls: () => w.tls.context } : {}),
      apop: w.config.pop3.apop,
      loginDelayMs: w.config.pop3.login_delay,
    });
    this.sessions.add(session);
    try {
      await session.run();
    } finally {
      this.sessions.delete(session);
    }
  }
}
