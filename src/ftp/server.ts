// The FTP listeners of an instance: `ftp` (plain control connection, AUTH TLS offered) and `ftps`
// (implicit TLS, the control connection is TLS from the first byte). Each connection runs one
// FtpSession on the shared listener shape (src/core/session-server.ts: limits, transcript,
// drain: an idle session gets 421, one in a transfer finishes it first).
//
// The data channel needs TLS on both listeners (PROT P, RFC 4217 §9), so the session always gets
// the instance's context, not SessionServer's STARTTLS-only one.
import * as path from 'node:path';
import { SessionServer } from '../core/session-server.js';
import type { Wharf } from '../wharf.js';
import { parsePortRange } from './data-channel.js';
import type { FtpShared } from './shared.js';
import { FtpSession } from './session.js';
import type { FtpSettings } from './session.js';

/**
 * Longest command line. RFC 959 sets no limit; a path is at most PATH_MAX (4096) octets, and
 * RFC 2640 UTF-8 names need room: 8 KiB. Longer lines are answered 500 and skipped.
 */
export const FTP_MAX_LINE = 8192;

/** The session settings from an instance's config. */
export function ftpSettings(w: Wharf): FtpSettings {
  const f = w.config.ftp;
  return {
    hostname: w.config.hostname,
    homesRoot: f.root ? path.resolve(w.dataDir, f.root) : path.join(w.dataDir, 'ftp'),
    anonymous: f.anonymous,
    anonymousRoot: f.anonymous_root ? path.resolve(w.dataDir, f.anonymous_root) : path.join(w.dataDir, 'ftp-public'),
    quota: f.quota,
    passivePorts: parsePortRange(f.passive_ports),
    passiveAddress: f.passive_address,
    allowForeignDataAddress: f.allow_foreign_data_address,
    dataTimeoutMs: f.data_timeout,
    requireTls: f.require_tls,
    allowInsecure: w.config.auth.allow_insecure,
    idleTimeoutMs: f.idle_timeout,
    fsync: w.config.store.fsync,
  };
}

export function ftpServer(wharf: Wharf, name: 'ftp' | 'ftps', shared: FtpShared): SessionServer {
  const settings = ftpSettings(wharf);
  return new SessionServer(wharf, {
    name,
    implicitTls: name === 'ftps',
    limits: wharf.config.ftp,
    maxLine: FTP_MAX_LINE,
    refuseMessage: '421 Too many connections, try later.\r\n',
    makeSession: (ctx) =>
      new FtpSession(ctx.conn, {
        service: name,
        settings,
        authenticator: wharf.authenticator,
        accountQuota: async (id) => (await wharf.store.getAccountById(id))?.quota ?? 0,
        shared,
        tls: () => wharf.tls.context,
        logger: ctx.logger,
        transcript: ctx.transcript,
      }),
  });
}
