// The store: everything Wharf keeps, behind one narrow async interface with two engines
// (SQLite, the embedded default; PostgreSQL, for several nodes sharing state).
//
// Shape: every method is one transaction — a whole domain operation that either happens or not
// (deliver a message to several mailboxes, expunge a set of UIDs, claim queue work). Callers
// never hold a transaction open across network I/O.
//
// Durability: a write method resolves only after its effect is on disk (the engine fsyncs; the
// SQLite engine batches concurrent commits into one fsync: group commit). A "250 OK" or "+OK"
// may be sent when the promise resolves.
//
// Invariants the contract tests check on both engines:
//  - addresses and domain names compare case-insensitively and keep their case;
//  - within a mailbox UIDs are strictly ascending and never reused; UIDVALIDITY never changes
//    for a mailbox's lifetime and a re-created mailbox gets a new, larger one;
//  - every change to a mailbox (append, flags, expunge) gets a new MODSEQ, strictly ascending
//    per mailbox (RFC 7162), and expunged UIDs are remembered with their MODSEQ;
//  - a queue job is held by at most one worker at a time (leases; FOR UPDATE SKIP LOCKED).
//
// Message bodies are not in these rows: they live in the content-addressed BlobStore. A stored
// message is `headerPrefix ‖ blob`: the prefix holds the per-recipient lines added at final
// delivery (Return-Path, Delivered-To) so one blob serves every recipient of a message.

export interface Domain {
  name: string;
  createdAt: Date;
}

export interface Account {
  id: number;
  /** local@domain, as first given. */
  address: string;
  domain: string;
  passwordHash: string;
  /** The APOP shared secret (RFC 1939 §7), only when APOP is enabled; null otherwise. */
  apopSecret: string | null;
  admin: boolean;
  disabled: boolean;
  /** Bytes; 0 = no quota. */
  quota: number;
  createdAt: Date;
}

export interface NewAccount {
  address: string;
  passwordHash: string;
  apopSecret?: string | null;
  admin?: boolean;
  /** Mailboxes created with the account; INBOX is always created. */
  mailboxes?: { name: string; specialUse?: string | null; subscribed?: boolean }[];
}

export interface AccountPatch {
  passwordHash?: string;
  apopSecret?: string | null;
  admin?: boolean;
  disabled?: boolean;
  quota?: number;
}

export interface Alias {
  address: string;
  accountId: number;
}

export interface Mailbox {
  id: number;
  accountId: number;
  /** Hierarchy delimiter is "/". "INBOX" is always spelt so. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** RFC 6154 attribute: "\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", or null. */
  specialUse: string | null;
  subscribed: boolean;
}

