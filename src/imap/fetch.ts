// FETCH data items (RFC 3501 §6.4.5, §7.4.2; RFC 3516 BINARY; RFC 7162 MODSEQ): parsing the
// item list, and producing one message's response from its stored row and metadata.
//
// Offsets: MessageMeta offsets are blob offsets; a client sees `headerPrefix ‖ blob`, so every
// offset is shifted by the prefix length and the top-level HEADER includes the prefix.
// Bodies stream (messageChunks): a FETCH of BODY[] never holds a whole message in memory.
import { messageChunks } from '../mail/mailbox.js';
import { headerFields } from '../mail/message.js';
import { decodeTransfer } from '../mail/mime/body.js';
import type { MessageMeta } from '../mail/meta.js';
import { findPart, sectionRange } from '../mail/section.js';
import type { BlobStore, StoredMessage } from '../store/store.js';
import { formatBodyStructure, formatEnvelope } from './body.js';
import { Args, ParseError } from './wire/parser.js';
import { formatInternalDate, list } from './wire/compiler.js';

export type SimpleItem = 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ';

export interface SectionItem {
  kind: 'section';
  /** BODY (also RFC822*), BINARY, BINARY.SIZE */
  type: 'BODY' | 'BINARY' | 'BINARY.SIZE';
  peek: boolean;
  path: number[];
  spec: '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
  fields: string[];
  partial: { start: number; length: number } | null;
  /** The name in the response, e.g. "BODY[HEADER.FIELDS (FROM)]", "RFC822.HEADER". */
  label: string;
}

export type FetchItem = { kind: 'simple'; name: SimpleItem } | SectionItem;

export interface FetchRequest {
  items: FetchItem[];
  changedSince: number | null;
  vanished: boolean;
}

const MACROS: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SIMPLE = new Set<string>(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ']);

/** Parses one fetch-att from its atom text. */
export function parseFetchAtt(atom: string): FetchItem {
  const up = atom.toUpperCase();
  if (SIMPLE.has(up)) return { kind: 'simple', name: up as SimpleItem };
  const section = (type: SectionItem['type'], peek: boolean, spec: SectionItem['spec'], label: string): SectionItem => ({ kind: 'section', type, peek, path: [], spec, fields: [], partial: null, label });
  if (up === 'RFC822') return section('BODY', false, '', 'RFC822');
  if (up === 'RFC822.HEADER') return section('BODY', true, 'HEADER', 'RFC822.HEADER');
  if (up === 'RFC822.TEXT') return section('BODY', false, 'TEXT', 'RFC822.TEXT');
  const m = /^(BODY\.PEEK|BODY|BINARY\.PEEK|BINARY|BINARY\.SIZE)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?$/i.exec(atom);
  if (!m) throw new ParseError(`unknown fetch item ${atom.slice(0, 40)}`);
  const kind = m[1]!.toUpperCase();
  const type: SectionItem['type'] = kind.startsWith('BODY') ? 'BODY' : kind === 'BINARY.SIZE' ? 'BINARY.SIZE' : 'BINARY';
  const s = /^((?:[1-9]\d*)(?:\.[1-9]\d*)*)?(?:(^|\.)(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME))?(?: (\(.*\)))?$/i.exec(m[2]!);
  if (!s) throw new ParseError(`bad section [${m[2]!.slice(0, 40)}]`);
  const path = s[1] ? s[1].split('.').map(Number) : [];
  const spec = (s[3]?.toUpperCase() ?? '') as SectionItem['spec'];
  if (s[3] && s[1] && s[2] !== '.') throw new ParseError('bad section');
  if (type !== 'BODY' && spec) throw new ParseError('BINARY takes part numbers only');
  if (spec === 'MIME' && path.length === 0) throw new ParseError('MIME needs a part number');
  let fields: string[] = [];
  if (spec === 'HEADER.FIELDS' || spec === 'HEADER.FIELDS.NOT') {
    if (!s[4]) throw new ParseError('HEADER.FIELDS needs a list of names');
    const a = new Args(s[4]);
    fields = a.list(() => a.astring());
    a.end();
    if (!fields.length) throw new ParseError('empty header list');
  } else if (s[4]) throw new ParseError('bad section');
  let partial: SectionItem['partial'] = null;
  if (m[3] !== undefined) {
    if (type === 'BINARY.SIZE') throw new ParseError('BINARY.SIZE takes no partial');
    const start = Number(m[3]);
    const length = m[4] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[4]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length)) throw new ParseError('bad partial');
    partial = { start, length };
  }
  const sectionText = [path.join('.'), spec].filter(Boolean).join('.') + (fields.length ? ` (${fields.map((f) => f.toUpperCase()).join(' ')})` : '');
  const base = type === 'BINARY.SIZE' ? 'BINARY.SIZE' : type;
  const label = `${base}[${sectionText}]${partial ? `<${partial.start}>` : ''}`;
  return { kind: 'section', type, peek: kind.endsWith('.PEEK'), path, spec, fields, partial, label };
}

