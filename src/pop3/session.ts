// One POP3 session (RFC 1939), with CAPA and response codes (RFC 2449), STLS (RFC 2595) and
// AUTH (RFC 5034).
//
// States (RFC 1939 §3): AUTHORIZATION until a login succeeds and the maildrop is locked, then
// TRANSACTION on a fixed snapshot of the INBOX (mail arriving meanwhile shows in the next
// session), then UPDATE after QUIT, the only place where deletions are committed. A dropped
// connection, an idle timeout or a shutdown never reaches UPDATE: nothing is deleted.
//
// The maildrop lock is a store lease (`pop3:<account id>`), so it holds across processes and,
// with PostgreSQL, across nodes; a second session gets `-ERR [IN-USE]` (RFC 2449 §8.1.2).
//
// The per-message path (RETR): the maildrop's full rows are read ahead in windows at most one
// query per 32 messages (MailboxSnapshot.row), the blob in one read, and the status line, the
// message dot-stuffed and the terminator leave in one write (src/pop3/wire.ts: CRLF-only data
// is scanned natively and copied once). Transcript lines are only formatted while someone
// listens. QUIT writes to the store only for what changed: deletions, and \Seen on messages
// that did not have it at login.
import type { SecureContext } from 'node:tls';
import type { Authenticator } from '../auth/authenticator.js';
import { isSaslMechanism, saslExchange, SASL_MECHANISMS } from '../auth/sasl.js';
import type { Connection } from '../core/connection.js';
import { ReplyError, WharfError, describeError, isWharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { dotStuffEnd, newDotStuffState } from '../core/dot-codec.js';
import { headAndLines, MailboxSnapshot, messageChunks, messageParts } from '../mail/mailbox.js';
import type { Store, StoredMessage } from '../store/store.js';
import { R, err, fail, formatReply, ok } from './codes.js';
import type { Pop3Reply } from './codes.js';
import { parseCommand, parseNumber, redactCommand } from './parse.js';
import type { Pop3Command } from './parse.js';
import { multiline, stuffChunk } from './wire.js';

export type Pop3State = 'authorization' | 'transaction' | 'update' | 'closed';

export interface Pop3SessionOptions {
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  transcript?: Transcript;
  hostname: string;
  /** Identifies this session among every node's (lock owner). */
  owner: string;
  /** May USER/PASS and AUTH PLAIN/LOGIN be used now? (TLS, a loopback listener, or the config.) */
  cleartextAllowed: () => boolean;
  /** The TLS context for STLS; undefined when STLS is not offered. */
  tls?: () => SecureContext;
  /** Offer APOP (RFC 1939 §7); the greeting then carries a timestamp. */
  apop: boolean;
  /** pop3.login_delay in ms (RFC 2449 §6.5 LOGIN-DELAY); 0 = none. */
  loginDelayMs: number;
  /** Lock lease length; renewed at a third of it while the session lives. */
  lockTtlMs?: number;
  /** Set \Seen on retrieved messages in the UPDATE state (as Dovecot does). */
  markSeen?: boolean;
  now?: () => number;
}

type Handler = (s: Pop3Session, cmd: Pop3Command) => Promise<Pop3Reply | void>;

interface CommandSpec {
  states: readonly Pop3State[];
  handler: Handler;
}

const AUTH_STATE = ['authorization'] as const;
const TRANS_STATE = ['transaction'] as const;
const ANY_STATE = ['authorization', 'transaction'] as const;
/** Consecutive bad commands before the session is closed. */
const MAX_ERRORS = 20;
/** Messages up to this size are sent with their status line in one write. */
const SMALL_MESSAGE = 64 * 1024;
/** Failed logins in one session before it is closed. */
const MAX_AUTH_FAILURES = 5;

export class Pop3Session {
  state: Pop3State = 'authorization';
  private user: string | null = null;
  private account: { id: number; address: string } | null = null;
  private snapshot: MailboxSnapshot | null = null;
  private readonly deleted = new Set<number>();
  private readonly retrieved = new Set<number>();
  private readonly listings: { list?: string[]; uidl?: string[] } = {};
  private lockKey: string | null = null;
  private lockTimer: NodeJS.Timeout | undefined;
  private errors = 0;
  private authFailures = 0;
  private readonly timestamp: string;
  /** True while waiting for the client's next command (a shutdown may then close at once). */
  private idle = false;
  private draining = false;

  constructor(
    readonly conn: Connection,
    private readonly opts: Pop3SessionOptions,
  ) {
    const now = opts.now?.() ?? Date.now();
    // RFC 1939 §7: a unique timestamp in msg-id form.
    this.timestamp = `<${process.pid}.${now}.${Math.floor(Math.random() * 1e9)}@${opts.hostname}>`;
  }

  /** Runs the session to its end; never throws for anything the client does. */
  async run(): Promise<void> {
    try {
      await this.reply(ok(this.opts.apop ? `POP3 server ready ${this.timestamp}` : 'POP3 server ready'));
      while (this.state === 'authorization' || this.state === 'transaction') {
        if (this.draining) {
          await this.reply(R.shuttingDown);
          break;
        }
        this.conn.redactNext(redactCommand);
        let line: string | null;
        this.idle = true;
        try {
          line = await this.conn.readLine();
        } catch (e) {
          if (isWharfError(e, 'WHARF_LINE_TOO_LONG')) {
            if (await this.countError(R.lineTooLong)) continue;
            break;
          }
          if (isWharfError(e, 'WHARF_TIMEOUT')) {
            await this.reply(R.idle).catch(() => {});
            break;
          }
          throw e;
        } finally {
          this.idle = false;
        }
        if (line === null) break; // the client went away: no UPDATE state
        if (!(await this.command(line))) break;
      }
    } catch (e) {
      if (!isWharfError(e, 'WHARF_CLOSED')) this.opts.logger.warn('pop3 session failed', { err: describeError(e) });
    } finally {
      this.state = 'closed';
      await this.unlock();
      await this.conn.close().catch(() => {});
    }
  }

  /** The listener is stopping: close now if waiting for a command, else after this one. */
  drain(): void {
    this.draining = true;
    if (this.idle) {
      void this.reply(R.shuttingDown)
        .catch(() => {})
        .finally(() => this.conn.close().catch(() => {}));
    }
  }

  /** Handles one command line; false when the session should end. */
  private async command(line: string): Promise<boolean> {
    const cmd = parseCommand(line);
    const spec = cmd ? COMMANDS[cmd.verb] : undefined;
    if (!cmd || !spec) return this.countError(R.unknownCommand);
    if (!spec.states.includes(this.state)) return this.countError(R.wrongState);
    let r: Pop3Reply | void;
    try {
      r = await spec.handler(this, cmd);
    } catch (e) {
      if (e instanceof ReplyError) r = e.reply as Pop3Reply;
      else if (isWharfError(e, 'WHARF_CLOSED')) throw e;
      else {
        this.opts.logger.error('pop3 command failed', { verb: cmd.verb, user: this.account?.address, err: describeError(e) });
        r = R.tempFailure;
      }
    }
    if (r) {
      if (!r.ok) return this.countError(r);
      await this.reply(r);
    }
    this.errors = 0;
    return this.state === 'authorization' || this.state === 'transaction';
  }

  /** Sends an -ERR; false when there have been too many in a row. */
  private async countError(r: Pop3Reply): Promise<boolean> {
    if (++this.errors >= MAX_ERRORS) {
      await this.reply(R.tooManyErrors);
      return false;
    }
    await this.reply(r);
    return this.state === 'authorization' || this.state === 'transaction';
  }

  reply(r: Pop3Reply): Promise<void> {
    return this.conn.writeLine(formatReply(r));
  }

  /** A multi-line response (RFC 1939 §3): the +OK line, lines (dot-stuffed), ".". */
  async replyLines(head: Pop3Reply, lines: readonly string[]): Promise<void> {
    const t = this.opts.transcript;
    if (t?.active) {
      t.server(formatReply(head));
      const shown = lines.length > 200 ? lines.slice(0, 200) : lines;
      for (const l of shown) t.server(l);
      if (shown.length < lines.length) t.note(`${lines.length - shown.length} more lines`);
      t.server('.');
    }
    const body = lines.some((l) => l.startsWith('.')) ? lines.map((l) => (l.startsWith('.') ? `.${l}` : l)) : lines;
    await this.conn.write(`${formatReply(head)}\r\n${body.length ? body.join('\r\n') + '\r\n' : ''}.\r\n`);
  }

  /** A status line and a dot-stuffed block (the parts, in order) with its terminator, in one write. */
  replyData(head: Pop3Reply, parts: readonly Buffer[]): Promise<void> {
    const line = formatReply(head);
    if (this.opts.transcript?.active) this.opts.transcript.server(line);
    return this.conn.write(multiline(line, parts));
  }

  /** A status line, then a dot-stuffed stream of chunks and its terminator (large messages). */
  async replyStream(head: Pop3Reply, chunks: AsyncIterable<Buffer>): Promise<void> {
    await this.reply(head);
    await this.writeStuffed(chunks);
  }

  /** A dot-stuffed stream of chunks and its terminator. */
  async writeStuffed(chunks: AsyncIterable<Buffer>): Promise<void> {
    const st = newDotStuffState();
    for await (const c of chunks) if (c.length > 0) await this.conn.write(stuffChunk(c, st));
    await this.conn.write(dotStuffEnd(st));
  }

  // ---- helpers for handlers -------------------------------------------------------------------

  get cleartextAllowed(): boolean {
    return this.opts.cleartextAllowed();
  }

  capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.state === 'authorization') {
      if (this.cleartextAllowed) caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
      if (this.opts.tls && !this.conn.secure) caps.push('STLS');
    }
    if (this.opts.loginDelayMs > 0) caps.push(`LOGIN-DELAY ${Math.ceil(this.opts.loginDelayMs / 1000)}`);
    caps.push('EXPIRE NEVER', 'IMPLEMENTATION Wharf');
    return caps;
  }

  /** The message numbered n in the snapshot, not deleted in this session. */
  message(arg: string | undefined): { n: number; uid: number; size: number } {
    const n = parseNumber(arg);
    const m = n === null ? undefined : this.snapshot!.get(n);
    if (n === null || !m) fail('no such message');
    if (this.deleted.has(n)) throw new ReplyError(R.alreadyDeleted(n));
    return { n, uid: m.uid, size: m.size };
  }

  /** The stored row of message n (read ahead in windows: src/mail/mailbox.ts). */
  async stored(n: number): Promise<StoredMessage> {
    const m = await this.snapshot!.row(this.opts.store, n, (k) => !this.deleted.has(k));
    // Expunged meanwhile through IMAP (POP3 and IMAP share the mailbox).
    if (!m) fail('message no longer available (removed by another session)');
    return m;
  }

  // ---- login ----------------------------------------------------------------------------------

  requireCleartext(): void {
    if (!this.cleartextAllowed) throw new ReplyError(R.cleartextRefused);
  }

  async login(result: Awaited<ReturnType<Authenticator['authenticate']>>): Promise<Pop3Reply> {
    this.user = null;
    if (!result.ok) {
      if (++this.authFailures >= MAX_AUTH_FAILURES) {
        this.state = 'closed';
        return err('too many failed logins, closing', 'AUTH');
      }
      return result.reason === 'disabled' ? R.authDisabled : R.authFailed;
    }
    const { store } = this.opts;
    const account = result.account;
    const now = this.opts.now?.() ?? Date.now();
    const delayKey = `pop3.last-login.${account.id}`;
    if (this.opts.loginDelayMs > 0) {
      // RFC 2449 §8.1.1: refused because the last login was too recent.
      const last = Number((await store.getSetting(delayKey)) ?? 0);
      if (now - last < this.opts.loginDelayMs) {
        return err(`wait ${Math.ceil((this.opts.loginDelayMs - (now - last)) / 1000)} s before logging in again`, 'LOGIN-DELAY');
      }
    }
    const key = `pop3:${account.id}`;
    const ttl = this.opts.lockTtlMs ?? 120_000;
    if (!(await store.acquireLease(key, this.opts.owner, ttl))) return R.inUse;
    this.lockKey = key;
    this.lockTimer = setInterval(() => {
      store.acquireLease(key, this.opts.owner, ttl).catch((e: unknown) => this.opts.logger.warn('pop3 lock renewal failed', { err: describeError(e) }));
    }, Math.max(1000, Math.floor(ttl / 3)));
    this.lockTimer.unref();
    try {
      const inbox = await store.getMailbox(account.id, 'INBOX');
      if (!inbox) throw new Error(`INBOX of ${account.address} is missing`);
      this.snapshot = await MailboxSnapshot.open(store, inbox);
      if (this.opts.loginDelayMs > 0) await store.setSetting(delayKey, String(now));
    } catch (e) {
      await this.unlock();
      throw e;
    }
    this.account = account;
    if (this.opts.transcript) this.opts.transcript.user = account.address;
    this.state = 'transaction';
    return ok('user successfully logged on');
  }

  private async unlock(): Promise<void> {
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.lockTimer = undefined;
    const key = this.lockKey;
    this.lockKey = null;
    if (key) await this.opts.store.releaseLease(key, this.opts.owner).catch((e: unknown) => this.opts.logger.warn('pop3 unlock failed', { err: describeError(e) }));
  }

  /**
   * The scan listings of LIST and UIDL (RFC 1939 §5, §7) of the messages not deleted: the lines
   * of the whole maildrop are made once per session, the snapshot being fixed.
   */
  listing(kind: 'list' | 'uidl'): readonly string[] {
    const snap = this.snapshot!;
    let all = this.listings[kind];
    if (!all) {
      all = snap.messages.map((m, i) => `${i + 1} ${kind === 'list' ? m.size : snap.uniqueId(m)}`);
      this.listings[kind] = all;
    }
    return this.deleted.size === 0 ? all : all.filter((_, i) => !this.deleted.has(i + 1));
  }

  count(): number {
    return this.snapshot ? this.snapshot.count - this.deleted.size : 0;
  }

  octets(): number {
    let sum = 0;
    this.snapshot?.messages.forEach((m, i) => {
      if (!this.deleted.has(i + 1)) sum += m.size;
    });
    return sum;
  }

  // ---- the UPDATE state (RFC 1939 §6) -----------------------------------------------------------

  async update(): Promise<Pop3Reply> {
    this.state = 'update';
    const snap = this.snapshot!;
    const { store } = this.opts;
    const gone = [...this.deleted].sort((a, b) => a - b).map((n) => snap.get(n)!.uid);
    // Only messages not \Seen at login: no store write at all for a maildrop read before.
    const seen = [...this.retrieved].filter((n) => !this.deleted.has(n) && !snap.get(n)!.flags.includes('\\Seen')).map((n) => snap.get(n)!.uid);
    try {
      if (gone.length) await store.expunge(snap.mailbox.id, gone);
    } catch (e) {
      this.opts.logger.error('pop3 update failed', { user: this.account?.address, err: describeError(e) });
      this.state = 'closed';
      return err('some deleted messages not removed', 'SYS/TEMP');
    }
    if (seen.length && this.opts.markSeen !== false) {
      await store.updateFlags(snap.mailbox.id, seen, 'add', ['\\Seen']).catch((e: unknown) => this.opts.logger.warn('pop3: could not set \\Seen', { err: describeError(e) }));
    }
    this.state = 'closed';
    // RFC 1939 §6: the lock goes after the removal. Released before the +OK is written, so a
    // client (or another process's session) that logs in again right after it never sees
    // [IN-USE] for a session that is over.
    await this.unlock();
    return R.signingOff;
  }

  // ---- state for handlers ----------------------------------------------------------------------

  get pendingUser(): string | null {
    return this.user;
  }

  set pendingUser(u: string | null) {
    this.user = u;
  }

  get apopTimestamp(): string | null {
    return this.opts.apop ? this.timestamp : null;
  }

  get deps(): Pop3SessionOptions {
    return this.opts;
  }

  markDeleted(n: number): void {
    this.deleted.add(n);
  }

  markRetrieved(n: number): void {
    this.retrieved.add(n);
  }

  resetDeletions(): void {
    this.deleted.clear();
  }

  get maildrop(): MailboxSnapshot {
    return this.snapshot!;
  }

  isDeleted(n: number): boolean {
    return this.deleted.has(n);
  }

  async startTls(): Promise<void> {
    await this.conn.startTls(this.opts.tls!());
    this.user = null;
  }
}