export interface MailboxStatus {
  messages: number;
  /** Messages without \Seen. */
  unseen: number;
  /** Messages with \Deleted. */
  deleted: number;
  /** Sum of message sizes, octets. */
  size: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

/** What a session needs to know about every message of a selected mailbox. */
export interface MessageSummary {
  uid: number;
  modseq: number;
  /** Octets as transmitted, CRLF line ends, headerPrefix included. */
  size: number;
  flags: string[];
  internalDate: Date;
}

/** A message as stored, for FETCH/RETR. */
export interface StoredMessage extends MessageSummary {
  mailboxId: number;
  blobId: string;
  /** Per-recipient header lines prepended to the blob (CRLF-terminated), or an empty Buffer. */
  headerPrefix: Buffer;
  /** Parsed metadata computed once at delivery (src/mail: MessageMeta), opaque to the store. */
  meta: unknown;
}

export interface NewMessage {
  blobId: string;
  /** headerPrefix.length + blob size */
  size: number;
  internalDate?: Date;
  flags?: string[];
  headerPrefix?: Buffer;
  meta: unknown;
}

export interface FlagUpdate {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface MailboxChanges {
  highestModseq: number;
  uidNext: number;
  /** Messages whose modseq is above the given one: new messages and flag changes. */
  updated: MessageSummary[];
  /** UIDs expunged with a modseq above the given one, ascending. */
  expunged: number[];
}

// ---- the outgoing queue ----------------------------------------------------------------

export interface NewQueueRecipient {
  address: string;
  /** DSN (RFC 3461): NOTIFY values, e.g. ["FAILURE","DELAY"]; null = default. */
  notify?: string[] | null;
  /** DSN ORCPT, "rfc822;bob@example.org". */
  orcpt?: string | null;
}

export interface NewQueueMessage {
  /** Envelope sender, "" for the null reverse-path (bounces). */
  sender: string;
  blobId: string;
  size: number;
  /** Trace headers prepended for this hop (Received). */
  headerPrefix?: Buffer;
  envid?: string | null;
  ret?: 'FULL' | 'HDRS' | null;
  /** Grouped by domain into one job per destination domain. */
  recipients: NewQueueRecipient[];
  /** Earliest first attempt; default now. */
  notBefore?: Date;
}

export interface QueueRecipient {
  id: number;
  address: string;
  domain: string;
  notify: string[] | null;
  orcpt: string | null;
  status: 'pending' | 'delivered' | 'failed';
  /** Last reply or error text for this recipient. */
  lastReply: string | null;
}

export interface QueueJob {
  id: number;
  messageId: number;
  domain: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  /** Pending recipients of this job. */
  recipients: QueueRecipient[];
  message: QueueMessage;
}

export interface QueueMessage {
  id: number;
  sender: string;
  blobId: string;
  size: number;
  headerPrefix: Buffer;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  createdAt: Date;
}

export interface QueueMessageDetail extends QueueMessage {
  recipients: QueueRecipient[];
  jobs: { id: number; domain: string; attempts: number; nextAttemptAt: Date; lastError: string | null; leasedBy: string | null }[];
}

export interface JobOutcome {
  recipientId: number;
  outcome: 'delivered' | 'failed' | 'deferred';
  reply?: string;
}

// ---- DNS zones ---------------------------------------------------------------------------

export interface ZoneRow {
  /** Absolute, lower case, with the trailing dot: "hamburger.edu." */
  name: string;
  /** The zone as an RFC 1035 master file. */
  text: string;
  serial: number;
  updatedAt: Date;
}

// ---- blobs ------------------------------------------------------------------------------

export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Makes the blob durable and returns its id (hex SHA-256 of the content) and size. */
  commit(): Promise<{ id: string; size: number }>;
  /** Drops what was written; never leaves a partial blob behind. */
  abort(): Promise<void>;
}

export interface BlobStore {
  /** Stores bytes; resolves when durable. Same content, same id (stored once). */
  put(data: Buffer): Promise<{ id: string; size: number }>;
  /** Streaming put, for large messages: memory stays flat. */
  writer(): BlobWriter;
  get(id: string): Promise<Buffer>;
  /** Octets [start, end) of a blob (end defaults to its size). */
  read(id: string, start: number, end?: number): Promise<Buffer>;
  stream(id: string, range?: { start: number; end?: number }): NodeJS.ReadableStream;
  size(id: string): Promise<number | null>;
  has(id: string): Promise<boolean>;
  delete(id: string): Promise<void>;
  /** Every stored id (for garbage collection). */
  list(): AsyncIterable<string>;
}

// ---- the store -----------------------------------------------------------------------------

export type ChangeListener = (ev: { mailboxId: number }) => void;

export interface Store {
  readonly engine: 'sqlite' | 'postgres';
  readonly blobs: BlobStore;
  /** Creates or migrates the schema. Idempotent; safe with several processes starting at once. */
  init(): Promise<void>;
  close(): Promise<void>;

  // domains
  addDomain(name: string): Promise<Domain>;
  getDomain(name: string): Promise<Domain | null>;
  listDomains(): Promise<Domain[]>;
  /** Refuses (WHARF_NOT_EMPTY) while accounts exist, unless force, which deletes them too. */
  deleteDomain(name: string, opts?: { force?: boolean }): Promise<boolean>;

  // accounts
  /** WHARF_EXISTS if the address (or an alias) is taken; WHARF_NO_DOMAIN if the domain is not local. */
  addAccount(a: NewAccount): Promise<Account>;
  getAccount(address: string): Promise<Account | null>;
  getAccountById(id: number): Promise<Account | null>;
  listAccounts(domain?: string): Promise<Account[]>;
  updateAccount(address: string, patch: AccountPatch): Promise<boolean>;
  /** Deletes the account, its mailboxes and messages. */
  deleteAccount(address: string): Promise<boolean>;
  addAlias(address: string, accountId: number): Promise<void>;
  deleteAlias(address: string): Promise<boolean>;
  listAliases(accountId?: number): Promise<Alias[]>;
  /** The account an address delivers to: the account's own address or an alias. */
  resolveAddress(address: string): Promise<Account | null>;

