// SEARCH (RFC 3501 §6.4.4): the search program as a tree, parsed from the arguments, and its
// evaluation against one message. Flag, size, date, sequence and UID keys need only the
// session's summary; header keys read the stored header; BODY/TEXT decode the text parts
// (transfer encoding and charset, src/mail/mime) and match case-insensitively.
import { messageChunks } from '../mail/mailbox.js';
import { parseHeaderFields, unfold } from '../mail/message.js';
import { decodeBody } from '../mail/mime/body.js';
import { decodeWords } from '../mail/mime/encoded-words.js';
import type { BodyPart, MessageMeta } from '../mail/meta.js';
import type { BlobStore, StoredMessage } from '../store/store.js';
import { parseImapDate } from './wire/compiler.js';
import { Args, ParseError, resolveSet } from './wire/parser.js';
import type { SeqSet } from './wire/parser.js';

export type SearchKey =
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'all' }
  | { op: 'none' }
  | { op: 'flag'; flag: string; has: boolean }
  | { op: 'new' }
  | { op: 'header'; name: string; value: string }
  | { op: 'body'; value: string; withHeader: boolean }
  | { op: 'date'; sent: boolean; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'size'; larger: boolean; n: number }
  | { op: 'seq'; set: SeqSet }
  | { op: 'uid'; set: SeqSet }
  | { op: 'modseq'; n: number };

/** Deepest nesting of NOT/OR/() accepted (a hostile program must not exhaust the stack). */
const MAX_DEPTH = 40;

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  RECENT: ['\\Recent', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const DAY = 86_400_000;

export interface SearchProgram {
  key: SearchKey;
  /** ESEARCH return options (RFC 4731), null for a plain SEARCH. */
  returnOpts: string[] | null;
}

/** Parses "[RETURN (...)] [CHARSET x] key..." — throws ParseError, or BadCharset. */
export function parseSearch(a: Args): SearchProgram {
  let returnOpts: string[] | null = null;
  if (a.accept('RETURN ')) {
    returnOpts = a.list(() => a.atom().toUpperCase());
    for (const o of returnOpts) if (!['MIN', 'MAX', 'COUNT', 'ALL', 'SAVE'].includes(o)) throw new ParseError(`unknown RETURN option ${o}`);
    if (!returnOpts.length) returnOpts = ['ALL'];
    a.sp();
  }
  if (a.accept('CHARSET ')) {
    const cs = a.astring().toUpperCase();
    if (cs !== 'UTF-8' && cs !== 'US-ASCII') throw new BadCharset(cs);
    a.sp();
  }
  const keys: SearchKey[] = [];
  for (;;) {
    keys.push(parseKey(a, 0));
    if (a.atEnd) break;
    a.sp();
  }
  return { key: keys.length === 1 ? keys[0]! : { op: 'and', keys }, returnOpts };
}

export class BadCharset extends Error {
  constructor(readonly charset: string) {
    super(`unsupported charset ${charset}`);
  }
}

function date(a: Args): number {
  const s = a.peek() === '"' ? a.quoted() : a.atom();
  const d = parseImapDate(s, false);
  if (!d) throw new ParseError(`bad date ${s.slice(0, 20)}`);
  return d.getTime();
}

function parseKey(a: Args, depth: number): SearchKey {
  if (depth > MAX_DEPTH) throw new ParseError('search program nested too deeply');
  if (a.peek() === '(') {
    const keys = a.list(() => parseKey(a, depth + 1));
    if (!keys.length) throw new ParseError('empty search key list');
    return { op: 'and', keys };
  }
  if (/[0-9*$]/.test(a.peek())) return { op: 'seq', set: a.seqSet() };
  const word = a.atom().toUpperCase();
  const flag = FLAG_KEYS[word];
  if (flag) return { op: 'flag', flag: flag[0], has: flag[1] };
  const arg = (): string => {
    a.sp();
    return a.astring();
  };
  switch (word) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      // RFC 3501: RECENT UNSEEN. No session here ever has \Recent messages.
      return { op: 'new' };
    case 'OLD':
      return { op: 'all' };
    case 'KEYWORD':
    case 'UNKEYWORD': {
      a.sp();
      return { op: 'flag', flag: a.atom(), has: word === 'KEYWORD' };
    }
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'TO':
    case 'SUBJECT':
      return { op: 'header', name: word.toLowerCase(), value: arg() };
    case 'HEADER': {
      const name = arg();
      return { op: 'header', name: name.toLowerCase(), value: arg() };
    }
    case 'BODY':
      return { op: 'body', value: arg(), withHeader: false };
    case 'TEXT':
      return { op: 'body', value: arg(), withHeader: true };
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE': {
      a.sp();
      const sent = word.startsWith('SENT');
      return { op: 'date', sent, cmp: word.slice(sent ? 4 : 0).toLowerCase() as 'before' | 'on' | 'since', day: date(a) };
    }
    case 'LARGER':
    case 'SMALLER':
      a.sp();
      return { op: 'size', larger: word === 'LARGER', n: a.number() };
    case 'NOT':
      a.sp();
      return { op: 'not', key: parseKey(a, depth + 1) };
    case 'OR': {
      a.sp();
      const x = parseKey(a, depth + 1);
      a.sp();
      return { op: 'or', a: x, b: parseKey(a, depth + 1) };
    }
    case 'UID':
      a.sp();
      return { op: 'uid', set: a.seqSet() };
    case 'MODSEQ': {
      // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer
      a.sp();
      if (a.peek() === '"') {
        a.quoted();
        a.sp();
        a.atom();
        a.sp();
      }
      return { op: 'modseq', n: a.number() };
    }
    default:
      throw new ParseError(`unknown search key ${word.slice(0, 30)}`);
  }
}