/** FETCH arguments after the sequence set: items and modifiers (RFC 7162 CHANGEDSINCE). */
export function parseFetchItems(a: Args): FetchRequest {
  let items: FetchItem[];
  if (a.peek() === '(') {
    items = a.list(() => parseFetchAtt(a.fetchAtom()));
    if (!items.length) throw new ParseError('empty fetch list');
  } else {
    const atom = a.fetchAtom();
    const macro = MACROS[atom.toUpperCase()];
    items = macro ? macro.map((name) => ({ kind: 'simple', name })) : [parseFetchAtt(atom)];
  }
  let changedSince: number | null = null;
  let vanished = false;
  if (a.maybeSp()) {
    a.list(() => {
      const name = a.atom().toUpperCase();
      if (name === 'CHANGEDSINCE') {
        a.sp();
        changedSince = a.number();
      } else if (name === 'VANISHED') vanished = true;
      else throw new ParseError(`unknown FETCH modifier ${name}`);
      return name;
    });
  }
  a.end();
  return { items, changedSince, vanished };
}

/** Does fetching these items set \Seen (RFC 3501 §6.4.5: BODY[...] without .PEEK, RFC822, RFC822.TEXT)? */
export function setsSeen(items: readonly FetchItem[]): boolean {
  return items.some((i) => i.kind === 'section' && !i.peek && i.type !== 'BINARY.SIZE');
}

/** Do these items need the stored row (meta, blob) rather than the session's summary? */
export function needsStored(items: readonly FetchItem[]): boolean {
  return items.some((i) => i.kind === 'section' || (i.kind === 'simple' && (i.name === 'ENVELOPE' || i.name === 'BODY' || i.name === 'BODYSTRUCTURE')));
}

/** A chunk of a response: text or octets, or a source of octets of known size (a literal). */
export type Out = string | Buffer | { size: number; chunks: AsyncIterable<Buffer>; binary?: boolean };

/** Client-coordinate octet range of a section; null when it does not exist. */
function clientRange(m: StoredMessage, meta: MessageMeta, path: number[], spec: 'HEADER' | 'TEXT' | 'MIME' | ''): { start: number; end: number } | null {
  const p = m.headerPrefix.length;
  if (path.length === 0) {
    if (spec === '') return { start: 0, end: m.size };
    if (spec === 'HEADER') return { start: 0, end: p + meta.headerEnd };
    if (spec === 'TEXT') return { start: p + meta.headerEnd, end: m.size };
    return null;
  }
  const r = sectionRange(meta, path, spec);
  return r ? { start: r.start + p, end: r.end + p } : null;
}

async function readRange(blobs: BlobStore, m: StoredMessage, start: number, end: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of messageChunks(blobs, m, start, end)) parts.push(c);
  return Buffer.concat(parts);
}

