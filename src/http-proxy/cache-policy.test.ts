import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cacheStatus,
  conditionalHeaders,
  correctedInitialAge,
  currentAge,
  decide,
  deltaSeconds,
  freshnessLifetime,
  invalidatedUris,
  isStorable,
  notModifiedMatches,
  notStorableReason,
  onlyIfCached,
  parseCacheControl,
  parseHttpDate,
  coalesceRanges,
  multipartByteranges,
  parseRanges,
  staleIfErrorAllowed,
  updateHeaders,
  varyKey,
  varyMatches,
} from './cache-policy.js';
import type { HeaderMap, StoredMeta } from './cache-policy.js';

const T0 = 1_700_000_000;
const date = (s: number) => new Date(s * 1000).toUTCString();

function entry(resHeaders: HeaderMap, opts: Partial<StoredMeta> = {}): StoredMeta {
  const h = { date: date(T0), ...resHeaders };
  return { status: 200, resHeaders: h, requestTime: T0, responseTime: T0, initialAge: correctedInitialAge(h, T0, T0), ...opts };
}

test('parseCacheControl: tokens, arguments, quotes, case, duplicates, garbage', () => {
  const d = parseCacheControl('Max-Age=60, no-cache="set-cookie, x", private, s-maxage = 5 , max-age=9, @@@, public');
  assert.equal(d.get('max-age'), '60');
  assert.equal(d.get('no-cache'), 'set-cookie, x');
  assert.equal(d.get('private'), true);
  assert.equal(d.get('s-maxage'), '5');
  assert.equal(d.get('public'), true);
  assert.equal(d.has('@@@'), false);
  assert.equal(parseCacheControl(undefined).size, 0);
  assert.equal(parseCacheControl('').size, 0);
});

test('deltaSeconds: integers only, capped at 2^31', () => {
  assert.equal(deltaSeconds('10'), 10);
  assert.equal(deltaSeconds('-1'), undefined);
  assert.equal(deltaSeconds('1.5'), undefined);
  assert.equal(deltaSeconds(true), undefined);
  assert.equal(deltaSeconds('99999999999'), 2 ** 31);
});

test('parseHttpDate: IMF-fixdate, rfc850, asctime; invalid', () => {
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), 784111777);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), 784111777);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), parseHttpDate('Sun Nov  6 08:49:37 1994 GMT'));
  assert.equal(parseHttpDate('0'), undefined);
  assert.equal(parseHttpDate('garbage'), undefined);
});

test('storable: methods and status codes', () => {
  const ok = { method: 'GET', status: 200, reqHeaders: {}, resHeaders: { 'cache-control': 'max-age=60' } };
  assert.equal(isStorable(ok), true);
  assert.equal(notStorableReason({ ...ok, method: 'POST' }), 'method');
  assert.equal(notStorableReason({ ...ok, method: 'HEAD' }), 'method');
  assert.equal(notStorableReason({ ...ok, status: 206 }), 'status');
  assert.equal(notStorableReason({ ...ok, status: 100 }), 'status');
  assert.equal(notStorableReason({ ...ok, status: 500 }), 'status');
  assert.equal(isStorable({ ...ok, status: 404 }), true);
  assert.equal(isStorable({ ...ok, status: 301, resHeaders: {} }), true, '301 is heuristically cacheable');
  assert.equal(notStorableReason({ ...ok, status: 302, resHeaders: {} }), 'no-freshness');
  assert.equal(isStorable({ ...ok, status: 302, resHeaders: { expires: date(T0 + 60) } }), true);
});

test('storable: no-store, private, Vary: *', () => {
  const base = { method: 'GET', status: 200, reqHeaders: {} };
  assert.equal(notStorableReason({ ...base, resHeaders: { 'cache-control': 'max-age=60, no-store' } }), 'no-store');
  assert.equal(notStorableReason({ ...base, reqHeaders: { 'cache-control': 'no-store' }, resHeaders: { 'cache-control': 'max-age=60' } }), 'no-store');
  assert.equal(notStorableReason({ ...base, resHeaders: { 'cache-control': 'private, max-age=60' } }), 'private');
  assert.equal(isStorable({ ...base, resHeaders: { 'cache-control': 'private="x-user", max-age=60' } }), true, 'qualified private stores');
  assert.equal(notStorableReason({ ...base, resHeaders: { 'cache-control': 'max-age=60', vary: 'Accept, *' } }), 'vary-star');
});

test('storable: Authorization needs public, s-maxage or must-revalidate', () => {
  const base = { method: 'GET', status: 200, reqHeaders: { authorization: 'Basic eDp5' } };
  assert.equal(notStorableReason({ ...base, resHeaders: { 'cache-control': 'max-age=60' } }), 'authorization');
  assert.equal(isStorable({ ...base, resHeaders: { 'cache-control': 'public' } }), true);
  assert.equal(isStorable({ ...base, resHeaders: { 'cache-control': 's-maxage=10' } }), true);
  assert.equal(isStorable({ ...base, resHeaders: { 'cache-control': 'must-revalidate, max-age=10' } }), true);
});

