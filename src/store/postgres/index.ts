// PostgresStore: the scale-out Store engine. Several Wharf nodes point at one PostgreSQL schema
// and share every account, mailbox, queue job and zone (DESIGN.md "Scale").
//
// Invariants:
//  - all tables live in one schema (store.schema); every pooled session has its search_path set
//    to it at connection start-up (and application_name "wharf:<schema>"), so queries name
//    tables unqualified. init() creates the schema
//    and migrates it under an advisory lock (schema.ts): safe with several nodes starting at once;
//  - every Store method is one transaction on one pooled client (BEGIN … COMMIT); a
//    serialization failure or deadlock (40001, 40P01) is retried a few times from the start;
//  - UIDs and MODSEQs are assigned under the mailbox row's lock (UPDATE … RETURNING or SELECT …
//    FOR UPDATE), so two nodes appending to one mailbox never get the same UID; several mailbox
//    rows are always locked in id order (no deadlock between COPY/MOVE/deliver);
//    one operation = one new MODSEQ for each mailbox it changes (RFC 7162 §3.1);
//  - UIDVALIDITY comes from a counter row seeded by the clock (seconds): a re-created mailbox
//    gets a larger one (RFC 3501 §2.3.1.1);
//  - the queue: claimJobs takes due rows with FOR UPDATE SKIP LOCKED and leases them
//    (leased_by, lease_until): a job is held by one worker of one node at a time;
//  - changes are announced with NOTIFY in the same transaction (delivered on COMMIT) on a channel
//    per schema; payload JSON {"o": origin, "m": mailboxId} or {"o": origin, "z": zoneName}.
//    A dedicated connection LISTENs and calls watchers of other instances' changes; our own
//    changes call local watchers right after COMMIT. After the LISTEN connection is lost and
//    re-established, watched mailboxes and zones are announced as changed (a NOTIFY may have
//    been missed);
//  - durability: COMMIT returns after the WAL is flushed (synchronous_commit on); fsync = false
//    sets synchronous_commit = off for the store's sessions (throwaway test instances only);
//  - addresses, domains and "INBOX" compare case-insensitively, other mailbox names exactly;
//  - deleting accounts, mailboxes or messages never deletes blobs (GC asks blobInUse()).
import { createHash, randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import type { Notification, Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';
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
import { applyFlags, hasFlag, normaliseFlags } from '../sqlite/flags.js';
import { PgBlobStore } from './blobs-pg.js';
import { migrate, quoteIdent, SCHEMA_NAME_RE } from './schema.js';
import { checkout, mapError, pgCode } from './session.js';
import type { Session } from './session.js';
import { checkAddress, checkDomainName, checkMailboxName, err, isId, normaliseMailboxName, timeOf, uniqueSorted, zoneKey } from './validate.js';

export { PgBlobStore } from './blobs-pg.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database (no user = the OS user, as libpq does). */
  url: string;
  /** The schema holding Wharf's tables (created if missing). */
  schema: string;
  /** Pooled connections for queries (the LISTEN connection is one more). */
  poolSize: number;
  /** Where bodies live: a BlobStore (e.g. FsBlobStore), or 'db' for PgBlobStore. */
  blobs: BlobStore | 'db';
  fsync: boolean;
  logger?: Logger;
  /** PgBlobStore chunk size in octets (tests); default 1 MiB. */
  blobChunkSize?: number;
}

/** Transaction attempts on serialization failure / deadlock. */
const MAX_ATTEMPTS = 5;
const RETRY_CODES = new Set(['40001', '40P01']);
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;

interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: string | null;
  subscribed: boolean;
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
  meta: unknown;
}

interface AccountRow {
  id: number;
  address: string;
  key: string;
  password_hash: string;
  apop_secret: string | null;
  admin: boolean;
  disabled: boolean;
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

interface QueueMessageRow {
  id: number;
  sender: string;
  blob_id: string;
  size: number;
  header_prefix: Buffer;
  envid: string | null;
  ret: string | null;
  created_at: number;
}

interface RecipientRow {
  id: number;
  message_id: number;
  address: string;
  domain: string;
  notify: string | null;
  orcpt: string | null;
  status: string;
  last_reply: string | null;
}

interface ZoneDbRow {
  name: string;
  text: string;
  serial: number;
  updated_at: number;
}

const MESSAGE_COLUMNS = 'mailbox_id, uid, modseq, size, flags, internal_date, blob_id, header_prefix, meta';
const SUMMARY_COLUMNS = 'uid, modseq, size, flags, internal_date';

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: r.special_use,
    subscribed: r.subscribed,
  };
}

function toSummary(r: Pick<MessageRow, 'uid' | 'modseq' | 'size' | 'flags' | 'internal_date'>): MessageSummary {
  return { uid: r.uid, modseq: r.modseq, size: r.size, flags: JSON.parse(r.flags) as string[], internalDate: new Date(r.internal_date) };
}

function toStored(r: MessageRow): StoredMessage {
  return { ...toSummary(r), mailboxId: r.mailbox_id, blobId: r.blob_id, headerPrefix: Buffer.from(r.header_prefix), meta: r.meta };
}

function toAccount(r: AccountRow): Account {
  return {
    id: r.id,
    address: r.address,
    domain: domainOf(r.address),
    passwordHash: r.password_hash,
    apopSecret: r.apop_secret,
    admin: r.admin,
    disabled: r.disabled,
    quota: r.quota,
    createdAt: new Date(r.created_at),
  };
}

function toRecipient(r: RecipientRow): QueueRecipient {
  return {
    id: r.id,
    address: r.address,
    domain: r.domain,
    notify: r.notify === null ? null : (JSON.parse(r.notify) as string[]),
    orcpt: r.orcpt ?? null,
    status: r.status as QueueRecipient['status'],
    lastReply: r.last_reply ?? null,
  };
}

function toQueueMessage(r: QueueMessageRow): QueueMessage {
  return {
    id: r.id,
    sender: r.sender,
    blobId: r.blob_id,
    size: r.size,
    headerPrefix: Buffer.from(r.header_prefix),
    envid: r.envid ?? null,
    ret: (r.ret as 'FULL' | 'HDRS' | null) ?? null,
    createdAt: new Date(r.created_at),
  };
}

function toZone(r: ZoneDbRow): ZoneRow {
  return { name: r.name, text: r.text, serial: r.serial, updatedAt: new Date(r.updated_at) };
}

/** Parsers for this store's sessions only (no global pg.types change): int8 as a JS number. */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 && format !== 'binary') return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/** libpq's default: no user in the URL and no PGUSER means the OS user (node-pg needs $USER). */
export function withDefaultUser(url: string): string {
  if (process.env['PGUSER'] || process.env['USER']) return url;
  try {
    const u = new URL(url);
    if (u.username !== '' || u.hostname === '') return url;
    u.username = encodeURIComponent(userInfo().username);
    return u.toString();
  } catch {
    return url;
  }
}

