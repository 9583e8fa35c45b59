// SqliteStore: the embedded Store engine (better-sqlite3, one file, WAL).
//
// Invariants:
//  - every write method is one operation of the group committer (group-commit.ts): it runs in its
//    own SAVEPOINT inside a shared BEGIN IMMEDIATE … COMMIT and resolves once that is durable.
//    With fsync on a file: synchronous = NORMAL (COMMIT writes the WAL, no fsync) and the
//    committer fsyncs the -wal file on libuv's thread pool before resolving (the same fsync FULL
//    would do at COMMIT, off the event loop; SQLite still fsyncs around checkpoints). A committed
//    change is visible to readers a few ms before it is durable; nothing that depends on it (a
//    250, a watcher, a resolved write) happens before. Reads run directly;
//  - another process (`wharf deliver`, the CLI) may write the same file: busy_timeout = 10 s, and
//    changes are announced through the change_log table (seq, origin, mailbox_id | zone). Local
//    listeners are called right after our commit; other processes' rows are noticed by polling
//    `PRAGMA data_version` every 250 ms;
//  - UIDs per mailbox come from mailboxes.uid_next and are never reused; every change to a mailbox
//    takes highest_modseq + 1 (one MODSEQ per operation); expunged UIDs stay in `expunged` with
//    their MODSEQ (RFC 7162 §3.2.10 VANISHED needs them);
//  - UIDVALIDITY comes from a global counter seeded by the clock (seconds), so a re-created
//    mailbox gets a larger one, even across restarts (RFC 3501 §2.3.1.1);
//  - addresses, domains, and "INBOX" compare case-insensitively, other mailbox names exactly;
//  - deleting accounts, mailboxes or messages never deletes blobs (GC asks blobInUse()).
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WharfError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { addressKey, domainOf } from '../store.js';
import type {
  Account,
  AccountPatch,
  Alias,
  BlobStore,
  ChangeListener,
  Domain,
  FlagUpdate,
  JobOutcome,
  Mailbox,
  MailboxChanges,
  MailboxStatus,
  MessageSummary,
  NewAccount,
  NewMessage,
  NewQueueMessage,
  QueueJob,
  QueueMessage,
  QueueMessageDetail,
  QueueRecipient,
  Store,
  StoredMessage,
  ZoneRow,
} from '../store.js';
import { applyFlags, hasFlag, normaliseFlags } from './flags.js';
import { GroupCommitter } from './group-commit.js';
import type { OpContext } from './group-commit.js';
import { migrate } from './schema.js';

export interface SqliteStoreOptions {
  /** The database file (":memory:" works for one-process tests). */
  path: string;
  blobs: BlobStore;
  fsync: boolean;
  logger?: Logger;
}

const POLL_MS = 250;
/** change_log rows older than this are pruned (pollers look every 250 ms). */
const CHANGE_LOG_KEEP_MS = 5 * 60_000;

type Row = Record<string, unknown>;

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: string | null;
  subscribed: number;
}

interface MessageRow {
  mailbox_id: number;
  uid: number;
  modseq: number;
  size: number;
  flags: string;
  internal_date: number;
  blob_id: string;
  header_prefix: Buffer;
  meta: string;
}

interface AccountRow {
  id: number;
  address: string;
  key: string;
  password_hash: string;
  apop_secret: string | null;
  admin: number;
  disabled: number;
  quota: number;
  created_at: number;
}

interface JobRow {
  id: number;
  message_id: number;
  domain: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  leased_by: string | null;
  lease_until: number | null;
}

function err(code: string, message: string): WharfError {
  return new WharfError(code, message);
}

/** "INBOX" in any case (and the INBOX/ prefix) is spelt INBOX. RFC 3501 §5.1. */
export function normaliseMailboxName(name: string): string {
  if (typeof name !== 'string') throw err('WHARF_INVALID', 'mailbox name must be a string');
  if (name.length > 5 && name.slice(0, 6).toUpperCase() === 'INBOX/') return 'INBOX' + name.slice(5);
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  return name;
}

function checkMailboxName(name: string): string {
  const n = normaliseMailboxName(name);
  if (n === '' || n.startsWith('/') || n.endsWith('/') || n.includes('//') || /[\x00-\x1f\x7f]/.test(n)) {
    throw err('WHARF_INVALID', `bad mailbox name: ${JSON.stringify(name)}`);
  }
  return n;
}

function checkDomainName(name: string): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (n === '' || /[\s@/\\]/.test(n)) throw err('WHARF_INVALID', `bad domain name: ${JSON.stringify(name)}`);
  return n;
}

function checkAddress(address: string): string {
  const a = typeof address === 'string' ? address.trim() : '';
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1 || /\s/.test(a)) throw err('WHARF_INVALID', `bad address: ${JSON.stringify(address)}`);
  return a;
}

/** Zone names: absolute, lower case, trailing dot. */
function zoneKey(name: string): string {
  const n = typeof name === 'string' ? name.trim().toLowerCase() : '';
  if (n === '') throw err('WHARF_INVALID', 'empty zone name');
  if (n === '.') return '.';
  if (/\s/.test(n) || n.startsWith('.') || n.includes('..')) throw err('WHARF_INVALID', `bad zone name: ${JSON.stringify(name)}`);
  return n.endsWith('.') ? n : n + '.';
}

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: r.special_use,
    subscribed: r.subscribed === 1,
  };
}

function toSummary(r: MessageRow): MessageSummary {
  return { uid: r.uid, modseq: r.modseq, size: r.size, flags: JSON.parse(r.flags) as string[], internalDate: new Date(r.internal_date) };
}

function toStored(r: MessageRow): StoredMessage {
  return {
    ...toSummary(r),
    mailboxId: r.mailbox_id,
    blobId: r.blob_id,
    headerPrefix: Buffer.from(r.header_prefix),
    meta: JSON.parse(r.meta) as unknown,
  };
}

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    domain: domainOf(r.address),
    passwordHash: r.password_hash,
    apopSecret: r.apop_secret,
    admin: r.admin === 1,
    disabled: r.disabled === 1,
    quota: r.quota,
    createdAt: new Date(r.created_at),
  };
}

