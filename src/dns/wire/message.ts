// DNS messages on the wire (RFC 1035 §4.1): encode / decode / encodingLength, EDNS0 OPT
// (RFC 6891 §6) and UDP truncation (RFC 1035 §4.2.1, RFC 2181 §9).
//
// Invariants
//  - decode() either returns a complete Message or throws DnsWireError: every count is honoured,
//    every RDATA consumes exactly RDLENGTH, no bytes may follow the last record, at most one OPT
//    record, only in the additional section, owned by the root (RFC 6891 §6.1.1).
//  - encode() compresses names (suffix table) and never writes more than 65535 bytes. With
//    `maxSize`, whole records are dropped from the end until the message fits: dropping answer or
//    authority records sets TC; dropping additional-section data does not (RFC 2181 §9) and
//    drops whole RRsets. The OPT record is always kept (RFC 6891 §7).
//  - TTLs with the top bit set decode as 0 (RFC 2181 §8).

import { DnsWireError } from './errors.js';
import { Writer, readName, writeName } from './name.js';
import type { CompressionTable } from './name.js';
import { classCode, className, readRData, typeCode, typeName, writeRData } from './records.js';
import { canonicalName } from './name.js';
import type { Edns, EdnsOption, Flags, Message, Question, ResourceRecord } from './types.js';

export const HEADER_SIZE = 12;
export const MAX_MESSAGE = 65535;
const OPT = 41;

export interface EncodeOptions {
  /** Largest message to produce (the UDP payload size); omitted = no limit but 65535. */
  maxSize?: number;
  /** Compress names (default true). */
  compress?: boolean;
}

export interface EncodeResult {
  buf: Buffer;
  /** Records were dropped (answer/authority: TC was set). */
  truncated: boolean;
}

