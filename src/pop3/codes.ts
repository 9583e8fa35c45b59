// POP3 replies as data (RFC 1939 §3): "+OK text" or "-ERR text", with the extended response
// codes of RFC 2449 §8 ("-ERR [IN-USE] ...") where one applies. Handlers throw
// ReplyError(reply); the session writes it once.
import { ReplyError } from '../core/errors.js';

/** RFC 2449 §8.1 (LOGIN-DELAY, IN-USE), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH). */
export type RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export interface Pop3Reply {
  ok: boolean;
  code?: RespCode;
  text: string;
}

export function formatReply(r: Pop3Reply): string {
  const head = r.ok ? '+OK' : '-ERR';
  const code = r.code ? ` [${r.code}]` : '';
  return r.text ? `${head}${code} ${r.text}` : `${head}${code}`;
}

export const ok = (text = ''): Pop3Reply => ({ ok: true, text });
export const err = (text: string, code?: RespCode): Pop3Reply => (code ? { ok: false, code, text } : { ok: false, text });

/** Throws a -ERR reply out of a handler. */
export function fail(text: string, code?: RespCode): never {
  throw new ReplyError<Pop3Reply>(err(text, code));
}

export const R = {
  unknownCommand: err('unknown command'),
  wrongState: err('command not valid in this state'),
  lineTooLong: err('line too long'),
  badArgs: (usage: string) => err(`syntax: ${usage}`),
  noSuchMessage: err('no such message'),
  alreadyDeleted: (n: number) => err(`message ${n} already deleted`),
  authFailed: err('invalid user name or password', 'AUTH'),
  authDisabled: err('account disabled', 'AUTH'),
  cleartextRefused: err('cleartext login refused on this connection; use STLS first', 'AUTH'),
  inUse: err('maildrop already locked by another session', 'IN-USE'),
  tempFailure: err('temporary server failure, try again later', 'SYS/TEMP'),
  tooManyErrors: err('too many bad commands, closing'),
  idle: err('idle for too long, closing (nothing deleted)'),
  shuttingDown: err('server shutting down (nothing deleted)', 'SYS/TEMP'),
  signingOff: ok('POP3 server signing off'),
} as const;