function toRecipient(r: Row): QueueRecipient {
  return {
    id: r.id as number,
    address: r.address as string,
    domain: r.domain as string,
    notify: r.notify === null ? null : (JSON.parse(r.notify as string) as string[]),
    orcpt: (r.orcpt as string | null) ?? null,
    status: r.status as QueueRecipient['status'],
    lastReply: (r.last_reply as string | null) ?? null,
  };
}

function toQueueMessage(r: Row): QueueMessage {
  return {
    id: r.id as number,
    sender: r.sender as string,
    blobId: r.blob_id as string,
    size: r.size as number,
    headerPrefix: Buffer.from(r.header_prefix as Buffer),
    envid: (r.envid as string | null) ?? null,
    ret: (r.ret as 'FULL' | 'HDRS' | null) ?? null,
    createdAt: new Date(r.created_at as number),
  };
}

function uniqueSorted(uids: readonly number[]): number[] {
  return [...new Set(uids.filter((u) => Number.isInteger(u) && u > 0))].sort((a, b) => a - b);
}

function timeOf(d: Date | undefined, fallback: number): number {
  if (d === undefined) return fallback;
  const t = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(t)) throw err('WHARF_INVALID', 'bad date');
  return t;
}

export class SqliteStore implements Store {
  readonly engine = 'sqlite' as const;
  readonly blobs: BlobStore;
  readonly path: string;
  private readonly fsync: boolean;
  private readonly logger: Logger | undefined;
  private readonly origin = randomBytes(8).toString('hex');
  private dbValue: Database.Database | undefined;
  private committer: GroupCommitter | undefined;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly mailboxListeners = new Map<number | null, Set<ChangeListener>>();
  private readonly zoneListeners = new Set<(name: string) => void>();
  private pollTimer: NodeJS.Timeout | undefined;
  private dataVersion = 0;
  private lastSeq = 0;
  private closed = false;
  /** The -wal file, opened at the first sync (it exists once a COMMIT wrote to it). */
  private wal: FileHandle | undefined;
  /** Durability by fsync of the WAL after COMMIT (synchronous = NORMAL), see the header. */
  private walSync = false;

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.blobs = opts.blobs;
    this.fsync = opts.fsync;
    this.logger = opts.logger;
  }

  private get fileBacked(): boolean {
    return this.path !== ':memory:' && this.path !== '';
  }

  /** fsync(2) of the WAL file: every COMMIT that returned before this call is then durable. */
  private async syncWal(): Promise<void> {
    this.wal ??= await open(`${this.path}-wal`, 'r');
    await this.wal.sync();
  }

  /** fsync calls made for group commits (each may cover several commits). */
  get syncs(): number {
    return this.committer?.syncs ?? 0;
  }

  /** Transactions committed by the group committer (each may cover many operations). */
  get commits(): number {
    return this.committer?.commits ?? 0;
  }

  private get db(): Database.Database {
    if (this.closed) throw err('WHARF_STORE_UNAVAILABLE', 'the store is closed');
    if (!this.dbValue) throw err('WHARF_STORE_UNAVAILABLE', 'the store is not initialised (call init())');
    return this.dbValue;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  private all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  private run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  /** Queues a write operation for the next group commit. */
  private write<T>(fn: (ctx: OpContext) => T): Promise<T> {
    try {
      void this.db;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.committer!.run(fn);
  }

  /** A read, run now (outside any batch), as a promise. */
  private async read<T>(fn: () => T): Promise<T> {
    return fn();
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async init(): Promise<void> {
    if (this.closed) throw err('WHARF_STORE_UNAVAILABLE', 'the store is closed');
    if (!this.dbValue) {
      if (this.path !== ':memory:' && this.path !== '') mkdirSync(dirname(this.path), { recursive: true });
      let db: Database.Database;
      try {
        db = new Database(this.path);
      } catch (e) {
        throw new WharfError('WHARF_STORE_UNAVAILABLE', `cannot open the database ${this.path}: ${(e as Error).message}`, undefined, { cause: e });
      }
      try {
        db.pragma('busy_timeout = 10000');
        const mode = String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
        // WAL + NORMAL does not fsync at COMMIT: the committer fsyncs the WAL off the event loop
        // (syncWal). FULL (fsync inside COMMIT) where there is no WAL file (":memory:", or a
        // filesystem where SQLite could not switch to WAL).
        this.walSync = this.fsync && this.fileBacked && mode === 'wal';
        db.pragma(`synchronous = ${!this.fsync ? 'OFF' : this.walSync ? 'NORMAL' : 'FULL'}`);
        db.pragma('foreign_keys = ON');
      } catch (e) {
        db.close();
        throw e;
      }
      this.dbValue = db;
      this.committer = new GroupCommitter(
        db,
        () => this.afterBatch(),
        (e) => this.logger?.error('sqlite store: transaction failed', { err: e }),
        this.walSync ? () => this.syncWal() : undefined,
      );
    }
    try {
      migrate(this.db);
    } catch (e) {
      const mapped = (e as { code?: unknown })?.code;
      if (typeof mapped === 'string' && mapped.startsWith('SQLITE_BUSY')) throw new WharfError('WHARF_STORE_UNAVAILABLE', 'the database is busy (migration)', undefined, { cause: e });
      throw e;
    }
    this.stmts.clear();
    this.lastSeq = this.get<{ s: number | null }>('SELECT max(seq) AS s FROM change_log')?.s ?? 0;
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    if (!this.pollTimer) {
      this.pollTimer = setInterval(() => this.poll(), POLL_MS);
      this.pollTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.committer) await this.committer.drained();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.closed = true;
    this.mailboxListeners.clear();
    this.zoneListeners.clear();
    this.stmts.clear();
    this.dbValue?.close();
    this.dbValue = undefined;
    await this.wal?.close().catch(() => {});
    this.wal = undefined;
  }

  // ---- change notification ------------------------------------------------------------------

  private noteMailbox(ctx: OpContext, mailboxId: number): void {
    this.run('INSERT INTO change_log (origin, mailbox_id, at) VALUES (?, ?, ?)', this.origin, mailboxId, Date.now());
    ctx.afterCommit(() => this.emitMailbox(mailboxId));
  }

  private noteZone(ctx: OpContext, name: string): void {
    this.run('INSERT INTO change_log (origin, zone, at) VALUES (?, ?, ?)', this.origin, name, Date.now());
    ctx.afterCommit(() => this.emitZone(name));
  }

  private emitMailbox(mailboxId: number): void {
    for (const key of [mailboxId, null]) {
      const set = this.mailboxListeners.get(key);
      if (!set) continue;
      for (const l of [...set]) {
        try {
          l({ mailboxId });
        } catch (e) {
          this.logger?.error('mailbox listener failed', { err: e });
        }
      }
    }
  }

  private emitZone(name: string): void {
    for (const l of [...this.zoneListeners]) {
      try {
        l(name);
      } catch (e) {
        this.logger?.error('zone listener failed', { err: e });
      }
    }
  }

  private batches = 0;
  private afterBatch(): void {
    // prune old change_log rows now and then (in its own tiny transaction, off the hot path)
    if (++this.batches % 256 === 0) {
      void this.write(() => this.run('DELETE FROM change_log WHERE at < ?', Date.now() - CHANGE_LOG_KEEP_MS)).catch(() => {});
    }
  }

  /** Notices commits by other processes (PRAGMA data_version) and replays their change_log rows. */
  private poll(): void {
    if (this.closed || !this.dbValue) return;
    try {
      const v = this.db.pragma('data_version', { simple: true }) as number;
      if (v === this.dataVersion) return;
      this.dataVersion = v;
      const rows = this.all<{ seq: number; origin: string; mailbox_id: number | null; zone: string | null }>(
        'SELECT seq, origin, mailbox_id, zone FROM change_log WHERE seq > ? ORDER BY seq',
        this.lastSeq,
      );
      const boxes = new Set<number>();
      const zones = new Set<string>();
      for (const r of rows) {
        this.lastSeq = Math.max(this.lastSeq, r.seq);
        if (r.origin === this.origin) continue;
        if (r.mailbox_id !== null) boxes.add(r.mailbox_id);
        if (r.zone !== null) zones.add(r.zone);
      }
      for (const b of boxes) this.emitMailbox(b);
      for (const z of zones) this.emitZone(z);
    } catch (e) {
      this.logger?.warn('sqlite store: change poll failed', { err: e });
    }
  }

  watch(mailboxId: number | null, listener: ChangeListener): () => void {
    let set = this.mailboxListeners.get(mailboxId);
    if (!set) {
      set = new Set();
      this.mailboxListeners.set(mailboxId, set);
    }
    set.add(listener);
    return () => {
      const s = this.mailboxListeners.get(mailboxId);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.mailboxListeners.delete(mailboxId);
    };
  }

  watchZones(listener: (name: string) => void): () => void {
    this.zoneListeners.add(listener);
    return () => {
      this.zoneListeners.delete(listener);
    };
  }

  // ---- domains ---------------------------------------------------------------------------------

  addDomain(name: string): Promise<Domain> {
    return this.write(() => {
      const n = checkDomainName(name);
      const key = n.toLowerCase();
      if (this.get('SELECT 1 FROM domains WHERE key = ?', key)) throw err('WHARF_EXISTS', `domain ${n} exists`);
      const now = Date.now();
      this.run('INSERT INTO domains (key, name, created_at) VALUES (?, ?, ?)', key, n, now);
      return { name: n, createdAt: new Date(now) };
    });
  }

  getDomain(name: string): Promise<Domain | null> {
    return this.read(() => {
      const r = this.get<{ name: string; created_at: number }>('SELECT name, created_at FROM domains WHERE key = ?', String(name).trim().toLowerCase());
      return r ? { name: r.name, createdAt: new Date(r.created_at) } : null;
    });
  }

  listDomains(): Promise<Domain[]> {
    return this.read(() =>
      this.all<{ name: string; created_at: number }>('SELECT name, created_at FROM domains ORDER BY key').map((r) => ({ name: r.name, createdAt: new Date(r.created_at) })),
    );
  }

  deleteDomain(name: string, opts?: { force?: boolean }): Promise<boolean> {
    return this.write(() => {
      const key = String(name).trim().toLowerCase();
      if (!this.get('SELECT 1 FROM domains WHERE key = ?', key)) return false;
      const n = this.get<{ n: number }>('SELECT count(*) AS n FROM accounts WHERE domain_key = ?', key)!.n;
      if (n > 0 && !opts?.force) throw err('WHARF_NOT_EMPTY', `domain ${name} has ${n} account(s)`);
      // accounts (and through them mailboxes, messages, aliases) go by cascade
      this.run('DELETE FROM aliases WHERE domain_key = ?', key);
      this.run('DELETE FROM domains WHERE key = ?', key);
      return true;
    });
  }

  // ---- accounts ---------------------------------------------------------------------------------

  private accountRow(address: string): AccountRow | undefined {
    return this.get<AccountRow>('SELECT * FROM accounts WHERE key = ?', addressKey(String(address)));
  }

  private createMailboxRow(accountId: number, name: string, specialUse: string | null, subscribed: boolean): MailboxRow {
    const uidValidity = this.nextUidValidity();
    const info = this.run(
      'INSERT INTO mailboxes (account_id, name, uid_validity, uid_next, highest_modseq, special_use, subscribed) VALUES (?, ?, ?, 1, 1, ?, ?)',
      accountId,
      name,
      uidValidity,
      specialUse,
      subscribed ? 1 : 0,
    );
    return this.get<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?', Number(info.lastInsertRowid))!;
  }

  /** RFC 3501 §2.3.1.1: strictly larger than any UIDVALIDITY given before; seeded by the clock. */
  private nextUidValidity(): number {
    const row = this.get<{ value: number }>("SELECT value FROM counters WHERE name = 'uidvalidity'");
    const now = Math.floor(Date.now() / 1000);
    const next = Math.max((row?.value ?? 0) + 1, now);
    if (next > 0xffffffff) throw err('WHARF_STORE_UNAVAILABLE', 'UIDVALIDITY counter exhausted');
    this.run("INSERT INTO counters (name, value) VALUES ('uidvalidity', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", next);
    return next;
  }

  addAccount(a: NewAccount): Promise<Account> {
    return this.write(() => {
      const address = checkAddress(a.address);
      const key = addressKey(address);
      const dkey = domainOf(address);
      if (typeof a.passwordHash !== 'string') throw err('WHARF_INVALID', 'passwordHash must be a string');
      if (!this.get('SELECT 1 FROM domains WHERE key = ?', dkey)) throw err('WHARF_NO_DOMAIN', `${dkey} is not a local domain`);
      if (this.get('SELECT 1 FROM accounts WHERE key = ?', key) || this.get('SELECT 1 FROM aliases WHERE key = ?', key)) {
        throw err('WHARF_EXISTS', `${address} is taken`);
      }
      const now = Date.now();
      const info = this.run(
        'INSERT INTO accounts (key, address, domain_key, password_hash, apop_secret, admin, disabled, quota, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)',
        key,
        address,
        dkey,
        a.passwordHash,
        a.apopSecret ?? null,
        a.admin ? 1 : 0,
        now,
      );
      const id = Number(info.lastInsertRowid);
      const boxes = new Map<string, { specialUse: string | null; subscribed: boolean }>();
      boxes.set('INBOX', { specialUse: null, subscribed: true });
      for (const m of a.mailboxes ?? []) {
        const n = checkMailboxName(m.name);
        boxes.set(n, { specialUse: m.specialUse ?? null, subscribed: m.subscribed ?? n === 'INBOX' });
      }
      for (const [n, o] of boxes) this.createMailboxRow(id, n, o.specialUse, o.subscribed);
      return toAccount(this.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id)!);
    });
  }

  getAccount(address: string): Promise<Account | null> {
    return this.read(() => {
      const r = this.accountRow(address);
      return r ? toAccount(r) : null;
    });
  }

  getAccountById(id: number): Promise<Account | null> {
    return this.read(() => {
      const r = this.get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
      return r ? toAccount(r) : null;
    });
  }

  listAccounts(domain?: string): Promise<Account[]> {
    return this.read(() => {
      const rows =
        domain === undefined
          ? this.all<AccountRow>('SELECT * FROM accounts ORDER BY key')
          : this.all<AccountRow>('SELECT * FROM accounts WHERE domain_key = ? ORDER BY key', String(domain).trim().toLowerCase());
      return rows.map(toAccount);
    });
  }

  updateAccount(address: string, patch: AccountPatch): Promise<boolean> {
    return this.write(() => {
      const r = this.accountRow(address);
      if (!r) return false;
      const sets: string[] = [];
      const vals: unknown[] = [];
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        vals.push(value);
      };
      if (patch.passwordHash !== undefined) set('password_hash', patch.passwordHash);
      if (patch.apopSecret !== undefined) set('apop_secret', patch.apopSecret);
      if (patch.admin !== undefined) set('admin', patch.admin ? 1 : 0);
      if (patch.disabled !== undefined) set('disabled', patch.disabled ? 1 : 0);
      if (patch.quota !== undefined) {
        if (!Number.isInteger(patch.quota) || patch.quota < 0) throw err('WHARF_INVALID', 'quota must be a non-negative integer');
        set('quota', patch.quota);
      }
      if (sets.length > 0) this.stmt(`UPDATE accounts SET ${sets.join(', ')} WHERE id = ?`).run(...vals, r.id);
      return true;
    });
  }

  deleteAccount(address: string): Promise<boolean> {
    return this.write((ctx) => {
      const r = this.accountRow(address);
      if (!r) return false;
      const boxes = this.all<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = ?', r.id);
      this.run('DELETE FROM accounts WHERE id = ?', r.id);
      for (const b of boxes) this.noteMailbox(ctx, b.id);
      return true;
    });
  }

  addAlias(address: string, accountId: number): Promise<void> {
    return this.write(() => {
      const a = checkAddress(address);
      const key = addressKey(a);
      if (!this.get('SELECT 1 FROM accounts WHERE id = ?', accountId)) throw err('WHARF_NOT_FOUND', `no account ${accountId}`);
      if (this.get('SELECT 1 FROM accounts WHERE key = ?', key) || this.get('SELECT 1 FROM aliases WHERE key = ?', key)) {
        throw err('WHARF_EXISTS', `${a} is taken`);
      }
      this.run('INSERT INTO aliases (key, address, domain_key, account_id) VALUES (?, ?, ?, ?)', key, a, domainOf(a), accountId);
    });
  }

  deleteAlias(address: string): Promise<boolean> {
    return this.write(() => this.run('DELETE FROM aliases WHERE key = ?', addressKey(String(address))).changes > 0);
  }

  listAliases(accountId?: number): Promise<Alias[]> {
    return this.read(() => {
      const rows =
        accountId === undefined
          ? this.all<{ address: string; account_id: number }>('SELECT address, account_id FROM aliases ORDER BY key')
          : this.all<{ address: string; account_id: number }>('SELECT address, account_id FROM aliases WHERE account_id = ? ORDER BY key', accountId);
      return rows.map((r) => ({ address: r.address, accountId: r.account_id }));
    });
  }

  resolveAddress(address: string): Promise<Account | null> {
    return this.read(() => {
      const key = addressKey(String(address));
      const r =
        this.get<AccountRow>('SELECT * FROM accounts WHERE key = ?', key) ??
        this.get<AccountRow>('SELECT a.* FROM aliases l JOIN accounts a ON a.id = l.account_id WHERE l.key = ?', key);
      return r ? toAccount(r) : null;
    });
  }

  // ---- mailboxes --------------------------------------------------------------------------------

  private mailboxRow(id: number): MailboxRow | undefined {
    return this.get<MailboxRow>('SELECT * FROM mailboxes WHERE id = ?', id);
  }

  private mustMailbox(id: number): MailboxRow {
    const r = this.mailboxRow(id);
    if (!r) throw err('WHARF_NOT_FOUND', `no mailbox ${id}`);
    return r;
  }

  /** Takes the next MODSEQ of a mailbox (one per operation). */
  private bumpModseq(box: MailboxRow): number {
    const m = box.highest_modseq + 1;
    this.run('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?', m, box.id);
    box.highest_modseq = m;
    return m;
  }

  listMailboxes(accountId: number): Promise<Mailbox[]> {
    return this.read(() => this.all<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? ORDER BY name', accountId).map(toMailbox));
  }

  getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    return this.read(() => {
      const r = this.get<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = ? AND name = ?', accountId, normaliseMailboxName(name));
      return r ? toMailbox(r) : null;
    });
  }

  getMailboxById(id: number): Promise<Mailbox | null> {
    return this.read(() => {
      const r = this.mailboxRow(id);
      return r ? toMailbox(r) : null;
    });
  }

  createMailbox(accountId: number, name: string, opts?: { specialUse?: string | null; subscribed?: boolean }): Promise<Mailbox> {
    return this.write(() => {
      const n = checkMailboxName(name);
      if (!this.get('SELECT 1 FROM accounts WHERE id = ?', accountId)) throw err('WHARF_NOT_FOUND', `no account ${accountId}`);
      if (this.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?', accountId, n)) throw err('WHARF_EXISTS', `mailbox ${n} exists`);
      return toMailbox(this.createMailboxRow(accountId, n, opts?.specialUse ?? null, opts?.subscribed ?? false));
    });
  }

  deleteMailbox(mailboxId: number): Promise<void> {
    return this.write((ctx) => {
      const box = this.mustMailbox(mailboxId);
      if (box.name === 'INBOX') throw err('WHARF_INVALID', 'INBOX cannot be deleted');
      this.run('DELETE FROM mailboxes WHERE id = ?', mailboxId);
      this.noteMailbox(ctx, mailboxId);
    });
  }

  renameMailbox(mailboxId: number, newName: string): Promise<void> {
    return this.write((ctx) => {
      const box = this.mustMailbox(mailboxId);
      const to = checkMailboxName(newName);
      if (to === box.name) return;
      const taken = (n: string) => !!this.get('SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?', box.account_id, n);
      if (taken(to)) throw err('WHARF_EXISTS', `mailbox ${to} exists`);
      if (to.startsWith(box.name + '/')) throw err('WHARF_INVALID', `cannot rename ${box.name} into itself`);
      if (box.name === 'INBOX') {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and leaves an empty
        // INBOX; INBOX's inferiors are not renamed. The moved mailbox keeps its UIDs and
        // UIDVALIDITY; the new INBOX gets a new UIDVALIDITY.
        this.run('UPDATE mailboxes SET name = ?, subscribed = 0 WHERE id = ?', to, box.id);
        const inbox = this.createMailboxRow(box.account_id, 'INBOX', null, box.subscribed === 1);
        this.noteMailbox(ctx, box.id);
        this.noteMailbox(ctx, inbox.id);
        return;
      }
      const prefix = box.name + '/';
      const children = this.all<{ id: number; name: string }>(
        'SELECT id, name FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ? ORDER BY name',
        box.account_id,
        prefix.length,
        prefix,
      );
      for (const c of children) {
        const n = to + c.name.slice(box.name.length);
        if (taken(n)) throw err('WHARF_EXISTS', `mailbox ${n} exists`);
      }
      this.run('UPDATE mailboxes SET name = ? WHERE id = ?', to, box.id);
      for (const c of children) this.run('UPDATE mailboxes SET name = ? WHERE id = ?', to + c.name.slice(box.name.length), c.id);
      this.noteMailbox(ctx, box.id);
      for (const c of children) this.noteMailbox(ctx, c.id);
    });
  }

  setSubscribed(mailboxId: number, subscribed: boolean): Promise<void> {
    return this.write(() => {
      if (this.run('UPDATE mailboxes SET subscribed = ? WHERE id = ?', subscribed ? 1 : 0, mailboxId).changes === 0) throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
    });
  }

  mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    return this.read(() => {
      const box = this.mustMailbox(mailboxId);
      const r = this.get<{ n: number; unseen: number | null; deleted: number | null; size: number | null }>(
        'SELECT count(*) AS n, sum(1 - seen) AS unseen, sum(deleted) AS deleted, sum(size) AS size FROM messages WHERE mailbox_id = ?',
        mailboxId,
      )!;
      return {
        messages: r.n,
        unseen: r.unseen ?? 0,
        deleted: r.deleted ?? 0,
        size: r.size ?? 0,
        uidNext: box.uid_next,
        uidValidity: box.uid_validity,
        highestModseq: box.highest_modseq,
      };
    });
  }

  // ---- messages -----------------------------------------------------------------------------------

  private insertMessage(box: MailboxRow, m: NewMessage, modseq: number): number {
    if (typeof m.blobId !== 'string' || m.blobId === '') throw err('WHARF_INVALID', 'message without blobId');
    if (!Number.isInteger(m.size) || m.size < 0) throw err('WHARF_INVALID', 'message size must be a non-negative integer');
    const flags = normaliseFlags(m.flags ?? []);
    const uid = box.uid_next;
    const prefix = m.headerPrefix ?? Buffer.alloc(0);
    const meta = JSON.stringify(m.meta ?? null);
    this.run(
      'INSERT INTO messages (mailbox_id, uid, modseq, size, flags, seen, deleted, internal_date, blob_id, header_prefix, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      box.id,
      uid,
      modseq,
      m.size,
      JSON.stringify(flags),
      hasFlag(flags, '\\Seen') ? 1 : 0,
      hasFlag(flags, '\\Deleted') ? 1 : 0,
      timeOf(m.internalDate, Date.now()),
      m.blobId,
      prefix,
      meta,
    );
    box.uid_next = uid + 1;
    this.run('UPDATE mailboxes SET uid_next = ? WHERE id = ?', box.uid_next, box.id);
    return uid;
  }

  appendMessage(mailboxId: number, m: NewMessage): Promise<{ uid: number; modseq: number }> {
    return this.write((ctx) => {
      const box = this.mustMailbox(mailboxId);
      const modseq = this.bumpModseq(box);
      const uid = this.insertMessage(box, m, modseq);
      this.noteMailbox(ctx, box.id);
      return { uid, modseq };
    });
  }

  private deliverRows(ctx: OpContext, items: { mailboxId: number; message: NewMessage }[]): { mailboxId: number; uid: number }[] {
    if (!Array.isArray(items)) throw err('WHARF_INVALID', 'deliver needs a list');
    const out: { mailboxId: number; uid: number }[] = [];
    for (const it of items) {
      const box = this.mustMailbox(it.mailboxId);
      const modseq = this.bumpModseq(box);
      out.push({ mailboxId: box.id, uid: this.insertMessage(box, it.message, modseq) });
      this.noteMailbox(ctx, box.id);
    }
    return out;
  }

  deliver(items: { mailboxId: number; message: NewMessage }[]): Promise<{ mailboxId: number; uid: number }[]> {
    return this.write((ctx) => this.deliverRows(ctx, items));
  }

  deliverAndEnqueue(
    deliveries: { mailboxId: number; message: NewMessage }[],
    queued: NewQueueMessage | null,
  ): Promise<{ delivered: { mailboxId: number; uid: number }[]; queueId: number | null }> {
    // one operation = one SAVEPOINT of one committed batch: both halves or neither
    return this.write((ctx) => {
      const delivered = this.deliverRows(ctx, deliveries);
      const queueId = queued ? this.enqueueRows(queued) : null;
      return { delivered, queueId };
    });
  }

  listMessages(mailboxId: number): Promise<MessageSummary[]> {
    return this.read(() =>
      this.all<MessageRow>('SELECT uid, modseq, size, flags, internal_date FROM messages WHERE mailbox_id = ? ORDER BY uid', mailboxId).map(toSummary),
    );
  }

  /** Rows for these UIDs, ascending (one statement: the UID list travels as a JSON array). */
  private messageRows(mailboxId: number, uids: readonly number[]): MessageRow[] {
    const list = uniqueSorted(uids);
    if (list.length === 0) return [];
    if (list.length === 1) return this.all<MessageRow>('SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?', mailboxId, list[0]);
    return this.all<MessageRow>(
      'SELECT * FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid',
      mailboxId,
      JSON.stringify(list),
    );
  }

  getMessages(mailboxId: number, uids: readonly number[]): Promise<StoredMessage[]> {
    return this.read(() => this.messageRows(mailboxId, uids).map(toStored));
  }

  updateFlags(
    mailboxId: number,
    uids: readonly number[],
    op: 'add' | 'remove' | 'set',
    flags: readonly string[],
    opts?: { unchangedSince?: number },
  ): Promise<{ updated: FlagUpdate[]; failed: number[] }> {
    return this.write((ctx) => {
      if (op !== 'add' && op !== 'remove' && op !== 'set') throw err('WHARF_INVALID', `bad flag operation ${String(op)}`);
      const box = this.mustMailbox(mailboxId);
      const failed: number[] = [];
      const changes: { uid: number; flags: string[] }[] = [];
      for (const r of this.messageRows(mailboxId, uids)) {
        // RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is not touched and reported
        if (opts?.unchangedSince !== undefined && r.modseq > opts.unchangedSince) {
          failed.push(r.uid);
          continue;
        }
        const next = applyFlags(JSON.parse(r.flags) as string[], op, flags);
        if (next) changes.push({ uid: r.uid, flags: next });
      }
      if (changes.length === 0) return { updated: [], failed };
      const modseq = this.bumpModseq(box);
      const upd = this.stmt('UPDATE messages SET flags = ?, seen = ?, deleted = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
      for (const c of changes) {
        upd.run(JSON.stringify(c.flags), hasFlag(c.flags, '\\Seen') ? 1 : 0, hasFlag(c.flags, '\\Deleted') ? 1 : 0, modseq, mailboxId, c.uid);
      }
      this.noteMailbox(ctx, mailboxId);
      return { updated: changes.map((c) => ({ uid: c.uid, flags: c.flags, modseq })), failed };
    });
  }

  private expungeRows(ctx: OpContext, box: MailboxRow, uids: readonly number[]): { expunged: number[]; modseq: number } {
    const present = this.messageRows(box.id, uids).map((r) => r.uid);
    if (present.length === 0) return { expunged: [], modseq: box.highest_modseq };
    const modseq = this.bumpModseq(box);
    const del = this.stmt('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rem = this.stmt('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
    for (const uid of present) {
      del.run(box.id, uid);
      rem.run(box.id, uid, modseq);
    }
    this.noteMailbox(ctx, box.id);
    return { expunged: present, modseq };
  }

  expunge(mailboxId: number, uids: readonly number[]): Promise<{ expunged: number[]; modseq: number }> {
    return this.write((ctx) => this.expungeRows(ctx, this.mustMailbox(mailboxId), uids));
  }

  private copyRows(ctx: OpContext, fromId: number, uids: readonly number[], toId: number): { uidValidity: number; pairs: [number, number][] } {
    this.mustMailbox(fromId);
    const target = this.mustMailbox(toId);
    const rows = this.messageRows(fromId, uids);
    if (rows.length === 0) return { uidValidity: target.uid_validity, pairs: [] };
    const modseq = this.bumpModseq(target);
    const pairs: [number, number][] = [];
    const ins = this.stmt(
      'INSERT INTO messages (mailbox_id, uid, modseq, size, flags, seen, deleted, internal_date, blob_id, header_prefix, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const r of rows) {
      const uid = target.uid_next++;
      const flags = JSON.parse(r.flags) as string[];
      ins.run(toId, uid, modseq, r.size, r.flags, hasFlag(flags, '\\Seen') ? 1 : 0, hasFlag(flags, '\\Deleted') ? 1 : 0, r.internal_date, r.blob_id, r.header_prefix, r.meta);
      pairs.push([r.uid, uid]);
    }
    this.run('UPDATE mailboxes SET uid_next = ? WHERE id = ?', target.uid_next, toId);
    this.noteMailbox(ctx, toId);
    return { uidValidity: target.uid_validity, pairs };
  }

  copyMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }> {
    return this.write((ctx) => this.copyRows(ctx, fromMailboxId, uids, toMailboxId));
  }

  moveMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }> {
    return this.write((ctx) => {
      const r = this.copyRows(ctx, fromMailboxId, uids, toMailboxId);
      // RFC 6851 §3.3: the source messages are expunged in the same transaction
      this.expungeRows(
        ctx,
        this.mustMailbox(fromMailboxId),
        r.pairs.map((p) => p[0]),
      );
      return r;
    });
  }

  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.read(() => {
      const box = this.mustMailbox(mailboxId);
      const updated = this.all<MessageRow>(
        'SELECT uid, modseq, size, flags, internal_date FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid',
        mailboxId,
        modseq,
      ).map(toSummary);
      const expunged = this.all<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid', mailboxId, modseq).map((r) => r.uid);
      return { highestModseq: box.highest_modseq, uidNext: box.uid_next, updated, expunged };
    });
  }

  // ---- the outgoing queue ----------------------------------------------------------------------------

  enqueue(m: NewQueueMessage): Promise<number> {
    return this.write(() => this.enqueueRows(m));
  }

  private enqueueRows(m: NewQueueMessage): number {
    if (!m || !Array.isArray(m.recipients) || m.recipients.length === 0) throw err('WHARF_INVALID', 'a queued message needs at least one recipient');
    if (typeof m.sender !== 'string') throw err('WHARF_INVALID', 'sender must be a string');
    if (typeof m.blobId !== 'string' || m.blobId === '') throw err('WHARF_INVALID', 'queued message without blobId');
    if (m.ret !== undefined && m.ret !== null && m.ret !== 'FULL' && m.ret !== 'HDRS') throw err('WHARF_INVALID', `bad RET ${String(m.ret)}`);
    const now = Date.now();
    const due = timeOf(m.notBefore, now);
    const info = this.run(
      'INSERT INTO queue_messages (sender, blob_id, size, header_prefix, envid, ret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      m.sender,
      m.blobId,
      m.size,
      m.headerPrefix ?? Buffer.alloc(0),
      m.envid ?? null,
      m.ret ?? null,
      now,
    );
    const id = Number(info.lastInsertRowid);
    const domains = new Set<string>();
    for (const r of m.recipients) {
      const address = checkAddress(r.address);
      const domain = domainOf(address);
      domains.add(domain);
      this.run(
        "INSERT INTO queue_recipients (message_id, address, domain, notify, orcpt, status) VALUES (?, ?, ?, ?, ?, 'pending')",
        id,
        address,
        domain,
        r.notify ? JSON.stringify(r.notify) : null,
        r.orcpt ?? null,
      );
    }
    for (const d of domains) this.run('INSERT INTO queue_jobs (message_id, domain, attempts, next_attempt_at) VALUES (?, ?, 0, ?)', id, d, due);
    return id;
  }

  private pendingRecipients(messageId: number, domain: string): QueueRecipient[] {
    return this.all<Row>("SELECT * FROM queue_recipients WHERE message_id = ? AND domain = ? AND status = 'pending' ORDER BY id", messageId, domain).map(toRecipient);
  }

  claimJobs(owner: string, limit: number, leaseMs: number, now?: Date): Promise<QueueJob[]> {
    return this.write(() => {
      if (typeof owner !== 'string' || owner === '') throw err('WHARF_INVALID', 'claimJobs needs an owner');
      const t = timeOf(now, Date.now());
      const n = Math.max(0, Math.floor(limit));
      if (n === 0) return [];
      const rows = this.all<JobRow>(
        'SELECT * FROM queue_jobs WHERE next_attempt_at <= ? AND (leased_by IS NULL OR lease_until <= ?) ORDER BY next_attempt_at, id LIMIT ?',
        t,
        t,
        n,
      );
      const out: QueueJob[] = [];
      for (const j of rows) {
        this.run('UPDATE queue_jobs SET leased_by = ?, lease_until = ? WHERE id = ?', owner, t + Math.max(0, leaseMs), j.id);
        const msg = this.get<Row>('SELECT * FROM queue_messages WHERE id = ?', j.message_id)!;
        out.push({
          id: j.id,
          messageId: j.message_id,
          domain: j.domain,
          attempts: j.attempts,
          nextAttemptAt: new Date(j.next_attempt_at),
          lastError: j.last_error,
          recipients: this.pendingRecipients(j.message_id, j.domain),
          message: toQueueMessage(msg),
        });
      }
      return out;
    });
  }

  renewJobs(owner: string, jobIds: readonly number[], leaseMs: number, now?: Date): Promise<number[]> {
    return this.write(() => {
      if (typeof owner !== 'string' || owner === '') throw err('WHARF_INVALID', 'renewJobs needs an owner');
      const until = timeOf(now, Date.now()) + Math.max(0, Number.isFinite(leaseMs) ? Math.floor(leaseMs) : 0);
      const upd = this.stmt('UPDATE queue_jobs SET lease_until = ? WHERE id = ? AND leased_by = ?');
      return uniqueSorted(jobIds).filter((id) => upd.run(until, id, owner).changes > 0);
    });
  }

  finishJob(jobId: number, owner: string, outcomes: JobOutcome[], nextAttemptAt: Date, error?: string | null): Promise<void> {
    return this.write(() => {
      const job = this.get<JobRow>('SELECT * FROM queue_jobs WHERE id = ?', jobId);
      if (!job || job.leased_by !== owner) throw err('WHARF_NOT_FOUND', `job ${jobId} is not leased by ${owner}`);
      const next = timeOf(nextAttemptAt, Date.now());
      for (const o of outcomes) {
        if (o.outcome !== 'delivered' && o.outcome !== 'failed' && o.outcome !== 'deferred') throw err('WHARF_INVALID', `bad outcome ${String(o.outcome)}`);
        const status = o.outcome === 'deferred' ? 'pending' : o.outcome;
        const r = this.run(
          "UPDATE queue_recipients SET status = ?, last_reply = coalesce(?, last_reply) WHERE id = ? AND message_id = ? AND domain = ? AND status = 'pending'",
          status,
          o.reply ?? null,
          o.recipientId,
          job.message_id,
          job.domain,
        );
        if (r.changes === 0) this.logger?.warn('finishJob: outcome for a recipient not pending in this job', { jobId, recipientId: o.recipientId });
      }
      const pending = this.get<{ n: number }>("SELECT count(*) AS n FROM queue_recipients WHERE message_id = ? AND domain = ? AND status = 'pending'", job.message_id, job.domain)!.n;
      if (pending === 0) {
        this.run('DELETE FROM queue_jobs WHERE id = ?', jobId);
        const left = this.get<{ n: number }>('SELECT count(*) AS n FROM queue_jobs WHERE message_id = ?', job.message_id)!.n;
        if (left === 0) this.run('DELETE FROM queue_messages WHERE id = ?', job.message_id);
      } else {
        this.run(
          'UPDATE queue_jobs SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, leased_by = NULL, lease_until = NULL WHERE id = ?',
          next,
          error ?? null,
          jobId,
        );
      }
    });
  }

  nextDue(): Promise<Date | null> {
    return this.read(() => {
      const now = Date.now();
      const r = this.get<{ t: number | null }>('SELECT min(next_attempt_at) AS t FROM queue_jobs WHERE leased_by IS NULL OR lease_until <= ?', now);
      return r?.t === null || r?.t === undefined ? null : new Date(r.t);
    });
  }

  private queueDetail(r: Row): QueueMessageDetail {
    const id = r.id as number;
    return {
      ...toQueueMessage(r),
      recipients: this.all<Row>('SELECT * FROM queue_recipients WHERE message_id = ? ORDER BY id', id).map(toRecipient),
      jobs: this.all<JobRow>('SELECT * FROM queue_jobs WHERE message_id = ? ORDER BY id', id).map((j) => ({
        id: j.id,
        domain: j.domain,
        attempts: j.attempts,
        nextAttemptAt: new Date(j.next_attempt_at),
        lastError: j.last_error,
        leasedBy: j.leased_by !== null && (j.lease_until ?? 0) > Date.now() ? j.leased_by : null,
      })),
    };
  }

  listQueue(): Promise<QueueMessageDetail[]> {
    return this.read(() => this.all<Row>('SELECT * FROM queue_messages ORDER BY id').map((r) => this.queueDetail(r)));
  }

  getQueueMessage(id: number): Promise<QueueMessageDetail | null> {
    return this.read(() => {
      const r = this.get<Row>('SELECT * FROM queue_messages WHERE id = ?', id);
      return r ? this.queueDetail(r) : null;
    });
  }

  retryQueueMessage(id: number): Promise<boolean> {
    return this.write(() => {
      if (!this.get('SELECT 1 FROM queue_messages WHERE id = ?', id)) return false;
      this.run('UPDATE queue_jobs SET next_attempt_at = ? WHERE message_id = ?', Date.now(), id);
      return true;
    });
  }

  deleteQueueMessage(id: number): Promise<boolean> {
    return this.write(() => this.run('DELETE FROM queue_messages WHERE id = ?', id).changes > 0);
  }

  // ---- DNS zones ---------------------------------------------------------------------------------------

  listZones(): Promise<ZoneRow[]> {
    return this.read(() =>
      this.all<{ name: string; text: string; serial: number; updated_at: number }>('SELECT * FROM zones ORDER BY name').map((r) => ({
        name: r.name,
        text: r.text,
        serial: r.serial,
        updatedAt: new Date(r.updated_at),
      })),
    );
  }

  getZone(name: string): Promise<ZoneRow | null> {
    return this.read(() => {
      const r = this.get<{ name: string; text: string; serial: number; updated_at: number }>('SELECT * FROM zones WHERE name = ?', zoneKey(name));
      return r ? { name: r.name, text: r.text, serial: r.serial, updatedAt: new Date(r.updated_at) } : null;
    });
  }

  putZone(name: string, text: string, serial: number): Promise<void> {
    return this.write((ctx) => {
      const key = zoneKey(name);
      if (typeof text !== 'string') throw err('WHARF_INVALID', 'zone text must be a string');
      // RFC 1035 §3.3.13: SERIAL is an unsigned 32-bit number
      if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) throw err('WHARF_INVALID', `bad zone serial ${serial}`);
      this.run(
        'INSERT INTO zones (name, text, serial, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET text = excluded.text, serial = excluded.serial, updated_at = excluded.updated_at',
        key,
        text,
        serial,
        Date.now(),
      );
      this.noteZone(ctx, key);
    });
  }

  deleteZone(name: string): Promise<boolean> {
    return this.write((ctx) => {
      const key = zoneKey(name);
      if (this.run('DELETE FROM zones WHERE name = ?', key).changes === 0) return false;
      this.noteZone(ctx, key);
      return true;
    });
  }

  // ---- leases, settings, blobs -------------------------------------------------------------------------

  acquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.write(() => {
      const now = Date.now();
      const r = this.get<{ owner: string; expires_at: number }>('SELECT owner, expires_at FROM leases WHERE key = ?', key);
      if (r && r.owner !== owner && r.expires_at > now) return false;
      this.run(
        'INSERT INTO leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
        key,
        owner,
        now + Math.max(0, ttlMs),
      );
      return true;
    });
  }

  releaseLease(key: string, owner: string): Promise<void> {
    return this.write(() => {
      this.run('DELETE FROM leases WHERE key = ? AND owner = ?', key, owner);
    });
  }

  getSetting(key: string): Promise<string | null> {
    return this.read(() => this.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', key)?.value ?? null);
  }

  setSetting(key: string, value: string): Promise<void> {
    return this.write(() => {
      if (typeof value !== 'string') throw err('WHARF_INVALID', 'setting values are strings');
      this.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    });
  }

  blobInUse(id: string): Promise<boolean> {
    return this.read(
      () => !!(this.get('SELECT 1 FROM messages WHERE blob_id = ? LIMIT 1', id) ?? this.get('SELECT 1 FROM queue_messages WHERE blob_id = ? LIMIT 1', id)),
    );
  }
}