function flagsWord(f: Flags, tc: boolean): number {
  if (!Number.isInteger(f.opcode) || f.opcode < 0 || f.opcode > 15) throw new DnsWireError(`opcode ${f.opcode} out of range`);
  if (!Number.isInteger(f.rcode) || f.rcode < 0 || f.rcode > 4095) throw new DnsWireError(`rcode ${f.rcode} out of range`);
  return (f.qr ? 0x8000 : 0) | (f.opcode << 11) | (f.aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (f.rd ? 0x0100 : 0) |
    (f.ra ? 0x0080 : 0) | (f.ad ? 0x0020 : 0) | (f.cd ? 0x0010 : 0) | (f.rcode & 0xf);
}

function writeRecord(w: Writer, rr: ResourceRecord, table: CompressionTable | undefined): void {
  const type = typeCode(rr.type);
  if (type === OPT) throw new DnsWireError('OPT must be given as Message.edns, not as a record');
  if (!Number.isInteger(rr.ttl) || rr.ttl < 0 || rr.ttl > 0xffffffff) throw new DnsWireError(`TTL ${rr.ttl} out of range for ${rr.name}`);
  writeName(w, rr.name, table);
  w.u16(type);
  w.u16(classCode(rr.class));
  w.u32(rr.ttl);
  const lenAt = w.pos;
  w.u16(0);
  writeRData(w, rr.type, rr.data, table);
  const rdlen = w.pos - lenAt - 2;
  if (rdlen > 0xffff) throw new DnsWireError(`RDATA of ${rr.name} ${rr.type} longer than 65535 bytes`);
  w.buf.writeUInt16BE(rdlen, lenAt);
}

function writeOpt(w: Writer, edns: Edns, rcode: number): void {
  if (!Number.isInteger(edns.udpSize) || edns.udpSize < 0 || edns.udpSize > 0xffff) throw new DnsWireError('EDNS udpSize out of range');
  if (!Number.isInteger(edns.version) || edns.version < 0 || edns.version > 255) throw new DnsWireError('EDNS version out of range');
  w.u8(0); // root owner
  w.u16(OPT);
  w.u16(edns.udpSize); // RFC 6891 §6.1.2: CLASS = requestor's UDP payload size
  // TTL = extended RCODE (8) | VERSION (8) | DO (1) | Z (15)
  w.u8((rcode >> 4) & 0xff);
  w.u8(edns.version);
  w.u16(edns.do ? 0x8000 : 0);
  let len = 0;
  for (const o of edns.options) len += 4 + o.data.length;
  if (len > 0xffff) throw new DnsWireError('EDNS options longer than 65535 bytes');
  w.u16(len);
  for (const o of edns.options) {
    if (!Number.isInteger(o.code) || o.code < 0 || o.code > 0xffff) throw new DnsWireError('EDNS option code out of range');
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
}

function rrsetKey(rr: ResourceRecord): string {
  return `${canonicalName(rr.name)} ${rr.type.toUpperCase()} ${rr.class.toUpperCase()}`;
}

export function encode(msg: Message, opts: EncodeOptions = {}): EncodeResult {
  const { flags } = msg;
  if (!Number.isInteger(msg.id) || msg.id < 0 || msg.id > 0xffff) throw new DnsWireError(`message id ${msg.id} out of range`);
  if (flags.rcode > 15 && !msg.edns) throw new DnsWireError(`rcode ${flags.rcode} needs EDNS`);
  const table: CompressionTable | undefined = opts.compress === false ? undefined : new Map();
  const w = new Writer(512);
  w.pos = HEADER_SIZE;
  w.ensure(0);
  for (const q of msg.questions) {
    writeName(w, q.name, table);
    w.u16(typeCode(q.type));
    w.u16(classCode(q.class));
  }
  const sections = [msg.answers, msg.authorities, msg.additionals];
  // ends[i] = offset after record i (in answer, authority, additional order).
  const all: ResourceRecord[] = [];
  const section: number[] = [];
  const ends: number[] = [];
  const start = w.pos;
  sections.forEach((records, s) => {
    for (const rr of records) {
      writeRecord(w, rr, table);
      all.push(rr);
      section.push(s);
      ends.push(w.pos);
    }
  });
  let optLen = 0;
  if (msg.edns) {
    optLen = 11;
    for (const o of msg.edns.options) optLen += 4 + o.data.length;
  }
  const limit = Math.min(opts.maxSize ?? MAX_MESSAGE, MAX_MESSAGE);
  let keep = all.length;
  let tc = flags.tc;
  let truncated = false;
  if (w.pos + optLen > limit) {
    truncated = true;
    while (keep > 0 && (keep === 0 ? start : ends[keep - 1]!) + optLen > limit) keep--;
    // RFC 2181 §9: if only additional data is lost, drop its partial RRset and leave TC clear;
    // if required data (answer/authority) is lost, set TC.
    if (keep < all.length && section[keep] === 2) {
      const cut = all[keep]!;
      const key = rrsetKey(cut);
      while (keep > 0 && section[keep - 1] === 2 && rrsetKey(all[keep - 1]!) === key) keep--;
    } else {
      tc = true;
    }
  }
  const bodyEnd = keep === 0 ? start : ends[keep - 1]!;
  w.pos = bodyEnd;
  if (msg.edns) writeOpt(w, msg.edns, flags.rcode);
  if (w.pos > MAX_MESSAGE) throw new DnsWireError(`message longer than ${MAX_MESSAGE} bytes`);
  const counts = [0, 0, 0];
  for (let i = 0; i < keep; i++) counts[section[i]!]!++;
  const buf = w.buf;
  buf.writeUInt16BE(msg.id, 0);
  buf.writeUInt16BE(flagsWord(flags, tc), 2);
  buf.writeUInt16BE(msg.questions.length, 4);
  buf.writeUInt16BE(counts[0]!, 6);
  buf.writeUInt16BE(counts[1]!, 8);
  buf.writeUInt16BE(counts[2]! + (msg.edns ? 1 : 0), 10);
  return { buf: Buffer.from(w.result()), truncated };
}

/** Length of the encoded message (no size limit). */
export function encodingLength(msg: Message): number {
  return encode(msg).buf.length;
}

export function decode(input: Uint8Array): Message {
  const buf = input;
  if (buf.length < HEADER_SIZE) throw new DnsWireError('message shorter than its 12-byte header');
  if (buf.length > MAX_MESSAGE) throw new DnsWireError('message longer than 65535 bytes');
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const id = view.readUInt16BE(0);
  const fw = view.readUInt16BE(2);
  const qd = view.readUInt16BE(4);
  const an = view.readUInt16BE(6);
  const ns = view.readUInt16BE(8);
  const ar = view.readUInt16BE(10);
  const flags: Flags = {
    qr: (fw & 0x8000) !== 0,
    opcode: (fw >> 11) & 0xf,
    aa: (fw & 0x0400) !== 0,
    tc: (fw & 0x0200) !== 0,
    rd: (fw & 0x0100) !== 0,
    ra: (fw & 0x0080) !== 0,
    ad: (fw & 0x0020) !== 0,
    cd: (fw & 0x0010) !== 0,
    rcode: fw & 0xf,
  };
  let pos = HEADER_SIZE;
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(buf, pos);
    pos = n.next;
    if (pos + 4 > buf.length) throw new DnsWireError('question runs past the end of the message');
    questions.push({ name: n.name, type: typeName(view.readUInt16BE(pos)), class: className(view.readUInt16BE(pos + 2)) });
    pos += 4;
  }
  let edns: Edns | undefined;
  const readSection = (count: number, sectionNo: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < count; i++) {
      const ownerAt = pos;
      const n = readName(buf, pos);
      pos = n.next;
      if (pos + 10 > buf.length) throw new DnsWireError('record header runs past the end of the message');
      const type = view.readUInt16BE(pos);
      const klass = view.readUInt16BE(pos + 2);
      const ttlRaw = view.readUInt32BE(pos + 4);
      const rdlen = view.readUInt16BE(pos + 8);
      pos += 10;
      if (pos + rdlen > buf.length) throw new DnsWireError('RDATA runs past the end of the message');
      if (type === OPT) {
        // RFC 6891 §6.1.1: one OPT, in the additional section, owner root.
        if (sectionNo !== 2) throw new DnsWireError('OPT record outside the additional section');
        if (edns) throw new DnsWireError('more than one OPT record');
        if (buf[ownerAt] !== 0) throw new DnsWireError('OPT owner is not the root');
        edns = {
          udpSize: klass,
          extendedRcode: ttlRaw >>> 24,
          version: (ttlRaw >>> 16) & 0xff,
          do: (ttlRaw & 0x8000) !== 0,
          options: readOptions(buf, view, pos, rdlen),
        };
        flags.rcode |= (ttlRaw >>> 24) << 4;
        pos += rdlen;
        continue;
      }
      const typeStr = typeName(type);
      // RFC 2136 §2.4.2/§2.5.2: UPDATE uses class ANY/NONE records with empty RDATA
      // ("delete an RRset", "RRset exists"); any type may then carry no RDATA.
      const data = rdlen === 0 && (klass === 255 || klass === 254) ? { rdata: new Uint8Array(0) } : readRData(buf, typeStr, pos, rdlen);
      pos += rdlen;
      // RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
      out.push({ name: n.name, type: typeStr, class: className(klass), ttl: ttlRaw > 0x7fffffff ? 0 : ttlRaw, data });
    }
    return out;
  };
  const answers = readSection(an, 0);
  const authorities = readSection(ns, 1);
  const additionals = readSection(ar, 2);
  if (pos !== buf.length) throw new DnsWireError(`${buf.length - pos} bytes after the last record`);
  const msg: Message = { id, flags, questions, answers, authorities, additionals };
  if (edns) msg.edns = edns;
  return msg;
}

function readOptions(buf: Uint8Array, view: Buffer, start: number, len: number): EdnsOption[] {
  const out: EdnsOption[] = [];
  const end = start + len;
  let p = start;
  while (p < end) {
    if (p + 4 > end) throw new DnsWireError('truncated EDNS option header');
    const code = view.readUInt16BE(p);
    const olen = view.readUInt16BE(p + 2);
    if (p + 4 + olen > end) throw new DnsWireError('EDNS option runs past its record');
    out.push({ code, data: Uint8Array.from(buf.subarray(p + 4, p + 4 + olen)) });
    p += 4 + olen;
  }
  return out;
}
