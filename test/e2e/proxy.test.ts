// The caching HTTP proxy end to end: curl -x against a local origin (a node:http server on
// 127.0.0.1:0 that counts what it sees), raw sockets for bad input, a local TLS server behind
// CONNECT, and a restart that keeps the cache.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import type { TranscriptEvent } from '../../src/core/events.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Origin {
  server: http.Server;
  port: number;
  /** "GET /path" -> count */
  hits: Map<string, number>;
  /** TCP connections accepted */
  connections(): number;
  /** "GET /path" -> statuses answered */
  statuses: Map<string, number[]>;
  count(k: string): number;
  close(): Promise<void>;
}

/** A local origin. Routes by path; every request is counted as "METHOD /path". */
async function startOrigin(): Promise<Origin> {
  const hits = new Map<string, number>();
  const statuses = new Map<string, number[]>();
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const k = `${req.method} ${path}`;
    hits.set(k, (hits.get(k) ?? 0) + 1);
    const answer = (status: number, headers: Record<string, string>, body = ''): void => {
      statuses.set(k, [...(statuses.get(k) ?? []), status]);
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const etag = '"v1"';
    if (path === '/hang') return; // never answers
    if (path.startsWith('/short')) {
      // the 304 carries a longer max-age: the stored headers are updated with it (RFC 9111 §4.3.4)
      if (req.headers['if-none-match'] === etag) return answer(304, { etag, 'cache-control': 'max-age=60' });
      return answer(200, { etag, 'cache-control': 'max-age=1', 'content-type': 'text/plain' }, 'short-lived body');
    }
    if (path.startsWith('/vary')) {
      const enc = req.headers['accept-encoding'] === 'gzip' ? 'gzip-ish' : 'identity';
      return answer(200, { vary: 'Accept-Encoding', 'cache-control': 'max-age=60', 'x-enc': enc }, `body ${enc}`);
    }
    const n = hits.get(k)!;
    if (path.startsWith('/flaky')) {
      if (n === 1) return answer(200, { 'cache-control': 'max-age=1, stale-if-error=60' }, 'good old body');
      return answer(500, {}, 'broken');
    }
    if (path.startsWith('/swr')) return answer(200, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }, `version ${n}`);
    if (path.startsWith('/cut')) {
      // promises 100 bytes, sends 10, then breaks off
      statuses.set(k, [200]);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100' });
      res.write('0123456789');
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    }
    if (path.startsWith('/big')) {
      // 200 KB in pieces, slowly enough for the client to hang up in the middle
      statuses.set(k, [200]);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(200 * 1024) });
      let sent = 0;
      const tick = setInterval(() => {
        res.write(Buffer.alloc(20 * 1024, 'b'));
        if (++sent === 10) {
          clearInterval(tick);
          res.end();
        }
      }, 30);
      return;
    }
    if (path.startsWith('/alphabet')) return answer(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', etag: '"abc"' }, 'abcdefghijklmnopqrstuvwxyz0123456789');
    if (path.startsWith('/nostore')) return answer(200, { 'cache-control': 'no-store' }, 'secret');
    if (path.startsWith('/slow')) {
      setTimeout(() => answer(200, { 'cache-control': 'max-age=60' }, 'slow body'), 300);
      return;
    }
    if (path.startsWith('/chunked')) {
      statuses.set(k, [200]);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'x-hop': 'drop me', connection: 'x-hop' });
      res.write('part one, ');
      setTimeout(() => res.end('part two'), 20);
      return;
    }
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => answer(200, { 'content-type': 'text/plain' }, `posted ${n}`));
      return;
    }
    return answer(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'x-origin-via': String(req.headers['via'] ?? ''), 'x-origin-pa': String(req.headers['proxy-authorization'] ?? ''), etag: '"p1"' }, `hello from ${path}`);
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    hits,
    connections: () => connections,
    statuses,
    count: (k) => hits.get(k) ?? 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function curl(proxyPort: number, url: string, ...extra: string[]): Promise<CurlResult> {
  const { stdout } = await run('curl', ['-sS', '-i', '--max-time', '10', '-x', `http://127.0.0.1:${proxyPort}`, ...extra, url], { timeout: 15_000 });
  return parseCurl(stdout);
}

