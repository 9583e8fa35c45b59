// The SQLite schema and its migrations. `PRAGMA user_version` holds the schema version; each
// migration moves it up by one. migrate() runs inside BEGIN IMMEDIATE, so two processes starting
// at once serialise: the second one waits (busy_timeout), then sees the new version and does
// nothing. Migrations are append-only: never edit a shipped one, add the next.
//
// Conventions: times are integer milliseconds since the epoch; booleans are 0/1; `key` columns
// hold the lower-cased form used for case-insensitive comparison, beside the name as given.
import type Database from 'better-sqlite3';
import { WharfError } from '../../core/errors.js';

const migrations: string[] = [
  // 1: the first schema
  `
  CREATE TABLE domains (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    domain_key TEXT NOT NULL REFERENCES domains(key) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    apop_secret TEXT,
    admin INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    quota INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX accounts_domain ON accounts(domain_key);
  CREATE TABLE aliases (
    key TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    domain_key TEXT NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
  );
  CREATE INDEX aliases_account ON aliases(account_id);
  CREATE INDEX aliases_domain ON aliases(domain_key);
  CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    uid_validity INTEGER NOT NULL,
    uid_next INTEGER NOT NULL DEFAULT 1,
    highest_modseq INTEGER NOT NULL DEFAULT 1,
    special_use TEXT,
    subscribed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, name)
  );
  CREATE TABLE messages (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    size INTEGER NOT NULL,
    flags TEXT NOT NULL,
    seen INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    header_prefix BLOB NOT NULL,
    meta TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
  ) WITHOUT ROWID;
  CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
  CREATE INDEX messages_blob ON messages(blob_id);
  CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
  ) WITHOUT ROWID;
  CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    mailbox_id INTEGER,
    zone TEXT,
    at INTEGER NOT NULL
  );
  CREATE TABLE queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    header_prefix BLOB NOT NULL,
    envid TEXT,
    ret TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX queue_messages_blob ON queue_messages(blob_id);
  CREATE TABLE queue_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    leased_by TEXT,
    lease_until INTEGER,
    UNIQUE (message_id, domain)
  );
  CREATE INDEX queue_jobs_due ON queue_jobs(next_attempt_at);
  CREATE TABLE queue_recipients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    domain TEXT NOT NULL,
    notify TEXT,
    orcpt TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    last_reply TEXT
  );
  CREATE INDEX queue_recipients_message ON queue_recipients(message_id, domain);
  CREATE TABLE zones (
    name TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    serial INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = migrations.length;

/** Brings the schema to SCHEMA_VERSION. Idempotent; serialised across processes. */
export function migrate(db: Database.Database): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new WharfError('WHARF_STORE_UNAVAILABLE', `the database has schema version ${current}, newer than this Wharf (${SCHEMA_VERSION}): upgrade Wharf`);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      db.exec(migrations[v]!);
    }
    if (current !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
