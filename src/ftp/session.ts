// One FTP control connection (RFC 959): an explicit state, a typed command table, replies as
// data, a data channel (data-channel.ts) and a jailed file system (fs-jail.ts).
//
// Invariants
//  - One reply per command, written through one ordered queue: the background transfer's final
//    reply (226/426/451/552) and the replies to commands given during it (ABOR, STAT) never mix.
//  - While a transfer runs, only ABOR, STAT and QUIT are answered at once (RFC 959 §4.1.3 and
//    §5.4); any other command waits until the transfer's reply is out.
//  - RFC 959 §4.1.3 / RFC 3659 §5: an upload goes to a temporary file in the target's folder, is
//    fdatasync'ed once at its end, renamed into place and its folder fsync'ed (shared with the
//    uploads finishing at the same time, transfer.ts DirSync) before 226; a failed or dropped
//    upload leaves nothing under the final name (REST+STOR and APPE write in place by design).
//  - Quota: uploads are charged to the home's running counter (quota.ts) as bytes arrive, and
//    DELE, RNTO over a file and a replacing STOR give bytes back; no upload walks the home.
//  - RETR and STOR share one transfer setup (fileCommand, startFileTransfer): the file is closed
//    once, after the data connection is done, whatever happened.
//  - Cleartext USER/PASS are refused (530) on a non-loopback connection without TLS unless
//    auth.allow_insecure, and always before AUTH TLS when ftp.require_tls.
//  - Handlers throw ReplyError; any other error is logged and answered 451, never a crash.
//  - Paths never leave the home: every client path goes through FsJail.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, opendir, realpath, rename, rmdir, stat, unlink, utimes } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type * as tls from 'node:tls';
import type { Authenticator } from '../auth/authenticator.js';
import type { Connection } from '../core/connection.js';
import { ReplyError, WharfError, describeError, isWharfError } from '../core/errors.js';
import type { Transcript } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { isLoopback, normalizeAddress } from '../core/net.js';
import * as C from './codes.js';
import { formatReply, quotePath, reply } from './codes.js';
import type { FtpReply } from './codes.js';
import { DataChannel } from './data-channel.js';
import { FsJail } from './fs-jail.js';
import type { HomeUsage } from './quota.js';
import type { FtpShared } from './shared.js';
import { DEFAULT_FACTS, featMlst, formatListLine, formatMlsxLine, listable, parseFactList } from './list-format.js';
import type { EntryInfo, Fact } from './list-format.js';
import { formatEpsv, formatPasv, formatTimeVal, parseCommand, parseEprt, parseHostPort, parseRestOffset, parseTimeVal, redactCommand, stripTelnet } from './parse.js';
import { CrlfDecoder, CrlfEncoder, Meter, TransferFile, receiveFile, sendFile } from './transfer.js';
import type { Budget, Progress } from './transfer.js';

export interface FtpSettings {
  hostname: string;
  /** Folder holding the homes (<root>/<address>). */
  homesRoot: string;
  anonymous: boolean;
  anonymousRoot: string;
  /** Default quota in bytes (0 = none); an account's own quota wins when set. */
  quota: number;
  passivePorts: [number, number] | null;
  passiveAddress: string;
  allowForeignDataAddress: boolean;
  dataTimeoutMs: number;
  requireTls: boolean;
  allowInsecure: boolean;
  /** Idle limit of the control connection; also the stall limit of a data connection. */
  idleTimeoutMs: number;
  /** fsync uploads before 226 (store.fsync). */
  fsync: boolean;
}

export interface FtpSessionOptions {
  /** The listener ("ftp", "ftps"), for the transcript. */
  service?: string;
  settings: FtpSettings;
  authenticator: Authenticator;
  /** The account's own quota in bytes (0 = use the default). */
  accountQuota: (accountId: number) => Promise<number>;
  /** What the instance's sessions share: quota counters, folder fsyncs, buffers (shared.ts). */
  shared: FtpShared;
  /** TLS for AUTH TLS and PROT P; undefined when TLS is unavailable. */
  tls?: () => tls.SecureContext;
  logger: Logger;
  transcript?: Transcript;
}

type State = 'login' | 'password' | 'ready';

interface Command {
  states: readonly State[];
  run: (s: FtpSession, arg: string) => Promise<void>;
}

interface ActiveTransfer {
  verb: string;
  path: string;
  started: number;
  progress: Progress;
  controller: AbortController;
  aborted: boolean;
  done: Promise<void>;
}

interface TransferPlan {
  verb: string;
  /** The path (or "FILE: name") in the 150, STAT and the transcript. */
  label: string;
  progress: Progress;
  /** Moves the data over the connection; the final reply. */
  run: (sock: net.Socket, t: ActiveTransfer) => Promise<FtpReply>;
  /** Always runs before the final reply: ok = the reply is a success. */
  finish?: (ok: boolean) => Promise<void>;
}

const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);
/** Our temporary upload names: hidden from listings. */
const TEMP_RE = /^\..*\.wharf-[0-9a-z]+\.part$/;
const LIST_CONCURRENCY = 32;

export class FtpSession {
  state: State = 'login';
  private readonly opts: FtpSessionOptions;
  private readonly s: FtpSettings;
  private readonly log: Logger;
  private writes: Promise<void> = Promise.resolve();
  private readonly data = new DataChannel();
  private jail: FsJail | null = null;
  private cwd = '/';
  private pendingUser = '';
  private user = '';
  private accountId = 0;
  private readOnly = false;
  private typeAscii = false;
  private restOffset = 0;
  private renameFrom: string | null = null;
  private epsvAll = false;
  private pbsz = false;
  private protPrivate = false;
  private facts: Fact[] = [...DEFAULT_FACTS];
  private transfer: ActiveTransfer | null = null;
  private quit = false;
  private controlGone = false;
  private draining = false;
  /** ABORs answered from the raw stream before their line was complete (see watchUrgentAbor). */
  private urgentAbor = 0;

  constructor(
    readonly conn: Connection,
    opts: FtpSessionOptions,
  ) {
    this.opts = opts;
    this.s = opts.settings;
    this.log = opts.logger;
  }

  // ---- replies ---------------------------------------------------------------------------------

  /** Queues a reply; resolves when written (or immediately if the connection is gone). */
  send(r: FtpReply): Promise<void> {
    const lines = formatReply(r);
    const p = this.writes.then(async () => {
      for (const l of lines) await this.conn.writeLine(l);
    });
    this.writes = p.catch(() => {});
    return p.catch(() => {});
  }

  // ---- main loop -------------------------------------------------------------------------------

