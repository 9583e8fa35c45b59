// The FTP listeners of an instance: `ftp` (plain control connection, AUTH TLS offered) and `ftps`
// (implicit TLS, the control connection is TLS from the first byte). Each connection runs one
// FtpSession; stopping drains them (an idle session gets 421, one in a transfer finishes it).
import type * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '../core/connection.js';
import { Transcript } from '../core/events.js';
import { TcpListener } from '../core/listener.js';
import { formatPeer } from '../core/net.js';
import type { BoundAddress, Service } from '../service.js';
import type { Wharf } from '../wharf.js';
import { parsePortRange } from './data-channel.js';
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

export class FtpServer implements Service {
  private readonly listener: TcpListener;
  private readonly sessions = new Set<FtpSession>();
  private readonly settings: FtpSettings;

  constructor(
    private readonly wharf: Wharf,
    readonly name: 'ftp' | 'ftps',
  ) {
    const cfg = wharf.config;
    const section = cfg[name];
    this.settings = ftpSettings(wharf);
    this.listener = new TcpListener({
      service: name,
      host: section.host,
      port: section.port,
      ...(name === 'ftps' ? { tls: () => wharf.tls.context } : {}),
      maxConnections: cfg.ftp.max_connections,
      maxPerIp: cfg.ftp.max_per_ip,
      logger: wharf.logger,
      refuseMessage: '421 Too many connections, try later.\r\n',
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

  private async session(socket: net.Socket): Promise<void> {
    const w = this.wharf;
    const sessionId = w.ids.next(this.name);
    const transcript = new Transcript(w.bus, 'ftp', sessionId, formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
    const conn = new Connection(socket, { maxLine: FTP_MAX_LINE, idleTimeoutMs: this.settings.idleTimeoutMs, transcript });
    transcript.note(`connected to ${this.name}${conn.secure ? ' (implicit TLS)' : ''}`);
    const session = new FtpSession(conn, {
      settings: this.settings,
      authenticator: w.authenticator,
      accountQuota: async (id) => (await w.store.getAccountById(id))?.quota ?? 0,
      tls: () => w.tls.context,
      logger: w.logger.child({ service: this.name, session: sessionId }),
      transcript,
    });
    this.sessions.add(session);
    try {
      await session.run();
    } finally {
      this.sessions.delete(session);
      transcript.note('closed');
    }
  }
}
