// SMTP command-line parsing (RFC 5321 §4.1): the verb, MAIL FROM / RCPT TO paths with their
// ESMTP parameters (SIZE RFC 1870, BODY RFC 6152/3030, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT
// RFC 3461, AUTH= RFC 4954), and xtext (RFC 3461 §4). Pure: strings in, typed values out;
// malformed input throws ReplyError with the reply to send.
//
// Leniency, as Postfix by default: a space after "FROM:"/"TO:" is accepted (the slides' session
// has one) and so is a path without angle brackets; a source route ("@a,@b:user@d") is accepted
// and ignored (RFC 5321 §4.1.1.3 / Appendix C).
import { ReplyError } from '../core/errors.js';
import type { SmtpReply } from './codes.js';
import { C501BadAddress, C501Syntax, C553Utf8NeedsSmtputf8, C555UnsupportedParam, withText } from './codes.js';

export interface Command {
  /** Upper case, e.g. "MAIL". */
  verb: string;
  /** Everything after the verb and one space ("" when none). */
  arg: string;
}

/** Splits "VERB arg…" (RFC 5321 §4.1.1: verbs are case-insensitive). */
export function parseCommand(line: string): Command {
  const m = /^([A-Za-z][A-Za-z0-9]*)(?:[ \t]+(.*))?$/s.exec(line.replace(/[ \t]+$/, ''));
  if (!m) return { verb: '', arg: line };
  return { verb: m[1]!.toUpperCase(), arg: m[2] ?? '' };
}

const fail = (reply: SmtpReply, text?: string): never => {
  throw new ReplyError(text ? withText(reply, text) : reply);
};

// ---- addresses ------------------------------------------------------------------------------

// RFC 5322 §3.2.3 atext (RFC 5321 §4.1.2 Atom)
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
// RFC 6531 §3.3: atext =/ UTF8-non-ascii
const ATEXT_UTF8 = /^(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+$/;
// RFC 5321 §4.1.2 sub-domain = Let-dig [Ldh-str]
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const LABEL_UTF8 = /^(?:[A-Za-z0-9]|[^\x00-\x7f])(?:(?:[A-Za-z0-9-]|[^\x00-\x7f])*(?:[A-Za-z0-9]|[^\x00-\x7f]))?$/;

// RFC 5321 §4.5.3.1: local part 64 octets, domain 255, path 256 (including the brackets).
export const MAX_LOCAL = 64;
export const MAX_DOMAIN = 255;
export const MAX_PATH = 256;

function validDomain(d: string, utf8: boolean): boolean {
  if (d.length === 0 || Buffer.byteLength(d) > MAX_DOMAIN) return false;
  if (d.startsWith('[')) {
    // RFC 5321 §4.1.3 address literal: [1.2.3.4] or [IPv6:…]
    const inner = d.slice(1, -1);
    if (!d.endsWith(']')) return false;
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(inner)) return inner.split('.').every((o) => Number(o) <= 255);
    return /^IPv6:[0-9A-Fa-f:.]+$/i.test(inner) || /^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+$/.test(inner);
  }
  const labels = (d.endsWith('.') ? d.slice(0, -1) : d).split('.');
  return labels.every((l) => l.length <= 63 && (utf8 ? LABEL_UTF8 : LABEL).test(l));
}

function validLocal(local: string, utf8: boolean): boolean {
  if (local.length === 0) return false;
  if (local.startsWith('"')) {
    // RFC 5321 §4.1.2 Quoted-string: qtextSMTP / quoted-pairSMTP
    if (local.length < 2 || !local.endsWith('"')) return false;
    const inner = local.slice(1, -1);
    return utf8 ? /^(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e]|[^\x00-\x7f])*$/.test(inner) : /^(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*$/.test(inner);
  }
  return local.split('.').every((a) => (utf8 ? ATEXT_UTF8 : ATEXT).test(a));
}

/** Splits a mailbox at the "@" that is not inside the quoted local part. */
export function splitMailbox(mailbox: string): { local: string; domain: string } | null {
  let i = 0;
  if (mailbox.startsWith('"')) {
    i = 1;
    while (i < mailbox.length && mailbox[i] !== '"') i += mailbox[i] === '\\' ? 2 : 1;
    i++;
    if (mailbox[i] !== '@') return null;
  } else {
    i = mailbox.lastIndexOf('@');
    if (i < 0) return null;
  }
  return { local: mailbox.slice(0, i), domain: mailbox.slice(i + 1) };
}

export function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

/**
 * A mailbox "local@domain" (RFC 5321 §4.1.2). Non-ASCII is allowed only with SMTPUTF8
 * (RFC 6531 §3.3); without it the reply is 553 5.6.7 (RFC 6531 §3.6.1… as Postfix answers).
 */