  async run(): Promise<void> {
    this.opts.transcript?.note(`connected to ${this.opts.service ?? 'ftp'}${this.conn.secure ? ' (implicit TLS)' : ''}`);
    try {
      await this.send(C.C220Ready(this.s.hostname));
      while (!this.quit && !this.conn.closed) {
        let line: Buffer | null;
        this.conn.redactNext(redactCommand);
        try {
          line = await this.conn.readLineBytes();
        } catch (err) {
          if (isWharfError(err, 'WHARF_LINE_TOO_LONG')) {
            await this.send(C.C500LineTooLong);
            continue;
          }
          if (isWharfError(err, 'WHARF_TIMEOUT')) {
            if (this.transfer) continue; // RFC 959: the control connection is quiet during a transfer
            await this.send(C.C421Timeout);
            break;
          }
          throw err;
        }
        if (line === null) {
          this.controlGone = true;
          break;
        }
        // RFC 959 §3.2 / Telnet NVT: a CR not followed by NUL ends a command. Python's ftplib
        // sends "ABOR\r\n" with MSG_OOB: the kernel drops the urgent LF, so "ABOR\r" runs into
        // the next command on the same line.
        for (const part of splitBareCr(line)) {
          if (this.urgentAbor > 0 && parseCommand(part).verb === 'ABOR') {
            this.urgentAbor--; // already answered by the urgent-ABOR watcher
            continue;
          }
          await this.dispatch(part);
          if (this.quit || this.conn.closed) break;
        }
      }
    } finally {
      this.controlGone = true;
      this.transfer?.controller.abort();
      await this.transfer?.done.catch(() => {});
      this.data.close();
      await this.writes;
      if (!this.conn.closed) await this.conn.close().catch(() => {});
      this.opts.transcript?.note('closed');
    }
  }

  /** Server stopping: an idle session is told so and closed; one in a transfer finishes it first. */
  drain(): void {
    this.draining = true;
    if (this.transfer) return;
    void this.send(C.C421ShuttingDown).then(() => this.conn.close().catch(() => {}));
  }

