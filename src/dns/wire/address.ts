// IPv4 / IPv6 address text <-> bytes for A (RFC 1035 §3.4.1) and AAAA (RFC 3596 §2.2) RDATA.
// Input is strict (dotted quad without leading zeros; RFC 4291 §2.2 IPv6 forms); IPv6 output is
// the RFC 5952 canonical text, so equal addresses always print the same.

import { DnsWireError } from './errors.js';

const QUAD = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => QUAD.test(p))) throw new DnsWireError(`not an IPv4 address: "${text}"`);
  return Uint8Array.from(parts.map(Number));
}

export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function parseIpv6(text: string): Uint8Array {
  const bad = (): never => { throw new DnsWireError(`not an IPv6 address: "${text}"`); };
  if (text.length < 2 || text.length > 45) bad();
  let s = text;
  const out = new Uint8Array(16);
  let tail: number[] = [];
  // Embedded IPv4 in the last 32 bits.
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > lastColon) {
    let v4: Uint8Array;
    try { v4 = parseIpv4(s.slice(lastColon + 1)); } catch { return bad(); }
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    s = s.slice(0, lastColon + 1); // ends with ':'; keep a '::', drop a lone separator
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::') && dbl >= 0) bad();
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) bad();
      return parseInt(g, 16);
    });
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const rest = parseGroups(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 1) bad();
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    groups = [...parseGroups(s), ...tail];
    if (groups.length !== 8) bad();
  }
  groups.forEach((g, i) => { out[i * 2] = g >> 8; out[i * 2 + 1] = g & 0xff; });
  return out;
}

export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  // IPv4-mapped (RFC 5952 §5).
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  // Longest run (>= 2) of zero groups, the first on a tie (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
