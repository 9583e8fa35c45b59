// One IMAP session (RFC 3501 IMAP4rev1) with the extensions the server advertises: LITERAL+
// (RFC 7888), SASL-IR (RFC 4959), ID (RFC 2971), ENABLE (RFC 5161), IDLE (RFC 2177), NAMESPACE
// (RFC 2342), UIDPLUS (RFC 4315), MOVE (RFC 6851), UNSELECT (RFC 3691), CHILDREN (RFC 3348),
// SPECIAL-USE (RFC 6154), CONDSTORE (RFC 7162), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
// BINARY (RFC 3516), response codes of RFC 5530.
//
// States (RFC 3501 §3): not authenticated → authenticated → selected → logout.
//
// The selected mailbox is a view: the messages the client knows, in sequence order, with their
// flags. Changes by anyone (another session, `wharf deliver` in another process, POP3) reach
// the view only through sync(), which asks the store what changed since the view's MODSEQ and
// tells the client (EXISTS, EXPUNGE, FETCH FLAGS). sync() runs before a tagged response and
// during IDLE; RFC 3501 §7.4.1: never an EXPUNGE while answering FETCH, STORE or SEARCH (the
// UID forms may), so there expunges wait for the next command.
import type { SecureContext } from 'node:tls';
import type { Authenticator, AuthResult } from '../auth/authenticator.js';
import { isSaslMechanism, saslExchange } from '../auth/sasl.js';
import type { Connection } from '../core/connection.js';
import { ReplyError, describeError, isWharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { createMessageSink } from '../mail/ingest.js';
import type { MessageSink } from '../mail/ingest.js';
import type { Mailbox, Store, StoredMessage } from '../store/store.js';
import { fetchValues, needsStored, parseFetchItems, setsSeen } from './fetch.js';
import type { FetchItem, Out } from './fetch.js';
import { BadCharset, matches, parseSearch, searchNeeds } from './search.js';
import { astr, list, parseImapDate, quote } from './wire/compiler.js';
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

  constructor(
    readonly conn: Connection,
    readonly opts: ImapSessionOptions,
  ) {}

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
    try {
      resp = (await spec.handler(this, { tag, args, uid })) ?? `OK ${uid ? 'UID ' : ''}${verb} completed`;
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
      await this.sync(!spec.noExpunge || uid).catch((e: unknown) => {
        if (isWharfError(e, 'WHARF_CLOSED')) throw e;
        this.opts.logger.warn('imap sync failed', { user: this.account?.address, err: describeError(e) });
      });
    }
    await this.tagged(tag, resp);
  }

  private tagged(tag: string, resp: string): Promise<void> {
    return this.send(`${tag} ${resp}`);
  }

  /** Writes a response line (it may hold literals); logs it in the transcript. */
  send(line: string): Promise<void> {
    const t = this.opts.transcript;
    if (t?.active) t.server(line.length > 2000 ? line.slice(0, 2000) + '…' : line.replace(/\r\n/g, ' '));
    return this.conn.write(line + '\r\n');
  }

  // ---- capabilities --------------------------------------------------------------------------

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'SASL-IR', 'LITERAL+', 'ID', 'ENABLE', 'IDLE'];
    if (this.state === 'notauth') {
      if (this.opts.tls && !this.conn.secure) caps.push('STARTTLS');
      if (this.opts.cleartextAllowed()) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
      else caps.push('LOGINDISABLED');
    } else {
      caps.push('NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'SPECIAL-USE', 'CONDSTORE', 'ESEARCH', 'SEARCHRES', 'BINARY', 'STATUS=SIZE', 'UTF8=ACCEPT', `APPENDLIMIT=${this.opts.maxLiteral}`);
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
      mailboxName = a.astring();
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
    const name = a.astring();
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
    c.args.sp();
    const name = c.args.astring();
    if (c.args.maybeSp()) {
      const params = c.args.list(() => c.args.atom().toUpperCase());
      if (params.includes('CONDSTORE')) this.condstore = true;
      else if (params.length) bad('unknown SELECT parameter');
    }
    c.args.end();
    if (this.view) {
      this.deselect();
      // RFC 7162 §3.2.11 / RFC 9051: the previous mailbox is closed.
      await this.send('* OK [CLOSED] previous mailbox closed');
    }
    const mb = await this.store.getMailbox(this.account!.id, name);
    if (!mb) no('no such mailbox', 'NONEXISTENT');
    const mailbox = mb!;
    const list0 = await this.store.listMessages(mailbox.id);
    const view: View = {
      mailbox,
      readOnly,
      msgs: list0.map((m) => ({ uid: m.uid, flags: [...m.flags], modseq: m.modseq, size: m.size, internalDate: m.internalDate })),
      modseq: mailbox.highestModseq,
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
    await this.send(`* OK [HIGHESTMODSEQ ${Math.max(mailbox.highestModseq, ...view.msgs.map((m) => m.modseq), 0)}] highest`);
    return `OK [${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${readOnly ? 'EXAMINE' : 'SELECT'} completed`;
  }

  /** Tells the client what changed in the selected mailbox since it last heard (see header). */
  sync(allowExpunge: boolean, force = false): Promise<void> {
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
        for (const uid of [...v.pendingExpunge].sort((a, b) => a - b)) {
          const i = findUid(v.msgs, uid);
          if (i < 0) continue;
          v.msgs.splice(i, 1);
          await this.send(`* ${i + 1} EXPUNGE`);
        }
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
        await this.send(`* ${i + 1} FETCH (FLAGS ${list(cur.flags)}${this.condstore ? ` MODSEQ (${cur.modseq})` : ''})`);
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
    if (uid) {
      const uids = v.msgs.map((m) => m.uid);
      const maxUid = uids.length ? uids[uids.length - 1]! : 0;
      const hit = new Set(resolveSet(set, uids, maxUid));
      return v.msgs.map((m, i) => [i, m] as [number, Msg]).filter(([, m]) => hit.has(m.uid));
    }
    const n = v.msgs.length;
    // RFC 3501 §9: a sequence number above the number of messages is an error (BAD). A range
    // with "*" is always valid (so "1:*" on an empty mailbox names nothing, without an error).
    for (const [a, b] of set.ranges) if (a !== STAR && b !== STAR && Math.min(a, b) > n) bad('invalid message sequence number');
    const seqs = Array.from({ length: n }, (_, i) => i + 1);
    return resolveSet(set, seqs, n).map((s) => [s - 1, v.msgs[s - 1]!]);
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
    const v = this.view!;
    let targets = this.resolve(set, c.uid);
    if (req.changedSince !== null) targets = targets.filter(([, m]) => m.modseq > req.changedSince!);
    const seen = setsSeen(items) && !v.readOnly;
    const stored = needsStored(items);
    let buf: Out[] = [];
    let bufLen = 0;
    // Writes what was gathered; a literal's octets stream from the blob store (backpressure).
    const flush = async () => {
      const text: (string | Buffer)[] = [];
      for (const o of buf) {
        if (typeof o === 'string' || Buffer.isBuffer(o)) text.push(o);
        else {
          text.push(`${o.binary ? '~' : ''}{${o.size}}\r\n`);
          await this.conn.write(Buffer.concat(text.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t))));
          text.length = 0;
          for await (const chunk of o.chunks) await this.conn.write(chunk);
        }
      }
      if (text.length) await this.conn.write(Buffer.concat(text.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t))));
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
      if (stored) rows = new Map((await this.store.getMessages(v.mailbox.id, batch.map(([, m]) => m.uid))).map((r) => [r.uid, r]));
      for (const [i, m] of batch) {
        const row = rows.get(m.uid) ?? null;
        if (stored && !row) {
          missing++;
          continue; // expunged by another session, not yet announced
        }
        let fetchItems = items;
        if (seen && !items.some((x) => x.kind === 'simple' && x.name === 'FLAGS')) fetchItems = [...items, { kind: 'simple', name: 'FLAGS' }];
        const values = await fetchValues(fetchItems, { seq: i + 1, uid: m.uid, flags: m.flags, modseq: m.modseq, size: m.size, internalDate: m.internalDate, stored: row, utf8: this.utf8, blobs: this.store.blobs });
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
        if (c.uid) parts.push(`UID ${msg.uid}`);
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
    if (usesModseq) this.condstore = true;
    const msgs = [...v.msgs];
    for (let b = 0; b < msgs.length; b += BATCH) {
      const batch = msgs.slice(b, b + BATCH);
      let rows = new Map<number, StoredMessage>();
      if (needStored) rows = new Map((await this.store.getMessages(v.mailbox.id, batch.map((m) => m.uid))).map((r) => [r.uid, r]));
      for (let j = 0; j < batch.length; j++) {
        const m = batch[j]!;
        if (await matches(prog.key, { seq: b + j + 1, uid: m.uid, flags: m.flags, size: m.size, internalDate: m.internalDate, modseq: m.modseq, stored: rows.get(m.uid) ?? null }, env)) {
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
    const name = a.astring();
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
    return 'OK MOVE completed';
  }

  /** Removes these UIDs from the view, telling the client (each EXPUNGE renumbers). */
  async expungeUids(uids: readonly number[]): Promise<void> {
    const v = this.view!;
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const i = findUid(v.msgs, uid);
      if (i < 0) continue;
      v.msgs.splice(i, 1);
      v.pendingExpunge.delete(uid);
      await this.send(`* ${i + 1} EXPUNGE`);
    }
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
    if (!silent) await this.expungeUids(r.expunged);
  }
}

// ---- the command table ----------------------------------------------------------------------

const ANY: readonly ImapState[] = ['notauth', 'auth', 'selected'];
const NOTAUTH: readonly ImapState[] = ['notauth'];
const AUTHED: readonly ImapState[] = ['auth', 'selected'];
const SELECTED: readonly ImapState[] = ['selected'];

/** LIST pattern (RFC 3501 §6.3.8): "*" matches anything, "%" anything but the delimiter. */
function patternRegExp(ref: string, pattern: string): RegExp {
  const full = ref + pattern;
  const src = full.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, '[^/]*');
  return new RegExp(`^${src}$`, 's');
}

