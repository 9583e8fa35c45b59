// Who may use the console's API: login sessions (in memory) and bearer tokens (on disk).
//
// Invariants
//  - A session id is 32 random bytes (base64url); it lives only in this process's memory and
//    ends after `ttlMs` without a request (sliding), at logout, or when the console stops.
//    At most MAX_SESSIONS live at once (the oldest is dropped first).
//  - A token is shown once, when created; only its SHA-256 is stored, in
//    <data>/console/tokens.json of the authority instance (mode 0600, written atomically:
//    temporary file then rename). The file is re-read when it changes on disk, so a token made
//    or revoked by `wharf console token` applies to a running console at its next request.
//  - Token names: 1-64 of [A-Za-z0-9._-]; unique.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WharfError } from '../core/errors.js';

export interface Principal {
  /** The admin's address, or "token:NAME". */
  user: string;
  via: 'session' | 'token';
}

const MAX_SESSIONS = 10_000;

export class SessionStore {
  private readonly sessions = new Map<string, { user: string; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string): string {
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { user, expires: this.now() + this.ttlMs });
    return id;
  }

  /** The session's user, refreshing its expiry; null when unknown or expired. */
  get(id: string): string | null {
    const s = this.sessions.get(id);
    if (!s) return null;
    const now = this.now();
    if (s.expires <= now) {
      this.sessions.delete(id);
      return null;
    }
    s.expires = now + this.ttlMs;
    return s.user;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (s.expires <= now) this.sessions.delete(id);
  }
}

export interface TokenInfo {
  name: string;
  created: string;
}

interface TokenRow extends TokenInfo {
  /** hex SHA-256 of the token */
  hash: string;
}

export function tokensFile(dataDir: string): string {
  return join(dataDir, 'console', 'tokens.json');
}

const hashOf = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function validTokenName(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(name);
}

export class TokenStore {
  private rows: TokenRow[] = [];
  private byHash = new Map<string, TokenRow>();
  private stamp = '';

  constructor(readonly file: string) {}

  private load(): void {
    let st;
    try {
      st = statSync(this.file);
    } catch {
      this.rows = [];
      this.byHash = new Map();
      this.stamp = 'none';
      return;
    }
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (stamp === this.stamp) return;
    let rows: TokenRow[] = [];
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { tokens?: unknown };
      if (Array.isArray(data.tokens)) {
        rows = data.tokens.filter((r): r is TokenRow => !!r && validTokenName((r as TokenRow).name) && typeof (r as TokenRow).hash === 'string' && /^[0-9a-f]{64}$/.test((r as TokenRow).hash));
      }
    } catch (err) {
      throw new WharfError('WHARF_TOKENS_UNREADABLE', `cannot read ${this.file}: ${(err as Error).message}`);
    }
    this.rows = rows;
    this.byHash = new Map(rows.map((r) => [r.hash, r]));
    this.stamp = stamp;
  }

  private save(rows: TokenRow[]): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ tokens: rows }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
    this.stamp = '';
    this.load();
  }

  list(): TokenInfo[] {
    this.load();
    return this.rows.map((r) => ({ name: r.name, created: r.created }));
  }

  /** Creates a token; returns it (the only time it is seen). WHARF_EXISTS when the name is taken. */
  create(name: string): string {
    if (!validTokenName(name)) throw new WharfError('WHARF_INVALID', 'a token name is 1-64 letters, digits, ".", "_" or "-"');
    this.load();
    if (this.rows.some((r) => r.name === name)) throw new WharfError('WHARF_EXISTS', `a token named ${name} exists`);
    const token = `wharf_${randomBytes(32).toString('base64url')}`;
    this.save([...this.rows, { name, hash: hashOf(token), created: new Date().toISOString() }]);
    return token;
  }

  revoke(name: string): boolean {
    this.load();
    const kept = this.rows.filter((r) => r.name !== name);
    if (kept.length === this.rows.length) return false;
    this.save(kept);
    return true;
  }

  /** The token's name, or null. */
  verify(token: string): string | null {
    if (token.length < 8 || token.length > 200) return null;
    this.load();
    return this.byHash.get(hashOf(token))?.name ?? null;
  }
}