/** The application_name of the store's sessions: "wharf:<schema>" (at most 63 octets). */
export function applicationName(schema: string): string {
  return `wharf:${schema}`.slice(0, 63);
}

/** The NOTIFY channel of a schema (an identifier: at most 63 octets). */
export function channelOf(schema: string): string {
  const c = `wharf_${schema}`;
  return c.length <= 63 ? c : `wharf_${createHash('sha256').update(schema).digest('hex').slice(0, 40)}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One transaction: its client, the changes to announce, what to run after COMMIT. */
class Tx {
  readonly mailboxes = new Set<number>();
  readonly zones = new Set<string>();
  constructor(readonly client: PoolClient) {}

  async rows<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.client.query<R>(sql, params)).rows;
  }

  async row<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.client.query<R>(sql, params)).rows[0];
  }

  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.client.query(sql, params)).rowCount ?? 0;
  }

  noteMailbox(id: number): void {
    this.mailboxes.add(id);
  }

  noteZone(name: string): void {
    this.zones.add(name);
  }
}

export class PostgresStore implements Store {
  readonly engine = 'postgres' as const;
  readonly blobs: BlobStore;
  readonly schema: string;
  readonly channel: string;
  private readonly url: string;
  private readonly poolSize: number;
  private readonly fsync: boolean;
  private readonly logger: Logger | undefined;
  private readonly origin = randomBytes(8).toString('hex');
  private readonly pgBlobs: PgBlobStore | undefined;
  private poolValue: Pool | undefined;
  private listenClient: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private readonly mailboxListeners = new Map<number | null, Set<ChangeListener>>();
  private readonly zoneListeners = new Set<(name: string) => void>();
  private closed = false;

  constructor(opts: PostgresStoreOptions) {
    if (typeof opts.schema !== 'string' || !SCHEMA_NAME_RE.test(opts.schema)) {
      throw new WharfError('WHARF_CONFIG_INVALID', `bad PostgreSQL schema name ${JSON.stringify(opts.schema)}`, {
        key: 'store.schema',
        value: opts.schema,
        expected: 'an identifier: letters, digits and "_", not starting with a digit, at most 63 characters',
      });
    }
    this.url = withDefaultUser(opts.url);
    this.schema = opts.schema;
    this.channel = channelOf(opts.schema);
    this.poolSize = Math.max(1, Math.floor(opts.poolSize || 1));
    this.fsync = opts.fsync;
    this.logger = opts.logger;
    if (opts.blobs === 'db') {
      this.pgBlobs = new PgBlobStore(() => this.pool, opts.blobChunkSize !== undefined ? { chunkSize: opts.blobChunkSize } : {});
      this.blobs = this.pgBlobs;
    } else {
      this.blobs = opts.blobs;
    }
  }

  private clientConfig(): PoolConfig {
    // startup options: every session of this store works in its schema, durably unless fsync off
    const options = [`-c search_path=${quoteIdent(this.schema)}`];
    if (!this.fsync) options.push('-c synchronous_commit=off');
    return {
      connectionString: this.url,
      options: options.join(' '),
      types: typeParsers,
      connectionTimeoutMillis: 10_000,
      // pg_stat_activity tells the installations sharing a server apart
      application_name: applicationName(this.schema),
    };
  }

  private get pool(): Pool {
    if (this.closed) throw err('WHARF_STORE_UNAVAILABLE', 'the store is closed');
    if (!this.poolValue) throw err('WHARF_STORE_UNAVAILABLE', 'the store is not initialised (call init())');
    return this.poolValue;
  }

  // ---- transactions ------------------------------------------------------------------------

  /** Runs fn in one transaction (retried on serialization failure / deadlock), then announces. */
  private async write<T>(fn: (t: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let session: Session;
      try {
        session = await checkout(this.pool);
      } catch (e) {
        throw mapError(e);
      }
      const client = session.client;
      const t = new Tx(client);
      let result: T;
      try {
        await client.query('BEGIN');
        result = await fn(t);
        if (t.mailboxes.size > 0 || t.zones.size > 0) {
          const payloads = [
            ...[...t.mailboxes].map((m) => JSON.stringify({ o: this.origin, m })),
            ...[...t.zones].map((z) => JSON.stringify({ o: this.origin, z })),
          ];
          // delivered to listeners when (and only if) the transaction commits
          await client.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [this.channel, payloads]);
        }
        await client.query('COMMIT');
      } catch (e) {
        let broken = false;
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        session.release(broken);
        if (RETRY_CODES.has(pgCode(e) ?? '') && attempt < MAX_ATTEMPTS) {
          await sleep(Math.floor(Math.random() * 20 * attempt) + 1);
          continue;
        }
        throw mapError(e);
      }
      session.release();
      for (const m of t.mailboxes) this.emitMailbox(m);
      for (const z of t.zones) this.emitZone(z);
      return result;
    }
  }

  /** A read of several statements on one consistent snapshot. */
  private async snapshot<T>(fn: (t: Tx) => Promise<T>): Promise<T> {
    let session: Session;
    try {
      session = await checkout(this.pool);
    } catch (e) {
      throw mapError(e);
    }
    const client = session.client;
    let broken = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const r = await fn(new Tx(client));
      await client.query('COMMIT');
      return r;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw mapError(e);
    } finally {
      session.release(broken);
    }
  }

  private async rows<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw mapError(e);
    }
  }

  private async row<R extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(sql, params))[0];
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async init(): Promise<void> {
    if (this.closed) throw err('WHARF_STORE_UNAVAILABLE', 'the store is closed');
    if (!this.poolValue) {
      const pool = new pg.Pool({ ...this.clientConfig(), max: this.poolSize, idleTimeoutMillis: 30_000 });
      // an idle client losing its connection must not take the process down
      pool.on('error', (e) => this.logger?.warn('postgres store: idle connection failed', { err: e }));
      this.poolValue = pool;
    }
    let session: Session;
    try {
      session = await checkout(this.pool);
    } catch (e) {
      throw new WharfError('WHARF_STORE_UNAVAILABLE', `cannot connect to PostgreSQL: ${(e as Error).message}`, undefined, { cause: e });
    }
    try {
      await migrate(session.client, this.schema);
    } catch (e) {
      session.release(true);
      throw mapError(e);
    }
    session.release();
    if (this.pgBlobs) {
      await this.pgBlobs.sweep().catch((e: unknown) => this.logger?.warn('postgres store: blob sweep failed', { err: e }));
    }
    if (!this.listenClient) await this.listen(false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.mailboxListeners.clear();
    this.zoneListeners.clear();
    const l = this.listenClient;
    this.listenClient = undefined;
    if (l) await l.end().catch(() => {});
    const p = this.poolValue;
    this.poolValue = undefined;
    if (p) await p.end().catch(() => {});
  }

  /** What a pooled session runs with (for the console and tests). */
  async sessionInfo(): Promise<{ schema: string; synchronousCommit: string; searchPath: string; listening: boolean }> {
    const r = await this.row<{ sc: string; sp: string }>("SELECT current_setting('synchronous_commit') AS sc, current_setting('search_path') AS sp");
    return { schema: this.schema, synchronousCommit: r!.sc, searchPath: r!.sp, listening: this.listenClient !== undefined };
  }

  // ---- change notification ---------------------------------------------------------------------

  /** Opens the LISTEN connection. `again`: after a loss, announce what may have been missed. */
  private async listen(again: boolean): Promise<void> {
    const client = new pg.Client(this.clientConfig());
    client.on('error', (e) => {
      this.logger?.warn('postgres store: LISTEN connection failed', { err: e });
      this.lostListener(client);
    });
    client.on('end', () => this.lostListener(client));
    client.on('notification', (n) => this.onNotification(n));
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (e) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      if (!again) throw mapError(e);
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.listenClient = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
    if (again) void this.announceMissed();
  }

  private lostListener(client: pg.Client): void {
    if (this.closed || this.listenClient !== client) return;
    this.listenClient = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.listenClient) return;
      this.listen(true).catch((e: unknown) => {
        this.logger?.warn('postgres store: LISTEN reconnect failed', { err: e });
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  /** After a lost LISTEN connection: every watched mailbox and every zone may have changed. */
  private async announceMissed(): Promise<void> {
    for (const id of [...this.mailboxListeners.keys()]) if (id !== null) this.emitMailbox(id);
    if (this.zoneListeners.size > 0) {
      try {
        for (const z of await this.listZones()) this.emitZone(z.name);
      } catch (e) {
        this.logger?.warn('postgres store: zone re-announce failed', { err: e });
      }
    }
  }

  private onNotification(n: Notification): void {
    if (n.channel !== this.channel || !n.payload) return;
    let p: { o?: unknown; m?: unknown; z?: unknown };
    try {
      p = JSON.parse(n.payload) as typeof p;
    } catch {
      return;
    }
    if (p.o === this.origin) return; // ours: already announced after COMMIT
    if (typeof p.m === 'number') this.emitMailbox(p.m);
    if (typeof p.z === 'string') this.emitZone(p.z);
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
    return this.write(async (t) => {
      const n = checkDomainName(name);
      const now = Date.now();
      const ok = await t.run('INSERT INTO domains (key, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [n.toLowerCase(), n, now]);
      if (ok === 0) throw err('WHARF_EXISTS', `domain ${n} exists`);
      return { name: n, createdAt: new Date(now) };
    });
  }

  async getDomain(name: string): Promise<Domain | null> {
    const r = await this.row<{ name: string; created_at: number }>('SELECT name, created_at FROM domains WHERE key = $1', [String(name).trim().toLowerCase()]);
    return r ? { name: r.name, createdAt: new Date(r.created_at) } : null;
  }

  async listDomains(): Promise<Domain[]> {
    const rows = await this.rows<{ name: string; created_at: number }>('SELECT name, created_at FROM domains ORDER BY key COLLATE "C"');
    return rows.map((r) => ({ name: r.name, createdAt: new Date(r.created_at) }));
  }

  deleteDomain(name: string, opts?: { force?: boolean }): Promise<boolean> {
    return this.write(async (t) => {
      const key = String(name).trim().toLowerCase();
      if (!(await t.row('SELECT 1 FROM domains WHERE key = $1 FOR UPDATE', [key]))) return false;
      const n = (await t.row<{ n: number }>('SELECT count(*) AS n FROM accounts WHERE domain_key = $1', [key]))!.n;
      if (n > 0 && !opts?.force) throw err('WHARF_NOT_EMPTY', `domain ${name} has ${n} account(s)`);
      // accounts (and through them mailboxes, messages, aliases) go by cascade
      await t.run('DELETE FROM aliases WHERE domain_key = $1', [key]);
      await t.run('DELETE FROM domains WHERE key = $1', [key]);
      return true;
    });
  }

  // ---- accounts ---------------------------------------------------------------------------------

  /** Serialises every writer of one address (account or alias: two tables, one name space). */
  private async lockAddress(t: Tx, key: string): Promise<void> {
    await t.run('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`wharf-address:${this.schema}:${key}`]);
  }

  private async addressTaken(t: Tx, key: string): Promise<boolean> {
    return !!(await t.row('SELECT 1 FROM accounts WHERE key = $1 UNION ALL SELECT 1 FROM aliases WHERE key = $1 LIMIT 1', [key]));
  }

  /** RFC 3501 §2.3.1.1: strictly larger than any UIDVALIDITY given before; seeded by the clock. */
  private async nextUidValidity(t: Tx): Promise<number> {
    const r = await t.row<{ value: number }>("UPDATE counters SET value = greatest(value + 1, $1::bigint) WHERE name = 'uidvalidity' RETURNING value", [
      Math.floor(Date.now() / 1000),
    ]);
    const next = r!.value;
    if (next > 0xffffffff) throw err('WHARF_STORE_UNAVAILABLE', 'UIDVALIDITY counter exhausted');
    return next;
  }

  private async createMailboxRow(t: Tx, accountId: number, name: string, specialUse: string | null, subscribed: boolean): Promise<MailboxRow> {
    const uidValidity = await this.nextUidValidity(t);
    return (await t.row<MailboxRow>(
      'INSERT INTO mailboxes (account_id, name, uid_validity, uid_next, highest_modseq, special_use, subscribed) VALUES ($1, $2, $3, 1, 1, $4, $5) RETURNING *',
      [accountId, name, uidValidity, specialUse, subscribed],
    ))!;
  }

  addAccount(a: NewAccount): Promise<Account> {
    return this.write(async (t) => {
      const address = checkAddress(a.address);
      const key = addressKey(address);
      const dkey = domainOf(address);
      if (typeof a.passwordHash !== 'string') throw err('WHARF_INVALID', 'passwordHash must be a string');
      const boxes = new Map<string, { specialUse: string | null; subscribed: boolean }>();
      boxes.set('INBOX', { specialUse: null, subscribed: true });
      for (const m of a.mailboxes ?? []) {
        const n = checkMailboxName(m.name);
        boxes.set(n, { specialUse: m.specialUse ?? null, subscribed: m.subscribed ?? n === 'INBOX' });
      }
      if (!(await t.row('SELECT 1 FROM domains WHERE key = $1 FOR SHARE', [dkey]))) throw err('WHARF_NO_DOMAIN', `${dkey} is not a local domain`);
      await this.lockAddress(t, key);
      if (await this.addressTaken(t, key)) throw err('WHARF_EXISTS', `${address} is taken`);
      const row = (await t.row<AccountRow>(
        'INSERT INTO accounts (key, address, domain_key, password_hash, apop_secret, admin, disabled, quota, created_at) VALUES ($1, $2, $3, $4, $5, $6, false, 0, $7) RETURNING *',
        [key, address, dkey, a.passwordHash, a.apopSecret ?? null, !!a.admin, Date.now()],
      ))!;
      for (const [n, o] of boxes) await this.createMailboxRow(t, row.id, n, o.specialUse, o.subscribed);
      return toAccount(row);
    });
  }

  async getAccount(address: string): Promise<Account | null> {
    const r = await this.row<AccountRow>('SELECT * FROM accounts WHERE key = $1', [addressKey(String(address))]);
    return r ? toAccount(r) : null;
  }

  async getAccountById(id: number): Promise<Account | null> {
    if (!isId(id)) return null;
    const r = await this.row<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    return r ? toAccount(r) : null;
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    const rows =
      domain === undefined
        ? await this.rows<AccountRow>('SELECT * FROM accounts ORDER BY key COLLATE "C"')
        : await this.rows<AccountRow>('SELECT * FROM accounts WHERE domain_key = $1 ORDER BY key COLLATE "C"', [String(domain).trim().toLowerCase()]);
    return rows.map(toAccount);
  }

  updateAccount(address: string, patch: AccountPatch): Promise<boolean> {
    return this.write(async (t) => {
      const sets: string[] = [];
      const vals: unknown[] = [addressKey(String(address))];
      const set = (column: string, value: unknown) => {
        vals.push(value);
        sets.push(`${column} = $${vals.length}`);
      };
      if (patch.passwordHash !== undefined) {
        if (typeof patch.passwordHash !== 'string') throw err('WHARF_INVALID', 'passwordHash must be a string');
        set('password_hash', patch.passwordHash);
      }
      if (patch.apopSecret !== undefined) set('apop_secret', patch.apopSecret);
      if (patch.admin !== undefined) set('admin', !!patch.admin);
      if (patch.disabled !== undefined) set('disabled', !!patch.disabled);
      if (patch.quota !== undefined) {
        if (!Number.isSafeInteger(patch.quota) || patch.quota < 0) throw err('WHARF_INVALID', 'quota must be a non-negative integer');
        set('quota', patch.quota);
      }
      if (sets.length === 0) return !!(await t.row('SELECT 1 FROM accounts WHERE key = $1', vals));
      return (await t.run(`UPDATE accounts SET ${sets.join(', ')} WHERE key = $1`, vals)) > 0;
    });
  }

  deleteAccount(address: string): Promise<boolean> {
    return this.write(async (t) => {
      const r = await t.row<{ id: number }>('SELECT id FROM accounts WHERE key = $1 FOR UPDATE', [addressKey(String(address))]);
      if (!r) return false;
      const boxes = await t.rows<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = $1', [r.id]);
      await t.run('DELETE FROM accounts WHERE id = $1', [r.id]);
      for (const b of boxes) t.noteMailbox(b.id);
      return true;
    });
  }

  addAlias(address: string, accountId: number): Promise<void> {
    return this.write(async (t) => {
      const a = checkAddress(address);
      const key = addressKey(a);
      if (!isId(accountId) || !(await t.row('SELECT 1 FROM accounts WHERE id = $1 FOR SHARE', [accountId]))) throw err('WHARF_NOT_FOUND', `no account ${accountId}`);
      await this.lockAddress(t, key);
      if (await this.addressTaken(t, key)) throw err('WHARF_EXISTS', `${a} is taken`);
      await t.run('INSERT INTO aliases (key, address, domain_key, account_id) VALUES ($1, $2, $3, $4)', [key, a, domainOf(a), accountId]);
    });
  }

  deleteAlias(address: string): Promise<boolean> {
    return this.write(async (t) => (await t.run('DELETE FROM aliases WHERE key = $1', [addressKey(String(address))])) > 0);
  }

  async listAliases(accountId?: number): Promise<Alias[]> {
    if (accountId !== undefined && !isId(accountId)) return [];
    const rows =
      accountId === undefined
        ? await this.rows<{ address: string; account_id: number }>('SELECT address, account_id FROM aliases ORDER BY key COLLATE "C"')
        : await this.rows<{ address: string; account_id: number }>('SELECT address, account_id FROM aliases WHERE account_id = $1 ORDER BY key COLLATE "C"', [accountId]);
    return rows.map((r) => ({ address: r.address, accountId: r.account_id }));
  }

  async resolveAddress(address: string): Promise<Account | null> {
    const key = addressKey(String(address));
    const r = await this.row<AccountRow>(
      'SELECT * FROM (SELECT a.*, 0 AS via FROM accounts a WHERE a.key = $1 UNION ALL SELECT a.*, 1 AS via FROM aliases l JOIN accounts a ON a.id = l.account_id WHERE l.key = $1) x ORDER BY via LIMIT 1',
      [key],
    );
    return r ? toAccount(r) : null;
  }

  // ---- mailboxes --------------------------------------------------------------------------------

  /** The mailbox row, locked for this transaction; NOT_FOUND if missing. */
  private async lockMailbox(t: Tx, id: number): Promise<MailboxRow> {
    const r = isId(id) ? await t.row<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1 FOR UPDATE', [id]) : undefined;
    if (!r) throw err('WHARF_NOT_FOUND', `no mailbox ${id}`);
    return r;
  }

  /** Several mailbox rows locked in id order (no deadlock between transactions); NOT_FOUND if one is missing. */
  private async lockMailboxes(t: Tx, ids: readonly number[]): Promise<Map<number, MailboxRow>> {
    const want = [...new Set(ids)];
    for (const id of want) if (!isId(id)) throw err('WHARF_NOT_FOUND', `no mailbox ${id}`);
    const rows = want.length === 0 ? [] : await t.rows<MailboxRow>('SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [want]);
    const map = new Map(rows.map((r) => [r.id, r]));
    for (const id of want) if (!map.has(id)) throw err('WHARF_NOT_FOUND', `no mailbox ${id}`);
    return map;
  }

  /** Takes the next MODSEQ of a locked mailbox (one per operation). */
  private async bumpModseq(t: Tx, box: MailboxRow): Promise<number> {
    const m = box.highest_modseq + 1;
    await t.run('UPDATE mailboxes SET highest_modseq = $1 WHERE id = $2', [m, box.id]);
    box.highest_modseq = m;
    return m;
  }

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    if (!isId(accountId)) return [];
    return (await this.rows<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = $1 ORDER BY name COLLATE "C"', [accountId])).map(toMailbox);
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | null> {
    if (!isId(accountId)) return null;
    const r = await this.row<MailboxRow>('SELECT * FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, normaliseMailboxName(name)]);
    return r ? toMailbox(r) : null;
  }

  async getMailboxById(id: number): Promise<Mailbox | null> {
    if (!isId(id)) return null;
    const r = await this.row<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [id]);
    return r ? toMailbox(r) : null;
  }

  createMailbox(accountId: number, name: string, opts?: { specialUse?: string | null; subscribed?: boolean }): Promise<Mailbox> {
    return this.write(async (t) => {
      const n = checkMailboxName(name);
      // the account row lock serialises mailbox creation per account (no duplicate-name race)
      if (!isId(accountId) || !(await t.row('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]))) throw err('WHARF_NOT_FOUND', `no account ${accountId}`);
      if (await t.row('SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, n])) throw err('WHARF_EXISTS', `mailbox ${n} exists`);
      return toMailbox(await this.createMailboxRow(t, accountId, n, opts?.specialUse ?? null, opts?.subscribed ?? false));
    });
  }

  deleteMailbox(mailboxId: number): Promise<void> {
    return this.write(async (t) => {
      const box = await this.lockMailbox(t, mailboxId);
      if (box.name === 'INBOX') throw err('WHARF_INVALID', 'INBOX cannot be deleted');
      await t.run('DELETE FROM mailboxes WHERE id = $1', [box.id]);
      t.noteMailbox(box.id);
    });
  }

  renameMailbox(mailboxId: number, newName: string): Promise<void> {
    return this.write(async (t) => {
      const to = checkMailboxName(newName);
      const found = isId(mailboxId) ? await t.row<{ account_id: number }>('SELECT account_id FROM mailboxes WHERE id = $1', [mailboxId]) : undefined;
      if (!found) throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
      // the account row lock serialises renames and creations within the account
      await t.run('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [found.account_id]);
      const box = await this.lockMailbox(t, mailboxId);
      if (to === box.name) return;
      const taken = async (n: string) => !!(await t.row('SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2', [box.account_id, n]));
      if (await taken(to)) throw err('WHARF_EXISTS', `mailbox ${to} exists`);
      if (to.startsWith(box.name + '/')) throw err('WHARF_INVALID', `cannot rename ${box.name} into itself`);
      if (box.name === 'INBOX') {
        // RFC 3501 §6.3.5: renaming INBOX moves its messages to the new name and leaves an empty
        // INBOX; INBOX's inferiors are not renamed. The moved mailbox keeps its UIDs and
        // UIDVALIDITY; the new INBOX gets a new UIDVALIDITY.
        await t.run('UPDATE mailboxes SET name = $1, subscribed = false WHERE id = $2', [to, box.id]);
        const inbox = await this.createMailboxRow(t, box.account_id, 'INBOX', null, box.subscribed);
        t.noteMailbox(box.id);
        t.noteMailbox(inbox.id);
        return;
      }
      const prefix = box.name + '/';
      const children = await t.rows<{ id: number; name: string }>(
        'SELECT id, name FROM mailboxes WHERE account_id = $1 AND starts_with(name, $2) ORDER BY name COLLATE "C" FOR UPDATE',
        [box.account_id, prefix],
      );
      for (const c of children) {
        const n = to + c.name.slice(box.name.length);
        if (await taken(n)) throw err('WHARF_EXISTS', `mailbox ${n} exists`);
      }
      await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [to, box.id]);
      for (const c of children) await t.run('UPDATE mailboxes SET name = $1 WHERE id = $2', [to + c.name.slice(box.name.length), c.id]);
      t.noteMailbox(box.id);
      for (const c of children) t.noteMailbox(c.id);
    });
  }

  setSubscribed(mailboxId: number, subscribed: boolean): Promise<void> {
    return this.write(async (t) => {
      if (!isId(mailboxId) || (await t.run('UPDATE mailboxes SET subscribed = $1 WHERE id = $2', [!!subscribed, mailboxId])) === 0) {
        throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
      }
    });
  }

  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    const r = isId(mailboxId)
      ? await this.row<{ uid_next: number; uid_validity: number; highest_modseq: number; n: number; unseen: number; deleted: number; size: number }>(
          `SELECT b.uid_next, b.uid_validity, b.highest_modseq, s.n, s.unseen, s.deleted, s.size
           FROM mailboxes b,
           LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE NOT seen) AS unseen, count(*) FILTER (WHERE deleted) AS deleted,
                           coalesce(sum(size), 0)::bigint AS size
                    FROM messages WHERE mailbox_id = b.id) s
           WHERE b.id = $1`,
          [mailboxId],
        )
      : undefined;
    if (!r) throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
    return { messages: r.n, unseen: r.unseen, deleted: r.deleted, size: r.size, uidNext: r.uid_next, uidValidity: r.uid_validity, highestModseq: r.highest_modseq };
  }

  // ---- messages -----------------------------------------------------------------------------------

  /** Checks a new message and gives its column values (after mailbox_id, uid, modseq). */
  private messageValues(m: NewMessage): unknown[] {
    if (!m || typeof m !== 'object') throw err('WHARF_INVALID', 'no message');
    if (typeof m.blobId !== 'string' || m.blobId === '') throw err('WHARF_INVALID', 'message without blobId');
    if (!Number.isSafeInteger(m.size) || m.size < 0) throw err('WHARF_INVALID', 'message size must be a non-negative integer');
    const flags = normaliseFlags(m.flags ?? []);
    const meta = JSON.stringify(m.meta ?? null) ?? 'null';
    return [m.size, JSON.stringify(flags), hasFlag(flags, '\\Seen'), hasFlag(flags, '\\Deleted'), timeOf(m.internalDate, Date.now()), m.blobId, m.headerPrefix ?? Buffer.alloc(0), meta];
  }

  /**
   * Appends to a mailbox in one statement: the UPDATE takes the row lock and the next UID and
   * MODSEQ together (race-free across nodes). Undefined when the mailbox does not exist.
   */
  private async insertMessage(t: Tx, mailboxId: number, values: unknown[]): Promise<{ uid: number; modseq: number } | undefined> {
    if (!isId(mailboxId)) return undefined;
    return t.row<{ uid: number; modseq: number }>(
      `WITH b AS (
         UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 WHERE id = $1
         RETURNING id, uid_next - 1 AS uid, highest_modseq AS modseq)
       INSERT INTO messages (mailbox_id, uid, modseq, size, flags, seen, deleted, internal_date, blob_id, header_prefix, meta)
       SELECT b.id, b.uid, b.modseq, $2, $3, $4, $5, $6, $7, $8, $9::json FROM b
       RETURNING uid, modseq`,
      [mailboxId, ...values],
    );
  }

  appendMessage(mailboxId: number, m: NewMessage): Promise<{ uid: number; modseq: number }> {
    return this.write(async (t) => {
      const values = this.messageValues(m);
      const r = await this.insertMessage(t, mailboxId, values);
      if (!r) throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
      t.noteMailbox(mailboxId);
      return r;
    });
  }

  private async deliverRows(t: Tx, items: { mailboxId: number; message: NewMessage }[]): Promise<{ mailboxId: number; uid: number }[]> {
    if (!Array.isArray(items)) throw err('WHARF_INVALID', 'deliver needs a list');
    if (items.length === 0) return [];
    const values = items.map((it) => this.messageValues(it.message));
    // lock every target in id order first: two deliveries to the same mailboxes cannot deadlock
    await this.lockMailboxes(
      t,
      items.map((it) => it.mailboxId),
    );
    const out: { mailboxId: number; uid: number }[] = [];
    for (let i = 0; i < items.length; i++) {
      const id = items[i]!.mailboxId;
      const r = await this.insertMessage(t, id, values[i]!);
      if (!r) throw err('WHARF_NOT_FOUND', `no mailbox ${id}`);
      out.push({ mailboxId: id, uid: r.uid });
      t.noteMailbox(id);
    }
    return out;
  }

  deliver(items: { mailboxId: number; message: NewMessage }[]): Promise<{ mailboxId: number; uid: number }[]> {
    return this.write(async (t) => this.deliverRows(t, items));
  }

  deliverAndEnqueue(
    deliveries: { mailboxId: number; message: NewMessage }[],
    queued: NewQueueMessage | null,
  ): Promise<{ delivered: { mailboxId: number; uid: number }[]; queueId: number | null }> {
    // one BEGIN … COMMIT for both halves: a kill in between leaves neither
    return this.write(async (t) => {
      const delivered = await this.deliverRows(t, deliveries);
      const queueId = queued ? await this.enqueueRows(t, queued) : null;
      return { delivered, queueId };
    });
  }

  async listMessages(mailboxId: number): Promise<MessageSummary[]> {
    if (!isId(mailboxId)) return [];
    return (await this.rows<MessageRow>(`SELECT ${SUMMARY_COLUMNS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId])).map(toSummary);
  }

  private async messageRows(q: Tx | PostgresStore, mailboxId: number, uids: readonly number[], lock = false): Promise<MessageRow[]> {
    const list = uniqueSorted(uids);
    if (list.length === 0 || !isId(mailboxId)) return [];
    const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid${lock ? ' FOR UPDATE' : ''}`;
    return q instanceof Tx ? q.rows<MessageRow>(sql, [mailboxId, list]) : q.rows<MessageRow>(sql, [mailboxId, list]);
  }

  async getMessages(mailboxId: number, uids: readonly number[]): Promise<StoredMessage[]> {
    return (await this.messageRows(this, mailboxId, uids)).map(toStored);
  }

  updateFlags(
    mailboxId: number,
    uids: readonly number[],
    op: 'add' | 'remove' | 'set',
    flags: readonly string[],
    opts?: { unchangedSince?: number },
  ): Promise<{ updated: FlagUpdate[]; failed: number[] }> {
    return this.write(async (t) => {
      if (op !== 'add' && op !== 'remove' && op !== 'set') throw err('WHARF_INVALID', `bad flag operation ${String(op)}`);
      if (!Array.isArray(flags)) throw err('WHARF_INVALID', 'flags must be a list');
      const box = await this.lockMailbox(t, mailboxId);
      const failed: number[] = [];
      const changes: { uid: number; flags: string[] }[] = [];
      for (const r of await this.messageRows(t, box.id, uids)) {
        // RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is not touched and reported
        if (opts?.unchangedSince !== undefined && r.modseq > opts.unchangedSince) {
          failed.push(r.uid);
          continue;
        }
        // RFC 7162 §3.1: no change to the set of flags, no new MODSEQ
        const next = applyFlags(JSON.parse(r.flags) as string[], op, flags);
        if (next) changes.push({ uid: r.uid, flags: next });
      }
      if (changes.length === 0) return { updated: [], failed };
      const modseq = await this.bumpModseq(t, box);
      await t.run(
        `UPDATE messages m SET flags = v.flags, seen = v.seen, deleted = v.deleted, modseq = $2
         FROM unnest($3::bigint[], $4::text[], $5::boolean[], $6::boolean[]) AS v(uid, flags, seen, deleted)
         WHERE m.mailbox_id = $1 AND m.uid = v.uid`,
        [
          box.id,
          modseq,
          changes.map((c) => c.uid),
          changes.map((c) => JSON.stringify(c.flags)),
          changes.map((c) => hasFlag(c.flags, '\\Seen')),
          changes.map((c) => hasFlag(c.flags, '\\Deleted')),
        ],
      );
      t.noteMailbox(box.id);
      return { updated: changes.map((c) => ({ uid: c.uid, flags: c.flags, modseq })), failed };
    });
  }

  /** Removes messages of a locked mailbox; expunged UIDs are remembered with the new MODSEQ. */
  private async expungeRows(t: Tx, box: MailboxRow, uids: readonly number[]): Promise<{ expunged: number[]; modseq: number }> {
    const list = uniqueSorted(uids);
    if (list.length === 0) return { expunged: [], modseq: box.highest_modseq };
    const gone = (await t.rows<{ uid: number }>('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid', [box.id, list]))
      .map((r) => r.uid)
      .sort((a, b) => a - b);
    if (gone.length === 0) return { expunged: [], modseq: box.highest_modseq };
    const modseq = await this.bumpModseq(t, box);
    // RFC 7162 §3.2.10: VANISHED (EARLIER) needs the expunged UIDs and their MODSEQ
    await t.run(
      `INSERT INTO expunged (mailbox_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) AS u
       ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq`,
      [box.id, modseq, gone],
    );
    t.noteMailbox(box.id);
    return { expunged: gone, modseq };
  }

  expunge(mailboxId: number, uids: readonly number[]): Promise<{ expunged: number[]; modseq: number }> {
    return this.write(async (t) => this.expungeRows(t, await this.lockMailbox(t, mailboxId), uids));
  }

  private async copyRows(t: Tx, from: MailboxRow, uids: readonly number[], target: MailboxRow): Promise<{ uidValidity: number; pairs: [number, number][] }> {
    const list = uniqueSorted(uids);
    const src = list.length === 0 ? [] : (await t.rows<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid', [from.id, list])).map((r) => r.uid);
    if (src.length === 0) return { uidValidity: target.uid_validity, pairs: [] };
    const modseq = await this.bumpModseq(t, target);
    const pairs: [number, number][] = src.map((uid, i) => [uid, target.uid_next + i]);
    await t.run(
      `INSERT INTO messages (mailbox_id, uid, modseq, size, flags, seen, deleted, internal_date, blob_id, header_prefix, meta)
       SELECT $1, p.dst, $2, m.size, m.flags, m.seen, m.deleted, m.internal_date, m.blob_id, m.header_prefix, m.meta
       FROM unnest($3::bigint[], $4::bigint[]) AS p(src, dst) JOIN messages m ON m.mailbox_id = $5 AND m.uid = p.src`,
      [target.id, modseq, pairs.map((p) => p[0]), pairs.map((p) => p[1]), from.id],
    );
    target.uid_next += pairs.length;
    await t.run('UPDATE mailboxes SET uid_next = $1 WHERE id = $2', [target.uid_next, target.id]);
    t.noteMailbox(target.id);
    return { uidValidity: target.uid_validity, pairs };
  }

  copyMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }> {
    return this.write(async (t) => {
      const boxes = await this.lockMailboxes(t, [fromMailboxId, toMailboxId]);
      return this.copyRows(t, boxes.get(fromMailboxId)!, uids, boxes.get(toMailboxId)!);
    });
  }

  moveMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }> {
    return this.write(async (t) => {
      const boxes = await this.lockMailboxes(t, [fromMailboxId, toMailboxId]);
      const r = await this.copyRows(t, boxes.get(fromMailboxId)!, uids, boxes.get(toMailboxId)!);
      // RFC 6851 §3.3: the source messages are expunged in the same transaction
      await this.expungeRows(
        t,
        boxes.get(fromMailboxId)!,
        r.pairs.map((p) => p[0]),
      );
      return r;
    });
  }

  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.snapshot(async (t) => {
      const box = isId(mailboxId) ? await t.row<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1', [mailboxId]) : undefined;
      if (!box) throw err('WHARF_NOT_FOUND', `no mailbox ${mailboxId}`);
      const since = Number.isFinite(modseq) ? Math.max(0, Math.floor(modseq)) : 0;
      const updated = (await t.rows<MessageRow>(`SELECT ${SUMMARY_COLUMNS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [box.id, since])).map(toSummary);
      const expunged = (await t.rows<{ uid: number }>('SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [box.id, since])).map((r) => r.uid);
      return { highestModseq: box.highest_modseq, uidNext: box.uid_next, updated, expunged };
    });
  }

  // ---- the outgoing queue ----------------------------------------------------------------------------

  enqueue(m: NewQueueMessage): Promise<number> {
    return this.write(async (t) => this.enqueueRows(t, m));
  }

  private async enqueueRows(t: Tx, m: NewQueueMessage): Promise<number> {
    if (!m || !Array.isArray(m.recipients) || m.recipients.length === 0) throw err('WHARF_INVALID', 'a queued message needs at least one recipient');
    if (typeof m.sender !== 'string') throw err('WHARF_INVALID', 'sender must be a string');
    if (typeof m.blobId !== 'string' || m.blobId === '') throw err('WHARF_INVALID', 'queued message without blobId');
    if (!Number.isSafeInteger(m.size) || m.size < 0) throw err('WHARF_INVALID', 'size must be a non-negative integer');
    if (m.ret !== undefined && m.ret !== null && m.ret !== 'FULL' && m.ret !== 'HDRS') throw err('WHARF_INVALID', `bad RET ${String(m.ret)}`);
    const rcpts = m.recipients.map((r) => {
      const address = checkAddress(r.address);
      return { address, domain: domainOf(address), notify: r.notify ? JSON.stringify(r.notify) : null, orcpt: r.orcpt ?? null };
    });
    const now = Date.now();
    const due = timeOf(m.notBefore, now);
    const id = (await t.row<{ id: number }>(
      'INSERT INTO queue_messages (sender, blob_id, size, header_prefix, envid, ret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      [m.sender, m.blobId, m.size, m.headerPrefix ?? Buffer.alloc(0), m.envid ?? null, m.ret ?? null, now],
    ))!.id;
    await t.run(
      `INSERT INTO queue_recipients (message_id, address, domain, notify, orcpt, status)
       SELECT $1, r.address, r.domain, r.notify, r.orcpt, 'pending' FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(address, domain, notify, orcpt, n)
       ORDER BY r.n`,
      [id, rcpts.map((r) => r.address), rcpts.map((r) => r.domain), rcpts.map((r) => r.notify), rcpts.map((r) => r.orcpt)],
    );
    const domains = [...new Set(rcpts.map((r) => r.domain))];
    await t.run('INSERT INTO queue_jobs (message_id, domain, attempts, next_attempt_at) SELECT $1, d, 0, $2 FROM unnest($3::text[]) AS d', [id, due, domains]);
    return id;
  }

  claimJobs(owner: string, limit: number, leaseMs: number, now?: Date): Promise<QueueJob[]> {
    return this.write(async (t) => {
      if (typeof owner !== 'string' || owner === '') throw err('WHARF_INVALID', 'claimJobs needs an owner');
      const at = timeOf(now, Date.now());
      const n = Number.isFinite(limit) ? Math.max(0, Math.floor(limit)) : 0;
      if (n === 0) return [];
      const until = at + Math.max(0, Number.isFinite(leaseMs) ? Math.floor(leaseMs) : 0);
      // SKIP LOCKED: a job another worker (any node) is claiming right now is passed over, and
      // the re-checked WHERE drops one whose lease was just taken
      const jobs = await t.rows<JobRow>(
        `WITH c AS (
           SELECT id FROM queue_jobs
           WHERE next_attempt_at <= $1 AND (leased_by IS NULL OR lease_until <= $1)
           ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE queue_jobs j SET leased_by = $3, lease_until = $4 FROM c WHERE j.id = c.id
         RETURNING j.*`,
        [at, n, owner, until],
      );
      if (jobs.length === 0) return [];
      jobs.sort((a, b) => a.next_attempt_at - b.next_attempt_at || a.id - b.id);
      const msgIds = [...new Set(jobs.map((j) => j.message_id))];
      const msgs = new Map((await t.rows<QueueMessageRow>('SELECT * FROM queue_messages WHERE id = ANY($1::bigint[])', [msgIds])).map((r) => [r.id, toQueueMessage(r)]));
      const rcpts = await t.rows<RecipientRow>("SELECT * FROM queue_recipients WHERE message_id = ANY($1::bigint[]) AND status = 'pending' ORDER BY id", [msgIds]);
      return jobs.map((j) => ({
        id: j.id,
        messageId: j.message_id,
        domain: j.domain,
        attempts: j.attempts,
        nextAttemptAt: new Date(j.next_attempt_at),
        lastError: j.last_error,
        recipients: rcpts.filter((r) => r.message_id === j.message_id && r.domain === j.domain).map(toRecipient),
        message: msgs.get(j.message_id)!,
      }));
    });
  }

  renewJobs(owner: string, jobIds: readonly number[], leaseMs: number, now?: Date): Promise<number[]> {
    return this.write(async (t) => {
      if (typeof owner !== 'string' || owner === '') throw err('WHARF_INVALID', 'renewJobs needs an owner');
      const ids = uniqueSorted(jobIds);
      if (ids.length === 0) return [];
      const until = timeOf(now, Date.now()) + Math.max(0, Number.isFinite(leaseMs) ? Math.floor(leaseMs) : 0);
      const rows = await t.rows<{ id: number }>('UPDATE queue_jobs SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND leased_by = $3 RETURNING id', [until, ids, owner]);
      return rows.map((r) => r.id).sort((a, b) => a - b);
    });
  }

  finishJob(jobId: number, owner: string, outcomes: JobOutcome[], nextAttemptAt: Date, error?: string | null): Promise<void> {
    return this.write(async (t) => {
      const job = isId(jobId) ? await t.row<JobRow>('SELECT * FROM queue_jobs WHERE id = $1 FOR UPDATE', [jobId]) : undefined;
      if (!job || job.leased_by !== owner) throw err('WHARF_NOT_FOUND', `job ${jobId} is not leased by ${owner}`);
      const next = timeOf(nextAttemptAt, Date.now());
      for (const o of outcomes ?? []) {
        if (o.outcome !== 'delivered' && o.outcome !== 'failed' && o.outcome !== 'deferred') throw err('WHARF_INVALID', `bad outcome ${String(o.outcome)}`);
        const status = o.outcome === 'deferred' ? 'pending' : o.outcome;
        const changed = isId(o.recipientId)
          ? await t.run(
              "UPDATE queue_recipients SET status = $1, last_reply = coalesce($2, last_reply) WHERE id = $3 AND message_id = $4 AND domain = $5 AND status = 'pending'",
              [status, o.reply ?? null, o.recipientId, job.message_id, job.domain],
            )
          : 0;
        if (changed === 0) this.logger?.warn('finishJob: outcome for a recipient not pending in this job', { jobId, recipientId: o.recipientId });
      }
      const pending = (await t.row<{ n: number }>("SELECT count(*) AS n FROM queue_recipients WHERE message_id = $1 AND domain = $2 AND status = 'pending'", [job.message_id, job.domain]))!.n;
      if (pending === 0) {
        await t.run('DELETE FROM queue_jobs WHERE id = $1', [jobId]);
        // lock the message row: two jobs of one message finishing at once both see the other
        await t.run('SELECT 1 FROM queue_messages WHERE id = $1 FOR UPDATE', [job.message_id]);
        const left = (await t.row<{ n: number }>('SELECT count(*) AS n FROM queue_jobs WHERE message_id = $1', [job.message_id]))!.n;
        if (left === 0) await t.run('DELETE FROM queue_messages WHERE id = $1', [job.message_id]);
      } else {
        await t.run('UPDATE queue_jobs SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, leased_by = NULL, lease_until = NULL WHERE id = $3', [next, error ?? null, jobId]);
      }
    });
  }

  async nextDue(): Promise<Date | null> {
    const r = await this.row<{ t: number | null }>('SELECT min(next_attempt_at) AS t FROM queue_jobs WHERE leased_by IS NULL OR lease_until <= $1', [Date.now()]);
    return r?.t === null || r?.t === undefined ? null : new Date(r.t);
  }

  private async queueDetails(t: Tx, msgs: QueueMessageRow[]): Promise<QueueMessageDetail[]> {
    if (msgs.length === 0) return [];
    const ids = msgs.map((m) => m.id);
    const rcpts = await t.rows<RecipientRow>('SELECT * FROM queue_recipients WHERE message_id = ANY($1::bigint[]) ORDER BY id', [ids]);
    const jobs = await t.rows<JobRow>('SELECT * FROM queue_jobs WHERE message_id = ANY($1::bigint[]) ORDER BY id', [ids]);
    const now = Date.now();
    return msgs.map((r) => ({
      ...toQueueMessage(r),
      recipients: rcpts.filter((x) => x.message_id === r.id).map(toRecipient),
      jobs: jobs
        .filter((j) => j.message_id === r.id)
        .map((j) => ({
          id: j.id,
          domain: j.domain,
          attempts: j.attempts,
          nextAttemptAt: new Date(j.next_attempt_at),
          lastError: j.last_error,
          leasedBy: j.leased_by !== null && (j.lease_until ?? 0) > now ? j.leased_by : null,
        })),
    }));
  }

  listQueue(): Promise<QueueMessageDetail[]> {
    return this.snapshot(async (t) => this.queueDetails(t, await t.rows<QueueMessageRow>('SELECT * FROM queue_messages ORDER BY id')));
  }

  getQueueMessage(id: number): Promise<QueueMessageDetail | null> {
    if (!isId(id)) return Promise.resolve(null);
    return this.snapshot(async (t) => (await this.queueDetails(t, await t.rows<QueueMessageRow>('SELECT * FROM queue_messages WHERE id = $1', [id])))[0] ?? null);
  }

  retryQueueMessage(id: number): Promise<boolean> {
    return this.write(async (t) => {
      if (!isId(id) || !(await t.row('SELECT 1 FROM queue_messages WHERE id = $1', [id]))) return false;
      await t.run('UPDATE queue_jobs SET next_attempt_at = $1 WHERE message_id = $2', [Date.now(), id]);
      return true;
    });
  }

  deleteQueueMessage(id: number): Promise<boolean> {
    return this.write(async (t) => isId(id) && (await t.run('DELETE FROM queue_messages WHERE id = $1', [id])) > 0);
  }

  // ---- DNS zones ---------------------------------------------------------------------------------------

  async listZones(): Promise<ZoneRow[]> {
    return (await this.rows<ZoneDbRow>('SELECT * FROM zones ORDER BY name COLLATE "C"')).map(toZone);
  }

  async getZone(name: string): Promise<ZoneRow | null> {
    const r = await this.row<ZoneDbRow>('SELECT * FROM zones WHERE name = $1', [zoneKey(name)]);
    return r ? toZone(r) : null;
  }

  putZone(name: string, text: string, serial: number): Promise<void> {
    return this.write(async (t) => {
      const key = zoneKey(name);
      if (typeof text !== 'string') throw err('WHARF_INVALID', 'zone text must be a string');
      // RFC 1035 §3.3.13: SERIAL is an unsigned 32-bit number
      if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) throw err('WHARF_INVALID', `bad zone serial ${serial}`);
      await t.run(
        'INSERT INTO zones (name, text, serial, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET text = excluded.text, serial = excluded.serial, updated_at = excluded.updated_at',
        [key, text, serial, Date.now()],
      );
      t.noteZone(key);
    });
  }

  deleteZone(name: string): Promise<boolean> {
    return this.write(async (t) => {
      const key = zoneKey(name);
      if ((await t.run('DELETE FROM zones WHERE name = $1', [key])) === 0) return false;
      t.noteZone(key);
      return true;
    });
  }

  // ---- leases, settings, blobs -------------------------------------------------------------------------

  acquireLease(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.write(async (t) => {
      if (typeof key !== 'string' || typeof owner !== 'string') throw err('WHARF_INVALID', 'lease key and owner are strings');
      const now = Date.now();
      const ttl = Number.isFinite(ttlMs) ? Math.max(0, Math.floor(ttlMs)) : 0;
      // one statement: a free, expired or own lease is taken; concurrent takers serialise on the row
      const got = await t.run(
        `INSERT INTO leases (key, owner, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.owner = excluded.owner OR leases.expires_at <= $4`,
        [key, owner, now + ttl, now],
      );
      return got > 0;
    });
  }

  releaseLease(key: string, owner: string): Promise<void> {
    return this.write(async (t) => {
      await t.run('DELETE FROM leases WHERE key = $1 AND owner = $2', [String(key), String(owner)]);
    });
  }

  async getSetting(key: string): Promise<string | null> {
    return (await this.row<{ value: string }>('SELECT value FROM settings WHERE key = $1', [String(key)]))?.value ?? null;
  }

  setSetting(key: string, value: string): Promise<void> {
    return this.write(async (t) => {
      if (typeof key !== 'string' || typeof value !== 'string') throw err('WHARF_INVALID', 'setting keys and values are strings');
      await t.run('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    });
  }

  async blobInUse(id: string): Promise<boolean> {
    const r = await this.row<{ used: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM messages WHERE blob_id = $1) OR EXISTS (SELECT 1 FROM queue_messages WHERE blob_id = $1) AS used',
      [String(id)],
    );
    return r?.used === true;
  }
}
