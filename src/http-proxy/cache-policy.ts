// The caching rules of RFC 9111 (HTTP Caching), RFC 5861 (stale-while-revalidate,
// stale-if-error) and RFC 9211 (Cache-Status) as pure functions: no sockets, no clock (callers
// pass `now`), no storage. The proxy (proxy.ts) asks these functions every question it has.
//
// Invariants
//  - Header maps have lower-case names (as node:http gives them); a value may be a list
//    (set-cookie). Times are seconds since the epoch unless a name says Ms.
//  - We are a shared cache (RFC 9111 §1): s-maxage, private and Authorization rules apply.
//  - Only GET responses are stored; HEAD is answered from a stored GET (§4).

export type HeaderValue = string | string[] | undefined;
export type HeaderMap = Record<string, HeaderValue>;

/** One header as a single string (lists joined by ", "), or undefined. */
export function headerString(h: HeaderMap, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Cache-Control directives: lower-case name -> argument (unquoted), or true when there is none. */
export type Directives = Map<string, string | true>;

/** RFC 9111 §5.2: Cache-Control = #cache-directive; cache-directive = token [ "=" ( token / quoted-string ) ]. */
export function parseCacheControl(value: string | undefined): Directives {
  const out: Directives = new Map();
  if (!value) return out;
  // the common simple forms ("max-age=60", "public, max-age=3600") without the general parser
  if (/^[a-z-]+(=\d+)?(, ?[a-z-]+(=\d+)?)*$/.test(value)) {
    for (const item of value.split(',')) {
      const eq = item.indexOf('=');
      const name = (eq < 0 ? item : item.slice(0, eq)).trim();
      if (!out.has(name)) out.set(name, eq < 0 ? true : item.slice(eq + 1));
    }
    return out;
  }
  // split on commas outside quoted strings
  const items: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) {
      cur += c + value[++i]!;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  items.push(cur);
  for (const item of items) {
    const m = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?\s*$/.exec(item);
    if (!m) continue; // garbage: ignored
    const name = m[1]!.toLowerCase();
    const arg = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    // RFC 9111 §4.2.1: when a directive appears more than once, the first occurrence counts.
    if (!out.has(name)) out.set(name, arg === undefined || (arg === '' && m[2] === undefined) ? true : arg);
  }
  return out;
}

/**
 * A delta-seconds argument (RFC 9111 §1.2.2): non-negative integer; larger than 2^31 is 2^31.
 * Returns undefined for a missing or invalid argument.
 */
export function deltaSeconds(v: string | true | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n > 2 ** 31 ? 2 ** 31 : n;
}

/** An HTTP-date (RFC 9110 §5.6.7) as seconds since the epoch, or undefined when invalid. */
export function parseHttpDate(v: string | undefined): number | undefined {
  if (!v) return undefined;
  const s = v.trim();
  // IMF-fixdate, rfc850-date and asctime-date are all accepted by Date.parse in V8; insist on a
  // weekday/month spelling so that "0" or "-1" (invalid Expires) is not read as a date.
  if (!/[A-Za-z]{3}/.test(s)) return undefined;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) return undefined;
  return Math.floor(ms / 1000);
}

export function formatHttpDate(sec: number): string {
  return new Date(sec * 1000).toUTCString();
}

/** RFC 9111 §4.2.2: status codes defined as heuristically cacheable (RFC 9110 §15.1). */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Status codes whose caching behaviour we fully implement ("understood", §3). 206 is not stored. */
const UNDERSTOOD_STATUS = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);

export interface StorableInput {
  method: string;
  status: number;
  reqHeaders: HeaderMap;
  resHeaders: HeaderMap;
}

/** Why a response was not stored (for Cache-Status detail), or null when it may be stored. */
export function notStorableReason(x: StorableInput): string | null {
  // RFC 9111 §3: the request method is understood by the cache (we store GET only).
  if (x.method !== 'GET') return 'method';
  // §3: the response status code is final and understood.
  if (!UNDERSTOOD_STATUS.has(x.status)) return 'status';
  const res = parseCacheControl(headerString(x.resHeaders, 'cache-control'));
  const req = parseCacheControl(headerString(x.reqHeaders, 'cache-control'));
  // §3 and §5.2.1.5 / §5.2.2.5: no-store in the request or the response.
  if (res.has('no-store') || req.has('no-store')) return 'no-store';
  // §3 / §5.2.2.7: an unqualified private directive forbids a shared cache to store.
  if (res.get('private') === true) return 'private';
  // §3 / §3.5: Authorization only with public, s-maxage or must-revalidate.
  if (x.reqHeaders['authorization'] !== undefined && !res.has('public') && !res.has('s-maxage') && !res.has('must-revalidate')) return 'authorization';
  // RFC 9110 §12.5.5: Vary: * never matches a later request; storing it is useless.
  if (varyNames(x.resHeaders).includes('*')) return 'vary-star';
  // §3: at least one of public, Expires, max-age, s-maxage, heuristically cacheable status.
  if (res.has('public') || x.resHeaders['expires'] !== undefined || res.has('max-age') || res.has('s-maxage') || HEURISTICALLY_CACHEABLE.has(x.status)) return null;
  return 'no-freshness';
}

