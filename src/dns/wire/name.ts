// Domain names (RFC 1035 §3.1, §4.1.4): presentation form <-> labels <-> wire, with compression.
//
// Invariants
//  - A name in the program is a presentation string; "" and "." are the root. Every name is
//    absolute: "www.hamburger.edu" and "www.hamburger.edu." are the same name. Output names
//    always end with a dot.
//  - A label is 1..63 bytes, a name is at most 255 bytes on the wire (length bytes and the root
//    byte included) (RFC 1035 §2.3.4). Anything else throws DnsWireError.
//  - Comparison is ASCII case-insensitive (RFC 4343 §3); no other byte is folded. canonicalName()
//    is the key to use in maps: lower case, escapes normalised, trailing dot.
//  - Decoding follows compression pointers only backwards, each strictly before the segment that
//    holds it, so loops and forward pointers are impossible; hops are bounded anyway.

import { DnsWireError } from './errors.js';

export const MAX_LABEL = 63;
export const MAX_NAME_WIRE = 255;
const MAX_HOPS = 128;

/** Bytes that print as themselves in a label; the specials below are backslash-escaped. */
const SPECIAL = new Set([0x2e, 0x5c, 0x22, 0x28, 0x29, 0x3b, 0x40, 0x24]); // . \ " ( ) ; @ $

/** Splits a presentation name into labels (bytes). The root gives []. */
export function nameToLabels(name: string): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  const n = name.length;
  let i = 0;
  const endLabel = (): void => {
    if (cur.length === 0) throw new DnsWireError(`empty label in name "${name}"`);
    if (cur.length > MAX_LABEL) throw new DnsWireError(`label longer than ${MAX_LABEL} bytes in name "${name}"`);
    wire += cur.length + 1;
    labels.push(Uint8Array.from(cur));
    cur = [];
  };
  while (i < n) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) { // unescaped dot ends a label
      endLabel();
      i++;
      if (i === n) break; // trailing dot: absolute
      continue;
    }
    if (c === 0x5c) {
      if (i + 1 >= n) throw new DnsWireError(`dangling backslash in name "${name}"`);
      const d1 = name.charCodeAt(i + 1);
      if (d1 >= 0x30 && d1 <= 0x39) {
        const ddd = name.slice(i + 1, i + 4);
        if (!/^[0-9]{3}$/.test(ddd)) throw new DnsWireError(`bad \\DDD escape in name "${name}"`);
        const v = Number(ddd);
        if (v > 255) throw new DnsWireError(`\\DDD escape above 255 in name "${name}"`);
        cur.push(v);
        i += 4;
      } else {
        const cp = name.codePointAt(i + 1)!;
        pushChar(cur, cp);
        i += cp > 0xffff ? 3 : 2;
      }
      continue;
    }
    const cp = name.codePointAt(i)!;
    pushChar(cur, cp);
    i += cp > 0xffff ? 2 : 1;
  }
  if (cur.length > 0) endLabel();
  if (wire > MAX_NAME_WIRE) throw new DnsWireError(`name longer than ${MAX_NAME_WIRE} bytes: "${name.slice(0, 40)}…"`);
  return labels;
}

function pushChar(cur: number[], cp: number): void {
  if (cp < 0x80) cur.push(cp);
  else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) cur.push(b);
}

/** Presentation form of one label. */
export function formatLabel(label: Uint8Array, lower = false): string {
  let s = '';
  for (let i = 0; i < label.length; i++) {
    let b = label[i]!;
    if (lower && b >= 0x41 && b <= 0x5a) b += 0x20;
    if (b > 0x20 && b < 0x7f) s += SPECIAL.has(b) ? '\\' + String.fromCharCode(b) : String.fromCharCode(b);
    else s += '\\' + String(b).padStart(3, '0');
  }
  return s;
}

/** Joins labels into an absolute presentation name ("." for none). */
export function labelsToName(labels: readonly Uint8Array[], lower = false): string {
  if (labels.length === 0) return '.';
  let s = '';
  for (const l of labels) s += formatLabel(l, lower) + '.';
  return s;
}

const SIMPLE = /^(?:[A-Za-z0-9_*-]{1,63}\.)*[A-Za-z0-9_*-]{1,63}\.?$/;

/** Lower-case, normalised, absolute form: the key for maps and comparisons. */
export function canonicalName(name: string): string {
  if (SIMPLE.test(name) && name.length + (name.endsWith('.') ? 1 : 2) <= MAX_NAME_WIRE) {
    const l = name.toLowerCase();
    return l.endsWith('.') ? l : l + '.';
  }
  return labelsToName(nameToLabels(name), true);
}

/** Same name, ignoring ASCII case. */
export function namesEqual(a: string, b: string): boolean {
  return a === b || canonicalName(a) === canonicalName(b);
}