function matchName(re: RegExp, name: string): boolean {
  // INBOX is case-insensitive (RFC 3501 §5.1).
  return re.test(name) || (name === 'INBOX' && re.test('inbox')) || (name === 'INBOX' && /^inbox$/i.test(re.source.slice(1, -1)));
}

async function listCommand(s: ImapSession, c: Ctx, lsub: boolean): Promise<string | void> {
  const a = c.args;
  a.sp();
  let selectOpts: string[] = [];
  if (!lsub && a.peek() === '(') {
    selectOpts = a.list(() => a.atom().toUpperCase());
    a.sp();
  }
  const ref = a.astring();
  a.sp();
  const patterns = !lsub && a.peek() === '(' ? a.list(() => a.listMailbox()) : [a.listMailbox()];
  let returnOpts: string[] = [];
  if (!lsub && a.maybeSp()) {
    a.expect('RETURN ');
    returnOpts = a.list(() => {
      const o = a.atom().toUpperCase();
      if (o === 'STATUS') {
        a.sp();
        a.list(() => a.atom());
      }
      return o;
    });
  }
  a.end();
  void returnOpts;
  const verb = lsub ? 'LSUB' : 'LIST';
  if (patterns.length === 1 && patterns[0] === '') {
    await s.send(`* ${verb} (\\Noselect) "/" ""`);
    return;
  }
  const boxes = await s.store.listMailboxes(s.account!.id);
  const names = boxes.map((b) => b.name);
  const subscribedOnly = lsub || selectOpts.includes('SUBSCRIBED');
  const specialOnly = selectOpts.includes('SPECIAL-USE');
  // RFC 3501 §6.3.8: a level of hierarchy that is not a mailbox itself (only "a/b" exists) is
  // listed, when the pattern matches it, as \Noselect (RFC 5258: \NonExistent too).
  const existing = new Set(names);
  const implied = new Set<string>();
  for (const n of names) {
    const parts = n.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!existing.has(p)) implied.add(p);
    }
  }
  const all = [...boxes, ...[...implied].map((name) => ({ name, subscribed: false, specialUse: null, implied: true }))];
  for (const b of all.sort((x, y) => (x.name === 'INBOX' ? -1 : y.name === 'INBOX' ? 1 : x.name < y.name ? -1 : 1))) {
    if ('implied' in b && (subscribedOnly || specialOnly)) continue;
    if (subscribedOnly && !b.subscribed) continue;
    if (specialOnly && !b.specialUse) continue;
    const refBase = ref && !ref.endsWith('/') && patterns.some((p) => !p.startsWith('/')) ? ref : ref;
    if (!patterns.some((p) => matchName(patternRegExp(refBase, p), b.name))) continue;
    const attrs: string[] = [];
    if ('implied' in b) attrs.push('\\Noselect');
    if (!lsub) attrs.push(names.some((n) => n.startsWith(b.name + '/')) ? '\\HasChildren' : '\\HasNoChildren');
    if (b.specialUse && !lsub) attrs.push(b.specialUse);
    if (selectOpts.includes('SUBSCRIBED') && b.subscribed) attrs.push('\\Subscribed');
    await s.send(`* ${verb} (${attrs.join(' ')}) "/" ${astr(b.name)}`);
  }
}

