// The SMTP listeners of an instance: the MX listener (smtp.*), submission (submission.*, RFC
// 6409) and submission over implicit TLS (submissions.*, RFC 8314). All share the smtp.* limits
// (max_connections, max_per_ip, idle_timeout, max_line, max_message_size, max_recipients).
// One SmtpSession per connection; on stop, idle sessions are told 421 and closed.
import { TcpListener } from '../core/listener.js';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { formatReply, C421TooMany } from './codes.js';
import { SmtpSession } from './session.js';
import type { SmtpRole } from './session.js';

export class SmtpServer implements Service {
  readonly name: string;
  private readonly listener: TcpListener;
  private readonly sessions = new Set<SmtpSession>();

  constructor(
    private readonly wharf: Wharf,
    section: 'smtp' | 'submission' | 'submissions',
    role: SmtpRole,
  ) {
    this.name = section;
    const cfg = wharf.config;
    const where = cfg[section];
    const implicitTls = section === 'submissions';
    this.listener = new TcpListener({
      service: section,
      host: where.host,
      port: where.port,
      maxConnections: cfg.smtp.max_connections,
      maxPerIp: cfg.smtp.max_per_ip,
      logger: wharf.logger,
      // RFC 5321 §3.1: a server refusing service answers 421 (and closes).
      refuseMessage: formatReply({ ...C421TooMany, text: `${cfg.hostname} ${C421TooMany.text}` }).join('\r\n') + '\r\n',
      ...(implicitTls ? { tls: () => wharf.tls.context } : {}),
      onConnection: async (socket) => {
        // Replies are small and answer a waiting client: no Nagle delay.
        socket.setNoDelay(true);
        const s = new SmtpSession(wharf, socket, { role, service: section });
        this.sessions.add(s);
        try {
          await s.run();
        } finally {
          this.sessions.delete(s);
        }
      },
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
}
