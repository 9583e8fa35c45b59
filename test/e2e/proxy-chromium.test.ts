// Headless Chromium (Debian chromium, driven by playwright-core) browses through the proxy: a
// local page with several images is loaded twice, each time in a fresh browser context (so
// Chromium's own cache cannot answer), and the origin must have seen each object only once:
// the second load came from Wharf's cache. Skipped with a message when chromium is missing.
//
// --proxy-bypass-list=<-loopback> matters: Chromium never proxies loopback addresses unless
// told so, and every target here is on 127.0.0.1.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

const CHROMIUM = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium';
const IMAGES = ['a', 'b', 'c', 'd', 'e'];
// a 1x1 transparent PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

const skip = existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium, or set WHARF_CHROMIUM)`;

describe('HTTP proxy: headless Chromium', { skip }, () => {
  let t: TestWharf;
  let origin: http.Server;
  let originPort: number;
  const hits = new Map<string, number>();

  before(async () => {
    origin = http.createServer((req, res) => {
      const path = req.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path === '/' || path === '/index.html') {
        const imgs = IMAGES.map((n) => `<img src="/img/${n}.png" width="10" height="10" alt="${n}">`).join('\n');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'max-age=60' });
        res.end(`<!doctype html><html><head><title>wharf</title></head><body><h1>Cached page</h1>\n${imgs}\n</body></html>`);
        return;
      }
      if (/^\/img\/[a-z]\.png$/.test(path)) {
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'max-age=60', 'last-modified': 'Mon, 23 Nov 2026 10:00:00 GMT' });
        res.end(PNG);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as net.AddressInfo).port;
    t = await startTestWharf({ services: ['proxy'] });
  });

  after(async () => {
    await t?.stop();
    origin.closeAllConnections();
    await new Promise<void>((r) => origin.close(() => r()));
  });

  it('the second load is served from the cache (counted at the origin)', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', `--proxy-server=http://127.0.0.1:${t.port('proxy')}`, '--proxy-bypass-list=<-loopback>'],
    });
    const events: { url: string; cache: string }[] = [];
    const off = t.wharf.bus.on('proxy-request', (ev) => events.push(ev as (typeof events)[number]));
    try {
      const url = `http://127.0.0.1:${originPort}/index.html`;
      const load = async (): Promise<Map<string, string>> => {
        // a fresh context each time: an empty browser cache, so every object is requested
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          const statuses = new Map<string, string>();
          page.on('response', (r) => statuses.set(new URL(r.url()).pathname, `${r.status()} ${r.headers()['cache-status'] ?? ''}`));
          await page.goto(url, { waitUntil: 'load' });
          // every image decoded: the browser really got them
          const complete = await page.evaluate('[...document.images].every((i) => i.complete && i.naturalWidth === 1)');
          assert.equal(complete, true, 'all images loaded');
          return statuses;
        } finally {
          await context.close();
        }
      };
      const first = await load();
      const second = await load();
      const objects = ['/index.html', ...IMAGES.map((n) => `/img/${n}.png`)];
      for (const o of objects) {
        assert.equal(hits.get(o), 1, `origin saw ${o} once: ${JSON.stringify([...hits])}`);
        assert.match(first.get(o) ?? '', /^200 Wharf; fwd=uri-miss/, `first load of ${o}`);
        assert.match(second.get(o) ?? '', /^200 Wharf; hit/, `second load of ${o}`);
      }
      // the proxy's own account agrees: the second round were hits
      const hitsSeen = events.filter((e) => e.cache === 'hit').map((e) => new URL(e.url).pathname);
      for (const o of objects) assert.ok(hitsSeen.includes(o), `hit event for ${o}`);
    } finally {
      off();
      await browser.close();
    }
  });
});