/** What a key needs beyond the summary. */
export function searchNeeds(k: SearchKey): 'summary' | 'stored' {
  switch (k.op) {
    case 'and':
      return k.keys.some((x) => searchNeeds(x) === 'stored') ? 'stored' : 'summary';
    case 'or':
      return searchNeeds(k.a) === 'stored' || searchNeeds(k.b) === 'stored' ? 'stored' : 'summary';
    case 'not':
      return searchNeeds(k.key);
    case 'header':
    case 'body':
      return 'stored';
    case 'date':
      return k.sent ? 'stored' : 'summary';
    default:
      return 'summary';
  }
}

export interface SearchSubject {
  seq: number;
  uid: number;
  flags: readonly string[];
  size: number;
  internalDate: Date;
  modseq: number;
  stored: StoredMessage | null;
}

export interface SearchEnv {
  blobs: BlobStore;
  maxSeq: number;
  maxUid: number;
  /** The saved result ($, RFC 5182) as UIDs. */
  saved: readonly number[];
}

/**
 * Can every key needing the stored message be answered from the decoded values of these header
 * fields alone (no BODY/TEXT, no SENT* date, no other header)?
 */
export function answerableFromFields(k: SearchKey, fields: ReadonlySet<string>): boolean {
  switch (k.op) {
    case 'and':
      return k.keys.every((x) => answerableFromFields(x, fields));
    case 'or':
      return answerableFromFields(k.a, fields) && answerableFromFields(k.b, fields);
    case 'not':
      return answerableFromFields(k.key, fields);
    case 'header':
      return fields.has(k.name);
    case 'body':
      return false;
    case 'date':
      return !k.sent;
    default:
      return true;
  }
}

/** Per-message cache of decoded text, shared by the keys of one evaluation. */
export interface Cache {
  header?: { name: string; value: string }[];
  text?: string;
}

function dayOf(ms: number): number {
  return Math.floor(ms / DAY) * DAY;
}

