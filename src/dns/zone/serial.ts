// SOA serial numbers: RFC 1982 serial arithmetic and the "bump" an editor does after a change.
//
// Invariants
//  - Serials are 32-bit unsigned; addition wraps modulo 2^32 and may add at most 2^31-1
//    (RFC 1982 §3.1).
//  - compareSerial(a, b) is undefined when a and b are exactly 2^31 apart (RFC 1982 §3.2).
//  - bumpSerial() always returns a serial greater than the old one in RFC 1982 terms. A serial
//    that looks like a date (YYYYMMDDnn) becomes today's date with nn = 00 when that is greater,
//    else it is incremented (nn overflowing into the next "day" is what BIND does too).

import { WharfError } from '../../core/errors.js';
import type { ResourceRecord, SoaData } from '../wire/types.js';

const HALF = 2 ** 31;
const MOD = 2 ** 32;

export function serialAdd(s: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > HALF - 1) throw new WharfError('WHARF_ZONE_INVALID', `serial increment ${n} outside 0..2^31-1 (RFC 1982 §3.1)`);
  return (s + n) % MOD;
}

/** -1 if a < b, 0 if equal, 1 if a > b, undefined when the comparison is undefined. */
export function compareSerial(a: number, b: number): -1 | 0 | 1 | undefined {
  if (a === b) return 0;
  if ((a < b && b - a < HALF) || (a > b && a - b > HALF)) return -1;
  if ((a < b && b - a > HALF) || (a > b && a - b < HALF)) return 1;
  return undefined;
}

/** Whether the serial reads as a plausible YYYYMMDDnn date serial. */
export function isDateSerial(serial: number): boolean {
  if (serial < 1990010100 || serial > 2199123199) return false;
  const s = String(serial);
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(4, 6));
  const d = Number(s.slice(6, 8));
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

export function dateSerial(now: Date): number {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth() + 1;
  const d = now.getUTCDate();
  return (y * 10000 + m * 100 + d) * 100;
}

/** The next serial after `serial` (see the invariants). */
export function bumpSerial(serial: number, now: Date = new Date()): number {
  if (isDateSerial(serial)) {
    const today = dateSerial(now);
    if (today <= 0xffffffff && compareSerial(today, serial) === 1) return today;
  }
  return serialAdd(serial, 1);
}

/** A copy of `records` with the SOA's serial bumped; throws if there is no SOA. */
export function withBumpedSerial(records: readonly ResourceRecord[], now: Date = new Date()): ResourceRecord[] {
  let found = false;
  const out = records.map((r) => {
    if (r.type.toUpperCase() !== 'SOA' || found || !('serial' in r.data)) return r;
    found = true;
    const soa = r.data as SoaData;
    return { ...r, data: { ...soa, serial: bumpSerial(soa.serial, now) } };
  });
  if (!found) throw new WharfError('WHARF_ZONE_INVALID', 'zone has no SOA record to bump');
  return out;
}
