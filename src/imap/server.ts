// The IMAP listeners of an instance: `imap` (plain, STARTTLS offered) and `imaps` (implicit TLS,
// RFC 8314), one ImapSession per connection (src/core/session-server.ts does the rest); stopping
// drains them (a session waiting for a command or in IDLE gets "* BYE").
import { SessionServer } from '../core/session-server.js';
import type { Wharf } from '../wharf.js';
import { MessageCache } from './cache.js';
import { ImapSession } from './session.js';

export function imapServer(wharf: Wharf, name: 'imap' | 'imaps'): SessionServer {
  const cfg = wharf.config;
  // Envelopes and search fields shared by this listener's sessions (src/imap/cache.ts).
  const cache = new MessageCache();
  return new SessionServer(wharf, {
    name,
    implicitTls: name === 'imaps',
    limits: cfg.imap,
    maxLine: cfg.imap.max_line,
    refuseMessage: '* BYE [UNAVAILABLE] too many connections, try again later\r\n',
    makeSession: (ctx) =>
      new ImapSession(ctx.conn, {
        store: wharf.store,
        authenticator: wharf.authenticator,
        logger: ctx.logger,
        transcript: ctx.transcript,
        hostname: wharf.config.hostname,
        cleartextAllowed: ctx.cleartextAllowed,
        ...(ctx.tls ? { tls: ctx.tls } : {}),
        maxLiteral: wharf.config.imap.max_literal,
        cache,
      }),
  });
}
