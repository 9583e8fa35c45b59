// Client address matching for the DNS server: "may this client recurse / transfer?" against
// CIDR lists from the config, and the client prefix the rate limiter counts by.
//
// Invariants
//  - IPv4-mapped IPv6 clients ("::ffff:10.0.0.1") match IPv4 networks (normalizeAddress).
//  - Anything that is not an IP address matches nothing.
import { BlockList, isIP } from 'node:net';
import { normalizeAddress } from '../../core/net.js';

export class AddressList {
  private readonly list = new BlockList();
  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr, bits] = c.split('/');
      const fam = isIP(addr!);
      if (!fam) continue;
      const type = fam === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr!, type);
      else this.list.addSubnet(addr!, Number(bits), type);
    }
  }
  has(address: string): boolean {
    const a = normalizeAddress(address);
    const fam = isIP(a);
    if (!fam) return false;
    return this.list.check(a, fam === 4 ? 'ipv4' : 'ipv6');
  }
}

/** "address" or "address:port" or "[v6]:port" -> parts (port defaults to `defPort`). */
export function parseHostPort(s: string, defPort: number): { host: string; port: number } {
  const m6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  if (m6) return { host: m6[1]!, port: m6[2] ? Number(m6[2]) : defPort };
  if (isIP(s) === 6) return { host: s, port: defPort };
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  if (m) return { host: m[1]!, port: m[2] ? Number(m[2]) : defPort };
  return { host: s, port: defPort };
}

/** The rate limiter's key for a client: its /24 (IPv4) or /56 (IPv6). */
export function clientPrefix(address: string): string {
  const a = normalizeAddress(address);
  const fam = isIP(a);
  if (fam === 4) return a.split('.').slice(0, 3).join('.') + '.0/24';
  if (fam === 6) {
    const groups = expand6(a);
    if (!groups) return a;
    // 56 bits = 3.5 groups: keep 3 groups and the high byte of the 4th.
    return `${groups.slice(0, 3).map((g) => g.toString(16)).join(':')}:${(groups[3]! & 0xff00).toString(16)}::/56`;
  }
  return a;
}

function expand6(a: string): number[] | null {
  let s = a;
  // a trailing dotted quad ("::ffff:1.2.3.4" not mapped to v4, or "64:ff9b::1.2.3.4")
  const dq = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dq) s = s.slice(0, dq.index) + ((+dq[1]! << 8) | +dq[2]!).toString(16) + ':' + ((+dq[3]! << 8) | +dq[4]!).toString(16);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (x: string): number[] => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || head.some(Number.isNaN) || tail.some(Number.isNaN)) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}