  private async dispatch(raw: Buffer): Promise<void> {
    const { verb, arg } = parseCommand(raw);
    const cmd = verb ? COMMANDS[verb] : undefined;
    if (!cmd) {
      // RFC 959 §4.2: 500 for an unrecognized command (garbage too)
      await this.send(verb && NOT_IMPLEMENTED.has(verb) ? C.C502NotImplemented : C.C500Syntax);
      return;
    }
    if (this.transfer && !DURING_TRANSFER.has(verb)) await this.transfer.done.catch(() => {});
    if (!cmd.states.includes(this.state)) {
      // RFC 959 §5.4: PASS only right after USER (503); anything else needs a login (530).
      await this.send(verb === 'PASS' ? C.C503LoginFirst : C.C530NotLoggedIn);
      return;
    }
    if (verb !== 'RNTO' && verb !== 'RNFR') this.renameFrom = null;
    // RFC 3659 §5.3: REST is followed by the transfer it applies to (data setup may come between).
    if (!KEEPS_REST.has(verb)) this.restOffset = 0;
    try {
      await cmd.run(this, arg);
    } catch (err) {
      if (err instanceof ReplyError) {
        await this.send(err.reply as FtpReply);
        return;
      }
      this.log.error('command failed', { verb, err: describeError(err) });
      await this.send(C.C451LocalError);
    }
    if (this.draining && !this.transfer && !this.quit) this.drain();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private requireJail(): FsJail {
    if (!this.jail) throw new ReplyError(C.C530NotLoggedIn);
    return this.jail;
  }

  private requireWrite(): void {
    if (this.readOnly) throw new ReplyError(C.C550ReadOnly);
  }

  private resetLogin(): void {
    this.state = 'login';
    this.pendingUser = '';
    this.user = '';
    this.accountId = 0;
    this.jail = null;
    this.cwd = '/';
    this.readOnly = false;
    this.restOffset = 0;
    this.renameFrom = null;
    if (this.opts.transcript) this.opts.transcript.user = undefined;
  }

  private cleartextAllowed(): boolean {
    return this.conn.secure || isLoopback(this.conn.localAddress) || this.s.allowInsecure;
  }

  /**
   * For an upload: the home's usage counter and the limit when a quota applies (the first use
   * walks the home, quota.ts), or the counter with no limit when it is already tracked, or null.
   */
  private async uploadQuota(): Promise<{ usage: HomeUsage; limit: number } | null> {
    if (this.readOnly || !this.jail) return null;
    const own = this.accountId ? await this.opts.accountQuota(this.accountId) : 0;
    const q = own > 0 ? own : this.s.quota;
    if (q > 0) return { usage: await this.opts.shared.quota.usage(this.jail.root), limit: q };
    const tracked = this.opts.shared.quota.tracked(this.jail.root);
    return tracked ? { usage: await tracked, limit: Infinity } : null;
  }

  /**
   * For DELE and RNTO: the counter when the home is tracked (awaited before the change, so a walk
   * in progress finishes first), else undefined: a later walk sees the change by itself.
   */
  private async trackedUsage(): Promise<HomeUsage | undefined> {
    return this.jail ? await this.opts.shared.quota.tracked(this.jail.root) : undefined;
  }

  // ---- login (RFC 959 §4.1.1) ---------------------------------------------------------------------

  async cmdUser(arg: string): Promise<void> {
    const name = arg.trim();
    if (!name) throw new ReplyError(C.C501Args);
    if (this.transfer) throw new ReplyError(C.C503BadSequence);
    this.resetLogin();
    const anon = this.s.anonymous && ANONYMOUS_NAMES.has(name.toLowerCase());
    // RFC 4217 §6 / ftp.require_tls: no credentials in clear text.
    if (this.s.requireTls && !this.conn.secure) throw new ReplyError(C.C530TlsRequired);
    if (!anon && !this.cleartextAllowed()) throw new ReplyError(C.C530TlsRequired);
    this.pendingUser = name;
    this.state = 'password';
    await this.send(anon ? C.C331AnonymousPassword : C.C331NeedPassword);
  }

  async cmdPass(arg: string): Promise<void> {
    const name = this.pendingUser;
    this.pendingUser = '';
    this.state = 'login';
    if (this.s.anonymous && ANONYMOUS_NAMES.has(name.toLowerCase())) {
      const root = this.s.anonymousRoot;
      await mkdir(root, { recursive: true });
      this.jail = await FsJail.open(root);
      this.readOnly = true;
      this.user = 'anonymous';
      this.state = 'ready';
      if (this.opts.transcript) this.opts.transcript.user = 'anonymous';
      await this.send(C.C230Anonymous);
      return;
    }
    const res = await this.opts.authenticator.authenticate({ username: name, password: arg, remote: this.conn.remoteAddress });
    if (!res.ok) throw new ReplyError(C.C530LoginIncorrect);
    const address = res.account.address.toLowerCase();
    if (!/^[^/\\\0]+$/.test(address) || address === '.' || address === '..') throw new ReplyError(C.C530LoginIncorrect);
    const home = path.join(this.s.homesRoot, address);
    await mkdir(home, { recursive: true, mode: 0o700 });
    this.jail = await FsJail.open(home);
    this.user = address;
    this.accountId = res.account.id;
    this.readOnly = false;
    this.cwd = '/';
    this.state = 'ready';
    if (this.opts.transcript) this.opts.transcript.user = address;
    await this.send(C.C230LoggedIn);
  }

  async cmdRein(): Promise<void> {
    // RFC 959 §4.1.1: flush account information, keep the connection (and its TLS).
    this.data.reset();
    this.resetLogin();
    this.typeAscii = false;
    this.epsvAll = false;
    await this.send(C.C220Ready(this.s.hostname));
  }

  async cmdQuit(): Promise<void> {
    // RFC 959 §4.1.1: a transfer in progress finishes, then the reply, then the close.
    if (this.transfer) await this.transfer.done.catch(() => {});
    this.quit = true;
    await this.send(C.C221Goodbye);
  }

  // ---- TLS (RFC 4217) ------------------------------------------------------------------------------

  async cmdAuth(arg: string): Promise<void> {
    const mech = arg.trim().toUpperCase();
    if (mech !== 'TLS' && mech !== 'TLS-C' && mech !== 'SSL') throw new ReplyError(C.C504NotForParam);
    if (this.conn.secure) throw new ReplyError(C.C503BadSequence);
    const ctx = this.opts.tls?.();
    if (!ctx) throw new ReplyError(C.C431TlsUnavailable);
    await this.send(C.C234AuthTls);
    await this.writes;
    try {
      await this.conn.startTls(ctx);
    } catch {
      this.quit = true;
      return;
    }
    // RFC 4217 §4: after AUTH the user must log in again; data protection starts clear.
    this.resetLogin();
    this.pbsz = false;
    this.protPrivate = false;
  }

  async cmdPbsz(arg: string): Promise<void> {
    if (!this.conn.secure) throw new ReplyError(C.C503BadSequence);
    if (!/^\d+$/.test(arg.trim())) throw new ReplyError(C.C501Args);
    this.pbsz = true;
    // RFC 4217 §8: a streaming protocol has no buffer: always 0.
    await this.send(reply(200, 'PBSZ=0'));
  }

  async cmdProt(arg: string): Promise<void> {
    if (!this.conn.secure) throw new ReplyError(C.C503BadSequence);
    const level = arg.trim().toUpperCase();
    // RFC 4217 §9: PROT needs PBSZ first; accept it without (most servers do) but note it.
    if (!this.pbsz) this.opts.transcript?.note('PROT without PBSZ');
    if (level === 'C') this.protPrivate = false;
    else if (level === 'P') this.protPrivate = true;
    else if (level === 'S' || level === 'E') throw new ReplyError(C.C536ProtNotSupported);
    else throw new ReplyError(C.C504NotForParam);
    await this.send(reply(200, `Protection level set to ${level}.`));
  }

  // ---- information ---------------------------------------------------------------------------------

  async cmdFeat(): Promise<void> {
    // RFC 2389 §3.2: one feature per line, each beginning with a space.
    const lines = ['Features:', ' EPRT', ' EPSV', ' MDTM', ' MFMT', ' PASV', ' SIZE', ' REST STREAM', ` ${featMlst(this.facts)}`, ' TVFS', ' UTF8'];
    if (this.opts.tls) lines.push(' AUTH TLS', ' PBSZ', ' PROT');
    lines.push('End');
    await this.send({ code: 211, lines });
  }

  async cmdOpts(arg: string): Promise<void> {
    const [name = '', ...rest] = arg.trim().split(/\s+/);
    const value = rest.join(' ');
    switch (name.toUpperCase()) {
      case 'UTF8':
      case 'UTF-8':
        // RFC 2640 §3.2: paths are always UTF-8 here.
        if (/^(ON|OFF|)$/i.test(value)) return this.send(reply(200, `UTF8 mode ${/^off$/i.test(value) ? 'off (paths stay UTF-8)' : 'enabled'}.`));
        throw new ReplyError(C.C501Args);
      case 'MLST': {
        // RFC 3659 §7.9
        this.facts = parseFactList(value);
        return this.send(reply(200, `MLST OPTS ${this.facts.map((f) => f + ';').join('')}`));
      }
      default:
        throw new ReplyError(C.C501Args);
    }
  }

  async cmdSyst(): Promise<void> {
    await this.send(C.C215System);
  }

  async cmdNoop(): Promise<void> {
    await this.send(C.C200NoopOk);
  }

  async cmdHelp(arg: string): Promise<void> {
    const verb = arg.trim().toUpperCase();
    if (verb) {
      if (!COMMANDS[verb]) throw new ReplyError(reply(502, `Unknown command ${verb}.`));
      await this.send(reply(214, `${verb} is supported.`));
      return;
    }
    const verbs = Object.keys(COMMANDS).sort();
    const rows: string[] = [];
    for (let i = 0; i < verbs.length; i += 10) rows.push(' ' + verbs.slice(i, i + 10).map((v) => v.padEnd(5)).join(' ').trimEnd());
    await this.send({ code: 214, lines: ['The following commands are recognized:', ...rows, 'Help OK.'] });
  }

  async cmdStat(arg: string): Promise<void> {
    const t = this.transfer;
    if (t) {
      // RFC 959 §4.1.3: STAT during a transfer gives its status over the control connection.
      const secs = ((Date.now() - t.started) / 1000).toFixed(1);
      await this.send({ code: 213, lines: ['Status:', ` ${t.verb} ${t.path}: ${t.progress.bytes} bytes transferred in ${secs} s`, 'End of status'] });
      return;
    }
    if (arg.trim() === '') {
      const lines = [
        `${this.s.hostname} FTP server status:`,
        ` Connected to ${this.conn.remoteAddress}`,
        ` Logged in as ${this.state === 'ready' ? this.user : '(nobody)'}`,
        ` TYPE: ${this.typeAscii ? 'ASCII' : 'BINARY'}, STRUcture: File, MODE: Stream`,
        ` Control connection: ${this.conn.secure ? 'TLS' : 'plain'}; data protection: ${this.protPrivate ? 'private' : 'clear'}`,
        ' No data connection',
        'End of status',
      ];
      await this.send({ code: 211, lines });
      return;
    }
    if (this.state !== 'ready') throw new ReplyError(C.C530NotLoggedIn);
    // RFC 959 §4.1.3: STAT <path> is LIST over the control connection (213).
    const jail = this.requireJail();
    const target = await jail.resolveExisting(this.cwd, stripListOptions(arg));
    const lines: string[] = [`Status of ${target.virtual}:`];
    for await (const e of this.listEntries(target.real)) lines.push(' ' + formatListLine(e));
    lines.push('End of status');
    await this.send({ code: 213, lines });
  }

  // ---- navigation and file management -----------------------------------------------------------

  async cmdPwd(): Promise<void> {
    // RFC 959 §4.1.3, Appendix II: 257 "<path>" with quotes doubled.
    await this.send(reply(257, `${quotePath(this.cwd)} is the current directory.`));
  }

  async cmdCwd(arg: string): Promise<void> {
    const jail = this.requireJail();
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await jail.resolveExisting(this.cwd, arg);
    const st = await stat(r.real);
    if (!st.isDirectory()) throw new ReplyError(C.C550NotDir);
    this.cwd = r.virtual;
    await this.send(reply(250, `Directory changed to ${this.cwd}.`));
  }

  async cmdCdup(): Promise<void> {
    await this.cmdCwd('..');
  }

  async cmdMkd(arg: string): Promise<void> {
    this.requireWrite();
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveNew(this.cwd, arg);
    await mkdir(r.real).catch(fsReply);
    await this.send(reply(257, `${quotePath(r.virtual)} created.`));
  }

  async cmdRmd(arg: string): Promise<void> {
    this.requireWrite();
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveEntry(this.cwd, arg);
    await rmdir(r.real).catch(fsReply);
    if (this.cwd === r.virtual || this.cwd.startsWith(r.virtual + '/')) this.cwd = path.posix.dirname(r.virtual);
    await this.send(reply(250, 'Directory removed.'));
  }

  async cmdDele(arg: string): Promise<void> {
    this.requireWrite();
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveEntry(this.cwd, arg);
    const st = r.stats;
    if (st.isDirectory()) throw new ReplyError(C.C550NotFile);
    const usage = await this.trackedUsage();
    await unlink(r.real).catch(fsReply);
    if (usage && st.isFile()) usage.release(st.size);
    await this.send(reply(250, 'File deleted.'));
  }

  async cmdRnfr(arg: string): Promise<void> {
    this.requireWrite();
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveEntry(this.cwd, arg);
    this.renameFrom = r.real;
    await this.send(C.C350PendingRnto);
  }

  async cmdRnto(arg: string): Promise<void> {
    this.requireWrite();
    const from = this.renameFrom;
    this.renameFrom = null;
    // RFC 959 §4.1.3: RNTO must immediately follow RNFR.
    if (from === null) throw new ReplyError(C.C503BadSequence);
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveNew(this.cwd, arg);
    // A file replaced by the rename frees its bytes (unless it is the same file: POSIX rename()
    // of two links to one inode changes nothing).
    const usage = await this.trackedUsage();
    const replaced = usage ? await lstat(r.real).catch(() => null) : null;
    const moved = replaced ? await lstat(from).catch(() => null) : null;
    await rename(from, r.real).catch(fsReply);
    if (usage && replaced?.isFile() && !(moved && moved.ino === replaced.ino && moved.dev === replaced.dev)) usage.release(replaced.size);
    await this.send(reply(250, 'Rename successful.'));
  }

  async cmdSize(arg: string): Promise<void> {
    const r = await this.requireJail().resolveExisting(this.cwd, arg);
    const st = await stat(r.real).catch(fsReply);
    if (!st.isFile()) throw new ReplyError(C.C550NotFile);
    // RFC 3659 §4: the size on the wire; for TYPE A this is the stored size (no scan of the file).
    await this.send(reply(213, String(st.size)));
  }

  async cmdMdtm(arg: string): Promise<void> {
    const r = await this.requireJail().resolveExisting(this.cwd, arg);
    const st = await stat(r.real).catch(fsReply);
    if (!st.isFile()) throw new ReplyError(C.C550NotFile);
    await this.send(reply(213, formatTimeVal(st.mtime))); // RFC 3659 §3
  }

  async cmdMfmt(arg: string): Promise<void> {
    // draft-somers-ftp-mfxx: "MFMT YYYYMMDDHHMMSS path"
    this.requireWrite();
    const m = /^(\S+) (.+)$/.exec(arg);
    const when = m ? parseTimeVal(m[1]!) : null;
    if (!m || !when) throw new ReplyError(C.C501Args);
    const r = await this.requireJail().resolveExisting(this.cwd, m[2]!);
    await utimes(r.real, when, when).catch(fsReply);
    await this.send(reply(213, `Modify=${formatTimeVal(when)}; ${r.virtual}`));
  }

  // ---- transfer parameters ------------------------------------------------------------------------

  async cmdType(arg: string): Promise<void> {
    const t = arg.trim().toUpperCase().split(/\s+/);
    // RFC 959 §3.1.1: A [N], I, L 8. E (EBCDIC) and A T/C are not supported.
    if (t[0] === 'A' && (t.length === 1 || t[1] === 'N')) this.typeAscii = true;
    else if (t[0] === 'I' && t.length === 1) this.typeAscii = false;
    else if (t[0] === 'L' && t[1] === '8' && t.length === 2) this.typeAscii = false;
    else if (t[0] === 'E' || t[0] === 'A' || t[0] === 'L') throw new ReplyError(C.C504NotForParam);
    else throw new ReplyError(C.C501Args);
    await this.send(reply(200, `Switching to ${this.typeAscii ? 'ASCII' : 'Binary'} mode.`));
  }

  async cmdMode(arg: string): Promise<void> {
    const m = arg.trim().toUpperCase();
    if (m === 'S') return this.send(reply(200, 'Mode set to S.'));
    if (m === 'B' || m === 'C' || m === 'Z') throw new ReplyError(C.C504NotForParam);
    throw new ReplyError(C.C501Args);
  }

  async cmdStru(arg: string): Promise<void> {
    const m = arg.trim().toUpperCase();
    if (m === 'F') return this.send(reply(200, 'Structure set to F.'));
    if (m === 'R' || m === 'P') throw new ReplyError(C.C504NotForParam);
    throw new ReplyError(C.C501Args);
  }

  async cmdAllo(): Promise<void> {
    await this.send(C.C202NotImplementedSuperfluous);
  }

  async cmdRest(arg: string): Promise<void> {
    const n = parseRestOffset(arg);
    if (n === null) throw new ReplyError(C.C501Args);
    this.restOffset = n; // RFC 3659 §5.3
    await this.send(reply(350, `Restarting at ${n}. Send STOR or RETR.`));
  }

  // ---- data connection setup (RFC 959 §4.1.2, RFC 2428, RFC 2577) -------------------------------

  private checkDataTarget(host: string, port: number): void {
    if (this.s.allowForeignDataAddress) return;
    // RFC 2577 §3: no PORT to a third host, nor to a privileged port.
    if (normalizeAddress(host) !== this.conn.remoteAddress || port < 1024) {
      this.opts.transcript?.note(`refused data address ${host}:${port} (RFC 2577 bounce protection)`);
      throw new ReplyError(reply(501, 'Refused: the data address must be your own, on port 1024 or above.'));
    }
  }

  async cmdPort(arg: string): Promise<void> {
    if (this.epsvAll) throw new ReplyError(reply(503, 'EPSV ALL given: only EPSV is allowed.'));
    const hp = parseHostPort(arg);
    if (!hp) throw new ReplyError(C.C501Args);
    this.checkDataTarget(hp.host, hp.port);
    this.data.connectTo(hp.host, hp.port, this.conn.localAddress);
    await this.send(reply(200, 'PORT command successful.'));
  }

  async cmdEprt(arg: string): Promise<void> {
    if (this.epsvAll) throw new ReplyError(reply(503, 'EPSV ALL given: only EPSV is allowed.'));
    const r = parseEprt(arg);
    if ('error' in r) throw new ReplyError(r.error === 'family' ? C.C522NetworkProtocol(this.family()) : C.C501Args);
    const want = this.conn.localAddress.includes(':') ? 2 : 1;
    if (r.family !== want) throw new ReplyError(C.C522NetworkProtocol(this.family()));
    this.checkDataTarget(r.host, r.port);
    this.data.connectTo(r.host, r.port, this.conn.localAddress);
    await this.send(reply(200, 'EPRT command successful.'));
  }

  private family(): string {
    return this.conn.localAddress.includes(':') ? '2' : '1';
  }

  private async listenPassive(): Promise<number> {
    try {
      return await this.data.listen({ bindHost: this.conn.localAddress, ports: this.s.passivePorts, clientAddress: this.conn.remoteAddress });
    } catch (err) {
      this.log.warn('no passive port', { err: describeError(err) });
      throw new ReplyError(C.C425CantOpen);
    }
  }

  async cmdPasv(): Promise<void> {
    if (this.epsvAll) throw new ReplyError(reply(503, 'EPSV ALL given: only EPSV is allowed.'));
    const announce = this.s.passiveAddress || this.conn.localAddress;
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(announce)) throw new ReplyError(reply(425, 'PASV needs IPv4: use EPSV.'));
    const port = await this.listenPassive();
    await this.send(reply(227, formatPasv(announce, port)));
  }

