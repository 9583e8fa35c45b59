// The SMTP listeners of an instance: the MX listener (smtp.*), submission (submission.*, RFC
// 6409) and submission over implicit TLS (submissions.*, RFC 8314). All share the smtp.* limits
// (max_connections, max_per_ip, idle_timeout, max_line, max_message_size, max_recipients).
// One SmtpSession per connection; src/core/session-server.ts does the rest (the listener, the
// connection and its transcript, the cleartext rule, and on stop: idle sessions are told 421
// and closed, busy ones finish their command first).
import { SessionServer } from '../core/session-server.js';
import type { Wharf } from '../wharf.js';
import { formatReply, C421TooMany } from './codes.js';
import { SmtpSession } from './session.js';
import type { SmtpRole } from './session.js';

export function smtpServer(wharf: Wharf, section: 'smtp' | 'submission' | 'submissions', role: SmtpRole): SessionServer {
  const cfg = wharf.config;
  return new SessionServer(wharf, {
    name: section,
    implicitTls: section === 'submissions',
    limits: cfg.smtp,
    maxLine: cfg.smtp.max_line,
    // RFC 5321 §3.1: a server refusing service answers 421 (and closes).
    refuseMessage: formatReply({ ...C421TooMany, text: `${cfg.hostname} ${C421TooMany.text}` }).join('\r\n') + '\r\n',
    makeSession: (ctx) => new SmtpSession(wharf, ctx, { role, service: section }),
  });
}