  // mailboxes
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  /** "INBOX" matches case-insensitively, other names exactly. */
  getMailbox(accountId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(id: number): Promise<Mailbox | null>;
  /** WHARF_EXISTS if it exists. */
  createMailbox(accountId: number, name: string, opts?: { specialUse?: string | null; subscribed?: boolean }): Promise<Mailbox>;
  /** Deletes the mailbox and its messages. */
  deleteMailbox(mailboxId: number): Promise<void>;
  /** Renames a mailbox and its children ("a/b" with "a"); new names get new UIDVALIDITY is NOT required (RFC 3501 §6.3.5 keeps it). */
  renameMailbox(mailboxId: number, newName: string): Promise<void>;
  setSubscribed(mailboxId: number, subscribed: boolean): Promise<void>;
  mailboxStatus(mailboxId: number): Promise<MailboxStatus>;

  // messages
  /** Appends one message; assigns the next UID and a new MODSEQ. */
  appendMessage(mailboxId: number, m: NewMessage): Promise<{ uid: number; modseq: number }>;
  /** Final delivery to several mailboxes in one transaction (all or none). */
  deliver(items: { mailboxId: number; message: NewMessage }[]): Promise<{ mailboxId: number; uid: number }[]>;
  /** Every message of a mailbox, ascending UID. */
  listMessages(mailboxId: number): Promise<MessageSummary[]>;
  /** Full rows for these UIDs (missing ones are left out), ascending UID. */
  getMessages(mailboxId: number, uids: readonly number[]): Promise<StoredMessage[]>;
  /**
   * Changes flags. UNCHANGEDSINCE (RFC 7162 §3.1.3): messages whose modseq is above it are not
   * changed and are returned in `failed`.
   */
  updateFlags(mailboxId: number, uids: readonly number[], op: 'add' | 'remove' | 'set', flags: readonly string[], opts?: { unchangedSince?: number }): Promise<{ updated: FlagUpdate[]; failed: number[] }>;
  /** Removes these messages; returns the UIDs actually removed. */
  expunge(mailboxId: number, uids: readonly number[]): Promise<{ expunged: number[]; modseq: number }>;
  /** Copies with new UIDs in the target, same internal date and flags. Pairs are [source, target]. */
  copyMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }>;
  /** Copy + expunge in one transaction (RFC 6851). */
  moveMessages(fromMailboxId: number, uids: readonly number[], toMailboxId: number): Promise<{ uidValidity: number; pairs: [number, number][] }>;
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges>;
  /**
   * Calls back when a mailbox changed, whoever changed it: this process, another process on
   * the same SQLite file (noticed within ~250 ms), or another node (PostgreSQL LISTEN/NOTIFY).
   * mailboxId null = every mailbox.
   */
  watch(mailboxId: number | null, listener: ChangeListener): () => void;

  // the outgoing queue
  enqueue(m: NewQueueMessage): Promise<number>;
  /**
   * An accepted message in ONE transaction: the local copies (as deliver()) and the queued
   * message for the remote recipients (as enqueue(); null when there are none). All or nothing:
   * a crash can never leave the local copies without the queue row or the reverse, so a client
   * that retries after losing the 250 never duplicates one half (RFC 5321 §6.1).
   */
  deliverAndEnqueue(
    deliveries: { mailboxId: number; message: NewMessage }[],
    queued: NewQueueMessage | null,
  ): Promise<{ delivered: { mailboxId: number; uid: number }[]; queueId: number | null }>;
  /** Takes up to `limit` due jobs not leased by anyone (or whose lease expired), leased to `owner`. */
  claimJobs(owner: string, limit: number, leaseMs: number, now?: Date): Promise<QueueJob[]>;
  /**
   * Extends the leases `owner` holds on these jobs to now + leaseMs (the heartbeat of deliveries
   * in flight: leases stay short, so a crashed node's jobs are soon claimable by another).
   * Returns the ids still held; a job taken over by another owner or deleted is left out.
   */
  renewJobs(owner: string, jobIds: readonly number[], leaseMs: number, now?: Date): Promise<number[]>;
  /**
   * Records an attempt: per-recipient outcomes; deferred recipients stay pending and the job's
   * next attempt is `nextAttemptAt`. A job with no pending recipient is removed, and a message
   * with no job left is removed. Releases the lease.
   */
  finishJob(jobId: number, owner: string, outcomes: JobOutcome[], nextAttemptAt: Date, error?: string | null): Promise<void>;
  /** Earliest next attempt among unleased jobs, or null when the queue is empty. */
  nextDue(): Promise<Date | null>;
  listQueue(): Promise<QueueMessageDetail[]>;
  getQueueMessage(id: number): Promise<QueueMessageDetail | null>;
  /** Makes every job of the message due now. */
  retryQueueMessage(id: number): Promise<boolean>;
  deleteQueueMessage(id: number): Promise<boolean>;

  // DNS zones (the master file text; src/dns parses it)
  listZones(): Promise<ZoneRow[]>;
  getZone(name: string): Promise<ZoneRow | null>;
  putZone(name: string, text: string, serial: number): Promise<void>;
  deleteZone(name: string): Promise<boolean>;
  /** Calls back when a zone changed (any process or node). */
  watchZones(listener: (name: string) => void): () => void;

  // leases: short-lived exclusive holds across processes and nodes (POP3 maildrop lock)
  acquireLease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(key: string, owner: string): Promise<void>;

  // small settings (instance id, …)
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  /** True when no stored message or queued message refers to the blob (for GC). */
  blobInUse(id: string): Promise<boolean>;
}

/** Error codes the store throws (as WharfError). */
export const StoreErrors = {
  exists: 'WHARF_EXISTS',
  notFound: 'WHARF_NOT_FOUND',
  noDomain: 'WHARF_NO_DOMAIN',
  notEmpty: 'WHARF_NOT_EMPTY',
  unavailable: 'WHARF_STORE_UNAVAILABLE',
  invalid: 'WHARF_INVALID',
} as const;

/** Splits and normalises an address for comparison: lower-case domain and local part. */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
