// One SMTP server session (RFC 5321) on one connection, in one of two roles:
//   mx          accepts mail for local domains only (550 5.1.1 unknown user, 554 5.7.1 relay
//               denied), relays for authenticated users;
//   submission  (RFC 6409) AUTH required before MAIL, the sender must be the user's own address
//               (unless submission.send_as_any), Message-ID and Date added when missing.
//
// State machine (RFC 5321 §4.1.4): fresh -(HELO/EHLO)-> ready -(MAIL)-> mail -(RCPT)-> rcpt
// -(DATA | BDAT… LAST)-> ready. A BDAT without LAST moves to `bdat` (only BDAT, RSET, NOOP, QUIT).
//
// Invariants
//  - Commands are read and answered strictly in order, one reply per command, so pipelined
//    commands (RFC 2920) are safe; a reply is written as soon as it is known.
//  - "250" after DATA/BDAT LAST is sent only after the blob is committed (fsync) and the local
//    deliveries / queue row are durable (acceptMessage resolved). A client that disconnects
//    before the end of the data gets nothing stored (the sink is aborted).
//  - Only CRLF.CRLF ends DATA (the core's readDotData; SMTP smuggling defence). Bare LF inside
//    the data is accepted and normalised to CRLF, as Postfix ≥ 3.9 does by default
//    (smtpd_forbid_bare_newline = normalize).
//  - A message over smtp.max_message_size is read to its end and discarded (memory stays flat),
//    then refused with 552 5.3.4.
//  - AUTH payloads never reach the transcript (redacted before the line is logged).
import type { Connection } from '../core/connection.js';
import { ReplyError, WharfError, describeError, isWharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import type { SessionContext } from '../core/session-server.js';
import { decodeBase64, isSaslMechanism, saslExchange } from '../auth/sasl.js';
import type { SaslStep } from '../auth/sasl.js';
import type { Wharf } from '../wharf.js';
import { domainOf } from '../store/store.js';
import type { SmtpReply } from './codes.js';
import * as C from './codes.js';
import { formatReply, withText } from './codes.js';
import { parseBdat, parseCommand, parseMailFrom, parseRcptTo } from './parse.js';
import type { MailFrom } from './parse.js';
import { MessageWriter, acceptMessage, isLocalDomain, missingHeaders, receivedHeader, withProtocol } from './accept.js';
import type { EnvelopeRecipient } from './accept.js';
import { openMessageSink } from './message-sink.js';
import { sendBounce } from './bounce.js';

export type SmtpRole = 'mx' | 'submission';

export type SessionState = 'fresh' | 'ready' | 'mail' | 'rcpt' | 'bdat';

export interface SessionOptions {
  role: SmtpRole;
  /** Config section of the listener ("smtp", "submission", "submissions"): transcripts, logs. */
  service: string;
}

interface Transaction {
  from: MailFrom;
  recipients: EnvelopeRecipient[];
  /** BDAT in progress. */
  bdat: { writer: MessageWriter; bytes: number; overflow: boolean; nul: boolean; failed: SmtpReply | null } | null;
}

interface CommandSpec {
  /** States in which the command is allowed; others get `outOfState` (or 503). */
  states: readonly SessionState[] | 'any';
  outOfState?: (s: SmtpSession) => SmtpReply;
  run: (s: SmtpSession, arg: string) => Promise<void>;
}

/** Failed commands before the session is closed with 421 (Postfix's smtpd_hard_error_limit). */
const HARD_ERROR_LIMIT = 20;
/** RFC 5321 §6.3: a message with this many Received fields is looping (Postfix's hopcount_limit). */
export const MAX_HOPS = 50;
/** Room allowed for the trace fields we add in front of the data. */
const PREFIX_ROOM = 64 * 1024;
/** Transcript redaction of a command line: the initial response of AUTH carries credentials. */
const REDACT = (line: string) => (/^AUTH[ \t]+\S+[ \t]+\S/i.test(line) ? line.replace(/^(AUTH[ \t]+\S+[ \t]+).*$/i, '$1****') : line);

export class SmtpSession {
  state: SessionState = 'fresh';
  readonly conn: Connection;
  readonly transcript: Transcript;
  private readonly wharf: Wharf;
  private readonly opts: SessionOptions;
  private esmtp = false;
  private helo = '';
  private user: { id: number; address: string } | null = null;
  private txn: Transaction | null = null;
  private errors = 0;
  private quitting = false;
  private waiting = false;
  private draining = false;
  private readonly sessionId: string;
  private readonly cleartextAllowed: () => boolean;

  /** The connection, its transcript and the cleartext rule come from the SessionServer (server.ts). */
  constructor(wharf: Wharf, ctx: Pick<SessionContext, 'conn' | 'sessionId' | 'transcript' | 'cleartextAllowed'>, opts: SessionOptions) {
    this.wharf = wharf;
    this.opts = opts;
    this.sessionId = ctx.sessionId;
    this.transcript = ctx.transcript;
    this.conn = ctx.conn;
    this.cleartextAllowed = ctx.cleartextAllowed;
  }

  private get hostname(): string {
    return this.wharf.config.hostname;
  }

  /** Called when the server stops: an idle session says 421 now, a busy one after its command. */
  drain(): void {
    this.draining = true;
    if (this.waiting) {
      void this.reply(C.C421ShuttingDown)
        .catch(() => {})
        .finally(() => this.conn.destroy());
    }
  }

  async run(): Promise<void> {
    const t = this.transcript;
    t.note(`connected to ${this.opts.service}${this.conn.secure ? ' (TLS)' : ''}`);
    try {
      const banner = this.wharf.config.smtp.banner;
      await this.reply({ code: 220, text: banner ? `${this.hostname} ${banner}` : this.hostname });
      while (!this.quitting && !this.conn.closed) {
        if (this.draining) {
          await this.reply(C.C421ShuttingDown);
          break;
        }
        this.conn.redactNext(REDACT);
        let line: string | null;
        this.waiting = true;
        try {
          line = await this.conn.readLine();
        } catch (err) {
          this.waiting = false;
          if (isWharfError(err, 'WHARF_LINE_TOO_LONG')) {
            // RFC 5321 §4.5.3.1.4 / §4.2.2: 500 line too long
            await this.reply(C.C500LineTooLong);
            if (await this.countError()) break;
            continue;
          }
          if (isWharfError(err, 'WHARF_TIMEOUT')) {
            // RFC 5321 §4.5.3.2: the server closes after its timeout, with 421
            await this.reply(C.C421Timeout).catch(() => {});
            break;
          }
          throw err;
        }
        this.waiting = false;
        if (line === null) {
          t.note('client closed the connection');
          break;
        }
        await this.command(line);
      }
    } catch (err) {
      // The peer going away (or failing its TLS handshake) is not our failure.
      if (isWharfError(err, 'WHARF_CLOSED') || isWharfError(err, 'WHARF_TLS_FAILED') || isWharfError(err, 'WHARF_TIMEOUT')) {
        this.wharf.logger.debug('smtp session ended', { session: this.sessionId, code: (err as WharfError).code });
      } else this.wharf.logger.error('smtp session failed', { session: this.sessionId, err: describeError(err) });
    } finally {
      await this.resetTransaction();
      await this.conn.close().catch(() => {});
      t.note('closed');
    }
  }

  // ---- replies ------------------------------------------------------------------------------------

  async reply(r: SmtpReply): Promise<void> {
    // RFC 2034: enhanced codes only once the client saw ENHANCEDSTATUSCODES (after EHLO).
    const lines = formatReply(r, this.esmtp); // CR/LF-free by construction
    if (lines.length === 1) return this.conn.writeLine(lines[0]!);
    // A multi-line reply leaves in one write (no Nagle stall between its lines).
    for (const l of lines) this.transcript.server(l);
    await this.conn.write(lines.join('\r\n') + '\r\n');
  }

  /** Counts a failed command; true when the session must end (421, as Postfix's hard limit). */
  private async countError(): Promise<boolean> {
    this.errors++;
    if (this.errors < HARD_ERROR_LIMIT) return false;
    await this.reply(C.C421TooManyErrors);
    return true;
  }

  private async command(line: string): Promise<void> {
    if (line.includes('\0')) {
      await this.reply(C.C500BadCharacters);
      if (await this.countError()) this.quitting = true;
      return;
    }
    const { verb, arg } = parseCommand(line);
    const spec = Object.prototype.hasOwnProperty.call(COMMANDS, verb) ? COMMANDS[verb] : undefined;
    try {
      if (!spec) throw new ReplyError(C.C500Unrecognized);
      if (spec.states !== 'any' && !spec.states.includes(this.state)) {
        // BDAT must still read its chunk to stay in sync (RFC 3030 §2).
        if (verb === 'BDAT') await this.skipChunk(arg);
        throw new ReplyError(spec.outOfState ? spec.outOfState(this) : C.C503BadSequence);
      }
      await spec.run(this, arg);
    } catch (err) {
      if (err instanceof ReplyError) {
        const r = err.reply as SmtpReply;
        await this.reply(r);
        if (r.code >= 500 && (await this.countError())) this.quitting = true;
        if (r.code === 421) this.quitting = true;
        return;
      }
      if (isWharfError(err, 'WHARF_CLOSED') || isWharfError(err, 'WHARF_TLS_FAILED')) throw err;
      if (isWharfError(err, 'WHARF_TIMEOUT')) {
        await this.reply(C.C421Timeout).catch(() => {});
        this.quitting = true;
        return;
      }
      this.wharf.logger.error('smtp command failed', { session: this.sessionId, verb, err: describeError(err) });
      await this.reply(C.C451LocalError);
    }
  }

  // ---- helpers used by the commands ------------------------------------------------------------------

  private async resetTransaction(): Promise<void> {
    const t = this.txn;
    this.txn = null;
    if (t?.bdat) await t.bdat.writer.abort();
    if (this.state === 'mail' || this.state === 'rcpt' || this.state === 'bdat') this.state = 'ready';
  }

  private get authAllowed(): boolean {
    // RFC 4954 §4 / RFC 6409: cleartext passwords only over TLS, on loopback, or when allowed.
    return this.cleartextAllowed();
  }

  private get tlsAvailable(): boolean {
    try {
      return !this.conn.secure && !!this.wharf.tls.context;
    } catch {
      return false;
    }
  }

  private ehloLines(): string[] {
    const cfg = this.wharf.config.smtp;
    const lines = [`${this.hostname} Hello ${this.helo}`];
    lines.push('PIPELINING'); // RFC 2920
    lines.push(`SIZE ${cfg.max_message_size}`); // RFC 1870
    lines.push('8BITMIME'); // RFC 6152
    lines.push('ENHANCEDSTATUSCODES'); // RFC 2034
    if (this.tlsAvailable) lines.push('STARTTLS'); // RFC 3207
    if (this.authAllowed && !this.user) lines.push('AUTH PLAIN LOGIN'); // RFC 4954
    lines.push('DSN'); // RFC 3461
    lines.push('SMTPUTF8'); // RFC 6531
    lines.push('CHUNKING'); // RFC 3030
    lines.push('HELP');
    return lines;
  }

  private async greet(arg: string, esmtp: boolean): Promise<void> {
    const name = arg.trim();
    if (!name || /\s/.test(name)) throw new ReplyError(esmtp ? withText(C.C501HeloRequiresDomain, 'Syntax: EHLO hostname') : C.C501HeloRequiresDomain);
    // RFC 5321 §4.1.4: EHLO/HELO resets the transaction.
    await this.resetTransaction();
    this.helo = name;
    this.esmtp = esmtp;
    this.state = 'ready';
    if (esmtp) await this.reply({ code: 250, text: this.ehloLines() });
    else await this.reply({ code: 250, text: `Hello ${name}, pleased to meet you` });
  }

  private async mail(arg: string): Promise<void> {
    const cfg = this.wharf.config;
    if (this.opts.role === 'mx' && cfg.smtp.require_tls && !this.conn.secure) throw new ReplyError(C.C530TlsRequired);
    if (this.opts.role === 'submission' && !this.user) throw new ReplyError(C.C530AuthRequired);
    const from = parseMailFrom(arg, { dsn: true, smtputf8: true, binarymime: false });
    // RFC 1870 §6.1: a declared size over the limit is refused at MAIL.
    if (from.size !== null && from.size > cfg.smtp.max_message_size) throw new ReplyError(C.C552MessageTooBig);
    if (this.opts.role === 'submission' && !cfg.submission.send_as_any) {
      const owner = from.sender === '' ? null : await this.wharf.store.resolveAddress(from.sender);
      if (!owner || owner.id !== this.user!.id) throw new ReplyError(withText(C.C553SenderNotOwned, `<${from.sender}>: Sender address rejected: not owned by user ${this.user!.address}`));
    }
    this.txn = { from, recipients: [], bdat: null };
    this.state = 'mail';
    await this.reply(withText(C.C250SenderOk, `${from.sender}... Sender ok`));
  }

  private async rcpt(arg: string): Promise<void> {
    const txn = this.txn!;
    const cfg = this.wharf.config;
    // RFC 5321 §4.5.3.1.8: 452 for recipients past the limit.
    if (txn.recipients.length >= cfg.smtp.max_recipients) throw new ReplyError(C.C452TooManyRecipients);
    const r = parseRcptTo(arg, { dsn: true, smtputf8: true, utf8: txn.from.smtputf8 });
    let address = r.recipient;
    if (address === 'Postmaster') address = `postmaster@${this.hostname}`;
    const domain = domainOf(address);
    let local: boolean;
    if (await isLocalDomain(this.wharf, domain)) {
      const account = await this.wharf.store.resolveAddress(address);
      if (!account || account.disabled) throw new ReplyError(withText(C.C550NoSuchUser, `<${address}>: Recipient address rejected: User unknown`));
      local = true;
    } else {
      // No open relay: remote recipients only for submission or an authenticated client.
      if (this.opts.role === 'mx' && !this.user) throw new ReplyError(withText(C.C554RelayDenied, `<${address}>: Relay access denied`));
      if (domain === '' || domain.startsWith('[')) throw new ReplyError(withText(C.C501BadAddress, `<${address}>: Recipient domain not supported`));
      local = false;
    }
    txn.recipients.push({ address, local, notify: r.notify, orcpt: r.orcpt });
    this.state = 'rcpt';
    await this.reply(withText(C.C250RecipientOk, `${address} ... Recipient ok`));
  }

  private newWriter(sinkPromise: Awaited<ReturnType<typeof openMessageSink>>): MessageWriter {
    const txn = this.txn!;
    const protocol = withProtocol(this.esmtp, this.conn.secure, this.user !== null, txn.from.smtputf8);
    const id = this.wharf.ids.token(8);
    const received = receivedHeader({
      helo: this.helo,
      remoteAddress: this.conn.remoteAddress,
      hostname: this.hostname,
      protocol,
      id,
      ...(txn.recipients.length === 1 ? { recipient: txn.recipients[0]!.address } : {}),
    });
    const add = this.opts.role === 'submission' ? (h: string) => missingHeaders(h, () => this.wharf.ids.messageId(this.hostname)) : null;
    return new MessageWriter(sinkPromise, received, add);
  }

  private maxSize(): number {
    return this.wharf.config.smtp.max_message_size;
  }

  private async data(arg: string): Promise<void> {
    if (arg.trim() !== '') throw new ReplyError(C.C501Syntax);
    const txn = this.txn!;
    const sink = await openMessageSink(this.wharf.store.blobs, this.maxSize() + PREFIX_ROOM);
    const writer = this.newWriter(sink);
    await this.reply(C.C354StartData);
    let nul = false;
    let result: { bytes: number; overflow: boolean };
    try {
      result = await this.conn.readDotData(async (chunk) => {
        if (!nul && chunk.includes(0)) nul = true;
        if (!nul) await writer.write(chunk);
      }, this.maxSize());
    } catch (err) {
      // Disconnect or timeout inside the data: nothing is stored, nothing acknowledged.
      await writer.abort();
      this.transcript.note('data incomplete: message discarded');
      throw err;
    }
    this.transcript.note(`(${result.bytes} octets of message data)`);
    await this.finishMessage(txn, writer, result.overflow, nul);
  }

  /** Ends a message (DATA or BDAT LAST): commit, deliver/queue, answer. */
  private async finishMessage(txn: Transaction, writer: MessageWriter, overflow: boolean, nul: boolean): Promise<void> {
    this.txn = null;
    this.state = 'ready';
    if (overflow || nul) {
      await writer.abort();
      throw new ReplyError(overflow ? C.C552MessageTooBig : C.C554NulInData);
    }
    await writer.end();
    if (writer.hops >= MAX_HOPS) {
      await writer.abort();
      throw new ReplyError(C.C554TooManyHops);
    }
    let blob;
    try {
      blob = await writer.commit();
    } catch (err) {
      await writer.abort();
      if (isWharfError(err) && /SIZE|TOO_BIG|LARGE/i.test(err.code)) throw new ReplyError(C.C552MessageTooBig);
      throw err;
    }
    await acceptMessage(this.wharf, { sender: txn.from.sender, recipients: txn.recipients, envid: txn.from.envid, ret: txn.from.ret }, blob);
    await this.reply(C.C250Accepted);
    // RFC 3461 §4.1: NOTIFY=SUCCESS on a local recipient: a "delivered" DSN (after the 250: the
    // message is safe whatever happens to the report).
    const success = txn.recipients.filter((r) => r.local && r.notify?.includes('SUCCESS'));
    if (success.length && txn.from.sender !== '') {
      const m = { id: 0, sender: txn.from.sender, blobId: blob.blobId, size: blob.size, headerPrefix: Buffer.alloc(0), envid: txn.from.envid, ret: txn.from.ret, createdAt: new Date() };
      const entries = success.map((r) => ({
        recipient: { id: 0, address: r.address, domain: domainOf(r.address), notify: r.notify, orcpt: r.orcpt, status: 'delivered' as const, lastReply: null },
        reply: '250 2.0.0 delivered to mailbox',
        action: 'delivered' as const,
      }));
      await sendBounce(this.wharf, m, entries, null).catch((err) => this.wharf.logger.error('success DSN failed', { session: this.sessionId, err: describeError(err) }));
    }
  }

  /** Reads and drops a BDAT chunk sent out of sequence (RFC 3030 §2: stay in sync). */
  private async skipChunk(arg: string): Promise<void> {
    let size: number;
    try {
      size = parseBdat(arg).size;
    } catch {
      return;
    }
    await this.conn.readExact(size, () => {});
  }

  private async bdat(arg: string): Promise<void> {
    let parsed: { size: number; last: boolean };
    try {
      parsed = parseBdat(arg);
    } catch (err) {
      // The chunk length is unknown: the rest of the input cannot be parsed; give up.
      this.quitting = true;
      throw err;
    }
    const txn = this.txn!;
    if (!txn.bdat) {
      const sink = await openMessageSink(this.wharf.store.blobs, this.maxSize() + PREFIX_ROOM);
      txn.bdat = { writer: this.newWriter(sink), bytes: 0, overflow: false, nul: false, failed: null };
    }
    const b = txn.bdat;
    this.state = 'bdat';
    try {
      await this.conn.readExact(parsed.size, async (chunk) => {
        b.bytes += chunk.length;
        if (b.bytes > this.maxSize()) b.overflow = true;
        if (!b.nul && chunk.includes(0)) b.nul = true;
        if (!b.overflow && !b.nul) await b.writer.write(chunk);
      });
    } catch (err) {
      await b.writer.abort();
      txn.bdat = null;
      this.transcript.note('chunk incomplete: message discarded');
      throw err;
    }
    this.transcript.note(`(${parsed.size} octets of BDAT data${parsed.last ? ', last' : ''})`);
    if (parsed.last) {
      txn.bdat = null;
      await this.finishMessage(txn, b.writer, b.overflow, b.nul);
      return;
    }
    // RFC 3030 §2: each chunk is answered; an error ends the transaction only at LAST, so the
    // client may keep sending chunks it already pipelined.
    if (b.overflow) throw new ReplyError(C.C552MessageTooBig);
    await this.reply(withText(C.C250ChunkOk, `${parsed.size} octets received`));
  }

  private async auth(arg: string): Promise<void> {
    if (this.user) throw new ReplyError(C.C503AlreadyAuth);
    if (this.txn) throw new ReplyError(withText(C.C503BadSequence, 'AUTH not allowed during a mail transaction'));
    if (!this.authAllowed) throw new ReplyError(C.C538EncryptionRequired);
    const m = /^(\S+)(?:[ \t]+(\S+))?$/.exec(arg.trim());
    if (!m) throw new ReplyError(C.C501Syntax);
    const mech = m[1]!.toUpperCase();
    if (!isSaslMechanism(mech)) throw new ReplyError(C.C504AuthMechanism);
    const sasl = saslExchange(mech);
    let step: SaslStep = sasl.start(m[2]);
    for (;;) {
      if (step.kind === 'challenge') {
        await this.conn.writeLine(`334 ${step.challenge}`);
        // RFC 4954 §4: the client's responses carry credentials: never in the transcript.
        this.conn.redactNext(() => '****');
        const line = await this.conn.readLine();
        if (line === null) throw new WharfError('WHARF_CLOSED', 'connection closed during AUTH');
        step = sasl.step(line.trim());
        continue;
      }
      if (step.kind === 'cancelled') throw new ReplyError(C.C501AuthCancelled);
      if (step.kind === 'error') throw new ReplyError(step.message === 'invalid base64' ? C.C501AuthBase64 : withText(C.C501Syntax, step.message));
      break;
    }
    const creds = step.credentials;
    const res = await this.wharf.authenticator.authenticate({ username: creds.username, password: creds.password, remote: this.conn.remoteAddress, authzid: creds.authzid });
    if (!res.ok) throw new ReplyError(C.C535AuthFailed);
    this.user = res.account;
    this.transcript.user = res.account.address;
    this.transcript.note(`authenticated as ${res.account.address}`);
    await this.reply(C.C235AuthOk);
  }

  private async starttls(arg: string): Promise<void> {
    if (arg.trim() !== '') throw new ReplyError(C.C501Syntax);
    if (this.conn.secure) throw new ReplyError(C.C503TlsActive);
    if (!this.tlsAvailable) throw new ReplyError(C.C454TlsUnavailable);
    await this.reply(C.C220ReadyTls);
    await this.conn.startTls(this.wharf.tls.context);
    // RFC 3207 §4.2: forget everything learnt before TLS; the client must EHLO again.
    await this.resetTransaction();
    this.state = 'fresh';
    this.helo = '';
    this.esmtp = false;
    this.user = null;
  }

  // The command table (DESIGN.md principle 4). Exposed for the tests.
  static readonly commands: Readonly<Record<string, CommandSpec>> = {};
  static {
    const helo1: CommandSpec = { states: 'any', run: (s, a) => s.greet(a, false) };
    const ehlo: CommandSpec = { states: 'any', run: (s, a) => s.greet(a, true) };
    const notInBdat = ['fresh', 'ready', 'mail', 'rcpt'] as const;
    const table: Record<string, CommandSpec> = {
      HELO: helo1,
      EHLO: ehlo,
      MAIL: {
        states: ['ready'],
        outOfState: (s) => (s.state === 'fresh' ? C.C503HeloFirst : C.C503NestedMail),
        run: (s, a) => s.mail(a),
      },
      RCPT: {
        states: ['mail', 'rcpt'],
        outOfState: (s) => (s.state === 'fresh' ? C.C503HeloFirst : C.C503MailFirst),
        run: (s, a) => s.rcpt(a),
      },
      DATA: {
        states: ['rcpt'],
        outOfState: (s) => (s.state === 'mail' ? C.C554NoValidRecipients : s.state === 'bdat' ? C.C503DataAfterBdat : s.state === 'fresh' ? C.C503HeloFirst : C.C503MailFirst),
        run: (s, a) => s.data(a),
      },
      BDAT: {
        states: ['rcpt', 'bdat'],
        outOfState: (s) => (s.state === 'mail' ? C.C554NoValidRecipients : s.state === 'fresh' ? C.C503HeloFirst : C.C503MailFirst),
        run: (s, a) => s.bdat(a),
      },
      RSET: {
        states: 'any',
        run: async (s, a) => {
          if (a.trim() !== '') throw new ReplyError(C.C501Syntax);
          await s.resetTransaction();
          await s.reply(C.C250Ok);
        },
      },
      NOOP: { states: 'any', run: (s) => s.reply(C.C250Ok) },
      QUIT: {
        states: 'any',
        run: async (s) => {
          s.quitting = true;
          await s.reply({ code: 221, enhanced: '2.0.0', text: `${s.hostname} closing connection` });
        },
      },
      // RFC 5321 §3.5.3: 252 when the server will not verify.
      VRFY: { states: 'any', run: (s) => s.reply(C.C252CannotVerify) },
      EXPN: { states: 'any', run: async () => Promise.reject(new ReplyError(C.C502NotImplemented)) },
      HELP: { states: 'any', run: (s) => s.reply(C.C214Help) },
      STARTTLS: { states: notInBdat, outOfState: () => C.C503BadSequence, run: (s, a) => s.starttls(a) },
      AUTH: {
        states: ['ready', 'mail', 'rcpt'],
        outOfState: (s) => (s.state === 'fresh' ? C.C503HeloFirst : C.C503BadSequence),
        run: (s, a) => s.auth(a),
      },
    };
    Object.assign(SmtpSession.commands, table);
  }
}

const COMMANDS = SmtpSession.commands;