test('freshness lifetime: s-maxage over max-age over Expires', () => {
  assert.equal(freshnessLifetime(200, { 'cache-control': 'max-age=60, s-maxage=5' }, T0), 5);
  assert.equal(freshnessLifetime(200, { 'cache-control': 'max-age=60', expires: date(T0 + 1000), date: date(T0) }, T0), 60);
  assert.equal(freshnessLifetime(200, { expires: date(T0 + 100), date: date(T0) }, T0), 100);
  assert.equal(freshnessLifetime(200, { expires: date(T0 + 100) }, T0 + 40), 60, 'no Date: the response time stands in');
  assert.equal(freshnessLifetime(200, { expires: '0', date: date(T0) }, T0), 0, 'invalid Expires is expired');
  assert.equal(freshnessLifetime(200, { expires: date(T0 - 100), date: date(T0) }, T0), 0);
  assert.equal(freshnessLifetime(200, { 'cache-control': 'max-age=abc' }, T0), 0);
});

test('freshness lifetime: heuristic is 10% of the Last-Modified age, only for heuristically cacheable codes', () => {
  const h = { date: date(T0), 'last-modified': date(T0 - 1000) };
  assert.equal(freshnessLifetime(200, h, T0), 100);
  assert.equal(freshnessLifetime(404, h, T0), 100);
  assert.equal(freshnessLifetime(302, h, T0), 0);
  assert.equal(freshnessLifetime(302, { ...h, 'cache-control': 'public' }, T0), 100);
  assert.equal(freshnessLifetime(200, { date: date(T0) }, T0), 0);
  assert.equal(freshnessLifetime(200, { date: date(T0), 'last-modified': date(T0 + 50) }, T0), 0, 'future Last-Modified');
});

test('age: RFC 9111 §4.2.3 apparent age, Age header, response delay, resident time', () => {
  // Date 10 s before we received it, Age 3, request took 2 s
  const h = { date: date(T0 - 10), age: '3' };
  assert.equal(correctedInitialAge(h, T0 - 2, T0), 10, 'apparent age wins');
  assert.equal(correctedInitialAge({ date: date(T0), age: '30' }, T0 - 2, T0), 32, 'age + response delay');
  assert.equal(correctedInitialAge({ date: date(T0 + 100) }, T0, T0), 0, 'clock skew: never negative');
  assert.equal(correctedInitialAge({ age: 'junk' }, T0, T0), 0);
  assert.equal(currentAge(10, T0, T0 + 5), 15);
});

test('decide: fresh then stale', () => {
  const e = entry({ 'cache-control': 'max-age=60' });
  assert.deepEqual(decide(e, {}, T0 + 10), { kind: 'fresh', age: 10, ttl: 50 });
  const d = decide(e, {}, T0 + 61);
  assert.equal(d.kind, 'revalidate');
  assert.equal(d.ttl, -1);
});

test('decide: request max-age, min-fresh, no-cache, Pragma', () => {
  const e = entry({ 'cache-control': 'max-age=60' });
  assert.equal(decide(e, { 'cache-control': 'max-age=5' }, T0 + 10).kind, 'revalidate');
  assert.equal(decide(e, { 'cache-control': 'max-age=20' }, T0 + 10).kind, 'fresh');
  assert.equal(decide(e, { 'cache-control': 'min-fresh=55' }, T0 + 10).kind, 'revalidate');
  assert.equal(decide(e, { 'cache-control': 'min-fresh=40' }, T0 + 10).kind, 'fresh');
  assert.equal(decide(e, { 'cache-control': 'no-cache' }, T0 + 1).kind, 'revalidate');
  assert.equal(decide(e, { pragma: 'no-cache' }, T0 + 1).kind, 'revalidate');
  assert.equal(decide(e, { pragma: 'no-cache', 'cache-control': 'max-age=100' }, T0 + 1).kind, 'fresh', 'Cache-Control wins over Pragma');
});

test('decide: max-stale', () => {
  const e = entry({ 'cache-control': 'max-age=60' });
  assert.equal(decide(e, { 'cache-control': 'max-stale' }, T0 + 1000).kind, 'stale-ok');
  assert.equal(decide(e, { 'cache-control': 'max-stale=10' }, T0 + 65).kind, 'stale-ok');
  assert.equal(decide(e, { 'cache-control': 'max-stale=10' }, T0 + 75).kind, 'revalidate');
});

