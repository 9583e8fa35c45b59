// Typed configuration fields. A field knows its default, its one-line doc, what it expects
// (for error messages) and how to turn a TOML value or a `--set` text into a typed value.
// Parsing never guesses silently: a value that does not fit throws FieldError(expected).
import { isIP } from 'node:net';

export class FieldError extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

export interface Field<T> {
  readonly kind: 'field';
  readonly default: T | (() => T);
  readonly doc: string;
  /** What a valid value looks like, for error messages: "a port number (0-65535)". */
  readonly expected: string;
  /** `text` is true when the value came from --set as a string. */
  parse(value: unknown, text: boolean): T;
  /** TOML-ish rendering for `config check` / `config docs`. */
  format(value: T): string;
}

function field<T>(def: T | (() => T), doc: string, expected: string, parse: (v: unknown, text: boolean) => T, format?: (v: T) => string): Field<T> {
  return { kind: 'field', default: def, doc, expected, parse, format: format ?? ((v) => JSON.stringify(v)) };
}

export function str(def: string | (() => string), doc: string, opts: { allowEmpty?: boolean } = {}): Field<string> {
  const allowEmpty = opts.allowEmpty ?? true;
  return field(def, doc, allowEmpty ? 'a string' : 'a non-empty string', (v) => {
    if (typeof v !== 'string' || (!allowEmpty && v === '')) throw new FieldError(allowEmpty ? 'a string' : 'a non-empty string');
    return v;
  });
}

export function bool(def: boolean, doc: string): Field<boolean> {
  return field(def, doc, 'true or false', (v, text) => {
    if (typeof v === 'boolean') return v;
    if (text && typeof v === 'string') {
      const s = v.toLowerCase();
      if (s === 'true' || s === 'yes' || s === 'on' || s === '1') return true;
      if (s === 'false' || s === 'no' || s === 'off' || s === '0') return false;
    }
    throw new FieldError('true or false');
  }, (v) => String(v));
}

function toInteger(v: unknown, text: boolean): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (text && typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

export function int(def: number, doc: string, opts: { min?: number; max?: number } = {}): Field<number> {
  const min = opts.min ?? Number.MIN_SAFE_INTEGER;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const expected = opts.min !== undefined && opts.max !== undefined ? `an integer from ${min} to ${max}` : opts.min !== undefined ? `an integer of at least ${min}` : 'an integer';
  return field(def, doc, expected, (v, text) => {
    const n = toInteger(v, text);
    if (n === undefined || n < min || n > max) throw new FieldError(expected);
    return n;
  }, (v) => String(v));
}

export function port(def: number, doc: string): Field<number> {
  const expected = 'a port number (0-65535; 0 picks a free port)';
  return field(def, doc, expected, (v, text) => {
    const n = toInteger(v, text);
    if (n === undefined || n < 0 || n > 65535) throw new FieldError(expected);
    return n;
  }, (v) => String(v));
}

/** An IP address or a host name to bind or to announce. */
export function host(def: string, doc: string): Field<string> {
  const expected = 'an IP address or a host name';
  return field(def, doc, expected, (v) => {
    if (typeof v !== 'string' || v === '' || !(isIP(v) || isHostname(v))) throw new FieldError(expected);
    return v;
  });
}

export function isHostname(s: string): boolean {
  if (s.length > 253) return false;
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.split('.').every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4 };

export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n) return Number(v);
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = sizeUnits[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

/** A size in bytes: 1048576, "10MB", "1.5GiB" (units are binary). */
export function size(def: number, doc: string): Field<number> {
  const expected = 'a size in bytes, e.g. 1048576 or "10MB"';
  return field(def, doc, expected, (v) => {
    const n = parseSize(v);
    if (n === undefined) throw new FieldError(expected);
    return n;
  }, (v) => formatSize(v));
}

export function formatSize(n: number): string {
  for (const [u, f] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) {
    if (n >= f && n % f === 0) return JSON.stringify(`${n / f}${u}`);
  }
  return String(n);
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * durationUnits[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === s.length && pos > 0 ? Math.round(total) : undefined;
}

/** A duration in milliseconds: 30000, "30s", "5m", "1h30m", "5d". */
export function duration(def: number, doc: string): Field<number> {
  const expected = 'a duration, e.g. 30000 (ms), "30s", "5m", "2h" or "5d"';
  return field(def, doc, expected, (v) => {
    const n = parseDuration(v);
    if (n === undefined) throw new FieldError(expected);
    return n;
  }, (v) => formatDuration(v));
}

export function formatDuration(ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return JSON.stringify(`${ms / f}${u}`);
  }
  return String(ms);
}

export function oneOf<const T extends string>(values: readonly T[], def: T, doc: string): Field<T> {
  const expected = `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  return field(def, doc, expected, (v) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new FieldError(expected);
    return v as T;
  });
}

function toList(v: unknown, text: boolean): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (text && typeof v === 'string') return v.trim() === '' ? [] : v.split(',').map((s) => s.trim());
  return undefined;
}

/** A list of strings; each item checked by `item` (which throws FieldError). */
export function list(def: string[], doc: string, item: { expected: string; check?: (s: string) => boolean } = { expected: 'a string' }): Field<string[]> {
  const expected = `a list of ${item.expected.replace(/^an? /, '')}s, e.g. ["a", "b"]`;
  return field(def, doc, expected, (v, text) => {
    const l = toList(v, text);
    if (!l || !l.every((x) => typeof x === 'string' && (item.check ? item.check(x) : true))) throw new FieldError(expected);
    return l as string[];
  });
}

export function isCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length > 0 || !addr) return false;
  const fam = isIP(addr);
  if (!fam) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}

export function cidrs(def: string[], doc: string): Field<string[]> {
  return list(def, doc, { expected: 'a network in CIDR notation ("127.0.0.0/8")', check: isCidr });
}

/** "addr" or "addr:port" or "[v6]:port". */
export function isHostPort(s: string): boolean {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  if (m) return (isIP(m[1]!) !== 0 || isHostname(m[1]!)) && (m[2] === undefined || Number(m[2]) <= 65535);
  return isIP(s) === 6;
}

export function hostPorts(def: string[], doc: string): Field<string[]> {
  return list(def, doc, { expected: 'an address optionally with a port ("192.0.2.1" or "127.0.0.1:5300")', check: isHostPort });
}

/** "50000-50100" or "" (none). */
export function portRange(def: string, doc: string): Field<string> {
  const expected = 'a port range "low-high" (e.g. "50000-50100") or "" for any';
  return field(def, doc, expected, (v) => {
    if (v === '') return '';
    if (typeof v !== 'string') throw new FieldError(expected);
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(v.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) > 65535 || Number(m[1]) > Number(m[2])) throw new FieldError(expected);
    return v.trim();
  });
}
