// Domains and users: the one user database every service shares. Validates names, hashes
// passwords (scrypt, src/auth/password.ts) and creates each account's standard mailboxes
// (INBOX and the RFC 6154 special-use ones). Used by the CLI, the console's admin API and the
// lab; protocols only read accounts (through the Authenticator and the store).
import { WharfError } from './core/errors.js';
import { hashPassword } from './auth/password.js';
import { isHostname } from './config/fields.js';
import type { Account, Domain, Store } from './store/store.js';

/** Created for every new account (RFC 6154 special-use attributes). */
export const DEFAULT_MAILBOXES = [
  { name: 'Sent', specialUse: '\\Sent', subscribed: true },
  { name: 'Drafts', specialUse: '\\Drafts', subscribed: true },
  { name: 'Trash', specialUse: '\\Trash', subscribed: true },
  { name: 'Junk', specialUse: '\\Junk', subscribed: true },
  { name: 'Archive', specialUse: '\\Archive', subscribed: true },
] as const;

export interface AccountsOptions {
  /** log2 of scrypt's N for new hashes. */
  scryptCost: number;
  /** Store an APOP secret beside the hash (pop3.apop). */
  apop: boolean;
  /** Called after a domain is added (the DNS side creates a zone when configured). */
  onDomainAdded?: (name: string) => Promise<void>;
}

export function validateDomainName(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (!n || !n.includes('.') && n !== 'localhost' || !isHostname(n)) {
    throw new WharfError('WHARF_INVALID', `"${name}" is not a domain name`);
  }
  return n;
}

/** RFC 5321 §4.1.2 Mailbox, restricted to what a local account may be called (dot-atom local part). */
export function validateAddress(address: string): { address: string; local: string; domain: string } {
  const a = address.trim();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) throw new WharfError('WHARF_INVALID', `"${address}" is not an address like user@example.org`);
  const local = a.slice(0, at);
  const domain = validateDomainName(a.slice(at + 1));
  // RFC 5322 §3.2.3 dot-atom: atext runs separated by single dots; UTF-8 allowed (RFC 6531).
  if (local.length > 64 || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uFFFF]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uFFFF]+)*$/.test(local)) {
    throw new WharfError('WHARF_INVALID', `"${local}" is not a valid local part (letters, digits and !#$%&'*+-/=?^_\`{|}~, dot-separated)`);
  }
  return { address: `${local}@${domain}`, local, domain };
}

export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly opts: AccountsOptions,
  ) {}

  async addDomain(name: string): Promise<Domain> {
    const d = await this.store.addDomain(validateDomainName(name));
    await this.opts.onDomainAdded?.(d.name);
    return d;
  }

  listDomains(): Promise<Domain[]> {
    return this.store.listDomains();
  }

  deleteDomain(name: string, force = false): Promise<boolean> {
    return this.store.deleteDomain(validateDomainName(name), { force });
  }

  async addUser(address: string, password: string, opts: { admin?: boolean } = {}): Promise<Account> {
    const a = validateAddress(address);
    checkPassword(password);
    return this.store.addAccount({
      address: a.address,
      passwordHash: await hashPassword(password, { cost: this.opts.scryptCost }),
      apopSecret: this.opts.apop ? password : null,
      admin: opts.admin ?? false,
      mailboxes: DEFAULT_MAILBOXES.map((m) => ({ ...m })),
    });
  }

  async setPassword(address: string, password: string): Promise<boolean> {
    checkPassword(password);
    return this.store.updateAccount(address, {
      passwordHash: await hashPassword(password, { cost: this.opts.scryptCost }),
      apopSecret: this.opts.apop ? password : null,
    });
  }

  listUsers(domain?: string): Promise<Account[]> {
    return this.store.listAccounts(domain === undefined ? undefined : validateDomainName(domain));
  }

  deleteUser(address: string): Promise<boolean> {
    return this.store.deleteAccount(address);
  }
}

function checkPassword(p: string): void {
  if (p.length === 0) throw new WharfError('WHARF_INVALID', 'the password is empty');
  if (/[\r\n\0]/.test(p)) throw new WharfError('WHARF_INVALID', 'the password contains CR, LF or NUL');
}
