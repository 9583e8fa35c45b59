// One IMAP session (RFC 3501 IMAP4rev1) with the extensions the server advertises: LITERAL+
// (RFC 7888), SASL-IR (RFC 4959), ID (RFC 2971), ENABLE (RFC 5161), IDLE (RFC 2177), NAMESPACE
// (RFC 2342), UIDPLUS (RFC 4315), MOVE (RFC 6851), UNSELECT (RFC 3691), CHILDREN (RFC 3348),
// SPECIAL-USE (RFC 6154), LIST-EXTENDED and LIST-STATUS (RFC 9051 §6.3.9, RFC 5258, RFC 5819),
// CONDSTORE and QRESYNC (RFC 7162), ESEARCH (RFC 4731), SEARCHRES (RFC 5182), BINARY (RFC 3516),
// response codes of RFC 5530.
//
// Mailbox names cross the wire only through nameIn()/nameOut(): modified UTF-7 for IMAP4rev1
// clients (RFC 3501 §5.1.3), UTF-8 once IMAP4rev2 or UTF8=ACCEPT is enabled; Wharf keeps Unicode.
// ENVELOPE strings and the decoded FROM/TO/CC/BCC/SUBJECT fields SEARCH needs come from the
// server's MessageCache (cache.ts) when present, else from the store.
//
// States (RFC 3501 §3): not authenticated → authenticated → selected → logout.
//
// The selected mailbox is a view: the messages the client knows, in sequence order, with their
// flags. Changes by anyone (another session, `wharf deliver` in another process, POP3) reach
// the view only through sync(), which asks the store what changed since the view's MODSEQ and
// tells the client (EXISTS, EXPUNGE, FETCH FLAGS). sync() runs before a tagged response and
// during IDLE; RFC 3501 §7.4.1: never an EXPUNGE while answering FETCH, STORE or SEARCH (the
// UID forms may), so there expunges wait for the next command.
//
// QRESYNC (RFC 7162 §3.2): once enabled, expunges are announced as "* VANISHED uids" instead of
// EXPUNGE, SELECT/EXAMINE accept (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) and
// answer VANISHED (EARLIER) + FETCH for what changed, and UID FETCH takes (CHANGEDSINCE n
// VANISHED). A VANISHED (EARLIER) never names a UID the view still holds (the client counts
// those in EXISTS; their expunge comes later as a plain VANISHED).
import type { SecureContext } from 'node:tls';
import type { Authenticator, AuthResult } from '../auth/authenticator.js';
import { isSaslMechanism, saslExchange } from '../auth/sasl.js';
import type { Connection } from '../core/connection.js';
import { ReplyError, describeError, isWharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { createMessageSink } from '../mail/ingest.js';
import type { MessageSink } from '../mail/ingest.js';
import type { MessageMeta } from '../mail/meta.js';
import type { Mailbox, Store, StoredMessage } from '../store/store.js';
import { formatEnvelope } from './body.js';
import { CACHED_SEARCH_FIELDS, MessageCache } from './cache.js';
import type { MailboxCache } from './cache.js';
import { fetchValues, needsStored, parseFetchItems, setsSeen, simpleFetchText } from './fetch.js';
import type { FetchContext, FetchItem, Out } from './fetch.js';
import { BadCharset, answerableFromFields, headerOf, matches, parseSearch, searchNeeds } from './search.js';
import type { Cache as SearchCache } from './search.js';
import { astr, list, parseImapDate, quote } from './wire/compiler.js';
import { checkUtf8MailboxName, decodeMailboxName, encodeMailboxName } from './wire/mutf7.js';
import { Args, ParseError, STAR, formatSet, resolveSet, splitCommand } from './wire/parser.js';
import type { Literal, SeqSet } from './wire/parser.js';
import { readCommand } from './wire/reader.js';
import type { LiteralPlan } from './wire/reader.js';

export type ImapState = 'notauth' | 'auth' | 'selected' | 'logout';

export interface ImapSessionOptions {
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  transcript?: Transcript;
  hostname: string;
  /** May LOGIN and AUTHENTICATE PLAIN/LOGIN be used now? (TLS, loopback, or the config.) */
  cleartextAllowed: () => boolean;
  /** TLS context for STARTTLS; undefined when not offered. */
  tls?: () => SecureContext;
  /** imap.max_literal */
  maxLiteral: number;
  /** Octets of literals kept in memory for one command (not APPEND's message). */
  maxBuffered?: number;
  /** Envelopes and search fields shared by the server's sessions (else one per session). */
  cache?: MessageCache;
}

/** An IMAP status response to a command: "OK", "NO" or "BAD", an optional [code], text. */
export class ImapError extends ReplyError<string> {
  constructor(status: 'NO' | 'BAD', text: string, code?: string) {
    super(`${status} ${code ? `[${code}] ` : ''}${text}`);
  }
}
const no = (text: string, code?: string): never => {
  throw new ImapError('NO', text, code);
};
const bad = (text: string, code?: string): never => {
  throw new ImapError('BAD', text, code);
};

interface Msg {
  uid: number;
  flags: string[];
  modseq: number;
  size: number;
  internalDate: Date;
}

type MessageSummaryLike = Pick<Msg, 'uid' | 'modseq' | 'size' | 'internalDate'> & { flags: readonly string[] };

interface View {
  mailbox: Mailbox;
  readOnly: boolean;
  msgs: Msg[];
  modseq: number;
  dirty: boolean;
  pendingExpunge: Set<number>;
  unwatch: () => void;
  /** Saved search result (RFC 5182 "$"), UIDs. */
  saved: number[];
}

interface Ctx {
  tag: string;
  args: Args;
  uid: boolean;
  /** Set by a UID command that must not be followed by EXPUNGE either (UID SEARCH with numbers). */
  holdExpunge?: boolean;
}

type Handler = (s: ImapSession, c: Ctx) => Promise<string | void>;
interface CommandSpec {
  states: readonly ImapState[];
  handler: Handler;
  /** May the final sync send EXPUNGE? (RFC 3501 §7.4.1: not for FETCH/STORE/SEARCH.) */
  noExpunge?: boolean;
}

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
const MAX_ERRORS = 30;
const MAX_AUTH_FAILURES = 5;
/** Messages read from the store per batch in FETCH/SEARCH. */
const BATCH = 200;
/** Response text gathered before a write, in FETCH. */
const WRITE_CHUNK = 64 * 1024;

function flagKey(f: string): string {
  return f.toLowerCase();
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map(flagKey));
  return b.every((f) => s.has(flagKey(f)));
}

function hasFlag(flags: readonly string[], f: string): boolean {
  const k = flagKey(f);
  return flags.some((x) => flagKey(x) === k);
}