function parseCurl(stdout: string): CurlResult {
  // with a CONNECT, curl prints the proxy's answer first; keep the last response
  let text = stdout;
  for (;;) {
    const i = text.indexOf('\r\n\r\n');
    const head = text.slice(0, i);
    const rest = text.slice(i + 4);
    if (/^HTTP\/\S+ (200 Connection established|100)/i.test(head) && /^HTTP\//.test(rest)) {
      text = rest;
      continue;
    }
    const lines = head.split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
    }
    return { status, headers, body: rest };
  }
}

/** Sends raw bytes, returns everything the proxy answered until it closed or `ms` passed. */
function raw(port: number, data: string | Buffer, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('error', () => undefined);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(data);
  });
}

describe('HTTP proxy', () => {
  let origin: Origin;
  let t: TestWharf;
  let port: number;
  let base: string;
  const transcript: TranscriptEvent[] = [];

  before(async () => {
    origin = await startOrigin();
    t = await startTestWharf({
      services: ['proxy'],
      set: { 'proxy.timeouts.response': '1500ms', 'proxy.timeouts.header': '1s', 'proxy.max_header_size': '16KB' },
    });
    t.wharf.bus.on('transcript', (ev) => {
      if (ev.service === 'proxy') transcript.push(ev);
    });
    port = t.port('proxy');
    base = `http://127.0.0.1:${origin.port}`;
  });
  after(async () => {
    await t.stop();
    await origin.close();
  });

  it('serves the second fetch from the cache: the origin sees one request', async () => {
    const a = await curl(port, `${base}/page`);
    assert.equal(a.status, 200);
    assert.equal(a.body, 'hello from /page');
    assert.match(a.headers['cache-status']!, /^Wharf; fwd=uri-miss; fwd-status=200; ttl=\d+; stored/);
    assert.match(a.headers['via']!, /1\.1 wharf\.test/);
    const b = await curl(port, `${base}/page`);
    assert.equal(b.status, 200);
    assert.equal(b.body, 'hello from /page');
    assert.match(b.headers['cache-status']!, /^Wharf; hit; ttl=\d+/);
    assert.match(b.headers['age']!, /^\d+$/);
    assert.equal(origin.count('GET /page'), 1);
    // the origin saw our Via, and not the client's Proxy-Authorization (hop-by-hop for proxies)
    const c = await curl(port, `${base}/page2`, '-H', 'Proxy-Authorization: Basic eDp5');
    assert.match(c.headers['x-origin-via']!, /1\.1 wharf\.test/);
    assert.equal(c.headers['x-origin-pa'], '');
  });

  it('transcripts: one C: line per request and one S: line per answer', async () => {
    transcript.length = 0;
    await curl(port, `${base}/page`);
    assert.ok(transcript.some((e) => e.dir === 'C' && e.text === `GET ${base}/page HTTP/1.1`), JSON.stringify(transcript));
    assert.ok(transcript.some((e) => e.dir === 'S' && e.text === 'HTTP/1.1 200 OK'));
  });

  it('revalidates after max-age and the origin answers 304; stale-if-error; stale-while-revalidate', async () => {
    const a = await curl(port, `${base}/short`);
    assert.equal(a.status, 200);
    assert.equal((await curl(port, `${base}/flaky`)).body, 'good old body');
    assert.equal((await curl(port, `${base}/swr`)).body, 'version 1');
    await sleep(2100);
    // RFC 5861 §4: the origin now fails with 500; the stale response is served
    const f = await curl(port, `${base}/flaky`);
    assert.equal(f.status, 200);
    assert.equal(f.body, 'good old body');
    assert.match(f.headers['cache-status']!, /fwd-status=500; detail="stale-if-error"/);
    assert.equal(origin.count('GET /flaky'), 2);
    // RFC 5861 §3: stale served at once, refreshed behind the client's back
    const s1 = await curl(port, `${base}/swr`);
    assert.equal(s1.body, 'version 1');
    assert.match(s1.headers['cache-status']!, /hit; .*stale-while-revalidate/);
    for (let i = 0; i < 50 && origin.count('GET /swr') < 2; i++) await sleep(20);
    await sleep(50);
    const s2 = await curl(port, `${base}/swr`);
    assert.equal(s2.body, 'version 2');
    assert.match(s2.headers['cache-status']!, /hit/);
    const b = await curl(port, `${base}/short`);
    assert.equal(b.status, 200);
    assert.equal(b.body, 'short-lived body');
    assert.match(b.headers['cache-status']!, /fwd=stale; fwd-status=304/);
    assert.deepEqual(origin.statuses.get('GET /short'), [200, 304]);
    // freshened by the 304 (its max-age=60 replaced the stored max-age=1): a hit again
    const c = await curl(port, `${base}/short`);
    assert.match(c.headers['cache-status']!, /hit/);
    assert.equal(c.headers['cache-control'], 'max-age=60');
    assert.equal(origin.count('GET /short'), 2);
  });

  it('keeps two variants for Vary: Accept-Encoding', async () => {
    const g1 = await curl(port, `${base}/vary`, '-H', 'Accept-Encoding: gzip');
    const i1 = await curl(port, `${base}/vary`, '-H', 'Accept-Encoding: identity');
    const g2 = await curl(port, `${base}/vary`, '-H', 'Accept-Encoding: gzip');
    const i2 = await curl(port, `${base}/vary`, '-H', 'Accept-Encoding: identity');
    assert.equal(g1.body, 'body gzip-ish');
    assert.equal(i1.body, 'body identity');
    assert.equal(g2.body, 'body gzip-ish');
    assert.equal(i2.body, 'body identity');
    assert.match(i1.headers['cache-status']!, /fwd=vary-miss/);
    assert.match(g2.headers['cache-status']!, /hit/);
    assert.match(i2.headers['cache-status']!, /hit/);
    assert.equal(origin.count('GET /vary'), 2);
  });

  it('a POST invalidates the URL', async () => {
    await curl(port, `${base}/inv`);
    await curl(port, `${base}/inv`);
    assert.equal(origin.count('GET /inv'), 1);
    const p = await curl(port, `${base}/inv`, '--data-binary', 'x=1');
    assert.equal(p.body, 'posted 3');
    const after = await curl(port, `${base}/inv`);
    assert.match(after.headers['cache-status']!, /fwd=uri-miss/);
    assert.equal(origin.count('GET /inv'), 2);
  });

  it('HEAD from a stored GET, Range from a stored full response, client conditionals', async () => {
    await curl(port, `${base}/ranged`);
    const h = await curl(port, `${base}/ranged`, '-I');
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String('hello from /ranged'.length));
    assert.match(h.headers['cache-status']!, /hit/);
    const r = await curl(port, `${base}/ranged`, '-H', 'Range: bytes=6-9');
    assert.equal(r.status, 206);
    assert.equal(r.body, 'from');
    assert.equal(r.headers['content-range'], `bytes 6-9/${'hello from /ranged'.length}`);
    const bad = await curl(port, `${base}/ranged`, '-H', 'Range: bytes=500-');
    assert.equal(bad.status, 416);
    assert.equal(origin.count('GET /ranged'), 1);
    assert.equal(origin.count('HEAD /ranged'), 0);
    const nm = await curl(port, `${base}/ranged`, '-H', 'If-None-Match: "p1"');
    assert.equal(nm.status, 304);
    assert.equal(nm.body, '');
    const m = await curl(port, `${base}/ranged`, '-H', 'If-None-Match: "other"');
    assert.equal(m.status, 200);
    assert.equal(origin.count('GET /ranged'), 1);
  });

  it('multi-range requests from a stored response: multipart/byteranges, coalescing, 416', async () => {
    const body = 'abcdefghijklmnopqrstuvwxyz0123456789';
    await curl(port, `${base}/alphabet`);
    const m = await curl(port, `${base}/alphabet`, '-r', '0-9,20-29');
    assert.equal(m.status, 206);
    const ct = /^multipart\/byteranges; boundary=(\S+)$/.exec(m.headers['content-type']!);
    assert.ok(ct, m.headers['content-type']);
    assert.equal(Number(m.headers['content-length']), Buffer.byteLength(m.body));
    assert.equal(m.headers['content-range'], undefined);
    const boundary = ct[1]!;
    assert.ok(m.body.endsWith(`\r\n--${boundary}--\r\n`));
    const parts = m.body.split(`--${boundary}`).slice(1, -1).map((p) => {
      const [head, data] = p.replace(/^\r\n/, '').split('\r\n\r\n') as [string, string];
      return { head, data: data.replace(/\r\n$/, '') };
    });
    assert.equal(parts.length, 2);
    assert.match(parts[0]!.head, /Content-Type: text\/plain/);
    assert.match(parts[0]!.head, /Content-Range: bytes 0-9\/36/);
    assert.equal(parts[0]!.data, body.slice(0, 10));
    assert.match(parts[1]!.head, /Content-Range: bytes 20-29\/36/);
    assert.equal(parts[1]!.data, body.slice(20, 30));
    // overlapping ranges coalesce into one: a plain 206
    const c = await curl(port, `${base}/alphabet`, '-r', '0-5,3-9');
    assert.equal(c.status, 206);
    assert.equal(c.headers['content-range'], 'bytes 0-9/36');
    assert.equal(c.body, body.slice(0, 10));
    // a suffix range and an unsatisfiable one: only the satisfiable part
    const s = await curl(port, `${base}/alphabet`, '-r', '-4,100-200');
    assert.equal(s.status, 206);
    assert.equal(s.body, '6789');
    // none satisfiable: 416 with the length (RFC 9110 §15.5.17)
    const u = await curl(port, `${base}/alphabet`, '-r', '100-200,300-');
    assert.equal(u.status, 416);
    assert.equal(u.headers['content-range'], 'bytes */36');
    // If-Range with another validator: the whole representation
    const ir = await curl(port, `${base}/alphabet`, '-r', '0-1,5-6', '-H', 'If-Range: "other"');
    assert.equal(ir.status, 200);
    assert.equal(ir.body, body);
    assert.equal(origin.count('GET /alphabet'), 1);
  });

  it('publishes the cache to the console, proxy-request events and Cache-Status notes', async () => {
    const events: { method: string; url: string; status: number; cache: string; cacheStatus: string }[] = [];
    const off = t.wharf.bus.on('proxy-request', (ev) => events.push(ev as (typeof events)[number]));
    transcript.length = 0;
    try {
      await curl(port, `${base}/inspect`);
      await curl(port, `${base}/inspect`);
      await curl(port, `${base}/inspect`, '--data-binary', 'x');
    } finally {
      off();
    }
    assert.deepEqual(
      events.map((e) => [e.method, e.url, e.status, e.cache]),
      [
        ['GET', `${base}/inspect`, 200, 'miss'],
        ['GET', `${base}/inspect`, 200, 'hit'],
        ['POST', `${base}/inspect`, 200, 'bypass'],
      ],
    );
    assert.match(events[1]!.cacheStatus, /^Wharf; hit/);
    assert.ok(transcript.some((e) => e.dir === '*' && /^Cache-Status: Wharf; hit/.test(e.text)), JSON.stringify(transcript));
    const inspector = t.wharf.inspectors.get('proxy-cache');
    assert.ok(inspector, 'inspector registered');
    await curl(port, `${base}/vary`, '-H', 'Accept-Encoding: gzip');
    await curl(port, `${base}/page`);
    const view = (await inspector()) as { enabled: boolean; size: number; maxSize: number; hits: number; misses: number; entries: { url: string; status: number; size: number; storedAt: number; ageSeconds: number; freshForSeconds: number; fresh: boolean; hits: number; vary?: string }[] };
    assert.equal(view.enabled, true);
    assert.ok(view.hits >= 2 && view.misses >= 2, JSON.stringify({ hits: view.hits, misses: view.misses }));
    assert.ok(view.maxSize > 0 && view.size > 0);
    assert.equal(view.entries[0]!.url, `${base}/page`, 'most recently used first');
    const page = view.entries[0]!;
    assert.equal(page.status, 200);
    assert.equal(page.size, 'hello from /page'.length);
    assert.ok(page.hits >= 2);
    assert.equal(page.fresh, true);
    assert.ok(page.freshForSeconds > 0 && page.freshForSeconds <= 60);
    assert.ok(page.ageSeconds >= 0 && Math.abs(page.storedAt - Date.now()) < 120_000);
    assert.equal(view.entries.find((e) => e.url === `${base}/vary`)?.vary, 'Accept-Encoding');
    assert.equal(view.entries.some((e) => e.url === `${base}/inspect`), false, 'the POST invalidated it');
    assert.equal(view.size, view.entries.reduce((n, e) => n + e.size, 0));
  });

  it('does not store no-store; removes hop-by-hop fields; relays chunked bodies', async () => {
    await curl(port, `${base}/nostore`);
    const b = await curl(port, `${base}/nostore`);
    assert.equal(b.body, 'secret');
    assert.equal(origin.count('GET /nostore'), 2);
    const c = await curl(port, `${base}/chunked`);
    assert.equal(c.body, 'part one, part two');
    assert.equal(c.headers['x-hop'], undefined);
    const d = await curl(port, `${base}/chunked`);
    assert.equal(d.body, 'part one, part two');
    assert.match(d.headers['cache-status']!, /hit/);
  });

  it('collapses concurrent misses into one origin request', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => curl(port, `${base}/slow`)));
    for (const r of results) assert.equal(r.body, 'slow body');
    assert.equal(origin.count('GET /slow'), 1);
    assert.ok(results.some((r) => /collapsed/.test(r.headers['cache-status']!)));
  });

  it('an origin that breaks off mid-body: the client is cut, nothing is stored', async () => {
    await assert.rejects(curl(port, `${base}/cut`), /curl/);
    await assert.rejects(curl(port, `${base}/cut`), /curl/);
    assert.equal(origin.count('GET /cut'), 2);
  });

  it('a client that hangs up mid-body: the proxy keeps filling the cache', async () => {
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write(`GET ${base}/big HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.once('data', () => {
        s.destroy();
        resolve();
      });
    });
    await sleep(600);
    const r = await curl(port, `${base}/big`);
    assert.equal(r.body.length, 200 * 1024);
    assert.match(r.headers['cache-status']!, /hit/);
    assert.equal(origin.count('GET /big'), 1);
  });

  it('only-if-cached without a stored response is 504', async () => {
    const r = await curl(port, `${base}/never-fetched`, '-H', 'Cache-Control: only-if-cached');
    assert.equal(r.status, 504);
    assert.equal(origin.count('GET /never-fetched'), 0);
  });

  it('502 when the origin refuses, 504 when it hangs, 502 when it answers garbage', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const a = await curl(port, `http://127.0.0.1:${deadPort}/x`);
    assert.equal(a.status, 502);
    const b = await curl(port, `${base}/hang`);
    assert.equal(b.status, 504);
    const garbage = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.end('this is not http\r\n\r\n'));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const c = await curl(port, `http://127.0.0.1:${(garbage.address() as net.AddressInfo).port}/x`);
    assert.equal(c.status, 502);
    garbage.close();
    // still serving
    assert.equal((await curl(port, `${base}/page`)).status, 200);
  });

  it('bad input: malformed request line, origin-form, big headers, smuggling, slow headers', async () => {
    assert.match(await raw(port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, 'GET /relative HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400/);
    const big = `GET ${base}/page HTTP/1.1\r\nHost: x\r\n${'X-Big: ' + 'a'.repeat(1000) + '\r\n'}`.repeat(1) + ('X-Fill: ' + 'b'.repeat(1000) + '\r\n').repeat(100) + '\r\n';
    assert.match(await raw(port, big), /^HTTP\/1\.1 431/);
    assert.match(await raw(port, `POST ${base}/inv HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`), /^HTTP\/1\.1 400/);
    assert.match(await raw(port, `POST ${base}/inv HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`), /^HTTP\/1\.1 400/);
    // headers one byte at a time, slower than proxy.timeouts.header (1 s): the proxy gives up
    const slow = await new Promise<{ closedAfter: number; out: string }>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const start = Date.now();
      let out = '';
      const req = `GET ${base}/page HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890\r\n\r\n`;
      let i = 0;
      const timer = setInterval(() => {
        if (i < req.length && !s.destroyed) s.write(req[i++]!);
      }, 200);
      s.on('data', (c) => (out += c.toString()));
      s.on('error', () => undefined);
      s.on('close', () => {
        clearInterval(timer);
        resolve({ closedAfter: Date.now() - start, out });
      });
    });
    assert.ok(slow.closedAfter < 6000, `closed after ${slow.closedAfter} ms`);
    assert.doesNotMatch(slow.out, /200 OK/);
    assert.equal((await curl(port, `${base}/page`)).status, 200);
  });

  it('CONNECT only to allowed ports', async () => {
    const r = await raw(port, `CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 403/);
  });
});

describe('HTTP proxy: CONNECT, access control, restart', () => {
  it('tunnels CONNECT to a local TLS server', async () => {
    // a throwaway instance first, for its self-signed certificate
    const sh = await startTestWharf({ services: [] });
    const tlsServer = https.createServer({ cert: sh.wharf.tls.cert, key: sh.wharf.tls.key }, (_req, res) => res.end('secret over tls'));
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
    const tlsPort = (tlsServer.address() as net.AddressInfo).port;
    const t = await startTestWharf({ services: ['proxy'], set: { 'proxy.connect_ports': [String(tlsPort)] } });
    const events: { method: string; url: string; status: number; cache: string }[] = [];
    t.wharf.bus.on('proxy-request', (ev) => events.push(ev as (typeof events)[number]));
    try {
      const { stdout } = await run('curl', ['-sS', '-k', '-i', '--max-time', '10', '-x', `http://127.0.0.1:${t.port('proxy')}`, `https://127.0.0.1:${tlsPort}/`]);
      const r = parseCurl(stdout);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'secret over tls');
      assert.deepEqual(
        events.map((e) => [e.method, e.url, e.status, e.cache]),
        [['CONNECT', `127.0.0.1:${tlsPort}`, 200, 'tunnel']],
      );
    } finally {
      await t.stop();
      await sh.stop();
      tlsServer.closeAllConnections();
      tlsServer.close();
    }
  });

  it('refuses clients outside proxy.allow with 403', async () => {
    const origin = await startOrigin();
    const t = await startTestWharf({ services: ['proxy'], set: { 'proxy.allow': ['10.0.0.0/8'] } });
    try {
      const r = await curl(t.port('proxy'), `http://127.0.0.1:${origin.port}/page`);
      assert.equal(r.status, 403);
      assert.equal(origin.count('GET /page'), 0);
      assert.match(await raw(t.port('proxy'), 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 403/);
    } finally {
      await t.stop();
      await origin.close();
    }
  });

  it('keep-alive on both sides; origin names through wharf.dnsLookup', async () => {
    const origin = await startOrigin();
    const t = await startTestWharf({ services: ['proxy'] });
    t.wharf.dnsLookup = {
      mx: async () => [],
      addresses: async (host) => (host === 'www.crepes.test' ? ['127.0.0.1'] : []),
    };
    try {
      const p = t.port('proxy');
      // one curl, three URLs: curl reuses its connection to the proxy
      const { stdout, stderr } = await run('curl', ['-sS', '-v', '--max-time', '10', '-x', `http://127.0.0.1:${p}`, `http://127.0.0.1:${origin.port}/k1`, `http://127.0.0.1:${origin.port}/k2`, `http://www.crepes.test:${origin.port}/k3`]);
      assert.equal(stdout, 'hello from /k1hello from /k2hello from /k3');
      assert.match(stderr, /Re-using existing connection/i);
      // the proxy pooled its origin connection
      assert.equal(origin.connections(), 1);
      const unknown = await curl(p, `http://nowhere.crepes.test:${origin.port}/x`);
      assert.equal(unknown.status, 502);
    } finally {
      await t.stop();
      await origin.close();
    }
  });

  it('proxy.cache.enabled = false: every request goes to the origin', async () => {
    const origin = await startOrigin();
    const t = await startTestWharf({ services: ['proxy'], set: { 'proxy.cache.enabled': false } });
    try {
      const a = await curl(t.port('proxy'), `http://127.0.0.1:${origin.port}/nc`);
      const b = await curl(t.port('proxy'), `http://127.0.0.1:${origin.port}/nc`);
      assert.equal(b.body, 'hello from /nc');
      assert.match(a.headers['cache-status']!, /fwd=bypass/);
      assert.equal(t.wharf.inspectors.has('proxy-cache'), false);
      assert.equal(origin.count('GET /nc'), 2);
    } finally {
      await t.stop();
      await origin.close();
    }
  });

  it('reverse mode: caches in front of proxy.upstream', async () => {
    const origin = await startOrigin();
    const t = await startTestWharf({ services: ['proxy'], set: { 'proxy.upstream': `http://127.0.0.1:${origin.port}` } });
    try {
      const url = `http://127.0.0.1:${t.port('proxy')}/rev`;
      const a = parseCurl((await run('curl', ['-sS', '-i', '--max-time', '10', url])).stdout);
      const b = parseCurl((await run('curl', ['-sS', '-i', '--max-time', '10', url])).stdout);
      assert.equal(a.body, 'hello from /rev');
      assert.equal(b.body, 'hello from /rev');
      assert.match(b.headers['cache-status']!, /hit/);
      assert.equal(origin.count('GET /rev'), 1);
    } finally {
      await t.stop();
      await origin.close();
    }
  });

  it('keeps the cache across a restart', async () => {
    const origin = await startOrigin();
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-proxy-'));
    try {
      const t1 = await startTestWharf({ services: ['proxy'], dataDir });
      const a = await curl(t1.port('proxy'), `http://127.0.0.1:${origin.port}/persist`);
      assert.equal(a.status, 200);
      await sleep(50); // the body commit happens as the response ends
      await t1.stop();
      assert.equal(t1.wharf.inspectors.has('proxy-cache'), false, 'inspector removed at stop');
      const t2 = await startTestWharf({ services: ['proxy'], dataDir });
      try {
        // the first answer after a restart reads the body from disk: several ranges of it
        const m = await curl(t2.port('proxy'), `http://127.0.0.1:${origin.port}/persist`, '-r', '0-4,11-15');
        assert.equal(m.status, 206);
        assert.match(m.body, /Content-Range: bytes 0-4\/19\r\n\r\nhello\r\n/);
        assert.match(m.body, /Content-Range: bytes 11-15\/19\r\n\r\n\/pers\r\n/);
        assert.equal(Number(m.headers['content-length']), Buffer.byteLength(m.body));
        const b = await curl(t2.port('proxy'), `http://127.0.0.1:${origin.port}/persist`);
        assert.equal(b.body, 'hello from /persist');
        assert.match(b.headers['cache-status']!, /hit/);
        assert.equal(origin.count('GET /persist'), 1);
      } finally {
        await t2.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await origin.close();
    }
  });
});
