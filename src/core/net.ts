// Small address helpers shared by listeners and sessions. Pure, no sockets.
// Invariants: IPv4-mapped IPv6 addresses ("::ffff:127.0.0.1") are treated as the IPv4 address
// they carry, so limits and loopback checks do not depend on the socket's address family.
import { isIP } from 'node:net';

/** "::ffff:10.0.0.1" -> "10.0.0.1"; strips an IPv6 zone id ("fe80::1%eth0" -> "fe80::1"); lower-cases IPv6. */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const pct = a.indexOf('%');
  if (pct >= 0 && a.includes(':')) a = a.slice(0, pct);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) return mapped[1]!;
  return a.includes(':') ? a.toLowerCase() : a;
}

/** True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. Anything that is not an IP address is false. */
export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  const family = isIP(a);
  if (family === 4) return a.split('.')[0] === '127';
  if (family === 6) {
    // ::1 in any spelling (0:0:0:0:0:0:0:1, ::0:1 …)
    const groups = expandIPv6(a);
    return groups !== null && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
  }
  return false;
}

/** "127.0.0.1:5000", "[::1]:5000". */
export function formatPeer(address: string, port: number): string {
  const a = normalizeAddress(address);
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

function expandIPv6(a: string): number[] | null {
  const halves = a.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (head.some(Number.isNaN) || tail.some(Number.isNaN)) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}