/** Index of uid in ascending msgs, or -1. */
function findUid(msgs: readonly Msg[], uid: number): number {
  let lo = 0;
  let hi = msgs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const u = msgs[mid]!.uid;
    if (u === uid) return mid;
    if (u < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** SELECT/EXAMINE (QRESYNC (...)) arguments, RFC 7162 §3.2.5. */
interface QresyncParam {
  uidValidity: number;
  modseq: number;
  knownUids: SeqSet | null;
  /** known-sequence-set and known-uid-set, expanded, pairwise. */
  seqMatch: [number[], number[]] | null;
}

/** Most members of a seq-match set we expand (a sample; clients send a few dozen). */
const MAX_SEQ_MATCH = 100_000;

function expandSet(set: SeqSet): number[] {
  const out: number[] = [];
  for (const [x, y] of set.ranges) {
    if (x === STAR || y === STAR) bad('"*" not allowed in QRESYNC sequence match data');
    const lo = Math.min(x, y);
    const hi = Math.max(x, y);
    if (out.length + (hi - lo + 1) > MAX_SEQ_MATCH) bad('QRESYNC sequence match data too long');
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

/** "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")" */
function parseQresyncParam(a: Args): QresyncParam {
  a.expect('(');
  const uidValidity = a.number32();
  if (uidValidity === 0) throw new ParseError('bad UIDVALIDITY');
  a.sp();
  const modseq = a.number();
  let knownUids: SeqSet | null = null;
  let seqMatch: [number[], number[]] | null = null;
  if (a.accept(' ')) {
    if (a.peek() !== '(') {
      knownUids = a.seqSet();
      if (knownUids.saved) throw new ParseError('"$" not allowed in QRESYNC');
      if (!a.accept(' ')) {
        a.expect(')');
        return { uidValidity, modseq, knownUids, seqMatch };
      }
    }
    a.expect('(');
    const seqs = expandSet(a.seqSet());
    a.sp();
    const uids = expandSet(a.seqSet());
    a.expect(')');
    if (seqs.length !== uids.length) bad('QRESYNC sequence match sets differ in length');
    seqMatch = [seqs, uids];
  }
  a.expect(')');
  return { uidValidity, modseq, knownUids, seqMatch };
}

/** Is n in the set, "*" standing for max? */
function inSet(set: SeqSet, n: number, max: number): boolean {
  for (const [a, b] of set.ranges) {
    const x = a === STAR ? max : a;
    const y = b === STAR ? max : b;
    if (n >= Math.min(x, y) && n <= Math.max(x, y)) return true;
  }
  return false;
}

/** Index of the first message whose UID is >= uid (msgs.length if none). */
function lowerBound(msgs: readonly Msg[], uid: number): number {
  let lo = 0;
  let hi = msgs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (msgs[mid]!.uid < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function redactLine(line: string): string {
  const m = /^(\S+ (?:UID )?)(LOGIN|AUTHENTICATE)(\s.*)?$/i.exec(line);
  if (!m) return line;
  if (m[2]!.toUpperCase() === 'LOGIN') {
    const user = /^\s+("(?:[^"\\]|\\.)*"|\S+)/.exec(m[3] ?? '')?.[1] ?? '';
    return `${m[1]}${m[2]} ${user} ****`;
  }
  const mech = /^\s+(\S+)/.exec(m[3] ?? '')?.[1] ?? '';
  return `${m[1]}${m[2]} ${mech}${(m[3] ?? '').trim().split(/\s+/).length > 1 ? ' ****' : ''}`;
}

export class ImapSession {
  state: ImapState = 'notauth';
  account: { id: number; address: string } | null = null;
  view: View | null = null;
  condstore = false;
  /** RFC 7162 §3.2.3: after ENABLE QRESYNC (implies CONDSTORE). */
  qresync = false;
  /** RFC 9051 behaviour, after ENABLE IMAP4rev2. */
  rev2 = false;
  /** RFC 6855 UTF8=ACCEPT (implied by IMAP4rev2): strings may be UTF-8 quoted strings. */
  utf8 = false;
  private errors = 0;
  private authFailures = 0;
  private idle = false;
  private draining = false;
  /** Set while in IDLE: called on a change to the selected mailbox, or at shutdown. */
  idling: ((why: 'change' | 'drain') => void) | null = null;
  private syncChain: Promise<void> = Promise.resolve();
  private append: { sink: MessageSink; mailbox: Mailbox; flags: string[]; date: Date | null } | null = null;
  private readonly cache: MessageCache;
  /** Output gathered while a command runs (emit()). */
  private out: (string | Buffer)[] = [];
  private outLen = 0;
  private batching = false;

  constructor(
    readonly conn: Connection,
    readonly opts: ImapSessionOptions,
  ) {
    this.cache = opts.cache ?? new MessageCache(20_000);
  }

  private cacheOf(v: View): MailboxCache {
    return this.cache.mailbox(v.mailbox.id, v.mailbox.uidValidity);
  }

  get store(): Store {
    return this.opts.store;
  }

  // ---- the loop --------------------------------------------------------------------------------

  async run(): Promise<void> {
    try {
      await this.send(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.opts.hostname} Wharf IMAP4rev1 ready`);
      while (this.state !== 'logout') {
        if (this.draining) {
          await this.send('* BYE [UNAVAILABLE] server shutting down');
          break;
        }
        this.conn.redactNext(redactLine);
        this.idle = true;
        let r;
        try {
          r = await readCommand(this.conn, {
            maxLiteral: this.opts.maxLiteral,
            maxBuffered: this.opts.maxBuffered ?? 1024 * 1024,
            onLiteral: (text) => this.onLiteral(text),
          });
        } catch (e) {
          await this.abortAppend();
          if (isWharfError(e, 'WHARF_TIMEOUT')) {
            await this.send('* BYE Autologout; idle for too long').catch(() => {});
            break;
          }
          throw e;
        } finally {
          this.idle = false;
        }
        if (r.kind === 'eof') break;
        if (r.kind === 'fatal') {
          await this.abortAppend();
          await this.send(r.line);
          break;
        }
        if (r.kind === 'answer') {
          await this.abortAppend();
          if (++this.errors >= MAX_ERRORS) {
            await this.send('* BYE too many bad commands');
            break;
          }
          await this.send(r.line);
          continue;
        }
        try {
          await this.command(r.text, r.literals);
        } finally {
          this.batching = false;
          await this.abortAppend();
        }
        if (this.errors >= MAX_ERRORS) {
          await this.send('* BYE too many bad commands');
          break;
        }
      }
    } catch (e) {
      if (!isWharfError(e, 'WHARF_CLOSED')) this.opts.logger.warn('imap session failed', { err: describeError(e) });
    } finally {
      this.state = 'logout';
      this.deselect();
      await this.abortAppend();
      await this.conn.close().catch(() => {});
    }
  }

  /** The listener is stopping: close now if waiting for a command (or idling), else after it. */
  drain(): void {
    this.draining = true;
    if (this.idling) this.idling('drain');
    else if (this.idle) {
      void this.send('* BYE [UNAVAILABLE] server shutting down')
        .catch(() => {})
        .finally(() => this.conn.close().catch(() => {}));
    }
  }

  private async command(text: string, literals: Literal[]): Promise<void> {
    const head = splitCommand(text);
    if (!head) {
      this.errors++;
      await this.send('* BAD invalid tag');
      return;
    }
    const { tag, rest } = head;
    let verb = head.verb;
    let uid = false;
    const args = new Args(text, literals);
    args.pos = rest.pos;
    if (verb === 'UID') {
      uid = true;
      if (!args.accept(' ')) return this.tagged(tag, 'BAD missing UID command');
      const v = /^[A-Za-z]+/.exec(text.slice(args.pos))?.[0] ?? '';
      args.pos += v.length;
      verb = v.toUpperCase();
      if (!['FETCH', 'STORE', 'SEARCH', 'COPY', 'MOVE', 'EXPUNGE'].includes(verb)) return this.tagged(tag, 'BAD unknown UID command');
    }
    const spec = COMMANDS[verb];
    if (!spec) {
      this.errors++;
      return this.tagged(tag, verb ? 'BAD unknown command' : 'BAD missing command');
    }
    if (!spec.states.includes(this.state)) {
      this.errors++;
      return this.tagged(tag, `BAD ${verb} not allowed ${this.state === 'notauth' ? 'before login' : this.state === 'auth' ? 'without a selected mailbox' : 'now'}`);
    }
    let resp: string;
    const ctx: Ctx = { tag, args, uid };
    // Commands that wait for the client mid-way (continuations, TLS, IDLE) write at once.
    this.batching = !UNBATCHED.has(verb);
    try {
      resp = (await spec.handler(this, ctx)) ?? `OK ${uid ? 'UID ' : ''}${verb} completed`;
      this.errors = 0;
    } catch (e) {
      if (e instanceof ReplyError) resp = e.reply as string;
      else if (e instanceof ParseError) resp = `BAD ${e.message}`;
      else if (e instanceof BadCharset) resp = 'NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset';
      else if (isWharfError(e, 'WHARF_CLOSED')) throw e;
      else if (isWharfError(e, 'WHARF_TOO_BIG')) resp = 'NO [TOOBIG] message too large';
      else {
        this.opts.logger.error('imap command failed', { verb, user: this.account?.address, err: describeError(e) });
        resp = 'NO [UNAVAILABLE] temporary server failure, try again later';
      }
      if (resp.startsWith('BAD')) this.errors++;
    }
    if (resp === NO_TAGGED) return;
    if (this.state === 'logout') {
      await this.tagged(tag, resp);
      return;
    }
    if (this.view) {
      await this.sync(!spec.noExpunge || (uid && !ctx.holdExpunge)).catch((e: unknown) => {
        if (isWharfError(e, 'WHARF_CLOSED')) throw e;
        this.opts.logger.warn('imap sync failed', { user: this.account?.address, err: describeError(e) });
      });
    }
    await this.tagged(tag, resp);
  }

  private async tagged(tag: string, resp: string): Promise<void> {
    await this.send(`${tag} ${resp}`);
    this.batching = false;
    await this.flushOut();
  }

  /** Writes a response line (it may hold literals); logs it in the transcript. */
  send(line: string): Promise<void> {
    const t = this.opts.transcript;
    if (t?.active) t.server(line.length > 2000 ? line.slice(0, 2000) + '…' : line.replace(/\r\n/g, ' '));
    return this.emit(line + '\r\n');
  }

  /**
   * Response octets in order. While a command that never waits for the client runs
   * (`batching`), they gather (up to WRITE_CHUNK) and go out with the tagged response: one write
   * for "* 1 FETCH (... BODY[] {n} ...)" plus "a1 OK", not four.
   */
  private emit(data: string | Buffer): Promise<void> {
    if (!this.batching) return this.conn.write(data);
    this.out.push(data);
    this.outLen += data.length;
    return this.outLen >= WRITE_CHUNK ? this.flushOut() : Promise.resolve();
  }

  private flushOut(): Promise<void> {
    if (!this.out.length) return Promise.resolve();
    const parts = this.out;
    this.out = [];
    this.outLen = 0;
    if (parts.length === 1) return this.conn.write(parts[0]!);
    if (parts.every((p) => typeof p === 'string')) return this.conn.write(parts.join(''));
    return this.conn.write(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))));
  }

  // ---- mailbox names on the wire ----------------------------------------------------------------

  /** A mailbox name as the client sent it → Wharf's name: modified UTF-7 for IMAP4rev1 (RFC 3501 §5.1.3), UTF-8 after IMAP4rev2 / UTF8=ACCEPT (RFC 9051 §5.1, RFC 6855 §3). ParseError → BAD. */
  nameIn(raw: string): string {
    return this.utf8 ? checkUtf8MailboxName(raw) : decodeMailboxName(raw);
  }

  /** Wharf's name → astring for the client, in the client's form (see nameIn). */
  nameOut(name: string): string {
    return this.utf8 ? astr(name, true) : astr(encodeMailboxName(name));
  }

  // ---- capabilities --------------------------------------------------------------------------

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE'];
    if (this.state === 'notauth') {
      if (this.opts.tls && !this.conn.secure) caps.push('STARTTLS');
      if (this.opts.cleartextAllowed()) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
      else caps.push('LOGINDISABLED');
    } else {
      caps.push('NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'BINARY', 'STATUS=SIZE', 'UTF8=ACCEPT', `APPENDLIMIT=${this.opts.maxLiteral}`);
    }
    return caps;
  }

  // ---- login --------------------------------------------------------------------------------

  requireCleartext(): void {
    if (!this.opts.cleartextAllowed()) no('cleartext login refused on this connection; use STARTTLS first', 'PRIVACYREQUIRED');
  }

  async login(result: AuthResult): Promise<string> {
    if (!result.ok) {
      if (++this.authFailures >= MAX_AUTH_FAILURES) {
        this.state = 'logout';
        await this.send('* BYE too many failed logins');
      }
      if (result.reason === 'disabled') no('account disabled', 'AUTHORIZATIONFAILED');
      if (result.reason === 'authzid') no('not authorized to act as that user', 'AUTHORIZATIONFAILED');
      no('invalid user name or password', 'AUTHENTICATIONFAILED');
    }
    if (!result.ok) throw new Error('unreachable');
    this.account = result.account;
    if (this.opts.transcript) this.opts.transcript.user = result.account.address;
    this.state = 'auth';
    return `OK [CAPABILITY ${this.capabilities().join(' ')}] logged in`;
  }

  async authenticate(c: Ctx): Promise<string> {
    c.args.sp();
    const mech = c.args.atom().toUpperCase();
    let initial: string | undefined;
    if (c.args.maybeSp()) initial = c.args.atom();
    c.args.end();
    if (!isSaslMechanism(mech)) no('unsupported authentication mechanism', 'CANNOT');
    this.requireCleartext();
    const ex = saslExchange(mech as 'PLAIN' | 'LOGIN');
    // RFC 4959: "=" is an empty initial response.
    let step = ex.start(initial === undefined ? undefined : initial);
    while (step.kind === 'challenge') {
      // RFC 3501 §6.2.2: "+ " base64 challenge; the response is one line.
      await this.send(`+ ${step.challenge}`);
      this.conn.redactNext(() => '****');
      const line = await this.conn.readLine();
      if (line === null) throw new ReplyError('BAD connection closed');
      step = ex.step(line);
    }
    if (step.kind === 'cancelled') bad('authentication cancelled');
    if (step.kind === 'error') bad(step.message);
    if (step.kind !== 'done') throw new Error('unreachable');
    const cr = step.credentials;
    return this.login(await this.opts.authenticator.authenticate({ username: cr.username, password: cr.password, authzid: cr.authzid, remote: this.conn.remoteAddress }));
  }

  // ---- APPEND literals ----------------------------------------------------------------------

  /** Where a literal goes: APPEND's message streams into the blob store; others stay in memory. */
  private async onLiteral(text: string): Promise<LiteralPlan> {
    const head = splitCommand(text);
    if (!head || head.verb !== 'APPEND' || this.append) return { kind: 'buffer' };
    // Is the literal now starting the message? Parse what came before it.
    const a = new Args(text);
    a.pos = head.rest.pos;
    let mailboxName: string;
    let flags: string[] = [];
    let date: Date | null = null;
    try {
      a.sp();
      if (a.atLiteral()) return { kind: 'buffer' }; // the mailbox name itself
      mailboxName = this.nameIn(a.astring());
      a.sp();
      if (a.peek() === '(') {
        flags = a.list(() => a.flag());
        a.sp();
      }
      if (a.peek() === '"') {
        const d = a.quoted();
        date = parseImapDate(d, true);
        if (!date) return { kind: 'refuse', response: `${head.tag} BAD bad date-time` };
        a.sp();
      }
      if (!a.atLiteral()) return { kind: 'refuse', response: `${head.tag} BAD bad APPEND arguments` };
    } catch {
      return { kind: 'buffer' };
    }
    if (this.state !== 'auth' && this.state !== 'selected') return { kind: 'refuse', response: `${head.tag} BAD APPEND not allowed before login` };
    const mailbox = await this.store.getMailbox(this.account!.id, mailboxName);
    if (!mailbox) return { kind: 'refuse', response: `${head.tag} NO [TRYCREATE] no such mailbox` };
    const sink = createMessageSink(this.store.blobs, { maxSize: this.opts.maxLiteral });
    this.append = { sink, mailbox, flags, date };
    return { kind: 'sink', write: (c) => sink.write(c) };
  }

  private async abortAppend(): Promise<void> {
    const a = this.append;
    this.append = null;
    if (a) await a.sink.abort().catch(() => {});
  }

  async appendCommand(c: Ctx): Promise<string> {
    const a = c.args;
    a.sp();
    const name = this.nameIn(a.astring());
    a.sp();
    let flags: string[] = [];
    let date: Date | null = null;
    if (a.peek() === '(') {
      flags = a.list(() => a.flag());
      a.sp();
    }
    if (a.peek() === '"') {
      date = parseImapDate(a.quoted(), true);
      if (!date) bad('bad date-time');
      a.sp();
    }
    const lit = a.literalAny();
    a.end();
    const pending = this.append;
    let sink: MessageSink;
    let mailbox: Mailbox;
    if (pending && !Buffer.isBuffer(lit)) {
      sink = pending.sink;
      mailbox = pending.mailbox;
    } else {
      if (!Buffer.isBuffer(lit)) throw new Error('streamed APPEND literal without a sink');
      const mb = await this.store.getMailbox(this.account!.id, name);
      if (!mb) no('no such mailbox', 'TRYCREATE');
      mailbox = mb!;
      sink = createMessageSink(this.store.blobs, { maxSize: this.opts.maxLiteral });
      await sink.write(lit);
    }
    this.append = null;
    for (const f of flags) if (f.startsWith('\\') && !SYSTEM_FLAGS.some((s) => flagKey(s) === flagKey(f)) && flagKey(f) !== '\\recent') {
      await sink.abort();
      bad(`unknown system flag ${f}`);
    }
    let stored;
    try {
      stored = await sink.commit();
    } catch (e) {
      await sink.abort().catch(() => {});
      throw e;
    }
    if (stored.size === 0) no('empty message');
    const r = await this.store.appendMessage(mailbox.id, {
      blobId: stored.blobId,
      size: stored.size,
      meta: stored.meta,
      flags: flags.filter((f) => flagKey(f) !== '\\recent'),
      ...(date ? { internalDate: date } : {}),
    });
    if (this.view && this.view.mailbox.id === mailbox.id) this.view.dirty = true;
    return `OK [APPENDUID ${mailbox.uidValidity} ${r.uid}] APPEND completed`;
  }

  // ---- the selected mailbox -----------------------------------------------------------------

  deselect(): void {
    if (this.view) this.view.unwatch();
    this.view = null;
    if (this.state === 'selected') this.state = 'auth';
  }

  async select(c: Ctx, readOnly: boolean): Promise<string> {
    const a = c.args;
    a.sp();
    const name = this.nameIn(a.astring());
    let qr: QresyncParam | null = null;
    if (a.maybeSp()) {
      // RFC 4466 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC.
      a.list(() => {
        const p = a.atom().toUpperCase();
        if (p === 'CONDSTORE') this.condstore = true;
        else if (p === 'QRESYNC') {
          if (!this.qresync) bad('QRESYNC parameter without ENABLE QRESYNC');
          a.sp();
          qr = parseQresyncParam(a);
        } else bad('unknown SELECT parameter');
        return p;
      });
    }
    a.end();
    if (this.view) {
      this.deselect();
      // RFC 7162 §3.2.11 / RFC 9051: the previous mailbox is closed.
      await this.send('* OK [CLOSED] previous mailbox closed');
    }
    const mb = await this.store.getMailbox(this.account!.id, name);
    if (!mb) no('no such mailbox', 'NONEXISTENT');
    const mailbox = mb!;
    const loaded = await this.loadMessages(mailbox);
    const view: View = {
      mailbox,
      readOnly,
      msgs: loaded.msgs,
      modseq: loaded.modseq,
      dirty: false,
      pendingExpunge: new Set(),
      unwatch: () => {},
      saved: [],
    };
    view.unwatch = this.store.watch(mailbox.id, () => {
      view.dirty = true;
      if (this.idling) this.idling('change');
    });
    this.view = view;
    this.state = 'selected';
    const keywords = new Set<string>();
    for (const m of view.msgs) for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
    const flags = [...SYSTEM_FLAGS, ...keywords];
    await this.send(`* FLAGS ${list(flags)}`);
    await this.send(`* OK [PERMANENTFLAGS ${readOnly ? '()' : list([...flags, '\\*'])}] flags permitted`);
    await this.send(`* ${view.msgs.length} EXISTS`);
    // RFC 9051 §7.4.3 (Appendix E): IMAP4rev2 has no RECENT.
    if (!this.rev2) await this.send('* 0 RECENT');
    const firstUnseen = view.msgs.findIndex((m) => !hasFlag(m.flags, '\\Seen'));
    if (firstUnseen >= 0) await this.send(`* OK [UNSEEN ${firstUnseen + 1}] first unseen`);
    await this.send(`* OK [UIDVALIDITY ${mailbox.uidValidity}] UIDs valid`);
    const lastUid = view.msgs.length ? view.msgs[view.msgs.length - 1]!.uid : 0;
    await this.send(`* OK [UIDNEXT ${Math.max(mailbox.uidNext, lastUid + 1)}] predicted next UID`);
    let highest = Math.max(mailbox.highestModseq, view.modseq);
    for (const m of view.msgs) if (m.modseq > highest) highest = m.modseq;
    await this.send(`* OK [HIGHESTMODSEQ ${highest}] highest`);
    if (qr) await this.quickResync(qr);
    return `OK [${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`;
  }

  /**
   * Every message of the mailbox for a new view, and the MODSEQ that is complete up to: from the
   * server's cached listing plus what changed since (changesSince), else the whole listing
   * from the store; the result becomes the cached listing.
   */
  private async loadMessages(mailbox: Mailbox): Promise<{ msgs: Msg[]; modseq: number }> {
    const copy = (m: MessageSummaryLike): Msg => ({ uid: m.uid, flags: [...m.flags], modseq: m.modseq, size: m.size, internalDate: m.internalDate });
    const snap = this.cache.listing(mailbox.id, mailbox.uidValidity);
    let msgs: Msg[];
    let modseq: number;
    if (snap) {
      const ch = await this.store.changesSince(mailbox.id, snap.modseq);
      const gone = new Set(ch.expunged);
      msgs = [];
      for (const m of snap.msgs) if (!gone.has(m.uid)) msgs.push(copy(m));
      for (const u of [...ch.updated].sort((a, b) => a.uid - b.uid)) {
        if (gone.has(u.uid)) continue;
        const i = findUid(msgs, u.uid);
        if (i >= 0) msgs[i] = copy(u);
        else msgs.splice(lowerBound(msgs, u.uid), 0, copy(u));
      }
      modseq = Math.max(snap.modseq, ch.highestModseq);
    } else {
      // The mailbox's MODSEQ was read before the listing: later changes may be in it already,
      // and applying them again is harmless.
      msgs = (await this.store.listMessages(mailbox.id)).map(copy);
      modseq = mailbox.highestModseq;
    }
    this.cache.setListing(mailbox.id, mailbox.uidValidity, { modseq, msgs: msgs.map(copy) });
    return { msgs, modseq };
  }

  /**
   * RFC 7162 §3.2.5.1: after SELECT (QRESYNC ...) with a matching UIDVALIDITY, what changed since
   * the client's MODSEQ among its known UIDs: VANISHED (EARLIER), then FETCH (UID FLAGS MODSEQ).
   */
  private async quickResync(qr: QresyncParam): Promise<void> {
    const v = this.view!;
    if (qr.uidValidity !== v.mailbox.uidValidity) return; // §3.2.5: ignore the rest
    const maxUid = Math.max(v.mailbox.uidNext - 1, v.msgs.length ? v.msgs[v.msgs.length - 1]!.uid : 0);
    const known = (uid: number) => !qr.knownUids || inSet(qr.knownUids, uid, maxUid);
    // §3.2.5.2: the highest (seq, uid) pair that still matches: no expunge at or below that UID
    // can be news to the client.
    let floor = 0;
    if (qr.seqMatch) {
      const [seqs, uids] = qr.seqMatch;
      for (let i = 0; i < seqs.length; i++) if (v.msgs[seqs[i]! - 1]?.uid === uids[i]) floor = Math.max(floor, uids[i]!);
    }
    const ch = await this.store.changesSince(v.mailbox.id, qr.modseq);
    await this.sendVanishedEarlier(ch.expunged.filter((u) => u > floor && known(u)));
    for (let i = 0; i < v.msgs.length; i++) {
      const m = v.msgs[i]!;
      if (m.modseq > qr.modseq && known(m.uid)) await this.send(`* ${i + 1} FETCH (UID ${m.uid} FLAGS ${list(m.flags)} MODSEQ (${m.modseq}))`);
    }
  }

  /** "* VANISHED (EARLIER) uids" for expunged UIDs the view no longer holds (none: nothing). */
  private async sendVanishedEarlier(uids: readonly number[]): Promise<void> {
    const v = this.view!;
    const gone = uids.filter((u) => findUid(v.msgs, u) < 0);
    if (gone.length) await this.send(`* VANISHED (EARLIER) ${formatSet(gone)}`);
  }

  /**
   * Removes these UIDs from the view and tells the client: one "* VANISHED" with QRESYNC
   * (RFC 7162 §3.2.10.2), else an EXPUNGE per message, each renumbering the rest.
   */
  private async announceExpunged(uids: Iterable<number>): Promise<void> {
    const v = this.view!;
    const gone: number[] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const i = findUid(v.msgs, uid);
      v.pendingExpunge.delete(uid);
      if (i < 0) continue;
      v.msgs.splice(i, 1);
      if (this.qresync) gone.push(uid);
      else await this.send(`* ${i + 1} EXPUNGE`);
    }
    if (gone.length) await this.send(`* VANISHED ${formatSet(gone)}`);
  }

  /** Tells the client what changed in the selected mailbox since it last heard (see header). */
  sync(allowExpunge: boolean, force = false): Promise<void> {
    // Nothing to tell (the common case after a command): no closure, no promise chained.
    const cur = this.view;
    if (!force && (!cur || (!cur.dirty && !(allowExpunge && cur.pendingExpunge.size)))) return this.syncChain;
    const run = async () => {
      const v = this.view;
      if (!v || (!v.dirty && !force && !(allowExpunge && v.pendingExpunge.size))) return;
      v.dirty = false;
      const ch = await this.store.changesSince(v.mailbox.id, v.modseq);
      if (this.view !== v) return;
      for (const uid of ch.expunged) if (findUid(v.msgs, uid) >= 0) v.pendingExpunge.add(uid);
      const lastUid = v.msgs.length ? v.msgs[v.msgs.length - 1]!.uid : 0;
      const updated = [...ch.updated].sort((a, b) => a.uid - b.uid);
      let added = 0;
      const expungedNow = new Set(ch.expunged);
      for (const m of updated) {
        if (m.uid > lastUid) {
          if (expungedNow.has(m.uid)) continue;
          v.msgs.push({ uid: m.uid, flags: [...m.flags], modseq: m.modseq, size: m.size, internalDate: m.internalDate });
          added++;
        }
      }
      if (allowExpunge && v.pendingExpunge.size) {
        await this.announceExpunged([...v.pendingExpunge]);
        v.pendingExpunge.clear();
      }
      if (added) await this.send(`* ${v.msgs.length} EXISTS`);
      for (const m of updated) {
        if (m.uid > lastUid) continue;
        const i = findUid(v.msgs, m.uid);
        if (i < 0) continue;
        const cur = v.msgs[i]!;
        const changed = !sameFlags(cur.flags, m.flags);
        cur.modseq = Math.max(cur.modseq, m.modseq);
        if (!changed) continue;
        cur.flags = [...m.flags];
        // RFC 7162 §3.2.4: UID and MODSEQ in every unsolicited FETCH once CONDSTORE is on.
        await this.send(`* ${i + 1} FETCH (FLAGS ${list(cur.flags)}${this.condstore ? ` UID ${cur.uid} MODSEQ (${cur.modseq})` : ''})`);
      }
      v.modseq = Math.max(v.modseq, ch.highestModseq);
    };
    const p = this.syncChain.then(run);
    this.syncChain = p.catch(() => {});
    return p;
  }

  /** The messages a set names: [index, msg] pairs in sequence order. */
  resolve(set: SeqSet, uid: boolean): Array<[number, Msg]> {
    const v = this.view!;
    if (set.saved) {
      const want = new Set(v.saved);
      return v.msgs.map((m, i) => [i, m] as [number, Msg]).filter(([, m]) => want.has(m.uid));
    }
    const msgs = v.msgs;
    const n = msgs.length;
    // RFC 3501 §9: a sequence number above the number of messages is an error (BAD). A range
    // with "*" is always valid (so "1:*" on an empty mailbox names nothing, without an error).
    if (!uid) for (const [a, b] of set.ranges) if (a !== STAR && b !== STAR && Math.min(a, b) > n) bad('invalid message sequence number');
    // Each range becomes an interval of indexes (binary search on the ascending UIDs), so a
    // command naming a few messages costs O(log n), not a pass over the whole mailbox.
    const max = uid ? (n ? msgs[n - 1]!.uid : 0) : n;
    const spans: Array<[number, number]> = [];
    for (const [a, b] of set.ranges) {
      const x = a === STAR ? max : a;
      const y = b === STAR ? max : b;
      const lo = Math.min(x, y);
      const hi = Math.max(x, y);
      const first = uid ? lowerBound(msgs, lo) : Math.max(lo, 1) - 1;
      const last = uid ? lowerBound(msgs, hi + 1) - 1 : Math.min(hi, n) - 1;
      if (first <= last) spans.push([first, last]);
    }
    spans.sort((p, q) => p[0] - q[0]);
    const out: Array<[number, Msg]> = [];
    let next = 0;
    for (const [first, last] of spans) {
      for (let i = Math.max(first, next); i <= last; i++) out.push([i, msgs[i]!]);
      next = Math.max(next, last + 1);
    }
    return out;
  }

  // ---- FETCH --------------------------------------------------------------------------------

  async fetch(c: Ctx): Promise<string | void> {
    const a = c.args;
    a.sp();
    const set = a.seqSet();
    a.sp();
    const req = parseFetchItems(a);
    const items: FetchItem[] = [...req.items];
    if (c.uid && !items.some((i) => i.kind === 'simple' && i.name === 'UID')) items.unshift({ kind: 'simple', name: 'UID' });
    if (req.changedSince !== null || items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) this.condstore = true;
    if (req.changedSince !== null && !items.some((i) => i.kind === 'simple' && i.name === 'MODSEQ')) items.push({ kind: 'simple', name: 'MODSEQ' });
    if (req.vanished) {
      // RFC 7162 §3.2.6: UID FETCH only, with CHANGEDSINCE, after ENABLE QRESYNC.
      if (!c.uid) bad('VANISHED is a UID FETCH modifier');
      if (!this.qresync) bad('VANISHED without ENABLE QRESYNC');
      if (req.changedSince === null) bad('VANISHED needs CHANGEDSINCE');
    }
    const v = this.view!;
    let targets = this.resolve(set, c.uid);
    if (req.vanished && !set.saved) {
      // Before any FETCH response (§3.2.6): the set's UIDs expunged since CHANGEDSINCE.
      // "*" reaches the highest UID ever given, so "1:*" covers a vanished last message too.
      const ch = await this.store.changesSince(v.mailbox.id, req.changedSince!);
      const maxUid = Math.max(v.msgs.length ? v.msgs[v.msgs.length - 1]!.uid : 0, ch.uidNext - 1);
      await this.sendVanishedEarlier(ch.expunged.filter((u) => inSet(set, u, maxUid)));
    }
    if (req.changedSince !== null) targets = targets.filter(([, m]) => m.modseq > req.changedSince!);
    const seen = setsSeen(items) && !v.readOnly;
    const stored = needsStored(items);
    const simple = items.every((i) => i.kind === 'simple');
    // Only ENVELOPE needs the stored message: the server's MessageCache may have it.
    const mc = stored && items.every((i) => i.kind === 'simple' && i.name !== 'BODY' && i.name !== 'BODYSTRUCTURE') ? this.cacheOf(v) : null;
    const envOf = (uid: number) => {
      const e = mc?.get(uid);
      return this.utf8 ? e?.envelopeUtf8 : e?.envelope;
    };
    let buf: Out[] = [];
    let bufLen = 0;
    // Hands what was gathered to emit(); a literal's octets stream from the blob store, a large
    // one straight to the socket (backpressure), a small one gathered with the rest.
    const flush = async () => {
      for (const o of buf) {
        if (typeof o === 'string' || Buffer.isBuffer(o)) await this.emit(o);
        else {
          await this.emit(`${o.binary ? '~' : ''}{${o.size}}\r\n`);
          if (o.size > WRITE_CHUNK) await this.flushOut();
          for await (const chunk of o.chunks) {
            if (o.size > WRITE_CHUNK) await this.conn.write(chunk);
            else await this.emit(chunk);
          }
        }
      }
      buf = [];
      bufLen = 0;
    };
    const t = this.opts.transcript;
    let missing = 0;
    for (let b = 0; b < targets.length; b += BATCH) {
      const batch = targets.slice(b, b + BATCH);
      if (seen) {
        const need = batch.filter(([, m]) => !hasFlag(m.flags, '\\Seen')).map(([, m]) => m.uid);
        if (need.length) {
          const r = await this.store.updateFlags(v.mailbox.id, need, 'add', ['\\Seen']);
          for (const u of r.updated) {
            const i = findUid(v.msgs, u.uid);
            if (i >= 0) {
              v.msgs[i]!.flags = u.flags;
              v.msgs[i]!.modseq = u.modseq;
            }
          }
        }
      }
      let rows = new Map<number, StoredMessage>();
      const need = stored ? batch.filter(([, m]) => envOf(m.uid) === undefined).map(([, m]) => m.uid) : [];
      if (need.length) rows = new Map((await this.store.getMessages(v.mailbox.id, need)).map((r) => [r.uid, r]));
      for (const [i, m] of batch) {
        const row = rows.get(m.uid) ?? null;
        let envelope = mc ? envOf(m.uid) : undefined;
        if (mc && envelope === undefined && row) {
          envelope = formatEnvelope((row.meta as MessageMeta).envelope, this.utf8);
          const e = mc.entry(m.uid);
          if (this.utf8) e.envelopeUtf8 = envelope;
          else e.envelope = envelope;
        }
        if (stored && !row && envelope === undefined) {
          missing++;
          continue; // expunged by another session, not yet announced
        }
        let fetchItems = items;
        if (seen && !items.some((x) => x.kind === 'simple' && x.name === 'FLAGS')) fetchItems = [...items, { kind: 'simple', name: 'FLAGS' }];
        // RFC 7162 §3.2.4: a FETCH that sets \Seen reports UID and MODSEQ once CONDSTORE is on.
        if (seen && this.condstore) fetchItems = [...fetchItems, { kind: 'simple', name: 'UID' }, { kind: 'simple', name: 'MODSEQ' }];
        const fc: FetchContext = { seq: i + 1, uid: m.uid, flags: m.flags, modseq: m.modseq, size: m.size, internalDate: m.internalDate, stored: row, utf8: this.utf8, blobs: this.store.blobs, ...(envelope !== undefined ? { envelope } : {}) };
        const text = simple ? simpleFetchText(fetchItems, fc) : null;
        if (text !== null) {
          const lineText = `* ${i + 1} FETCH (${text})\r\n`;
          if (t?.active) t.server(lineText.slice(0, 300).trimEnd());
          buf.push(lineText);
          bufLen += lineText.length;
          if (bufLen >= WRITE_CHUNK) await flush();
          continue;
        }
        const values = await fetchValues(fetchItems, fc);
        const line: Out[] = [`* ${i + 1} FETCH (`, ...values, ')\r\n'];
        if (t?.active) t.server(`* ${i + 1} FETCH (${values.map((o) => (typeof o === 'string' ? o : Buffer.isBuffer(o) ? '<octets>' : `{${o.size}}`)).join('').slice(0, 300)})`);
        for (const o of line) {
          buf.push(o);
          bufLen += typeof o === 'string' ? o.length : Buffer.isBuffer(o) ? o.length : WRITE_CHUNK;
        }
        if (bufLen >= WRITE_CHUNK) await flush();
      }
    }
    await flush();
    if (missing) return 'NO [EXPUNGEISSUED] some messages were expunged';
  }

  // ---- STORE --------------------------------------------------------------------------------

  async storeCommand(c: Ctx): Promise<string | void> {
    const a = c.args;
    a.sp();
    const set = a.seqSet();
    a.sp();
    let unchangedSince: number | undefined;
    if (a.peek() === '(') {
      a.list(() => {
        const n = a.atom().toUpperCase();
        if (n !== 'UNCHANGEDSINCE') bad(`unknown STORE modifier ${n}`);
        a.sp();
        unchangedSince = a.number();
        return n;
      });
      a.sp();
      this.condstore = true;
    }
    const item = a.atom().toUpperCase();
    const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
    if (!m) bad('expected FLAGS, +FLAGS or -FLAGS');
    const op = m![1] === '+' ? 'add' : m![1] === '-' ? 'remove' : 'set';
    const silent = !!m![2];
    a.sp();
    const flags = a.peek() === '(' ? a.list(() => a.flag()) : (() => {
      const out = [a.flag()];
      while (a.maybeSp()) out.push(a.flag());
      return out;
    })();
    a.end();
    for (const f of flags) if (f.startsWith('\\') && !SYSTEM_FLAGS.some((s) => flagKey(s) === flagKey(f))) bad(`cannot store ${f}`);
    const v = this.view!;
    if (v.readOnly) no('mailbox is read-only', 'READ-ONLY');
    const targets = this.resolve(set, c.uid);
    if (!targets.length) return;
    const r = await this.store.updateFlags(v.mailbox.id, targets.map(([, x]) => x.uid), op, flags, unchangedSince === undefined ? {} : { unchangedSince });
    const byUid = new Map(r.updated.map((u) => [u.uid, u]));
    for (const [i, msg] of targets) {
      const u = byUid.get(msg.uid);
      if (u) {
        msg.flags = [...u.flags];
        msg.modseq = u.modseq;
      }
      if (r.failed.includes(msg.uid)) continue;
      // RFC 3501 §6.4.6: the new flags, unless .SILENT; RFC 7162 §3.1.3: MODSEQ when CONDSTORE.
      if (!silent || (this.condstore && u)) {
        const parts: string[] = [];
        if (!silent) parts.push(`FLAGS ${list(msg.flags)}`);
        // RFC 7162 §3.2.4: UID too once CONDSTORE is on.
        if (c.uid || this.condstore) parts.push(`UID ${msg.uid}`);
        if (this.condstore) parts.push(`MODSEQ (${msg.modseq})`);
        await this.send(`* ${i + 1} FETCH (${parts.join(' ')})`);
      }
    }
    if (r.failed.length) {
      const failed = c.uid ? r.failed : r.failed.map((u) => findUid(v.msgs, u) + 1).filter((n) => n > 0);
      return `OK [MODIFIED ${formatSet([...failed].sort((x, y) => x - y))}] conditional STORE failed for some messages`;
    }
  }

  // ---- SEARCH -------------------------------------------------------------------------------

  async search(c: Ctx): Promise<string | void> {
    c.args.sp();
    const prog = parseSearch(c.args);
    const v = this.view!;
    const needStored = searchNeeds(prog.key) === 'stored';
    const hits: Msg[] = [];
    const hitSeqs: number[] = [];
    const env = { blobs: this.store.blobs, maxSeq: v.msgs.length, maxUid: v.msgs.length ? v.msgs[v.msgs.length - 1]!.uid : 0, saved: v.saved };
    let maxModseq = 0;
    const usesModseq = JSON.stringify(prog.key).includes('"modseq"');
    // RFC 7162 §3.2.10.2: no VANISHED (nor EXPUNGE) after a UID SEARCH that uses message numbers.
    if (JSON.stringify(prog.key).includes('"op":"seq"')) c.holdExpunge = true;
    if (usesModseq) this.condstore = true;
    const msgs = [...v.msgs];
    // FROM/TO/CC/BCC/SUBJECT only: the decoded fields may be in the server's MessageCache.
    const mc = needStored && answerableFromFields(prog.key, CACHED_SEARCH_FIELDS) ? this.cacheOf(v) : null;
    for (let b = 0; b < msgs.length; b += BATCH) {
      const batch = msgs.slice(b, b + BATCH);
      let rows = new Map<number, StoredMessage>();
      const need = needStored ? batch.filter((m) => !mc?.get(m.uid)?.searchFields).map((m) => m.uid) : [];
      if (need.length) rows = new Map((await this.store.getMessages(v.mailbox.id, need)).map((r) => [r.uid, r]));
      for (let j = 0; j < batch.length; j++) {
        const m = batch[j]!;
        const row = rows.get(m.uid) ?? null;
        const cache: SearchCache = {};
        if (mc) {
          const hit = mc.get(m.uid)?.searchFields;
          if (hit) cache.header = hit;
          else if (row) {
            const all = await headerOf(env, row, cache);
            mc.entry(m.uid).searchFields = all.filter((f) => CACHED_SEARCH_FIELDS.has(f.name));
          }
        }
        if (await matches(prog.key, { seq: b + j + 1, uid: m.uid, flags: m.flags, size: m.size, internalDate: m.internalDate, modseq: m.modseq, stored: row }, env, cache)) {
          hits.push(m);
          hitSeqs.push(b + j + 1);
          maxModseq = Math.max(maxModseq, m.modseq);
        }
      }
    }
    const nums = c.uid ? hits.map((m) => m.uid) : hitSeqs;
    // RFC 9051 §6.4.4: IMAP4rev2 answers SEARCH with ESEARCH (ALL when no RETURN).
    if (!prog.returnOpts && this.rev2) prog.returnOpts = ['ALL'];
    if (prog.returnOpts) {
      // RFC 4731 ESEARCH
      const o = prog.returnOpts;
      if (o.includes('SAVE')) v.saved = hits.map((m) => m.uid);
      const parts = [`(TAG ${quote(c.tag)})`];
      if (c.uid) parts.push('UID');
      if (o.includes('MIN') && nums.length) parts.push(`MIN ${nums[0]}`);
      if (o.includes('MAX') && nums.length) parts.push(`MAX ${nums[nums.length - 1]}`);
      if (o.includes('COUNT')) parts.push(`COUNT ${nums.length}`);
      if (o.includes('ALL') && nums.length) parts.push(`ALL ${formatSet(nums)}`);
      if (usesModseq && nums.length) parts.push(`MODSEQ ${maxModseq}`);
      if (!(o.length === 1 && o[0] === 'SAVE')) await this.send(`* ESEARCH ${parts.join(' ')}`);
      return;
    }
    await this.send(`* SEARCH${nums.length ? ' ' + nums.join(' ') : ''}${usesModseq && nums.length ? ` (MODSEQ ${maxModseq})` : ''}`);
  }

  // ---- COPY / MOVE / EXPUNGE ----------------------------------------------------------------

  async copyMove(c: Ctx, move: boolean): Promise<string | void> {
    const a = c.args;
    a.sp();
    const set = a.seqSet();
    a.sp();
    const name = this.nameIn(a.astring());
    a.end();
    const v = this.view!;
    if (move && v.readOnly) no('mailbox is read-only', 'READ-ONLY');
    const target = await this.store.getMailbox(this.account!.id, name);
    if (!target) no('no such mailbox', 'TRYCREATE');
    const targets = this.resolve(set, c.uid);
    if (!targets.length) return `OK ${move ? 'MOVE' : 'COPY'} completed (no messages)`;
    const uids = targets.map(([, m]) => m.uid);
    const r = move ? await this.store.moveMessages(v.mailbox.id, uids, target!.id) : await this.store.copyMessages(v.mailbox.id, uids, target!.id);
    const pairs = [...r.pairs].sort((x, y) => x[0] - y[0]);
    if (target!.id === v.mailbox.id) v.dirty = true;
    const code = pairs.length ? `COPYUID ${r.uidValidity} ${formatSet(pairs.map((p) => p[0]))} ${formatSet(pairs.map((p) => p[1]))}` : '';
    if (!move) return `OK ${code ? `[${code}] ` : ''}COPY completed`;
    // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK.
    if (code) await this.send(`* OK [${code}] moved`);
    await this.expungeUids(pairs.map((p) => p[0]));
    if (this.condstore) {
      // RFC 6851 §4.4: the source's new HIGHESTMODSEQ in the tagged OK.
      const after = await this.store.getMailboxById(v.mailbox.id);
      if (after) return `OK [HIGHESTMODSEQ ${after.highestModseq}] MOVE completed`;
    }
    return 'OK MOVE completed';
  }

  /** Removes these UIDs from the view, telling the client (EXPUNGE or VANISHED). */
  async expungeUids(uids: readonly number[]): Promise<void> {
    await this.announceExpunged(uids);
  }

  async expunge(c: Ctx, silent: boolean): Promise<string | void> {
    const v = this.view!;
    let only: Set<number> | null = null;
    if (c.uid) {
      c.args.sp();
      only = new Set(this.resolve(c.args.seqSet(), true).map(([, m]) => m.uid));
    }
    c.args.end();
    if (v.readOnly) {
      if (silent) return;
      no('mailbox is read-only', 'READ-ONLY');
    }
    // Fresh flags: another session may have set \Deleted.
    const current = await this.store.listMessages(v.mailbox.id);
    const doomed = current.filter((m) => hasFlag(m.flags, '\\Deleted') && findUid(v.msgs, m.uid) >= 0 && (!only || only.has(m.uid))).map((m) => m.uid);
    if (!doomed.length) return;
    const r = await this.store.expunge(v.mailbox.id, doomed);
    if (silent) return;
    await this.expungeUids(r.expunged);
    // RFC 7162 §3.2.7, §3.2.9: with QRESYNC the new HIGHESTMODSEQ goes in the tagged OK.
    if (this.qresync && r.expunged.length) return `OK [HIGHESTMODSEQ ${r.modseq}] ${c.uid ? 'UID ' : ''}EXPUNGE completed`;
  }
}

// ---- the command table ----------------------------------------------------------------------

const ANY: readonly ImapState[] = ['notauth', 'auth', 'selected'];
const NOTAUTH: readonly ImapState[] = ['notauth'];
const AUTHED: readonly ImapState[] = ['auth', 'selected'];
const SELECTED: readonly ImapState[] = ['selected'];

/** LIST pattern (RFC 3501 §6.3.8): "*" matches anything, "%" anything but the delimiter. */
function patternRegExp(canonical: string): RegExp {
  const src = canonical.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*');
  return new RegExp(`^${src}$`, 's');
}

/**
 * The canonical LIST pattern (RFC 9051 §6.3.9): the reference with the pattern appended; a
 * leading INBOX is case-insensitive (RFC 3501 §5.1) and so matched as "INBOX".
 */
function canonicalPattern(ref: string, pattern: string): string {
  return (ref + pattern).replace(/^inbox(?=\/|$)/i, 'INBOX');
}

/** RFC 9051 §6.3.9.1 selection options and §6.3.9.2 return options (RFC 5258, RFC 6154, RFC 5819). */
const LIST_SELECTION = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const LIST_RETURN = new Set(['CHILDREN', 'SUBSCRIBED', 'SPECIAL-USE', 'STATUS']);

async function listCommand(s: ImapSession, c: Ctx, lsub: boolean): Promise<string | void> {
  const a = c.args;
  a.sp();
  // RFC 9051 §6.3.9: the extended syntax is selection options, a pattern list, or RETURN.
  let extended = false;
  const sel = new Set<string>();
  if (!lsub && a.peek() === '(') {
    extended = true;
    for (const o of a.list(() => a.atom().toUpperCase())) {
      if (!LIST_SELECTION.has(o)) bad(`unknown LIST selection option ${o}`);
      sel.add(o);
    }
    a.sp();
  }
  const ref = s.nameIn(a.astring());
  a.sp();
  let patterns: string[];
  if (!lsub && a.peek() === '(') {
    extended = true;
    patterns = a.list(() => s.nameIn(a.listMailbox()));
    if (!patterns.length) bad('empty pattern list');
  } else patterns = [s.nameIn(a.listMailbox())];
  const ret = new Set<string>();
  let statusItems: string[] | null = null;
  if (!lsub && a.maybeSp()) {
    extended = true;
    a.expect('RETURN ');
    a.list(() => {
      const o = a.atom().toUpperCase();
      if (!LIST_RETURN.has(o)) bad(`unknown LIST return option ${o}`);
      if (o === 'STATUS') {
        a.sp();
        statusItems = parseStatusItems(a);
      }
      ret.add(o);
      return o;
    });
  }
  a.end();
  // §6.3.9.1: RECURSIVEMATCH alone (or with REMOTE only) is invalid.
  if (sel.has('RECURSIVEMATCH') && !sel.has('SUBSCRIBED') && !sel.has('SPECIAL-USE')) bad('RECURSIVEMATCH needs another selection option');
  const verb = lsub ? 'LSUB' : 'LIST';
  if (!extended && patterns.length === 1 && patterns[0] === '') {
    // Basic syntax only: the hierarchy delimiter and root.
    await s.send(`* ${verb} (\\Noselect) "/" ""`);
    return;
  }
  // In the extended syntax empty patterns are ignored.
  const res = patterns.filter((p) => p !== '').map((p) => patternRegExp(canonicalPattern(ref, p)));
  const matches = (name: string) => res.some((re) => re.test(name));
  const boxes = await s.store.listMailboxes(s.account!.id);
  const byName = new Map(boxes.map((b) => [b.name, b]));
  // RFC 3501 §6.3.8: a level of hierarchy that is not a mailbox itself (only "a/b" exists) is
  // listed, when the pattern matches it, as \Noselect (\NonExistent in the extended syntax).
  const withChildren = new Set<string>();
  for (const b of boxes) {
    const parts = b.name.split('/');
    for (let i = 1; i < parts.length; i++) withChildren.add(parts.slice(0, i).join('/'));
  }
  const names = [...new Set([...byName.keys(), ...withChildren])].sort((x, y) => (x === 'INBOX' ? -1 : y === 'INBOX' ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const filters: ((b: Mailbox) => boolean)[] = [];
  if (lsub || sel.has('SUBSCRIBED')) filters.push((b) => b.subscribed);
  if (sel.has('SPECIAL-USE')) filters.push((b) => !!b.specialUse);
  const meets = (name: string): boolean => {
    const b = byName.get(name);
    if (!filters.length) return !lsub;
    return !!b && filters.every((f) => f(b));
  };
  const criteria = [...sel].filter((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE');
  const showSubscribed = sel.has('SUBSCRIBED') || ret.has('SUBSCRIBED');
  for (const name of names) {
    if (!matches(name)) continue;
    const b = byName.get(name) ?? null;
    const meet = lsub ? !!b && b.subscribed : meets(name);
    // §6.3.9.6: CHILDINFO when a descendant meets the selection but is not itself listed.
    const childInfo = sel.has('RECURSIVEMATCH') && boxes.some((x) => x.name.startsWith(name + '/') && meets(x.name) && !matches(x.name));
    if (!meet && !childInfo) continue;
    const attrs: string[] = [];
    if (!b) attrs.push(extended ? '\\NonExistent' : '\\Noselect');
    if (!lsub) attrs.push(withChildren.has(name) ? '\\HasChildren' : '\\HasNoChildren');
    if (b?.specialUse && !lsub) attrs.push(b.specialUse);
    if (showSubscribed && b?.subscribed) attrs.push('\\Subscribed');
    const ext = childInfo ? ` ("CHILDINFO" (${criteria.map(quote).join(' ')}))` : '';
    await s.send(`* ${verb} (${attrs.join(' ')}) "/" ${s.nameOut(name)}${ext}`);
    // RFC 9051 §6.3.9.2 (RFC 5819 LIST-STATUS): STATUS after the LIST of a selectable mailbox.
    if (statusItems && b) await s.send(`* STATUS ${s.nameOut(name)} (${await statusValues(s.store, b.id, statusItems)})`);
  }
}

const STATUS_ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'DELETED']);

/** "(" status-att *(SP status-att) ")" (RFC 9051 §6.3.11). */
function parseStatusItems(a: Args): string[] {
  const items = a.list(() => a.atom().toUpperCase());
  if (!items.length) bad('empty STATUS list');
  for (const it of items) if (!STATUS_ITEMS.has(it)) bad(`unknown STATUS item ${it}`);
  return items;
}

async function statusValues(store: Store, mailboxId: number, items: readonly string[]): Promise<string> {
  const st = await store.mailboxStatus(mailboxId);
  const value: Record<string, number> = {
    MESSAGES: st.messages,
    RECENT: 0,
    UIDNEXT: st.uidNext,
    UIDVALIDITY: st.uidValidity,
    UNSEEN: st.unseen,
    HIGHESTMODSEQ: st.highestModseq,
    SIZE: st.size,
    DELETED: st.deleted,
  };
  return [...new Set(items)].map((it) => `${it} ${value[it]}`).join(' ');
}

async function statusCommand(s: ImapSession, c: Ctx): Promise<string | void> {
  const a = c.args;
  a.sp();
  const name = s.nameIn(a.astring());
  a.sp();
  const items = parseStatusItems(a);
  a.end();
  const mb = await s.store.getMailbox(s.account!.id, name);
  if (!mb) no('no such mailbox', 'NONEXISTENT');
  await s.send(`* STATUS ${s.nameOut(mb!.name)} (${await statusValues(s.store, mb!.id, items)})`);
}

function mailboxArg(s: ImapSession, a: Args): string {
  a.sp();
  const name = s.nameIn(a.astring());
  a.end();
  return name;
}

function normalizeName(name: string): string {
  const n = name.replace(/\/+$/, '');
  if (!n || n.split('/').some((p) => p === '')) bad('invalid mailbox name');
  if (/[\x00-\x1f\x7f*%]/.test(n)) bad('invalid mailbox name');
  return /^inbox$/i.test(n) ? 'INBOX' : n.replace(/^inbox\//i, 'INBOX/');
}

const COMMANDS: Record<string, CommandSpec> = {
  CAPABILITY: {
    states: ANY,
    handler: async (s, c) => {
      c.args.end();
      await s.send(`* CAPABILITY ${s.capabilities().join(' ')}`);
    },
  },
  NOOP: {
    states: ANY,
    handler: async (s, c) => {
      c.args.end();
      if (s.view) s.view.dirty = true;
    },
  },
  LOGOUT: {
    states: ANY,
    handler: async (s, c) => {
      c.args.end();
      await s.send('* BYE logging out');
      s.state = 'logout';
      return 'OK LOGOUT completed';
    },
  },
  STARTTLS: {
    states: NOTAUTH,
    handler: async (s, c) => {
      c.args.end();
      if (!s.opts.tls || s.conn.secure) bad('STARTTLS not available');
      await s.send(`${c.tag} OK begin TLS negotiation now`);
      await s.conn.startTls(s.opts.tls!());
      return NO_TAGGED;
    },
  },
  LOGIN: {
    states: NOTAUTH,
    handler: async (s, c) => {
      const a = c.args;
      a.sp();
      const user = a.astring();
      a.sp();
      const pass = a.astring();
      a.end();
      s.requireCleartext();
      return s.login(await s.opts.authenticator.authenticate({ username: user, password: pass, remote: s.conn.remoteAddress }));
    },
  },
  AUTHENTICATE: { states: NOTAUTH, handler: (s, c) => s.authenticate(c) },
  ID: {
    states: ANY,
    handler: async (s, c) => {
      // RFC 2971: the client's fields are only read; the server names itself.
      c.args.sp();
      if (!c.args.accept('NIL')) c.args.list(() => c.args.nstring());
      c.args.end();
      await s.send('* ID ("name" "Wharf" "vendor" "Wharf")');
    },
  },
  ENABLE: {
    states: AUTHED,
    handler: async (s, c) => {
      const enabled: string[] = [];
      while (c.args.maybeSp()) {
        // RFC 5161 §3.1: each extension is listed once.
        const cap = c.args.atom().toUpperCase();
        if (cap === 'CONDSTORE') s.condstore = true;
        else if (cap === 'QRESYNC') {
          // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
          s.qresync = true;
          s.condstore = true;
        }
        else if (cap === 'IMAP4REV2') {
          s.rev2 = true;
          s.utf8 = true;
        } else if (cap === 'UTF8=ACCEPT') s.utf8 = true;
        else continue;
        const name = cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap;
        if (!enabled.includes(name)) enabled.push(name);
      }
      c.args.end();
      await s.send(`* ENABLED${enabled.length ? ' ' + enabled.join(' ') : ''}`);
    },
  },
  NAMESPACE: {
    states: AUTHED,
    handler: async (s, c) => {
      c.args.end();
      await s.send('* NAMESPACE (("" "/")) NIL NIL');
    },
  },
  SELECT: { states: AUTHED, handler: (s, c) => s.select(c, false) },
  EXAMINE: { states: AUTHED, handler: (s, c) => s.select(c, true) },
  CREATE: {
    states: AUTHED,
    handler: async (s, c) => {
      const name = normalizeName(mailboxArg(s, c.args));
      if (name === 'INBOX') no('INBOX always exists', 'ALREADYEXISTS');
      if (await s.store.getMailbox(s.account!.id, name)) no('mailbox exists', 'ALREADYEXISTS');
      // RFC 3501 §6.3.3: superior names are created as needed.
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        if (!(await s.store.getMailbox(s.account!.id, parent))) await s.store.createMailbox(s.account!.id, parent).catch(() => {});
      }
      try {
        await s.store.createMailbox(s.account!.id, name, { subscribed: true });
      } catch (e) {
        if (isWharfError(e, 'WHARF_EXISTS')) no('mailbox exists', 'ALREADYEXISTS');
        throw e;
      }
    },
  },
  DELETE: {
    states: AUTHED,
    handler: async (s, c) => {
      const name = mailboxArg(s, c.args);
      if (/^inbox$/i.test(name)) no('INBOX cannot be deleted', 'CANNOT');
      const mb = await s.store.getMailbox(s.account!.id, name);
      if (!mb) no('no such mailbox', 'NONEXISTENT');
      if (s.view?.mailbox.id === mb!.id) s.deselect();
      await s.store.deleteMailbox(mb!.id);
    },
  },
  RENAME: {
    states: AUTHED,
    handler: async (s, c) => {
      const a = c.args;
      a.sp();
      const from = s.nameIn(a.astring());
      a.sp();
      const to = normalizeName(s.nameIn(a.astring()));
      a.end();
      const mb = await s.store.getMailbox(s.account!.id, from);
      if (!mb) no('no such mailbox', 'NONEXISTENT');
      if (await s.store.getMailbox(s.account!.id, to)) no('target mailbox exists', 'ALREADYEXISTS');
      if (mb!.name === 'INBOX') {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
        const target = await s.store.createMailbox(s.account!.id, to, { subscribed: true });
        const uids = (await s.store.listMessages(mb!.id)).map((m) => m.uid);
        if (uids.length) await s.store.moveMessages(mb!.id, uids, target.id);
        if (s.view?.mailbox.id === mb!.id) s.view.dirty = true;
        return;
      }
      if (to === 'INBOX') no('cannot rename to INBOX', 'ALREADYEXISTS');
      await s.store.renameMailbox(mb!.id, to);
      if (s.view?.mailbox.id === mb!.id) s.view.mailbox = { ...s.view.mailbox, name: to };
    },
  },
  SUBSCRIBE: {
    states: AUTHED,
    handler: async (s, c) => {
      const mb = await s.store.getMailbox(s.account!.id, mailboxArg(s, c.args));
      if (!mb) no('no such mailbox', 'NONEXISTENT');
      await s.store.setSubscribed(mb!.id, true);
    },
  },
  UNSUBSCRIBE: {
    states: AUTHED,
    handler: async (s, c) => {
      const mb = await s.store.getMailbox(s.account!.id, mailboxArg(s, c.args));
      if (!mb) no('no such mailbox', 'NONEXISTENT');
      await s.store.setSubscribed(mb!.id, false);
    },
  },
  LIST: { states: AUTHED, handler: (s, c) => listCommand(s, c, false) },
  LSUB: { states: AUTHED, handler: (s, c) => listCommand(s, c, true) },
  STATUS: { states: AUTHED, handler: statusCommand },
  APPEND: { states: AUTHED, handler: (s, c) => s.appendCommand(c) },
  CHECK: {
    states: SELECTED,
    handler: async (s, c) => {
      c.args.end();
      s.view!.dirty = true;
    },
  },
  CLOSE: {
    states: SELECTED,
    handler: async (s, c) => {
      c.args.end();
      // RFC 3501 §6.4.2: expunge silently (not in a read-only mailbox), then deselect.
      await s.expunge({ ...c, uid: false }, true);
      s.deselect();
    },
  },
  UNSELECT: {
    states: SELECTED,
    handler: async (s, c) => {
      c.args.end();
      s.deselect();
    },
  },
  EXPUNGE: { states: SELECTED, handler: (s, c) => s.expunge(c, false) },
  FETCH: { states: SELECTED, handler: (s, c) => s.fetch(c), noExpunge: true },
  STORE: { states: SELECTED, handler: (s, c) => s.storeCommand(c), noExpunge: true },
  SEARCH: { states: SELECTED, handler: (s, c) => s.search(c), noExpunge: true },
  COPY: { states: SELECTED, handler: (s, c) => s.copyMove(c, false) },
  MOVE: { states: SELECTED, handler: (s, c) => s.copyMove(c, true) },
  IDLE: { states: AUTHED, handler: (s, c) => idle(s, c) },
};

/** Commands that write while waiting for the client: their responses are not batched. */
const UNBATCHED = new Set(['AUTHENTICATE', 'STARTTLS', 'IDLE']);

/** A handler that already answered (STARTTLS). */
const NO_TAGGED = '\u0000';

/** RFC 2177 IDLE: "+ idling", changes as they happen, until the client sends DONE. */
async function idle(s: ImapSession, c: Ctx): Promise<string> {
  c.args.end();
  await s.sync(true, true);
  await s.send('+ idling');
  const sessionPriv = s;
  let draining = false;
  sessionPriv.idling = (why) => {
    if (why === 'drain') {
      draining = true;
      void s.send('* BYE [UNAVAILABLE] server shutting down').catch(() => {}).finally(() => s.conn.close().catch(() => {}));
      return;
    }
    void s.sync(true).catch((e: unknown) => s.opts.logger.warn('imap idle sync failed', { err: describeError(e) }));
  };
  let line: string | null;
  try {
    // Changes may have come between the sync above and now.
    if (s.view?.dirty) sessionPriv.idling('change');
    line = await s.conn.readLine();
  } catch (e) {
    if (isWharfError(e, 'WHARF_TIMEOUT')) {
      s.state = 'logout';
      await s.send('* BYE idle for too long').catch(() => {});
      return 'NO idle timeout';
    }
    throw e;
  } finally {
    sessionPriv.idling = null;
  }
  if (line === null || draining) throw new ReplyError('BAD connection closed');
  if (line.trim().toUpperCase() !== 'DONE') return 'BAD expected DONE';
  return 'OK IDLE terminated';
}