  async cmdEpsv(arg: string): Promise<void> {
    const a = arg.trim().toUpperCase();
    if (a === 'ALL') {
      // RFC 2428 §4: from now on only EPSV.
      this.epsvAll = true;
      return this.send(reply(200, 'EPSV ALL ok.'));
    }
    if (a !== '' && a !== '1' && a !== '2') throw new ReplyError(C.C522NetworkProtocol(this.family()));
    if (a !== '' && a !== this.family()) throw new ReplyError(C.C522NetworkProtocol(this.family()));
    const port = await this.listenPassive();
    await this.send(reply(229, formatEpsv(port)));
  }

  // ---- transfers ---------------------------------------------------------------------------------

  async cmdAbor(): Promise<void> {
    const t = this.transfer;
    if (t) {
      // RFC 959 §4.1.3: abort; the transfer's command gets 426, then ABOR gets 226.
      t.aborted = true;
      t.controller.abort();
      await t.done.catch(() => {});
      await this.send(C.C226AborOk);
      return;
    }
    this.data.reset();
    await this.send(C.C226AborOk);
  }

  /**
   * Starts a transfer in the background: 150, the data connection (425 when it never comes),
   * `run`, `finish`, then the final reply. The command loop goes on reading (ABOR, STAT).
   */
  private startTransfer(plan: TransferPlan): void {
    if (!this.data.prepared) throw new ReplyError(C.C425UsePasvOrPort);
    const { verb, label } = plan;
    const controller = new AbortController();
    const t: ActiveTransfer = { verb, path: label, started: Date.now(), progress: plan.progress, controller, aborted: false, done: Promise.resolve() };
    const run = async (): Promise<void> => {
      let final: FtpReply;
      let sock: net.Socket | null = null;
      let ok = false;
      try {
        await this.send(reply(150, `Opening ${this.typeAscii ? 'ASCII' : 'BINARY'} mode data connection for ${label}.`));
        const ctx = this.protPrivate ? this.opts.tls?.() : undefined;
        try {
          sock = await this.data.connect({ timeoutMs: this.s.dataTimeoutMs, tls: ctx }, controller.signal);
        } catch (err) {
          this.opts.transcript?.note(`data connection failed: ${(err as Error).message}`);
          throw new ReplyError(t.aborted ? C.C426Aborted : C.C425CantOpen);
        }
        const s = sock;
        if (ctx) this.opts.transcript?.note(`data connection TLS${(s as tls.TLSSocket).isSessionReused() ? ', session resumed' : ', new session'}`);
        if (this.s.idleTimeoutMs > 0) s.setTimeout(this.s.idleTimeoutMs, () => s.destroy(new WharfError('WHARF_TIMEOUT', 'data connection stalled')));
        controller.signal.addEventListener('abort', () => s.destroy(), { once: true });
        final = await plan.run(s, t);
        ok = final.code < 400;
      } catch (err) {
        final = this.transferFailure(err, t);
      } finally {
        if (sock) closeGracefully(sock);
      }
      await plan.finish?.(ok).catch((err: unknown) => this.log.warn('transfer cleanup failed', { verb, err: describeError(err) }));
      this.opts.transcript?.note(`data: ${verb} ${label} ${t.progress.bytes} bytes -> ${final.code}`);
      await this.send(final);
    };
    const unwatch = this.watchUrgentAbor(t);
    t.done = run().finally(() => {
      unwatch();
      if (this.transfer === t) this.transfer = null;
      if (this.draining && !this.quit) this.drain();
    });
    this.transfer = t;
  }