test('decide: response no-cache, must-revalidate, proxy-revalidate, s-maxage forbid stale', () => {
  assert.equal(decide(entry({ 'cache-control': 'no-cache, max-age=60' }), {}, T0 + 1).kind, 'revalidate');
  assert.equal(decide(entry({ 'cache-control': 'no-cache="set-cookie", max-age=60' }), {}, T0 + 1).kind, 'fresh', 'qualified no-cache');
  for (const cc of ['max-age=60, must-revalidate', 'max-age=60, proxy-revalidate', 's-maxage=60']) {
    assert.equal(decide(entry({ 'cache-control': cc }), { 'cache-control': 'max-stale' }, T0 + 100).kind, 'revalidate', cc);
  }
});

test('decide: stale-while-revalidate (RFC 5861 §3)', () => {
  const e = entry({ 'cache-control': 'max-age=60, stale-while-revalidate=30' });
  assert.equal(decide(e, {}, T0 + 80).kind, 'stale-while-revalidate');
  assert.equal(decide(e, {}, T0 + 95).kind, 'revalidate');
  assert.equal(decide(entry({ 'cache-control': 'max-age=60, stale-while-revalidate=30, must-revalidate' }), {}, T0 + 80).kind, 'revalidate');
});

test('stale-if-error (RFC 5861 §4): response or request, bounded, not with must-revalidate', () => {
  const e = entry({ 'cache-control': 'max-age=60, stale-if-error=100' });
  assert.equal(staleIfErrorAllowed(e, {}, T0 + 150), true);
  assert.equal(staleIfErrorAllowed(e, {}, T0 + 170), false);
  const plain = entry({ 'cache-control': 'max-age=60' });
  assert.equal(staleIfErrorAllowed(plain, {}, T0 + 150), false);
  assert.equal(staleIfErrorAllowed(plain, { 'cache-control': 'stale-if-error=200' }, T0 + 150), true);
  assert.equal(staleIfErrorAllowed(entry({ 'cache-control': 'max-age=60, stale-if-error=100, must-revalidate' }), {}, T0 + 70), false);
});

test('only-if-cached', () => {
  assert.equal(onlyIfCached({ 'cache-control': 'max-stale, only-if-cached' }), true);
  assert.equal(onlyIfCached({}), false);
});

test('Vary: matching with normalisation, absent fields, *', () => {
  const res = { vary: 'Accept-Encoding, Accept-Language' };
  assert.equal(varyMatches(res, { 'accept-encoding': 'gzip,  br' }, { 'accept-encoding': 'gzip, br' }), true);
  assert.equal(varyMatches(res, { 'accept-encoding': 'gzip' }, { 'accept-encoding': 'br' }), false);
  assert.equal(varyMatches(res, {}, {}), true);
  assert.equal(varyMatches(res, {}, { 'accept-language': 'en' }), false);
  assert.equal(varyMatches({ vary: '*' }, {}, {}), false);
  assert.equal(varyMatches({}, { a: '1' }, { a: '2' }), true);
  assert.notEqual(varyKey(['accept-encoding'], { 'accept-encoding': 'gzip' }), varyKey(['accept-encoding'], {}));
  assert.equal(varyKey(['b', 'a'], { a: '1', b: '2' }), varyKey(['a', 'b'], { b: '2', a: '1' }));
  assert.equal(varyKey([], { a: '1' }), '');
});

test('conditional request: If-None-Match and If-Modified-Since from validators', () => {
  assert.deepEqual(conditionalHeaders({ etag: '"abc"', 'last-modified': date(T0) }), { 'if-none-match': '"abc"', 'if-modified-since': date(T0) });
  assert.deepEqual(conditionalHeaders({ 'last-modified': 'not a date' }), {});
  assert.deepEqual(conditionalHeaders({}), {});
});