function cmpDate(ms: number | null, cmp: 'before' | 'on' | 'since', day: number): boolean {
  if (ms === null) return false;
  const d = dayOf(ms);
  return cmp === 'before' ? d < day : cmp === 'on' ? d === day : d >= day;
}

async function readAll(blobs: BlobStore, m: StoredMessage, start: number, end: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of messageChunks(blobs, m, start, end)) parts.push(c);
  return Buffer.concat(parts);
}

/** The message's header fields, names and decoded values lower-cased (kept in cache). */
export async function headerOf(env: SearchEnv, m: StoredMessage, cache: Cache): Promise<{ name: string; value: string }[]> {
  if (!cache.header) {
    const meta = m.meta as MessageMeta;
    const block = await readAll(env.blobs, m, 0, m.headerPrefix.length + meta.headerEnd);
    cache.header = parseHeaderFields(block).map((f) => ({ name: f.name.toLowerCase(), value: decodeWords(unfold(f.value)).toLowerCase() }));
  }
  return cache.header;
}

function textParts(p: BodyPart, out: BodyPart[]): void {
  if (p.parts) for (const c of p.parts) textParts(c, out);
  else if (p.message) textParts(p.message.body, out);
  else if (p.type === 'text') out.push(p);
}

async function bodyText(env: SearchEnv, m: StoredMessage, cache: Cache): Promise<string> {
  if (cache.text === undefined) {
    const meta = m.meta as MessageMeta;
    const parts: BodyPart[] = [];
    textParts(meta.body, parts);
    const p = m.headerPrefix.length;
    const texts: string[] = [];
    for (const part of parts) {
      const raw = await readAll(env.blobs, m, part.bodyStart + p, part.bodyEnd + p);
      texts.push(decodeBody(raw, part.encoding, part.params.charset));
    }
    cache.text = texts.join('\n').toLowerCase();
  }
  return cache.text;
}

export async function matches(k: SearchKey, s: SearchSubject, env: SearchEnv, cache: Cache = {}): Promise<boolean> {
  switch (k.op) {
    case 'and':
      for (const x of k.keys) if (!(await matches(x, s, env, cache))) return false;
      return true;
    case 'or':
      return (await matches(k.a, s, env, cache)) || (await matches(k.b, s, env, cache));
    case 'not':
      return !(await matches(k.key, s, env, cache));
    case 'all':
      return true;
    case 'none':
      return false;
    case 'new':
      return false;
    case 'flag': {
      const has = s.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase());
      return has === k.has;
    }
    case 'size':
      return k.larger ? s.size > k.n : s.size < k.n;
    case 'modseq':
      return s.modseq >= k.n;
    case 'seq':
      return k.set.saved ? env.saved.includes(s.uid) : resolveSet(k.set, [s.seq], env.maxSeq).length > 0;
    case 'uid':
      return k.set.saved ? env.saved.includes(s.uid) : resolveSet(k.set, [s.uid], env.maxUid).length > 0;
    case 'date':
      if (!k.sent) return cmpDate(s.internalDate.getTime(), k.cmp, k.day);
      return cmpDate(s.stored ? (s.stored.meta as MessageMeta).dateMs : null, k.cmp, k.day);
    case 'header': {
      // cache.header may come from the session's MessageCache (answerableFromFields).
      if (!cache.header && !s.stored) return false;
      const v = k.value.toLowerCase();
      const fields = cache.header ?? (await headerOf(env, s.stored!, cache));
      // RFC 3501 §6.4.4 HEADER: an empty string matches every message that has the field.
      return fields.some((f) => f.name === k.name && f.value.includes(v));
    }
    case 'body': {
      if (!s.stored) return false;
      const v = k.value.toLowerCase();
      if (k.withHeader && (await headerOf(env, s.stored, cache)).some((f) => f.value.includes(v) || f.name.includes(v))) return true;
      return (await bodyText(env, s.stored, cache)).includes(v);
    }
  }
}