  /**
   * During a transfer on a plain control connection, watches the raw bytes for an "ABOR\r" whose
   * LF never comes (sent as TCP urgent data: without SO_OOBINLINE, which Node cannot set, Linux
   * removes the urgent byte from the stream). Such an ABOR is answered at once (426, 226).
   */
  private watchUrgentAbor(t: ActiveTransfer): () => void {
    if (this.conn.secure) return () => {};
    const sock = this.conn.rawSocket;
    let tail = '';
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
      tail = (tail + stripTelnet(b).toString('latin1')).slice(-64);
      const lf = tail.lastIndexOf('\n');
      if (lf >= 0) tail = tail.slice(lf + 1);
      if (/(?:^|\r)[\s\xf2]*ABOR\r$/i.test(tail) && this.transfer === t && !t.aborted) {
        tail = '';
        this.urgentAbor++;
        this.opts.transcript?.note('ABOR received as urgent data');
        void this.cmdAbor().catch(() => {});
      }
    };
    sock.on('data', onData);
    return () => sock.off('data', onData);
  }

  private transferFailure(err: unknown, t: ActiveTransfer): FtpReply {
    if (err instanceof ReplyError) return err.reply as FtpReply;
    if (t.aborted) return C.C426Aborted;
    if (isWharfError(err, 'WHARF_QUOTA')) return C.C552QuotaExceeded;
    const code = (err as { code?: string })?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return C.C452NoSpace;
    if (code && /^(ECONNRESET|EPIPE|ERR_STREAM_PREMATURE_CLOSE|ERR_STREAM_DESTROYED|WHARF_TIMEOUT|ETIMEDOUT|ECONNABORTED)$/.test(code)) return C.C426Aborted;
    if (code === 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC' || (code ?? '').startsWith('ERR_SSL')) return C.C426Aborted;
    this.log.error('transfer failed', { verb: t.verb, err: describeError(err) });
    return C.C451LocalError;
  }

  /**
   * What RETR and STOR/APPE/STOU check first: the REST offset they consume (RFC 3659 §5.3), a
   * name, and a data connection prepared by PASV/EPSV/PORT/EPRT.
   */
  private fileCommand(arg: string): number {
    const offset = this.restOffset;
    this.restOffset = 0;
    if (!arg.trim()) throw new ReplyError(C.C501Args);
    if (!this.data.prepared) throw new ReplyError(C.C425UsePasvOrPort);
    return offset;
  }

  /**
   * A file transfer: `file` may still be opening (an upload's temporary file opens while the 150
   * goes out and the data connection comes); `move` gets it once open. The file is closed after
   * the transfer whatever happens; `discard` runs after a failure.
   */
  private startFileTransfer(
    verb: string,
    label: string,
    file: Promise<TransferFile>,
    move: (sock: net.Socket, file: TransferFile, progress: Progress, t: ActiveTransfer) => Promise<FtpReply>,
    discard?: () => Promise<void>,
  ): void {
    file.catch(() => {}); // awaited later; a failed open is reported by `move` (or ignored after a 425)
    const progress: Progress = { bytes: 0 };
    this.startTransfer({
      verb,
      label,
      progress,
      run: async (sock, t) => move(sock, await file.catch(fsReply), progress, t),
      finish: async (ok) => {
        await (await file.catch(() => null))?.close();
        if (!ok) await discard?.();
      },
    });
  }

  async cmdRetr(arg: string): Promise<void> {
    const offset = this.fileCommand(arg);
    const r = await this.requireJail().resolveExisting(this.cwd, arg);
    // O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore it).
    const file = await TransferFile.open(r.real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch(fsReply);
    // The first chunk is read with the fstat: a small file is in hand before the 150.
    const pool = this.opts.shared.buffers;
    const buf = pool.take();
    const [st, first] = await Promise.allSettled([file.fh.stat(), file.fh.read(buf, 0, buf.length, offset)]);
    try {
      if (st.status === 'rejected') fsReply(st.reason);
      if (!st.value.isFile()) throw new ReplyError(C.C550NotFile);
      // RFC 3659 §5.4
      if (offset > st.value.size) throw new ReplyError(reply(554, 'Requested action not taken: invalid REST parameter.'));
      if (first.status === 'rejected') fsReply(first.reason);
    } catch (err) {
      pool.give(buf);
      await file.close();
      throw err;
    }
    const length = st.value.size - offset;
    const bytes = Math.min(first.value.bytesRead, length);
    if (bytes >= length) void file.close(); // nothing more to read
    const encoder = this.typeAscii ? new CrlfEncoder() : undefined;
    this.startFileTransfer('RETR', r.virtual, Promise.resolve(file), async (sock, f, progress) => {
      await sendFile(f, sock, { position: offset, first: { buf, bytes }, length, encoder, progress, pool });
      return C.C226Closing;
    });
  }

  async cmdStor(arg: string): Promise<void> {
    await this.store(arg, 'STOR');
  }

  async cmdAppe(arg: string): Promise<void> {
    await this.store(arg, 'APPE');
  }

  async cmdStou(arg: string): Promise<void> {
    this.requireWrite();
    const jail = this.requireJail();
    // RFC 959 §4.1.3: a name unique in the directory; RFC 1123 §4.1.2.9: reply "FILE: name".
    const base = arg.trim() ? path.posix.basename(arg.trim()) : 'file';
    for (let i = 0; i < 100; i++) {
      const candidate = i === 0 && arg.trim() ? base : `${base}.${randomBytes(4).toString('hex')}`;
      const r = await jail.resolveNew(this.cwd, candidate);
      if (!r.stats) {
        await this.store(candidate, 'STOU');
        return;
      }
    }
    throw new ReplyError(C.C450Busy);
  }

  private async store(arg: string, verb: 'STOR' | 'APPE' | 'STOU'): Promise<void> {
    this.requireWrite();
    const offset = this.fileCommand(arg);
    const r = await this.requireJail().resolveNew(this.cwd, arg);
    const existing = r.stats;
    if (existing && !existing.isFile()) throw new ReplyError(C.C550NotFile);
    const inPlace = verb === 'APPE' || offset > 0;
    if (offset > 0 && (!existing || offset > existing.size)) throw new ReplyError(reply(554, 'Requested action not taken: invalid REST parameter.'));
    const quota = await this.uploadQuota();
    // A replaced file's bytes are freed by the rename: the upload may use them meanwhile.
    const allowance = existing && !inPlace ? existing.size : 0;
    if (quota && quota.usage.used >= quota.limit + allowance) throw new ReplyError(C.C552QuotaExceeded);
    const dir = path.dirname(r.real);
    const temp = inPlace ? r.real : path.join(dir, `.${path.basename(r.real).slice(0, 180)}.wharf-${randomBytes(6).toString('hex')}.part`);
    // In place (APPE, REST+STOR) the file is opened before the 150: its errors come first. A new
    // temporary file opens while the 150 goes out.
    let file = TransferFile.open(temp, verb === 'APPE' ? 'a' : inPlace ? 'r+' : 'wx', 0o644);
    if (inPlace) {
      const f = await file.catch(fsReply);
      if (offset > 0) {
        await f.fh.truncate(offset).catch(async (err) => {
          await f.close();
          fsReply(err);
        });
        if (existing) quota?.usage.release(existing.size - offset);
      }
      file = Promise.resolve(f);
    }
    // Bytes are charged to the quota as they arrive; a discarded temporary file gives them back.
    let charged = 0;
    const budget: Budget | undefined = quota
      ? {
          take: (n) => {
            if (!quota.usage.tryCharge(n, quota.limit, allowance)) return false;
            charged += n;
            return true;
          },
        }
      : undefined;
    let renamed = false;
    const discard = async () => {
      if (inPlace || renamed) return;
      quota?.usage.release(charged);
      charged = 0;
      await unlink(temp).catch(() => {});
    };
    const label = verb === 'STOU' ? `FILE: ${path.posix.basename(r.virtual)}` : r.virtual;
    const decoder = this.typeAscii ? new CrlfDecoder() : undefined;
    this.startFileTransfer(
      verb,
      label,
      file,
      async (sock, f, progress, t) => {
        await receiveFile(sock, f, { position: verb === 'APPE' ? null : offset, decoder, budget, progress });
        // Principle 7: durable before the 226 (data and size: fdatasync).
        if (this.s.fsync) await f.fh.datasync();
        // A client that died mid-upload closes both connections: its data EOF is not an end of
        // file. Give the control connection's EOF a moment to be seen, then decide.
        await new Promise((res) => setImmediate(res));
        if (t.aborted || this.controlGone || this.conn.closed) return C.C426Aborted;
        if (inPlace) return C.C226Closing;
        const closed = f.close(); // while the rename is made
        const replaced = quota ? await lstat(r.real).catch(() => null) : null;
        await rename(temp, r.real).catch(fsReply);
        renamed = true;
        if (replaced?.isFile()) quota?.usage.release(replaced.size);
        // The rename is durable once its folder is: one fsync for the uploads finishing together.
        await Promise.all([closed, this.s.fsync ? this.opts.shared.dirSync.sync(dir) : null]);
        return C.C226Closing;
      },
      discard,
    );
  }

  async cmdList(arg: string): Promise<void> {
    await this.listing(arg, 'LIST');
  }

  async cmdNlst(arg: string): Promise<void> {
    await this.listing(arg, 'NLST');
  }

  async cmdMlsd(arg: string): Promise<void> {
    await this.listing(arg, 'MLSD');
  }

  private async listing(arg: string, verb: 'LIST' | 'NLST' | 'MLSD'): Promise<void> {
    const jail = this.requireJail();
    const p = verb === 'MLSD' ? arg.trim() : stripListOptions(arg);
    if (!this.data.prepared) throw new ReplyError(C.C425UsePasvOrPort);
    const target = await jail.resolveExisting(this.cwd, p || '.');
    const st = await stat(target.real).catch(fsReply);
    // RFC 3659 §7.1: MLSD only lists directories.
    if (verb === 'MLSD' && !st.isDirectory()) throw new ReplyError(reply(501, 'Not a directory.'));
    const meter = new Meter();
    const now = new Date();
    const readOnly = this.readOnly;
    const facts = this.facts;
    this.startTransfer({ verb, label: target.virtual, progress: meter, run: async (sock) => {
      const self = this;
      async function* lines(): AsyncGenerator<Buffer> {
        let batch: string[] = [];
        for await (const e of self.listEntries(target.real)) {
          if (verb === 'NLST') batch.push(e.name);
          else if (verb === 'LIST') batch.push(formatListLine(e, now));
          else batch.push(formatMlsxLine(e, { facts, readOnly }));
          if (batch.length >= 256) {
            yield Buffer.from(batch.join('\r\n') + '\r\n', 'utf8');
            batch = [];
          }
        }
        if (batch.length) yield Buffer.from(batch.join('\r\n') + '\r\n', 'utf8');
      }
      await pipeline(lines, meter, sock);
      return C.C226Closing;
    } });
  }

  async cmdMlst(arg: string): Promise<void> {
    const jail = this.requireJail();
    const r = await jail.resolveExisting(this.cwd, arg.trim() || '.');
    const st = await stat(r.real).catch(fsReply);
    const line = formatMlsxLine({ name: r.virtual, stat: st }, { facts: this.facts, readOnly: this.readOnly });
    // RFC 3659 §7.2: the entry line begins with a space.
    await this.send({ code: 250, lines: [`Listing ${r.virtual}`, line.startsWith(' ') ? line : ' ' + line, 'End'] });
  }

  /**
   * Entries of a directory (or the one file a path names), lstat'ed with bounded concurrency and
   * streamed: a folder of any size costs memory for one batch. Names with CR/LF, our temporary
   * upload files and symlinks leading out of the jail are left out.
   */
  private async *listEntries(real: string): AsyncGenerator<EntryInfo> {
    const jail = this.requireJail();
    const st = await stat(real).catch(fsReply);
    if (!st.isDirectory()) {
      const name = path.basename(real);
      if (listable(name)) yield { name, stat: st };
      return;
    }
    const dir = await opendir(real, { bufferSize: 256 }).catch(fsReply);
    let names: string[] = [];
    const flush = async (): Promise<EntryInfo[]> => {
      const out = await Promise.all(
        names.map(async (name): Promise<EntryInfo | null> => {
          const full = path.join(real, name);
          const l = await lstat(full).catch(() => null);
          if (!l) return null;
          if (!l.isSymbolicLink()) return { name, stat: l };
          const target = await realpath(full).catch(() => null);
          if (!target || !(target === jail.root || target.startsWith(jail.root + path.sep))) return null;
          const t = await stat(target).catch(() => null);
          return t ? { name, stat: t } : null;
        }),
      );
      names = [];
      return out.filter((e): e is EntryInfo => e !== null).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    };
    for await (const d of dir) {
      if (!listable(d.name) || TEMP_RE.test(d.name)) continue;
      names.push(d.name);
      if (names.length >= LIST_CONCURRENCY * 8) yield* await flush();
    }
    if (names.length) yield* await flush();
  }
}

// ---- command table -----------------------------------------------------------------------------

const ANY: readonly State[] = ['login', 'password', 'ready'];
const READY: readonly State[] = ['ready'];

const COMMANDS: Record<string, Command> = {
  USER: { states: ANY, run: (s, a) => s.cmdUser(a) },
  PASS: { states: ['password'], run: (s, a) => s.cmdPass(a) },
  ACCT: { states: ANY, run: async () => void (await Promise.reject(new ReplyError(C.C502NotImplemented))) },
  REIN: { states: ANY, run: (s) => s.cmdRein() },
  QUIT: { states: ANY, run: (s) => s.cmdQuit() },
  AUTH: { states: ANY, run: (s, a) => s.cmdAuth(a) },
  PBSZ: { states: ANY, run: (s, a) => s.cmdPbsz(a) },
  PROT: { states: ANY, run: (s, a) => s.cmdProt(a) },
  FEAT: { states: ANY, run: (s) => s.cmdFeat() },
  OPTS: { states: ANY, run: (s, a) => s.cmdOpts(a) },
  SYST: { states: ANY, run: (s) => s.cmdSyst() },
  NOOP: { states: ANY, run: (s) => s.cmdNoop() },
  HELP: { states: ANY, run: (s, a) => s.cmdHelp(a) },
  STAT: { states: ANY, run: (s, a) => s.cmdStat(a) },
  PWD: { states: READY, run: (s) => s.cmdPwd() },
  XPWD: { states: READY, run: (s) => s.cmdPwd() },
  CWD: { states: READY, run: (s, a) => s.cmdCwd(a) },
  XCWD: { states: READY, run: (s, a) => s.cmdCwd(a) },
  CDUP: { states: READY, run: (s) => s.cmdCdup() },
  XCUP: { states: READY, run: (s) => s.cmdCdup() },
  MKD: { states: READY, run: (s, a) => s.cmdMkd(a) },
  XMKD: { states: READY, run: (s, a) => s.cmdMkd(a) },
  RMD: { states: READY, run: (s, a) => s.cmdRmd(a) },
  XRMD: { states: READY, run: (s, a) => s.cmdRmd(a) },
  DELE: { states: READY, run: (s, a) => s.cmdDele(a) },
  RNFR: { states: READY, run: (s, a) => s.cmdRnfr(a) },
  RNTO: { states: READY, run: (s, a) => s.cmdRnto(a) },
  SIZE: { states: READY, run: (s, a) => s.cmdSize(a) },
  MDTM: { states: READY, run: (s, a) => s.cmdMdtm(a) },
  MFMT: { states: READY, run: (s, a) => s.cmdMfmt(a) },
  TYPE: { states: ANY, run: (s, a) => s.cmdType(a) },
  MODE: { states: ANY, run: (s, a) => s.cmdMode(a) },
  STRU: { states: ANY, run: (s, a) => s.cmdStru(a) },
  ALLO: { states: READY, run: (s) => s.cmdAllo() },
  REST: { states: READY, run: (s, a) => s.cmdRest(a) },
  PORT: { states: READY, run: (s, a) => s.cmdPort(a) },
  EPRT: { states: READY, run: (s, a) => s.cmdEprt(a) },
  PASV: { states: READY, run: (s) => s.cmdPasv() },
  EPSV: { states: READY, run: (s, a) => s.cmdEpsv(a) },
  ABOR: { states: READY, run: (s) => s.cmdAbor() },
  RETR: { states: READY, run: (s, a) => s.cmdRetr(a) },
  STOR: { states: READY, run: (s, a) => s.cmdStor(a) },
  STOU: { states: READY, run: (s, a) => s.cmdStou(a) },
  APPE: { states: READY, run: (s, a) => s.cmdAppe(a) },
  LIST: { states: READY, run: (s, a) => s.cmdList(a) },
  NLST: { states: READY, run: (s, a) => s.cmdNlst(a) },
  MLSD: { states: READY, run: (s, a) => s.cmdMlsd(a) },
  MLST: { states: READY, run: (s, a) => s.cmdMlst(a) },
};

/** Answered at once even while a transfer runs. */
const DURING_TRANSFER = new Set(['ABOR', 'STAT', 'QUIT']);
/** Commands that may stand between REST and its RETR/STOR without cancelling it. */
const KEEPS_REST = new Set(['REST', 'RETR', 'STOR', 'APPE', 'STOU', 'PASV', 'EPSV', 'PORT', 'EPRT', 'TYPE', 'NOOP', 'STAT', 'PBSZ', 'PROT']);
/** Known RFC 959 verbs we do not implement: 502 rather than 500. */
const NOT_IMPLEMENTED = new Set(['SMNT', 'SITE', 'CCC', 'LANG', 'ADAT', 'MIC', 'CONF', 'ENC']);

/** Splits a command line at CRs not followed by NUL (RFC 959 §3.2: CR in a path is CR NUL). */
export function splitBareCr(line: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === 0x0d && line[i + 1] !== 0x00) {
      parts.push(line.subarray(start, i));
      start = i + 1;
    }
  }
  parts.push(line.subarray(start));
  return parts.length === 1 ? parts : parts.filter((p) => p.length > 0);
}

