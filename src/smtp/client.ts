// The SMTP client (RFC 5321 as the sending side): used by the queue to relay to remote MX hosts
// and by `wharf send` to submit. EHLO with HELO fallback, STARTTLS when offered (RFC 3207; the
// peer's certificate is not verified, as opportunistic MTA-to-MTA TLS does), AUTH PLAIN
// (RFC 4954, submission only), PIPELINING (RFC 2920: MAIL, every RCPT and DATA in one write),
// SIZE (RFC 1870), BODY=8BITMIME (RFC 6152), DSN parameters (RFC 3461) when the peer offers DSN.
// One transaction carries every recipient of a job; the result is per recipient.
//
// Timeouts are those of RFC 5321 §4.5.3.2 (greeting 5 min, MAIL/RCPT 5 min, DATA 2 min, data
// block 3 min, end of data 10 min), capped by `maxTimeoutMs` when given (tests).
import * as net from 'node:net';
import { Connection } from '../core/connection.js';
import { WharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import { encodeXtext, isAscii } from './parse.js';

export interface ClientReply {
  code: number;
  /** Text of each line, without the code. */
  lines: string[];
}

export function replyText(r: ClientReply): string {
  return `${r.code} ${r.lines.join(' ')}`.trim();
}

export interface ConnectOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** Local address to connect from (queue.source_address). */
  localAddress?: string;
  transcript?: Transcript;
  /** Caps every protocol timeout (RFC values are minutes). */
  maxTimeoutMs?: number;
}

const MIN = 60_000;

/** A network error (connect failed, connection lost, timeout): the caller tries elsewhere or later. */
export class SmtpNetworkError extends WharfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WHARF_SMTP_NETWORK', message, undefined, options);
  }
}

export class SmtpClient {
  extensions = new Map<string, string>();
  greeting: ClientReply | null = null;

  private constructor(
    readonly conn: Connection,
    private readonly host: string,
    private readonly maxTimeoutMs: number,
  ) {}