export function parseMailbox(text: string, utf8: boolean): string {
  if (!isAscii(text) && !utf8) fail(C553Utf8NeedsSmtputf8);
  const parts = splitMailbox(text);
  if (!parts) fail(C501BadAddress);
  const { local, domain } = parts!;
  if (Buffer.byteLength(local) > MAX_LOCAL || !validLocal(local, utf8) || !validDomain(domain, utf8)) fail(C501BadAddress);
  return `${local}@${domain}`;
}

interface PathAndParams {
  /** Inside the brackets, source route removed; "" for "<>". */
  path: string;
  params: string[];
}

/** Splits "<path> params" (or an unbracketed path) after "FROM:"/"TO:". */
function splitPath(rest: string): PathAndParams {
  const s = rest.replace(/^[ \t]+/, '');
  let path: string;
  let after: string;
  if (s.startsWith('<')) {
    // Find the closing ">" outside a quoted string.
    let i = 1;
    let quoted = false;
    for (; i < s.length; i++) {
      const c = s[i];
      if (quoted && c === '\\') i++;
      else if (c === '"') quoted = !quoted;
      else if (c === '>' && !quoted) break;
    }
    if (i >= s.length) fail(C501BadAddress, 'Syntax error in address: missing ">"');
    path = s.slice(1, i);
    after = s.slice(i + 1);
    if (after.length > 0 && !/^[ \t]/.test(after)) fail(C501Syntax);
  } else {
    const m = /^(\S*)(.*)$/s.exec(s)!;
    path = m[1]!;
    after = m[2]!;
    if (path === '') fail(C501BadAddress);
  }
  if (Buffer.byteLength(path) + 2 > MAX_PATH) fail(C501BadAddress, 'Address too long');
  // RFC 5321 §4.1.2 A-d-l: "@one,@two:" source route, accepted and ignored.
  const route = /^@[^:]*:/.exec(path);
  if (route && !path.startsWith('"')) path = path.slice(route[0].length);
  const params = after.trim() === '' ? [] : after.trim().split(/[ \t]+/);
  return { path, params };
}

/** RFC 5321 §4.1.2 esmtp-param = esmtp-keyword ["=" esmtp-value]; keywords upper-cased. */
export function parseParams(params: string[], utf8: boolean): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (const p of params) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=(.*))?$/s.exec(p);
    if (!m) fail(C501Syntax, `Bad parameter syntax: ${clipText(p)}`);
    const key = m![1]!.toUpperCase();
    const value = m![2];
    if (value !== undefined) {
      // esmtp-value = 1*(%d33-60 / %d62-126) (RFC 6531 §3.3 adds UTF-8)
      const ok = utf8 ? /^(?:[\x21-\x3c\x3e-\x7e]|[^\x00-\x7f])+$/.test(value) : /^[\x21-\x3c\x3e-\x7e]+$/.test(value);
      if (!ok) fail(C501Syntax, `Bad parameter value: ${key}`);
    }
    if (out.has(key)) fail(C501Syntax, `Duplicate parameter: ${key}`);
    out.set(key, value ?? true);
  }
  return out;
}

function clipText(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?');
  return t.length > 40 ? t.slice(0, 40) + '…' : t;
}

// ---- xtext (RFC 3461 §4) ----------------------------------------------------------------------