/** "LIST -la dir" → "dir": clients send ls options that are not paths. */
function stripListOptions(arg: string): string {
  let a = arg.trim();
  while (/^-[A-Za-z]+(\s|$)/.test(a)) a = a.replace(/^-[A-Za-z]+\s*/, '');
  return a;
}

/** Maps a file-system error to a reply (throws it). */
function fsReply(err: unknown): never {
  if (err instanceof ReplyError) throw err;
  const code = (err as { code?: string })?.code;
  switch (code) {
    case 'ENOENT':
      throw new ReplyError(C.C550NotFound);
    case 'EEXIST':
      throw new ReplyError(C.C550Exists);
    case 'ENOTEMPTY':
      throw new ReplyError(C.C550NotEmpty);
    case 'ENOTDIR':
      throw new ReplyError(C.C550NotDir);
    case 'EISDIR':
      throw new ReplyError(C.C550NotFile);
    case 'EACCES':
    case 'EPERM':
    case 'EBUSY':
    case 'EINVAL':
      throw new ReplyError(C.C550NotPermitted);
    case 'ENOSPC':
    case 'EDQUOT':
      throw new ReplyError(C.C452NoSpace);
    case 'ENAMETOOLONG':
      throw new ReplyError(C.C553BadName);
    default:
      throw err;
  }
}

/** Ends a data socket cleanly (close_notify over TLS) and lets the peer read to EOF before closing. */
function closeGracefully(sock: net.Socket): void {
  if (sock.destroyed) return;
  sock.resume();
  if (!sock.writableEnded) sock.end();
  const t = setTimeout(() => sock.destroy(), 5000);
  t.unref();
  sock.once('close', () => clearTimeout(t));
}
