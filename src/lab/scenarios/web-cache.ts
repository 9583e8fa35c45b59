// web-cache: the slides' institutional cache. cis.poly.edu fetches
// http://www.ibm.com:<http>/run/<tag>/index.html through cache.poly.edu (a forward proxy that
// resolves www.ibm.com → servereast.backup2.ibm.com through the lab DNS):
//   1. a miss: the proxy fetches it from the origin and stores it (Cache-Status fwd=…; stored);
//   2. a hit: answered from the cache, the origin never sees it (its counter does not move);
//   3. after max-age (WEB_MAX_AGE s): stale, the proxy revalidates with If-None-Match and the origin
//      answers 304 Not Modified (RFC 9111 §4.3); the client still gets 200 with the body.
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { ScenarioError } from '../line-client.js';
import { WEB_MAX_AGE } from '../world.js';
import type { Scenario, ScenarioContext } from './types.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function viaProxy(proxyHost: string, proxyPort: number, url: string, localAddress: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxyHost, port: proxyPort, method: 'GET', path: url, localAddress, agent: false, headers: { host: new URL(url).host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => reject(new ScenarioError(`reading the answer: ${err.message}`)));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(new ScenarioError(`GET ${url} through the proxy failed: ${err.message}`)));
    req.end();
  });
}

export const webCache: Scenario = {
  summary: 'through cache.poly.edu: a miss fetched from the origin, a hit the origin never sees, a revalidation answered 304',
  async run({ lab, transcript }: ScenarioContext) {
    const { world, origin } = lab;
    const proxy = world.hosts['cache.poly.edu']!;
    const from = world.hosts['cis.poly.edu']!;
    const path = `/run/${randomBytes(3).toString('hex')}/index.html`;
    const url = `http://www.ibm.com:${origin.port}${path}`;
    transcript.push(`== cis.poly.edu (${from}) browses through the institutional cache cache.poly.edu ${proxy}:${world.ports.proxy}; the origin is www.ibm.com = servereast.backup2.ibm.com ${origin.host}:${origin.port}`);
    const fetchOnce = async (label: string): Promise<Got> => {
      const before = origin.log.length;
      transcript.push('');
      transcript.push(`-- ${label}`);
      transcript.push(`C: GET ${url} HTTP/1.1`);
      const got = await viaProxy(proxy, world.ports.proxy, url, from);
      transcript.push(`S: HTTP/1.1 ${got.status} ${http.STATUS_CODES[got.status] ?? ''}`.trimEnd());
      for (const h of ['cache-status', 'age', 'cache-control', 'etag', 'last-modified', 'via']) if (got.headers[h] !== undefined) transcript.push(`S: ${h.replace(/(^|-)\w/g, (x) => x.toUpperCase())}: ${String(got.headers[h])}`);
      transcript.push(`   (${got.body.length} octets of body)`);
      const seen = origin.log.slice(before).filter((r) => r.path === path);
      if (seen.length === 0) transcript.push('   (origin: no request — it never saw this one)');
      for (const r of seen) transcript.push(`   (origin: ${r.method} ${r.path}${r.conditional ? ' (conditional)' : ''} → ${r.status}, request #${origin.count(path)} for this page)`);
      if (got.status !== 200) throw new ScenarioError(`${label}: the proxy answered ${got.status}`);
      return got;
    };
    const status = (g: Got): string => String(g.headers['cache-status'] ?? '');

    const first = await fetchOnce('1. first visit: a miss, fetched from the origin');
    if (origin.count(path) !== 1 || /; hit/.test(status(first)) || !/fwd=/.test(status(first))) throw new ScenarioError(`the first GET was not a miss fetched from the origin (Cache-Status "${status(first)}", origin requests ${origin.count(path)})`);

    const second = await fetchOnce('2. second visit: a hit, served by the cache');
    if (origin.count(path) !== 1 || !/; hit/.test(status(second))) throw new ScenarioError(`the second GET was not a hit (Cache-Status "${status(second)}", origin requests ${origin.count(path)})`);
    if (!second.body.equals(first.body)) throw new ScenarioError('the hit returned other bytes than the miss');

    transcript.push('');
    transcript.push(`   (waiting ${WEB_MAX_AGE + 1} s: max-age=${WEB_MAX_AGE} expires, the stored copy becomes stale)`);
    await new Promise((r) => setTimeout(r, (WEB_MAX_AGE + 1) * 1000));
    const third = await fetchOnce('3. after max-age: stale, revalidated with the origin (304 Not Modified)');
    const last = origin.log.filter((r) => r.path === path).at(-1);
    if (origin.count(path) !== 2 || !last?.conditional || last.status !== 304) throw new ScenarioError(`the third GET was not a revalidation answered 304 (origin saw ${origin.count(path)} requests, the last ${last ? `${last.status}${last.conditional ? ' conditional' : ''}` : 'none'})`);
    if (!/fwd=stale/.test(status(third))) throw new ScenarioError(`the third answer's Cache-Status "${status(third)}" does not say fwd=stale`);
    if (!third.body.equals(first.body)) throw new ScenarioError('the revalidated answer returned other bytes than the miss');
  },
};