/** RFC 3461 §4: xtext = *( xchar / hexchar ), hexchar = "+" 2HEXDIG (upper case). null when malformed. */
export function decodeXtext(s: string): string | null {
  if (!/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/.test(s)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '+') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeXtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : '+' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

// ---- MAIL / RCPT ----------------------------------------------------------------------------

export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';

export interface MailFrom {
  /** Reverse-path; "" for the null path "<>". */
  sender: string;
  /** RFC 1870 SIZE=, declared octets. */
  size: number | null;
  body: BodyType | null;
  smtputf8: boolean;
  /** RFC 3461 §4.3 */
  ret: 'FULL' | 'HDRS' | null;
  /** RFC 3461 §4.4, decoded from xtext. */
  envid: string | null;
  /** RFC 4954 §5 AUTH=, decoded; "<>" when the submitter is unknown. */
  auth: string | null;
}

export interface RcptTo {
  recipient: string;
  /** RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY. */
  notify: string[] | null;
  /** RFC 3461 §4.2: "rfc822;bob@example.org" (addr-type ";" decoded xtext). */
  orcpt: string | null;
}

export interface ParseOptions {
  /** Extensions offered: parameters of extensions not offered are refused (555). */
  dsn?: boolean;
  smtputf8?: boolean;
  /** Whether BINARYMIME may be declared (CHUNKING offered). */
  binarymime?: boolean;
}

/** "FROM:<path> params" (RFC 5321 §4.1.1.2). */
export function parseMailFrom(arg: string, opts: ParseOptions = {}): MailFrom {
  const m = /^FROM:/i.exec(arg);
  if (!m) fail(C501Syntax, 'Syntax: MAIL FROM:<address>');
  const { path, params: raw } = splitPath(arg.slice(5));
  // SMTPUTF8 decides whether the path may be UTF-8, so look at the parameters first.
  const params = parseParams(raw, !!opts.smtputf8 && raw.some((p) => p.toUpperCase() === 'SMTPUTF8'));
  const smtputf8 = params.has('SMTPUTF8');
  const out: MailFrom = { sender: '', size: null, body: null, smtputf8, ret: null, envid: null, auth: null };
  for (const [key, value] of params) {
    switch (key) {
      case 'SIZE':
        // RFC 1870 §6: size-value = 1*20DIGIT
        if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) fail(C501Syntax, 'Bad SIZE parameter');
        out.size = Number(value);
        break;
      case 'BODY': {
        const v = typeof value === 'string' ? value.toUpperCase() : '';
        if (v === '7BIT' || v === '8BITMIME' || (v === 'BINARYMIME' && opts.binarymime)) out.body = v;
        else fail(C501Syntax, 'Bad BODY parameter');
        break;
      }
      case 'SMTPUTF8':
        if (!opts.smtputf8) fail(C555UnsupportedParam, 'SMTPUTF8 not supported');
        if (value !== true) fail(C501Syntax, 'SMTPUTF8 takes no value');
        break;
      case 'RET': {
        if (!opts.dsn) fail(C555UnsupportedParam, 'RET not supported');
        const v = typeof value === 'string' ? value.toUpperCase() : '';
        if (v !== 'FULL' && v !== 'HDRS') fail(C501Syntax, 'Bad RET parameter');
        out.ret = v as 'FULL' | 'HDRS';
        break;
      }
      case 'ENVID': {
        if (!opts.dsn) fail(C555UnsupportedParam, 'ENVID not supported');
        const d = typeof value === 'string' ? decodeXtext(value) : null;
        // RFC 3461 §4.4: at most 100 characters
        if (d === null || value === true || (value as string).length > 100) fail(C501Syntax, 'Bad ENVID parameter');
        out.envid = d;
        break;
      }
      case 'AUTH': {
        const d = typeof value === 'string' ? decodeXtext(value) : null;
        if (d === null) fail(C501Syntax, 'Bad AUTH parameter');
        out.auth = d;
        break;
      }
      default:
        fail(C555UnsupportedParam, `Unsupported parameter: ${clipText(key)}`);
    }
  }
  if (path !== '') out.sender = parseMailbox(path, smtputf8);
  return out;
}

/** "TO:<path> params" (RFC 5321 §4.1.1.3). `<Postmaster>` without a domain is returned as "Postmaster". */
export function parseRcptTo(arg: string, opts: ParseOptions & { utf8?: boolean } = {}): RcptTo {
  const m = /^TO:/i.exec(arg);
  if (!m) fail(C501Syntax, 'Syntax: RCPT TO:<address>');
  const { path, params: raw } = splitPath(arg.slice(3));
  const utf8 = !!opts.utf8;
  const params = parseParams(raw, utf8);
  const out: RcptTo = { recipient: '', notify: null, orcpt: null };
  for (const [key, value] of params) {
    switch (key) {
      case 'NOTIFY': {
        if (!opts.dsn) fail(C555UnsupportedParam, 'NOTIFY not supported');
        const list = typeof value === 'string' ? value.toUpperCase().split(',') : [];
        const ok =
          list.length > 0 &&
          new Set(list).size === list.length &&
          ((list.length === 1 && list[0] === 'NEVER') || list.every((v) => v === 'SUCCESS' || v === 'FAILURE' || v === 'DELAY'));
        if (!ok) fail(C501Syntax, 'Bad NOTIFY parameter');
        out.notify = list;
        break;
      }
      case 'ORCPT': {
        if (!opts.dsn) fail(C555UnsupportedParam, 'ORCPT not supported');
        // RFC 3461 §4.2: addr-type ";" xtext
        const v = typeof value === 'string' ? value : '';
        const semi = v.indexOf(';');
        const type = v.slice(0, semi);
        const addr = semi > 0 ? decodeXtext(v.slice(semi + 1)) : null;
        if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(type) || addr === null || addr === '') fail(C501Syntax, 'Bad ORCPT parameter');
        out.orcpt = `${type.toLowerCase()};${addr}`;
        break;
      }
      default:
        fail(C555UnsupportedParam, `Unsupported parameter: ${clipText(key)}`);
    }
  }
  if (path === '') fail(C501BadAddress, 'Empty recipient');
  // RFC 5321 §4.1.1.3: "Postmaster" without a domain must be accepted.
  if (/^postmaster$/i.test(path)) out.recipient = 'Postmaster';
  else out.recipient = parseMailbox(path, utf8);
  return out;
}

/** "BDAT n [LAST]" (RFC 3030 §2). */
export function parseBdat(arg: string): { size: number; last: boolean } {
  const m = /^(\d{1,15})(?:[ \t]+(LAST))?$/i.exec(arg.trim());
  if (!m) fail(C501Syntax, 'Syntax: BDAT size [LAST]');
  return { size: Number(m![1]), last: !!m![2] };
}