/** Whether `child` is `parent` or below it. */
export function isSubdomain(child: string, parent: string): boolean {
  const c = canonicalName(child);
  const p = canonicalName(parent);
  if (p === '.') return true;
  if (c === p) return true;
  if (c.length <= p.length || !c.endsWith(p)) return false;
  // The character before the suffix must be an unescaped label separator.
  const at = c.length - p.length - 1;
  if (c.charCodeAt(at) !== 0x2e) return false;
  let bs = 0;
  for (let k = at - 1; k >= 0 && c.charCodeAt(k) === 0x5c; k--) bs++;
  return bs % 2 === 0;
}

/** Number of labels (root = 0). */
export function labelCount(name: string): number {
  return nameToLabels(name).length;
}

/** The name without its first label; the root's parent is undefined. */
export function parentName(name: string): string | undefined {
  const labels = nameToLabels(name);
  if (labels.length === 0) return undefined;
  return labelsToName(labels.slice(1));
}

/** `relative` under `origin` ("www" + "hamburger.edu." -> "www.hamburger.edu."). */
export function joinNames(relative: string, origin: string): string {
  return labelsToName([...nameToLabels(relative), ...nameToLabels(origin)]);
}

/** `name` relative to `origin` ("www" for "www.hamburger.edu." in "hamburger.edu."; "@" for the
 * origin itself); names outside `origin` come back absolute. */
export function relativeName(name: string, origin: string): string {
  const labels = nameToLabels(name);
  const o = nameToLabels(origin);
  if (!isSubdomain(name, origin)) return labelsToName(labels);
  if (labels.length === o.length) return '@';
  return labelsToName(labels.slice(0, labels.length - o.length)).slice(0, -1);
}

/** Wire length of the uncompressed name. */
export function nameWireLength(name: string): number {
  let n = 1;
  for (const l of nameToLabels(name)) n += l.length + 1;
  return n;
}

// --- wire -------------------------------------------------------------------------------------

/** Growable output buffer used by the encoders. */
export class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size = 512) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v & 0xff; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16BE(v & 0xffff, this.pos); this.pos += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32BE(v >>> 0, this.pos); this.pos += 4; }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  result(): Buffer { return this.buf.subarray(0, this.pos); }
}

/** Suffix table for compression: key (case-folded labels) -> offset in the message. */
export type CompressionTable = Map<string, number>;

function labelKey(l: Uint8Array): string {
  let s = String.fromCharCode(l.length);
  for (let i = 0; i < l.length; i++) {
    const b = l[i]!;
    s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
  }
  return s;
}

/**
 * Writes `name` at w.pos. With a table, reuses the longest suffix already written (RFC 1035
 * §4.1.4) and records the new suffixes; offsets above 0x3FFF cannot be pointed at.
 */
export function writeName(w: Writer, name: string, table?: CompressionTable): void {
  const labels = nameToLabels(name);
  if (!table) {
    for (const l of labels) { w.u8(l.length); w.bytes(l); }
    w.u8(0);
    return;
  }
  const keys = labels.map(labelKey);
  for (let i = 0; i < labels.length; i++) {
    const key = keys.slice(i).join('');
    const at = table.get(key);
    if (at !== undefined) {
      w.u16(0xc000 | at);
      return;
    }
    if (w.pos <= 0x3fff) table.set(key, w.pos);
    w.u8(labels[i]!.length);
    w.bytes(labels[i]!);
  }
  w.u8(0);
}

/** Reads a possibly compressed name at `offset`; `next` is the offset just after it in place. */
export function readName(buf: Uint8Array, offset: number, end = buf.length): { name: string; next: number } {
  const labels: Uint8Array[] = [];
  let pos = offset;
  let segmentStart = offset;
  let next = -1;
  let wire = 1;
  let hops = 0;
  const limit = Math.min(end, buf.length);
  for (;;) {
    // Before the first pointer, bytes must stay inside [offset, end); after one, inside the message.
    const bound = next === -1 ? limit : buf.length;
    if (pos >= bound) throw new DnsWireError('name runs past the end of its data', { offset });
    const len = buf[pos]!;
    if (len === 0) {
      if (next === -1) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bound) throw new DnsWireError('truncated compression pointer', { offset });
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // Only backwards, and strictly before the segment we are reading: no loops possible.
      if (target >= segmentStart) throw new DnsWireError('compression pointer does not point backwards', { offset, target });
      if (++hops > MAX_HOPS) throw new DnsWireError('too many compression pointers', { offset });
      if (next === -1) next = pos + 2;
      pos = target;
      segmentStart = target;
      continue;
    }
    if (kind !== 0) throw new DnsWireError(`unsupported label type 0x${kind.toString(16)}`, { offset });
    if (pos + 1 + len > bound) throw new DnsWireError('label runs past the end of its data', { offset });
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsWireError(`name longer than ${MAX_NAME_WIRE} bytes`, { offset });
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  if (next > limit) throw new DnsWireError('name runs past the end of its data', { offset });
  return { name: labelsToName(labels), next };
}