  static connect(opts: ConnectOptions): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host, port: opts.port, noDelay: true, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SmtpNetworkError(`connect to ${opts.host}:${opts.port} timed out`));
      }, opts.connectTimeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new SmtpNetworkError(`connect to ${opts.host}:${opts.port} failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        const max = opts.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;
        const conn = new Connection(socket, { maxLine: 8192, idleTimeoutMs: Math.min(5 * MIN, max), ...(opts.transcript ? { transcript: opts.transcript } : {}) });
        resolve(new SmtpClient(conn, opts.host, max));
      });
    });
  }

  private timeout(ms: number): void {
    this.conn.idleTimeoutMs = Math.min(ms, this.maxTimeoutMs);
  }

  /** Reads one reply, multi-line included (RFC 5321 §4.2.1). */
  async readReply(): Promise<ClientReply> {
    const lines: string[] = [];
    let code = 0;
    for (;;) {
      let line: string | null;
      try {
        line = await this.conn.readLine();
      } catch (err) {
        throw new SmtpNetworkError(`reading a reply: ${(err as Error).message}`, { cause: err });
      }
      if (line === null) throw new SmtpNetworkError('connection closed by the server');
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) throw new SmtpNetworkError(`malformed reply: ${line.slice(0, 100)}`);
      code = Number(m[1]);
      lines.push(m[3]!);
      if (m[2] !== '-') return { code, lines };
    }
  }

  async send(line: string, logAs?: string): Promise<void> {
    try {
      await this.conn.writeLine(line, logAs);
    } catch (err) {
      throw new SmtpNetworkError(`writing: ${(err as Error).message}`, { cause: err });
    }
  }

  async command(line: string, logAs?: string): Promise<ClientReply> {
    await this.send(line, logAs);
    return this.readReply();
  }

  /** Greeting, EHLO (HELO when EHLO is refused), STARTTLS when offered, EHLO again. */
  async hello(localName: string, opts: { starttls: boolean; helo?: boolean } = { starttls: true }): Promise<ClientReply> {
    this.timeout(5 * MIN);
    this.greeting = await this.readReply();
    if (this.greeting.code !== 220) return this.greeting;
    // queue.greeting = "HELO": a plain RFC 821 session (no extensions, so no STARTTLS either).
    if (opts.helo) {
      this.extensions.clear();
      return this.command(`HELO ${localName}`);
    }
    let r = await this.ehlo(localName);
    if (r.code !== 250) return r;
    if (opts.starttls && this.extensions.has('STARTTLS') && !this.conn.secure) {
      const t = await this.command('STARTTLS');
      if (t.code === 220) {
        try {
          await this.conn.startTlsClient({ rejectUnauthorized: false, ...(net.isIP(this.host) ? {} : { servername: this.host }) });
        } catch (err) {
          throw new SmtpNetworkError(`TLS handshake failed: ${(err as Error).message}`, { cause: err });
        }
        r = await this.ehlo(localName);
      }
    }
    return r;
  }

  private async ehlo(localName: string): Promise<ClientReply> {
    const r = await this.command(`EHLO ${localName}`);
    this.extensions.clear();
    if (r.code === 250) {
      for (const l of r.lines.slice(1)) {
        const m = /^(\S+)(?:\s+(.*))?$/.exec(l.trim());
        if (m) this.extensions.set(m[1]!.toUpperCase(), m[2] ?? '');
      }
      return r;
    }
    if (r.code >= 500 && r.code < 600) return this.command(`HELO ${localName}`);
    return r;
  }

  /** AUTH PLAIN (RFC 4954 + RFC 4616); true when accepted. */
  async authPlain(username: string, password: string): Promise<ClientReply> {
    const token = Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
    return this.command(`AUTH PLAIN ${token}`, 'AUTH PLAIN ****');
  }

  async quit(): Promise<void> {
    try {
      this.timeout(10_000);
      await this.command('QUIT');
    } catch {
      // the peer may hang up first
    }
    await this.conn.close().catch(() => {});
  }

  destroy(): void {
    this.conn.destroy();
  }

  /**
   * One mail transaction for every recipient. Replies per recipient; `data` is the final reply
   * (null when no recipient was accepted). Network errors throw SmtpNetworkError.
   */
  async transaction(t: OutgoingTransaction): Promise<TransactionResult> {
    const ext = this.extensions;
    const dsn = ext.has('DSN');
    const utf8 = !isAscii(t.sender) || t.recipients.some((r) => !isAscii(r.address));
    let mail = `MAIL FROM:<${t.sender}>`;
    if (ext.has('SIZE') && t.size > 0) mail += ` SIZE=${t.size}`;
    if (ext.has('8BITMIME')) mail += ' BODY=8BITMIME';
    if (utf8 && ext.has('SMTPUTF8')) mail += ' SMTPUTF8';
    if (dsn && t.ret) mail += ` RET=${t.ret}`;
    if (dsn && t.envid) mail += ` ENVID=${encodeXtext(t.envid)}`;
    const rcpts = t.recipients.map((r) => {
      let l = `RCPT TO:<${r.address}>`;
      if (dsn && r.notify && r.notify.length) l += ` NOTIFY=${r.notify.join(',')}`;
      if (dsn && r.orcpt) {
        const semi = r.orcpt.indexOf(';');
        l += ` ORCPT=${r.orcpt.slice(0, semi)};${encodeXtext(r.orcpt.slice(semi + 1))}`;
      }
      return l;
    });
    const result: TransactionResult = { mail: null, recipients: [], data: null };
    if (utf8 && !ext.has('SMTPUTF8')) {
      // RFC 6531 §3.2: a UTF-8 envelope cannot go to a server without SMTPUTF8.
      result.mail = { code: 553, lines: ['5.6.7 The server does not support SMTPUTF8, needed for this address'] };
      return result;
    }
    this.timeout(5 * MIN);
    if (ext.has('PIPELINING')) {
      // RFC 2920 §3.1: MAIL, the RCPTs and DATA in one group; replies come back in order.
      for (const l of [mail, ...rcpts, 'DATA']) await this.send(l);
      result.mail = await this.readReply();
      for (let i = 0; i < rcpts.length; i++) result.recipients.push(await this.readReply());
      this.timeout(2 * MIN);
      const dataReply = await this.readReply();
      const accepted = result.mail.code === 250 && result.recipients.some((r) => r.code >= 200 && r.code < 300);
      if (dataReply.code === 354) {
        if (!accepted) {
          // RFC 2920 §3.1: a 354 with nothing accepted: end the empty data at once.
          await this.conn.write('.\r\n');
          await this.readReply();
          return result;
        }
        result.data = await this.sendData(t.body);
      } else if (accepted) {
        result.data = dataReply;
      }
      return result;
    }
    result.mail = await this.command(mail);
    if (result.mail.code !== 250) return result;
    for (const l of rcpts) result.recipients.push(await this.command(l));
    if (!result.recipients.some((r) => r.code >= 200 && r.code < 300)) {
      await this.command('RSET').catch(() => undefined);
      return result;
    }
    this.timeout(2 * MIN);
    const d = await this.command('DATA');
    if (d.code !== 354) {
      result.data = d;
      return result;
    }
    result.data = await this.sendData(t.body);
    return result;
  }

  private async sendData(body: () => AsyncIterable<Buffer> | Buffer): Promise<ClientReply> {
    this.timeout(3 * MIN);
    try {
      await this.conn.writeDotData(body());
    } catch (err) {
      throw new SmtpNetworkError(`sending data: ${(err as Error).message}`, { cause: err });
    }
    // RFC 5321 §4.5.3.2.6: 10 minutes for the reply to the end of data.
    this.timeout(10 * MIN);
    return this.readReply();
  }
}

export interface OutgoingTransaction {
  sender: string;
  recipients: { address: string; notify?: string[] | null; orcpt?: string | null }[];
  size: number;
  ret?: 'FULL' | 'HDRS' | null;
  envid?: string | null;
  /** The message, CRLF line ends, not dot-stuffed (called once, when the server said 354). */
  body: () => AsyncIterable<Buffer> | Buffer;
}

export interface TransactionResult {
  mail: ClientReply | null;
  /** In the order given. */
  recipients: ClientReply[];
  /** The reply to the end of data; null when no data was sent. */
  data: ClientReply | null;
}

export type RecipientOutcome = { outcome: 'delivered' | 'failed' | 'deferred'; reply: string };

/** Per-recipient outcome of a transaction (RFC 5321 §4.2.1: 2yz ok, 4yz retry, 5yz fail). */
export function outcomes(r: TransactionResult, count: number): RecipientOutcome[] {
  const of = (c: ClientReply): 'delivered' | 'failed' | 'deferred' => (c.code < 400 ? 'delivered' : c.code < 500 ? 'deferred' : 'failed');
  const out: RecipientOutcome[] = [];
  for (let i = 0; i < count; i++) {
    if (!r.mail || r.mail.code !== 250) {
      const m = r.mail ?? { code: 451, lines: ['no reply to MAIL'] };
      out.push({ outcome: of(m) === 'delivered' ? 'deferred' : of(m), reply: replyText(m) });
      continue;
    }
    const rc = r.recipients[i];
    if (!rc) {
      out.push({ outcome: 'deferred', reply: 'no reply to RCPT' });
      continue;
    }
    if (rc.code >= 300) {
      out.push({ outcome: of(rc), reply: replyText(rc) });
      continue;
    }
    const d = r.data;
    if (!d) out.push({ outcome: 'deferred', reply: 'no reply to DATA' });
    else if (d.code >= 300 && d.code < 400) out.push({ outcome: 'deferred', reply: replyText(d) });
    else out.push({ outcome: of(d), reply: replyText(d) });
  }
  return out;
}