export function isStorable(x: StorableInput): boolean {
  return notStorableReason(x) === null;
}

/**
 * RFC 9111 §4.2.1: freshness lifetime in seconds of a stored response, for a shared cache.
 * s-maxage, then max-age, then Expires - Date, then the heuristic (§4.2.2): 10% of the time
 * since Last-Modified, for heuristically cacheable codes or a public response.
 * `responseTime` stands in for a missing Date (§6.6.1 of RFC 9110: the recipient adds one).
 */
export function freshnessLifetime(status: number, resHeaders: HeaderMap, responseTime: number): number {
  const cc = parseCacheControl(headerString(resHeaders, 'cache-control'));
  const sMax = deltaSeconds(cc.get('s-maxage'));
  if (sMax !== undefined) return sMax;
  const max = deltaSeconds(cc.get('max-age'));
  if (max !== undefined) return max;
  const date = parseHttpDate(headerString(resHeaders, 'date')) ?? responseTime;
  const expiresRaw = headerString(resHeaders, 'expires');
  if (expiresRaw !== undefined) {
    const exp = parseHttpDate(expiresRaw);
    // §5.3: an invalid Expires (e.g. "0") means "already expired".
    if (exp === undefined) return 0;
    return Math.max(0, exp - date);
  }
  // §4.2.2: heuristic freshness only where explicit freshness is absent and the status code is
  // heuristically cacheable (or public is given); the typical heuristic is 10% of the age.
  if (HEURISTICALLY_CACHEABLE.has(status) || cc.has('public')) {
    const lm = parseHttpDate(headerString(resHeaders, 'last-modified'));
    if (lm !== undefined && lm < date) return Math.floor((date - lm) / 10);
  }
  return 0;
}

/**
 * RFC 9111 §4.2.3: the corrected initial age of a response when it is received.
 *   apparent_age = max(0, response_time - date_value)
 *   response_delay = response_time - request_time
 *   corrected_age_value = age_value + response_delay
 *   corrected_initial_age = max(apparent_age, corrected_age_value)
 */
export function correctedInitialAge(resHeaders: HeaderMap, requestTime: number, responseTime: number): number {
  const date = parseHttpDate(headerString(resHeaders, 'date')) ?? responseTime;
  const ageValue = deltaSeconds(headerString(resHeaders, 'age')?.trim()) ?? 0;
  const apparentAge = Math.max(0, responseTime - date);
  const responseDelay = Math.max(0, responseTime - requestTime);
  return Math.max(apparentAge, ageValue + responseDelay);
}

/** RFC 9111 §4.2.3: current_age = corrected_initial_age + resident_time (now - response_time). */
export function currentAge(initialAge: number, responseTime: number, now: number): number {
  return initialAge + Math.max(0, now - responseTime);
}

/** What the cache knows about one stored response, for the freshness decision. */
export interface StoredMeta {
  status: number;
  resHeaders: HeaderMap;
  /** Seconds since the epoch when the request was sent / the response received. */
  requestTime: number;
  responseTime: number;
  /** correctedInitialAge() at storage time */
  initialAge: number;
}

export type Decision =
  /** Serve the stored response as it is. */
  | { kind: 'fresh'; age: number; ttl: number }
  /** Serve the stored response although stale (max-stale allowed it). */
  | { kind: 'stale-ok'; age: number; ttl: number }
  /** RFC 5861 §3: serve stale now and revalidate in the background. */
  | { kind: 'stale-while-revalidate'; age: number; ttl: number }
  /** Send a conditional request to the origin before answering. */
  | { kind: 'revalidate'; age: number; ttl: number; reason: string };

/** What decide() needs of a stored response that depends on its headers only (callers may memoize it per header map). */
export interface Derived {
  lifetime: number;
  res: Directives;
}

