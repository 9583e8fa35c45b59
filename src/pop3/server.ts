// The POP3 listeners of an instance: `pop3` (plain, STLS offered) and `pop3s` (implicit TLS,
// RFC 8314), one Pop3Session per connection (src/core/session-server.ts does the rest).
import { SessionServer } from '../core/session-server.js';
import type { Wharf } from '../wharf.js';
import { Pop3Session } from './session.js';

/** RFC 2449 §4 limits a command to 255 octets; SASL responses may be longer, so allow more. */
const MAX_LINE = 8192;

export function pop3Server(wharf: Wharf, name: 'pop3' | 'pop3s'): SessionServer {
  const cfg = wharf.config;
  return new SessionServer(wharf, {
    name,
    implicitTls: name === 'pop3s',
    limits: cfg.pop3,
    maxLine: MAX_LINE,
    refuseMessage: '-ERR [SYS/TEMP] too many connections, try again later\r\n',
    makeSession: (ctx) =>
      new Pop3Session(ctx.conn, {
        store: wharf.store,
        authenticator: wharf.authenticator,
        logger: ctx.logger,
        transcript: ctx.transcript,
        hostname: cfg.hostname,
        owner: `${wharf.nodeId}/${ctx.sessionId}`,
        cleartextAllowed: ctx.cleartextAllowed,
        ...(ctx.tls ? { tls: ctx.tls } : {}),
        apop: cfg.pop3.apop,
        loginDelayMs: cfg.pop3.login_delay,
      }),
  });
}
