// proxy.workers = 2: two processes accept on the proxy's port and share one cache. Which
// process serves a connection is the kernel's choice, so the test learns it from the
// transcripts (a child's session ids end in "@<pid>") and keeps fetching new URLs until it
// has seen a response stored through one process be a hit through the other, both ways.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import type { TranscriptEvent } from '../../src/core/events.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  body: string;
  cacheStatus: string;
}

/** One request on a new connection (so the kernel picks a process each time). */
function get(proxyPort: number, url: string, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method, path: url, agent: false, headers: body ? { 'content-length': String(Buffer.byteLength(body)) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, cacheStatus: String(res.headers['cache-status'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP proxy with proxy.workers = 2', () => {
  let t: TestWharf;
  let origin: http.Server;
  let base: string;
  const hits = new Map<string, number>();
  const transcript: TranscriptEvent[] = [];

  before(async () => {
    origin = http.createServer((req, res) => {
      const k = `${req.method} ${req.url}`;
      hits.set(k, (hits.get(k) ?? 0) + 1);
      if (req.method === 'POST') {
        req.resume();
        req.on('end', () => res.end('posted'));
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`body of ${req.url}`);
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`;
    t = await startTestWharf({ services: ['proxy'], set: { 'proxy.workers': 2, 'proxy.timeouts.header': '1s' } });
    t.wharf.bus.on('transcript', (ev) => {
      if (ev.service === 'proxy') transcript.push(ev);
    });
    await sleep(400); // the pool polls for listeners before the child forwards its transcripts
  });

  after(async () => {
    await t?.stop();
    origin.closeAllConnections();
    await new Promise<void>((r) => origin.close(() => r()));
  });

  /**
   * Waits until the primary indexes `url` (then its broadcast to the child is on the way: a
   * store becomes visible in the other process after two IPC hops, not at once).
   */
  async function indexed(url: string): Promise<void> {
    const inspector = t.wharf.inspectors.get('proxy-cache')!;
    for (let i = 0; i < 100; i++) {
      const view = (await inspector()) as { entries: { url: string }[] };
      if (view.entries.some((e) => e.url === url)) break;
      await sleep(10);
    }
    await sleep(20);
  }

  /** Which process served the request for `url` (the n-th time): 'primary' or the child's pid. */
  async function servedBy(url: string, n: number): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const lines = transcript.filter((e) => e.dir === 'C' && e.text.startsWith(`GET ${url} `));
      if (lines.length >= n) {
        const m = /@(\d+)$/.exec(lines[n - 1]!.session);
        return m ? m[1]! : 'primary';
      }
      await sleep(20);
    }
    throw new Error(`no transcript for ${url}`);
  }

  it('two processes serve, and a response cached through one is a hit through the other', async () => {
    const port = t.port('proxy');
    let childToPrimary = false;
    let primaryToChild = false;
    const processes = new Set<string>();
    let fetched = 0;
    for (let i = 0; i < 200 && !(childToPrimary && primaryToChild); i++) {
      fetched++;
      const url = `${base}/obj${i}`;
      const a = await get(port, url);
      assert.equal(a.body, `body of /obj${i}`);
      assert.match(a.cacheStatus, /fwd=uri-miss.*stored/);
      await indexed(url);
      const b = await get(port, url);
      assert.equal(b.body, `body of /obj${i}`);
      assert.match(b.cacheStatus, /^Wharf; hit/, `second fetch of ${url}`);
      assert.equal(hits.get(`GET /obj${i}`), 1);
      const [p1, p2] = [await servedBy(url, 1), await servedBy(url, 2)];
      processes.add(p1).add(p2);
      if (p1 !== 'primary' && p2 === 'primary') childToPrimary = true;
      if (p1 === 'primary' && p2 !== 'primary') primaryToChild = true;
    }
    assert.ok(processes.size >= 2, `both processes served: ${[...processes].join(', ')}`);
    assert.ok(childToPrimary, 'stored through the child, a hit through the primary');
    assert.ok(primaryToChild, 'stored through the primary, a hit through the child');
    // the primary's inspector counts the child's hits too (they come in batches, <= 1 s late)
    const inspector = t.wharf.inspectors.get('proxy-cache')!;
    let view = (await inspector()) as { hits: number; misses: number; entries: { url: string; hits: number }[] };
    for (let i = 0; i < 60 && (view.hits < fetched || view.misses < fetched); i++) {
      await sleep(50);
      view = (await inspector()) as typeof view;
    }
    assert.deepEqual([view.hits, view.misses], [fetched, fetched], 'one miss and one hit per URL');
    assert.equal(view.entries.length, fetched);
    assert.ok(view.entries.every((e) => e.hits === 1), JSON.stringify(view.entries.filter((e) => e.hits !== 1)));
    assert.ok(t.wharf.inspectors.get('workers:proxy'), 'the pool is published');
  });

  it('a POST through either process invalidates the URL for both', async () => {
    const port = t.port('proxy');
    for (let i = 0; i < 6; i++) {
      const url = `${base}/inv${i}`;
      await get(port, url);
      await indexed(url);
      assert.match((await get(port, url)).cacheStatus, /hit/);
      assert.equal((await get(port, url, 'POST', 'x=1')).body, 'posted');
      // wherever the next GET lands, the stored response is gone
      const after = await get(port, url);
      assert.match(after.cacheStatus, /fwd=uri-miss/, `after POST ${i}`);
      assert.equal(hits.get(`GET /inv${i}`), 2);
    }
  });

  it('every process enforces the header timeout on the shared socket (slow clients are closed)', async () => {
    const port = t.port('proxy');
    const slow = (): Promise<number> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        const start = Date.now();
        const req = `GET ${base}/slow HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890\r\n\r\n`;
        let i = 0;
        const timer = setInterval(() => {
          if (i < req.length && !s.destroyed) s.write(req[i++]!);
        }, 200);
        s.on('error', () => undefined);
        s.on('close', () => {
          clearInterval(timer);
          resolve(Date.now() - start);
        });
      });
    // several at once, so that both processes are likely to get one
    const times = await Promise.all([slow(), slow(), slow(), slow()]);
    for (const ms of times) assert.ok(ms < 6000, `closed after ${ms} ms`);
    assert.equal(hits.get('GET /slow'), undefined);
  });
});