test('304 update (§4.3.4, §3.2): replaces fields but not Content-Length or hop-by-hop', () => {
  const stored = { 'content-length': '10', 'cache-control': 'max-age=1', etag: '"a"', 'x-keep': 'yes' };
  const h = { 'content-length': '0', 'cache-control': 'max-age=60', connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', date: date(T0) };
  const u = updateHeaders(stored, h);
  assert.equal(u['content-length'], '10');
  assert.equal(u['cache-control'], 'max-age=60');
  assert.equal(u['x-keep'], 'yes');
  assert.equal(u['date'], date(T0));
  assert.equal(u['x-hop'], undefined);
  assert.equal(u['keep-alive'], undefined);
  assert.equal(u['connection'], undefined);
  assert.equal(notModifiedMatches({ etag: '"a"' }, { etag: '"a"' }), true);
  assert.equal(notModifiedMatches({ etag: '"a"' }, { etag: '"b"' }), false);
  assert.equal(notModifiedMatches({ etag: '"a"' }, {}), true);
});

test('invalidation after unsafe methods (§4.4)', () => {
  const u = 'http://a.test/x';
  assert.deepEqual(invalidatedUris('POST', 200, u, {}), [u]);
  assert.deepEqual(invalidatedUris('GET', 200, u, {}), []);
  assert.deepEqual(invalidatedUris('POST', 500, u, {}), [], 'error responses invalidate nothing');
  assert.deepEqual(invalidatedUris('DELETE', 204, u, { location: '/y', 'content-location': 'http://b.test/z' }), [u, 'http://a.test/y'], 'other origins are not invalidated');
  assert.deepEqual(invalidatedUris('PUT', 303, u, { location: 'http://[bad' }), [u]);
});

test('Cache-Status (RFC 9211)', () => {
  assert.equal(cacheStatus('Wharf', { hit: true, ttl: 30.7 }), 'Wharf; hit; ttl=30');
  assert.equal(cacheStatus('Wharf', { fwd: 'uri-miss', fwdStatus: 200, stored: true }), 'Wharf; fwd=uri-miss; fwd-status=200; stored');
  assert.equal(cacheStatus('Wharf', { fwd: 'stale', fwdStatus: 304, collapsed: true, detail: 'a"b' }), 'Wharf; fwd=stale; fwd-status=304; collapsed; detail="ab"');
});

test('Range: single ranges, suffix, open-ended, unsatisfiable, ignored forms', () => {
  assert.deepEqual(parseRanges('bytes=0-4', 10), [{ start: 0, end: 4 }]);
  assert.deepEqual(parseRanges('bytes=5-', 10), [{ start: 5, end: 9 }]);
  assert.deepEqual(parseRanges('bytes=-3', 10), [{ start: 7, end: 9 }]);
  assert.deepEqual(parseRanges('bytes=-30', 10), [{ start: 0, end: 9 }]);
  assert.deepEqual(parseRanges('bytes=8-100', 10), [{ start: 8, end: 9 }]);
  assert.equal(parseRanges('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRanges('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseRanges('bytes=0-0', 0), 'unsatisfiable');
  assert.equal(parseRanges('items=0-1', 10), null);
  assert.equal(parseRanges('bytes=5-2', 10), null);
  assert.equal(parseRanges('bytes=0-1,5-2', 10), null, 'one invalid range-spec: the field is ignored');
  assert.equal(parseRanges('bytes=0-1,x', 10), null);
  assert.equal(parseRanges('bytes=', 10), null);
  assert.equal(parseRanges(undefined, 10), null);
});

test('Range: several ranges (RFC 9110 §14.1.1, §14.2): satisfiable subset, coalescing, order, limit', () => {
  assert.deepEqual(parseRanges('bytes=0-1, 3-4', 10), [{ start: 0, end: 1 }, { start: 3, end: 4 }]);
  assert.deepEqual(parseRanges('bytes=6-7,0-1', 10), [{ start: 6, end: 7 }, { start: 0, end: 1 }], 'the order asked for');
  // unsatisfiable members are dropped while one is satisfiable
  assert.deepEqual(parseRanges('bytes=0-1,50-60', 10), [{ start: 0, end: 1 }]);
  assert.equal(parseRanges('bytes=50-60,70-', 10), 'unsatisfiable');
  // overlapping and adjacent ranges are coalesced
  assert.deepEqual(parseRanges('bytes=0-4,3-6', 10), [{ start: 0, end: 6 }]);
  assert.deepEqual(parseRanges('bytes=0-4,5-6', 10), [{ start: 0, end: 6 }]);
  assert.deepEqual(parseRanges('bytes=0-1,-2', 10), [{ start: 0, end: 1 }, { start: 8, end: 9 }]);
  assert.deepEqual(parseRanges('bytes=0-1,8-9,1-8', 10), [{ start: 0, end: 9 }], 'a later range bridges two');
  assert.equal(parseRanges(`bytes=${Array.from({ length: 65 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`, 1000), null, 'too many ranges: ignored');
  assert.deepEqual(coalesceRanges([{ start: 10, end: 12 }, { start: 0, end: 2 }, { start: 20, end: 22 }, { start: 2, end: 10 }]), [{ start: 0, end: 12 }, { start: 20, end: 22 }]);
});

test('multipart/byteranges framing (RFC 9110 §14.6): exact length', () => {
  const ranges = [{ start: 0, end: 1 }, { start: 5, end: 7 }];
  const m = multipartByteranges('B0UND', 'text/plain', ranges, 10);
  const body = '0123456789';
  const text = m.heads[0] + body.slice(0, 2) + m.heads[1] + body.slice(5, 8) + m.tail;
  assert.equal(m.length, Buffer.byteLength(text));
  assert.equal(text, '--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-7/10\r\n\r\n567\r\n--B0UND--\r\n');
  assert.doesNotMatch(multipartByteranges('B', undefined, ranges, 10).heads[0]!, /Content-Type/);
});