/** The value of a section item: a literal (streamed or in memory) or NIL. */
export async function sectionValue(blobs: BlobStore, m: StoredMessage, meta: MessageMeta, it: SectionItem): Promise<Out> {
  let bytes: Buffer | null = null;
  let range: { start: number; end: number } | null = null;
  let binary = false;
  if (it.spec === 'HEADER.FIELDS' || it.spec === 'HEADER.FIELDS.NOT') {
    const r = clientRange(m, meta, it.path, 'HEADER');
    if (!r) return 'NIL';
    bytes = headerFields(await readRange(blobs, m, r.start, r.end), it.fields, it.spec === 'HEADER.FIELDS.NOT');
  } else if (it.type === 'BODY' || it.path.length === 0) {
    range = clientRange(m, meta, it.path, it.spec);
    if (!range) return 'NIL';
  } else {
    // RFC 3516 §4.2: BINARY[part] is the part's content with its transfer encoding removed.
    const part = findPart(meta, it.path);
    if (!part || part.type === 'multipart') return 'NIL';
    const p = m.headerPrefix.length;
    bytes = decodeTransfer(await readRange(blobs, m, part.bodyStart + p, part.bodyEnd + p), part.encoding);
    binary = bytes.includes(0);
  }
  if (it.type === 'BINARY.SIZE') return String(bytes ? bytes.length : range!.end - range!.start);
  if (it.partial) {
    const { start, length } = it.partial;
    if (bytes) bytes = bytes.subarray(start, Math.min(bytes.length, start + length));
    else {
      const s = Math.min(range!.end, range!.start + start);
      range = { start: s, end: Math.min(range!.end, s + Math.min(length, range!.end - s)) };
    }
  }
  if (bytes) return { size: bytes.length, chunks: single(bytes), binary };
  const r = range!;
  return { size: r.end - r.start, chunks: messageChunks(blobs, m, r.start, r.end) };
}

async function* single(b: Buffer): AsyncGenerator<Buffer> {
  if (b.length) yield b;
}

export interface FetchContext {
  seq: number;
  uid: number;
  flags: readonly string[];
  modseq: number;
  size: number;
  internalDate: Date;
  stored: StoredMessage | null;
  utf8: boolean;
  blobs: BlobStore;
  /** ENVELOPE already formatted (src/imap/cache.ts); else formatted from stored.meta. */
  envelope?: string;
}

/** One simple item's "NAME value". */
function simpleValue(name: SimpleItem, c: FetchContext, meta: MessageMeta | null): string {
  switch (name) {
    case 'UID':
      return `UID ${c.uid}`;
    case 'FLAGS':
      return `FLAGS ${list([...c.flags])}`;
    case 'INTERNALDATE':
      return `INTERNALDATE ${formatInternalDate(c.internalDate)}`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${c.size}`;
    case 'MODSEQ':
      return `MODSEQ (${c.modseq})`;
    case 'ENVELOPE':
      return `ENVELOPE ${c.envelope ?? formatEnvelope(meta!.envelope, c.utf8)}`;
    case 'BODY':
      return `BODY ${formatBodyStructure(meta!.body, false, c.utf8)}`;
    case 'BODYSTRUCTURE':
      return `BODYSTRUCTURE ${formatBodyStructure(meta!.body, true, c.utf8)}`;
  }
}

/**
 * The "(...)" contents of one message's FETCH response when every item is simple (no section):
 * one string, computed synchronously (a 10,000-message FETCH of envelopes makes no promise per
 * message). Null when some item is a section.
 */
export function simpleFetchText(items: readonly FetchItem[], c: FetchContext): string | null {
  const meta = c.stored ? (c.stored.meta as MessageMeta) : null;
  let out = '';
  const done = new Set<string>();
  for (const it of items) {
    if (it.kind !== 'simple') return null;
    if (done.has(it.name)) continue;
    done.add(it.name);
    out += (out ? ' ' : '') + simpleValue(it.name, c, meta);
  }
  return out;
}

/** The "(...)" of one message's FETCH response, as a list of outputs. */
export async function fetchValues(items: readonly FetchItem[], c: FetchContext): Promise<Out[]> {
  const out: Out[] = [];
  const meta = c.stored ? (c.stored.meta as MessageMeta) : null;
  let first = true;
  const add = (...o: Out[]) => {
    if (!first) out.push(' ');
    first = false;
    out.push(...o);
  };
  const done = new Set<string>();
  for (const it of items) {
    if (it.kind === 'simple') {
      if (done.has(it.name)) continue;
      done.add(it.name);
      add(simpleValue(it.name, c, meta));
    } else {
      const v = await sectionValue(c.blobs, c.stored!, meta!, it);
      add(`${it.label} `, v);
    }
  }
  return out;
}