export function derive(entry: StoredMeta): Derived {
  return { lifetime: freshnessLifetime(entry.status, entry.resHeaders, entry.responseTime), res: parseCacheControl(headerString(entry.resHeaders, 'cache-control')) };
}

/**
 * May the stored response be used for this request? RFC 9111 §4 (constructing responses from
 * caches), §4.2 (freshness), §5.2.1 (request directives), §5.2.2 (response directives) and
 * RFC 5861 §3. `ttl` is freshness lifetime minus current age (negative when stale).
 */
export function decide(entry: StoredMeta, reqHeaders: HeaderMap, now: number, derived: Derived = derive(entry)): Decision {
  const age = currentAge(entry.initialAge, entry.responseTime, now);
  const ttl = derived.lifetime - age;
  const res = derived.res;
  const req = parseCacheControl(headerString(reqHeaders, 'cache-control'));
  // RFC 9111 §5.4: Pragma: no-cache is no-cache when the request has no Cache-Control.
  if (reqHeaders['cache-control'] === undefined && /(^|,)\s*no-cache\s*(,|$)/i.test(headerString(reqHeaders, 'pragma') ?? '')) {
    return { kind: 'revalidate', age, ttl, reason: 'request' };
  }
  // §5.2.2.4: response no-cache (unqualified) - must validate before every use.
  if (res.get('no-cache') === true) return { kind: 'revalidate', age, ttl, reason: 'no-cache' };
  // §5.2.1.4: request no-cache - the client wants a validated response.
  if (req.has('no-cache')) return { kind: 'revalidate', age, ttl, reason: 'request' };
  // §5.2.1.1: request max-age - the client does not want a response older than this.
  const reqMaxAge = deltaSeconds(req.get('max-age'));
  if (reqMaxAge !== undefined && age > reqMaxAge) return { kind: 'revalidate', age, ttl, reason: 'request' };
  // §5.2.1.3: min-fresh - still fresh for at least this long.
  const minFresh = deltaSeconds(req.get('min-fresh')) ?? 0;
  if (ttl > minFresh) return { kind: 'fresh', age, ttl };
  if (ttl > 0) return { kind: 'revalidate', age, ttl, reason: 'request' };
  // Stale from here on. §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate and §5.2.2.10
  // s-maxage (implies proxy-revalidate) forbid serving stale without validation.
  const staleness = -ttl;
  const mustRevalidate = res.has('must-revalidate') || res.has('proxy-revalidate') || res.has('s-maxage');
  if (!mustRevalidate) {
    // §5.2.1.2: max-stale with no value: any staleness; with a value: at most that much.
    if (req.has('max-stale')) {
      const ms = req.get('max-stale');
      const limit = ms === true ? Infinity : deltaSeconds(ms);
      if (limit !== undefined && staleness <= limit) return { kind: 'stale-ok', age, ttl };
    }
    // RFC 5861 §3: stale-while-revalidate=N.
    const swr = deltaSeconds(res.get('stale-while-revalidate'));
    if (swr !== undefined && staleness <= swr) return { kind: 'stale-while-revalidate', age, ttl };
  }
  return { kind: 'revalidate', age, ttl, reason: 'stale' };
}

/**
 * RFC 5861 §4: may a stale response be served because revalidation failed (an error reaching
 * the origin, or a 500, 502, 503 or 504)? stale-if-error from the response or the request.
 */
export function staleIfErrorAllowed(entry: StoredMeta, reqHeaders: HeaderMap, now: number): boolean {
  const age = currentAge(entry.initialAge, entry.responseTime, now);
  const staleness = age - freshnessLifetime(entry.status, entry.resHeaders, entry.responseTime);
  const res = parseCacheControl(headerString(entry.resHeaders, 'cache-control'));
  const req = parseCacheControl(headerString(reqHeaders, 'cache-control'));
  // must-revalidate (§5.2.2.2) wins: "MUST generate a 504" when it cannot reach the origin.
  if (res.has('must-revalidate') || res.has('proxy-revalidate') || res.has('s-maxage')) return false;
  for (const cc of [req, res]) {
    const n = deltaSeconds(cc.get('stale-if-error'));
    if (n !== undefined && staleness <= n) return true;
  }
  return false;
}