async function statusCommand(s: ImapSession, c: Ctx): Promise<string | void> {
  const a = c.args;
  a.sp();
  const name = a.astring();
  a.sp();
  const items = a.list(() => a.atom().toUpperCase());
  a.end();
  if (!items.length) bad('empty STATUS list');
  const mb = await s.store.getMailbox(s.account!.id, name);
  if (!mb) no('no such mailbox', 'NONEXISTENT');
  const st = await s.store.mailboxStatus(mb!.id);
  const out: string[] = [];
  for (const it of items) {
    switch (it) {
      case 'MESSAGES':
        out.push(`MESSAGES ${st.messages}`);
        break;
      case 'RECENT':
        out.push('RECENT 0');
        break;
      case 'UIDNEXT':
        out.push(`UIDNEXT ${st.uidNext}`);
        break;
      case 'UIDVALIDITY':
        out.push(`UIDVALIDITY ${st.uidValidity}`);
        break;
      case 'UNSEEN':
        out.push(`UNSEEN ${st.unseen}`);
        break;
      case 'HIGHESTMODSEQ':
        out.push(`HIGHESTMODSEQ ${st.highestModseq}`);
        break;
      case 'SIZE':
        out.push(`SIZE ${st.size}`);
        break;
      case 'DELETED':
        out.push(`DELETED ${st.deleted}`);
        break;
      default:
        bad(`unknown STATUS item ${it}`);
    }
  }
  await s.send(`* STATUS ${astr(mb!.name)} (${out.join(' ')})`);
}

function mailboxArg(a: Args): string {
  a.sp();
  const name = a.astring();
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
        const cap = c.args.atom().toUpperCase();
        if (cap === 'CONDSTORE') s.condstore = true;
        else if (cap === 'IMAP4REV2') {
          s.rev2 = true;
          s.utf8 = true;
        } else if (cap === 'UTF8=ACCEPT') s.utf8 = true;
        else continue;
        enabled.push(cap === 'IMAP4REV2' ? 'IMAP4rev2' : cap);
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
      const name = normalizeName(mailboxArg(c.args));
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
      const name = mailboxArg(c.args);
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
      const from = a.astring();
      a.sp();
      const to = normalizeName(a.astring());
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
      const mb = await s.store.getMailbox(s.account!.id, mailboxArg(c.args));
      if (!mb) no('no such mailbox', 'NONEXISTENT');
      await s.store.setSubscribed(mb!.id, true);
    },
  },
  UNSUBSCRIBE: {
    states: AUTHED,
    handler: async (s, c) => {
      const mb = await s.store.getMailbox(s.account!.id, mailboxArg(c.args));
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