// ---- the command table ------------------------------------------------------------------------

async function saslLogin(s: Pop3Session, cmd: Pop3Command): Promise<Pop3Reply | void> {
  if (cmd.args.length === 0) {
    // RFC 5034 does not define a bare AUTH; many clients send it to list mechanisms (RFC 1734).
    await s.replyLines(ok('mechanisms follow'), SASL_MECHANISMS);
    return;
  }
  const mech = cmd.args[0]!.toUpperCase();
  if (!isSaslMechanism(mech)) return err('unsupported authentication mechanism');
  if (cmd.args.length > 2) return R.badArgs('AUTH mechanism [initial-response]');
  s.requireCleartext();
  const ex = saslExchange(mech);
  let step = ex.start(cmd.args[1]);
  while (step.kind === 'challenge') {
    // RFC 5034 §4: "+ " and the base64 challenge; the response is one line.
    await s.conn.writeLine(`+ ${step.challenge}`);
    s.conn.redactNext(() => '****');
    const line = await s.conn.readLine();
    if (line === null) throw new WharfError('WHARF_CLOSED', 'connection closed during AUTH');
    step = ex.step(line);
  }
  if (step.kind === 'cancelled') return err('authentication cancelled');
  if (step.kind === 'error') return err(step.message, 'AUTH');
  const c = step.credentials;
  const result = await s.deps.authenticator.authenticate({ username: c.username, password: c.password, authzid: c.authzid, remote: s.conn.remoteAddress });
  return s.login(result);
}