/** RFC 5861 §4: status codes that count as an error for stale-if-error. */
export function isErrorStatus(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** RFC 9111 §5.2.1.7: only-if-cached - answer from the cache or 504. */
export function onlyIfCached(reqHeaders: HeaderMap): boolean {
  return parseCacheControl(headerString(reqHeaders, 'cache-control')).has('only-if-cached');
}

/** The field names a response varies on (lower-case); ['*'] for Vary: *. RFC 9110 §12.5.5. */
export function varyNames(resHeaders: HeaderMap): string[] {
  const v = headerString(resHeaders, 'vary');
  if (!v) return [];
  return v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
}

/** RFC 9111 §4.1: normalise a header value for Vary comparison (whitespace, list joining). */
function normalizeForVary(v: HeaderValue): string {
  if (v === undefined) return '\u0000absent';
  const s = Array.isArray(v) ? v.join(',') : v;
  return s.split(',').map((p) => p.trim().replace(/\s+/g, ' ')).join(',');
}

/**
 * The secondary cache key of a request for a response that varies on `names` (§4.1): one string
 * built from the request's values of each nominated field. '' when nothing varies.
 */
export function varyKey(names: readonly string[], reqHeaders: HeaderMap): string {
  if (names.length === 0) return '';
  return [...names].sort().map((n) => `${n}=${normalizeForVary(reqHeaders[n])}`).join('\n');
}

/**
 * RFC 9111 §4.1: does a new request match the request that produced a stored response with
 * this Vary? A field absent in both matches; Vary: * never matches.
 */
export function varyMatches(resHeaders: HeaderMap, storedReq: HeaderMap, newReq: HeaderMap): boolean {
  const names = varyNames(resHeaders);
  if (names.includes('*')) return false;
  return names.every((n) => normalizeForVary(storedReq[n]) === normalizeForVary(newReq[n]));
}

/**
 * RFC 9111 §4.3.1: the validators to send when revalidating a stored response: If-None-Match
 * with its entity tag, and If-Modified-Since with its Last-Modified (RFC 9110 §13.1.3: a cache
 * sends Last-Modified only). Empty when the response has no validator.
 */
export function conditionalHeaders(resHeaders: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = headerString(resHeaders, 'etag');
  if (etag) out['if-none-match'] = etag.trim();
  const lm = headerString(resHeaders, 'last-modified');
  if (lm && parseHttpDate(lm) !== undefined) out['if-modified-since'] = lm.trim();
  return out;
}

/** Fields never stored or updated from a newer response (RFC 9111 §3.1, §3.2). */
const NOT_UPDATED = new Set(['content-length', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authentication-info', 'proxy-authorization']);

/**
 * RFC 9111 §4.3.4: may this 304 be used to freshen the stored response? If the 304 carries a
 * strong entity tag, it must be the stored one; else if the stored one has an ETag and the 304
 * another, no.
 */
export function notModifiedMatches(stored: HeaderMap, h304: HeaderMap): boolean {
  const a = headerString(stored, 'etag')?.trim();
  const b = headerString(h304, 'etag')?.trim();
  if (b === undefined || a === undefined) return true;
  // weak comparison (RFC 9110 §8.8.3.2) is enough to select; §4.3.4 names strong validators
  return a.replace(/^W\//, '') === b.replace(/^W\//, '');
}

/**
 * RFC 9111 §4.3.4 and §3.2: the stored header fields updated from a 304: each field of the 304
 * replaces the stored one, except Content-Length, hop-by-hop fields (and those the Connection
 * header names) and proxy-specific fields.
 */
export function updateHeaders(stored: HeaderMap, h304: HeaderMap): HeaderMap {
  const out: HeaderMap = { ...stored };
  const connectionListed = new Set((headerString(h304, 'connection') ?? '').split(',').map((s) => s.trim().toLowerCase()));
  for (const [k, v] of Object.entries(h304)) {
    if (v === undefined || NOT_UPDATED.has(k) || connectionListed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/** RFC 9110 §9.2.1: safe methods. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
}

/**
 * RFC 9111 §4.4: the URIs to invalidate after an unsafe request whose response is non-error
 * (2xx or 3xx): the target URI, and the Location and Content-Location URIs when they have the
 * same origin (scheme, host, port) as the target.
 */
export function invalidatedUris(method: string, status: number, targetUri: string, resHeaders: HeaderMap): string[] {
  if (isSafeMethod(method) || status < 200 || status >= 400) return [];
  const out = [targetUri];
  let base: URL;
  try {
    base = new URL(targetUri);
  } catch {
    return out;
  }
  for (const name of ['location', 'content-location']) {
    const v = headerString(resHeaders, name);
    if (!v) continue;
    try {
      const u = new URL(v.trim(), base);
      if (u.origin === base.origin) {
        u.hash = '';
        if (!out.includes(u.href)) out.push(u.href);
      }
    } catch {
      // not a URI: nothing to invalidate
    }
  }
  return out;
}

/** The parameters of one Cache-Status entry (RFC 9211 §2). */
export interface CacheStatusInfo {
  hit?: boolean;
  /** §2.2 fwd: bypass, method, uri-miss, vary-miss, miss, request, stale, partial. */
  fwd?: 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';
  fwdStatus?: number;
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  detail?: string;
}

/** RFC 9211 §2: `Wharf; hit; ttl=30` or `Wharf; fwd=uri-miss; fwd-status=200; stored`. */
export function cacheStatus(cacheName: string, i: CacheStatusInfo): string {
  const parts = [cacheName];
  if (i.hit) parts.push('hit');
  if (i.fwd) parts.push(`fwd=${i.fwd}`);
  if (i.fwdStatus !== undefined) parts.push(`fwd-status=${i.fwdStatus}`);
  if (i.ttl !== undefined) parts.push(`ttl=${Math.trunc(i.ttl)}`);
  if (i.stored) parts.push('stored');
  if (i.collapsed) parts.push('collapsed');
  // §2.8: detail is a token or a string; we always emit a quoted string.
  if (i.detail) parts.push(`detail="${i.detail.replace(/["\\]/g, '')}"`);
  return parts.join('; ');
}

/** An inclusive byte range [start, end] of a representation. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Most ranges one request may ask for; beyond, the header is ignored (RFC 9110 §14.2 allows it). */
export const MAX_RANGES = 64;

/**
 * The Range header (RFC 9110 §14.1.1, §14.2) against a representation of `size` bytes:
 *  - null when absent, not a bytes range, syntactically invalid (one bad range-spec, e.g.
 *    5-2, invalidates the whole ranges-specifier), or asking for more than MAX_RANGES ranges:
 *    the full response is then sent (§14.2: a server MAY ignore the field);
 *  - 'unsatisfiable' when no range-spec is satisfiable (416, §15.5.17);
 *  - else the satisfiable ranges, clipped to the representation, with those that overlap or
 *    touch coalesced (§14.2 lets a server coalesce), in the order of their first appearance.
 */
export function parseRanges(header: string | undefined, size: number): ByteRange[] | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return null;
  const specs = m[1]!.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return null;
  const wanted: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!r) return null;
    const [, a, b] = r;
    if (a === '' && b === '') return null;
    if (a === '') {
      // suffix-range: the last N bytes; satisfiable when N > 0 (and the representation non-empty)
      const n = Number(b);
      if (n > 0 && size > 0) wanted.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(a);
    if (b !== '' && Number(b) < start) return null; // invalid int-range: ignore the field
    if (start >= size) continue; // unsatisfiable on its own
    wanted.push({ start, end: b === '' ? size - 1 : Math.min(Number(b), size - 1) });
  }
  if (wanted.length === 0) return 'unsatisfiable';
  return coalesceRanges(wanted);
}

/**
 * Merges ranges that overlap or touch; each merged range takes the place of the first of its
 * members, so non-overlapping ranges keep the order the client asked for (§14.6 SHOULD).
 */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const r of ranges) {
    let cur = { start: r.start, end: r.end };
    let at = -1;
    // The ranges in `out` never touch each other, so one pass suffices: a range that did not
    // touch `cur` cannot touch cur ∪ o either (it would have to touch o).
    for (let i = 0; i < out.length; ) {
      const o = out[i]!;
      if (cur.start <= o.end + 1 && o.start <= cur.end + 1) {
        cur = { start: Math.min(o.start, cur.start), end: Math.max(o.end, cur.end) };
        if (at < 0) {
          at = i;
          i++;
        } else out.splice(i, 1);
        out[at] = cur;
      } else i++;
    }
    if (at < 0) out.push(cur);
  }
  return out;
}

/**
 * The framing of a multipart/byteranges body (RFC 9110 §14.6): for each range the part head
 * (boundary delimiter, Content-Type, Content-Range), then the closing delimiter; the caller
 * sends head[i], the bytes of range i, ..., then tail. `length` is the exact body length.
 */
export function multipartByteranges(boundary: string, contentType: string | undefined, ranges: readonly ByteRange[], size: number): { heads: string[]; tail: string; length: number } {
  const heads = ranges.map((r, i) => `${i === 0 ? '' : '\r\n'}--${boundary}\r\n${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`);
  const tail = `\r\n--${boundary}--\r\n`;
  let length = Buffer.byteLength(tail);
  for (let i = 0; i < ranges.length; i++) length += Buffer.byteLength(heads[i]!) + ranges[i]!.end - ranges[i]!.start + 1;
  return { heads, tail, length };
}
