// Input checks and row conversions shared by the PostgreSQL engine: the same rules as the SQLite
// engine (names, addresses, zone names), so both engines accept and refuse the same input.
import { WharfError } from '../../core/errors.js';

export function err(code: string, message: string): WharfError {
  return new WharfError(code, message);
}

/** "INBOX" in any case (and the INBOX/ prefix) is spelt INBOX. RFC 3501 §5.1. */
export function normaliseMailboxName(name: string): string {
  if (typeof name !== 'string') throw err('WHARF_INVALID', 'mailbox name must be a string');
  if (name.length > 5 && name.slice(0, 6).toUpperCase() === 'INBOX/') return 'INBOX' + name.slice(5);
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  return name;
}

export function checkMailboxName(name: string): string {
  const n = normaliseMailboxName(name);
  if (n === '' || n.startsWith('/') || n.endsWith('/') || n.includes('//') || /[\x00-\x1f\x7f]/.test(n)) {
    throw err('WHARF_INVALID', `bad mailbox name: ${JSON.stringify(name)}`);
  }
  return n;
}

export function checkDomainName(name: string): string {
  const n = typeof name === 'string' ? name.trim() : '';
  if (n === '' || /[\s@/\\\x00]/.test(n)) throw err('WHARF_INVALID', `bad domain name: ${JSON.stringify(name)}`);
  return n;
}

export function checkAddress(address: string): string {
  const a = typeof address === 'string' ? address.trim() : '';
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1 || /[\s\x00]/.test(a)) throw err('WHARF_INVALID', `bad address: ${JSON.stringify(address)}`);
  return a;
}

/** Zone names: absolute, lower case, trailing dot. */
export function zoneKey(name: string): string {
  const n = typeof name === 'string' ? name.trim().toLowerCase() : '';
  if (n === '') throw err('WHARF_INVALID', 'empty zone name');
  if (n === '.') return '.';
  if (/[\s\x00]/.test(n) || n.startsWith('.') || n.includes('..')) throw err('WHARF_INVALID', `bad zone name: ${JSON.stringify(name)}`);
  return n.endsWith('.') ? n : n + '.';
}

export function uniqueSorted(uids: readonly number[]): number[] {
  return [...new Set(uids.filter((u) => Number.isInteger(u) && u > 0 && u <= Number.MAX_SAFE_INTEGER))].sort((a, b) => a - b);
}

export function timeOf(d: Date | undefined, fallback: number): number {
  if (d === undefined) return fallback;
  const t = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(t)) throw err('WHARF_INVALID', 'bad date');
  return t;
}

/** A row id given by a caller: anything that is not a positive safe integer matches no row. */
export function isId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0;
}