const COMMANDS: Record<string, CommandSpec> = {
  CAPA: {
    states: ANY_STATE,
    handler: async (s) => s.replyLines(ok('Capability list follows'), s.capabilities()),
  },
  NOOP: { states: TRANS_STATE, handler: async () => ok() },
  QUIT: {
    states: ANY_STATE,
    handler: async (s) => {
      if (s.state === 'authorization') {
        s.state = 'closed';
        return R.signingOff;
      }
      return s.update();
    },
  },
  STLS: {
    states: AUTH_STATE,
    handler: async (s) => {
      if (!s.deps.tls) return err('STLS not available');
      if (s.conn.secure) return err('already using TLS');
      await s.reply(ok('Begin TLS negotiation'));
      await s.startTls();
    },
  },
  USER: {
    states: AUTH_STATE,
    handler: async (s, cmd) => {
      if (!cmd.rest) return R.badArgs('USER name');
      s.requireCleartext();
      s.pendingUser = cmd.rest;
      return ok();
    },
  },
  PASS: {
    states: AUTH_STATE,
    handler: async (s, cmd) => {
      const user = s.pendingUser;
      if (user === null) return err('give USER first');
      s.requireCleartext();
      // RFC 1939 §7: the password may contain spaces; take the rest of the line.
      const result = await s.deps.authenticator.authenticate({ username: user, password: cmd.rest, remote: s.conn.remoteAddress });
      return s.login(result);
    },
  },
  APOP: {
    states: AUTH_STATE,
    handler: async (s, cmd) => {
      const ts = s.apopTimestamp;
      if (!ts) return err('APOP not available');
      if (cmd.args.length !== 2) return R.badArgs('APOP name digest');
      const result = await s.deps.authenticator.authenticateApop(cmd.args[0]!, ts, cmd.args[1]!.toLowerCase(), s.conn.remoteAddress);
      return s.login(result);
    },
  },
  AUTH: { states: AUTH_STATE, handler: saslLogin },
  STAT: {
    states: TRANS_STATE,
    handler: async (s, cmd) => (cmd.args.length ? R.badArgs('STAT') : ok(`${s.count()} ${s.octets()}`)),
  },
  LIST: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length > 1) return R.badArgs('LIST [msg]');
      if (cmd.args.length === 1) {
        const m = s.message(cmd.args[0]);
        return ok(`${m.n} ${m.size}`);
      }
      await s.replyLines(ok(`${s.count()} messages (${s.octets()} octets)`), s.listing('list'));
    },
  },
  UIDL: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length > 1) return R.badArgs('UIDL [msg]');
      const snap = s.maildrop;
      if (cmd.args.length === 1) {
        const m = s.message(cmd.args[0]);
        return ok(`${m.n} ${snap.uniqueId(snap.get(m.n)!)}`);
      }
      await s.replyLines(ok(), s.listing('uidl'));
    },
  },
  RETR: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length !== 1) return R.badArgs('RETR msg');
      const m = s.message(cmd.args[0]);
      const stored = await s.stored(m.n);
      const head = ok(`${stored.size} octets`);
      if (stored.size <= SMALL_MESSAGE) {
        // One write for status, message and terminator: one segment, one wake-up for the client.
        await s.replyData(head, await messageParts(s.deps.store.blobs, stored));
      } else {
        await s.replyStream(head, messageChunks(s.deps.store.blobs, stored));
      }
      const t = s.deps.transcript;
      if (t?.active) {
        t.note(`message ${m.n} (${stored.size} octets) sent`);
        t.server('.');
      }
      s.markRetrieved(m.n);
    },
  },
  TOP: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length !== 2) return R.badArgs('TOP msg lines');
      const m = s.message(cmd.args[0]);
      const lines = parseNumber(cmd.args[1]);
      if (lines === null) return R.badArgs('TOP msg lines (a number of lines, 0 or more)');
      const stored = await s.stored(m.n);
      await s.reply(ok('top of message follows'));
      const t = s.deps.transcript;
      if (t?.active) t.note(`header and ${lines} body lines of message ${m.n} sent`);
      await s.writeStuffed(headAndLines(s.deps.store.blobs, stored, lines));
      if (t?.active) t.server('.');
    },
  },
  DELE: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length !== 1) return R.badArgs('DELE msg');
      const m = s.message(cmd.args[0]);
      s.markDeleted(m.n);
      return ok(`message ${m.n} deleted`);
    },
  },
  RSET: {
    states: TRANS_STATE,
    handler: async (s, cmd) => {
      if (cmd.args.length) return R.badArgs('RSET');
      s.resetDeletions();
      return ok(`maildrop has ${s.count()} messages (${s.octets()} octets)`);
    },
  },
};
