// bench/http-proxy: wrk against Wharf's proxy, Squid (Debian squid) and Varnish (Debian
// varnish), each a cache in front of the same local origin, for a cached 1 KiB and a cached
// 100 KiB object; prints requests/s for each and the ratios.
//
//   npm run bench -- http-proxy [--seconds 10] [--connections 64] [--threads 2] [--workers 2]
//                               [--only wharf,squid,varnish] [--sizes 1,100  (KiB)]
//
// All three run as reverse proxies (Varnish is one by nature; Wharf with proxy.upstream,
// Squid in accel mode), so wrk's plain origin-form requests reach the same cached objects.
// --workers: Wharf's proxy.workers and Squid's workers (Varnish uses threads on every core);
// --squid-workers to give Squid another count.
// Each object is fetched three times first (a miss that fills the cache), then wrk warms up for
// 2 s; the origin's request count during the measured run shows that it came from the cache.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { Wharf } from '../src/wharf.js';
import { listenerSections } from '../test/helpers/instance.js';
import { fetchOnce, runWrk, startOrigin, startSquid, startVarnish } from './lib/http-peers.js';
import type { Peer } from './lib/http-peers.js';
import { printTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    'squid-workers': { type: 'string' },
    only: { type: 'string', default: 'wharf,squid,varnish' },
    sizes: { type: 'string', default: '1,100' },
  },
});
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const WORKERS = Number(values.workers);
const SQUID_WORKERS = Number(values['squid-workers'] ?? values.workers);
const ONLY = new Set(values.only.split(','));
const OBJECTS = values.sizes.split(',').map((k) => `/${Number(k)}k`);

async function startWharf(dir: string, originPort: number): Promise<Peer> {
  const set: Record<string, unknown> = { hostname: 'bench.test', 'log.level': 'error', 'queue.enabled': false };
  for (const s of listenerSections()) set[`${s}.enabled`] = s === 'proxy';
  set['proxy.port'] = 0;
  set['proxy.upstream'] = `http://127.0.0.1:${originPort}`;
  set['proxy.workers'] = WORKERS;
  set['proxy.max_per_ip'] = 100_000;
  set['proxy.max_connections'] = 100_000;
  const wharf = new Wharf({ config: loadConfig({ overrides: set }), dataDir: join(dir, 'wharf'), logStream: null });
  await wharf.open();
  await wharf.start();
  return { name: 'wharf', port: wharf.address('proxy').port, stop: () => wharf.stop() };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-proxy-'));
  chmodSync(dir, 0o755); // Squid's kids run as the proxy user and write their logs below
  const origin = await startOrigin();
  const peers: Peer[] = [];
  const cleanup = (): void => {
    for (const p of peers) void p.stop();
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const results = new Map<string, Map<string, number>>();
  try {
    const starters: [string, () => Promise<Peer>][] = [
      ['wharf', () => startWharf(dir, origin.port)],
      ['squid', () => startSquid(dir, origin.port, SQUID_WORKERS)],
      ['varnish', () => startVarnish(dir, origin.port)],
    ];
    // One server at a time: the machine's cores go to the one measured (and to wrk).
    for (const [name, start] of starters) {
      if (!ONLY.has(name)) continue;
      const peer = await start();
      peers.push(peer);
      const rates = new Map<string, number>();
      results.set(name, rates);
      try {
        for (const path of OBJECTS) {
          // fill the cache, then check that the next answer is a hit
          for (let i = 0; i < 3; i++) {
            const r = await fetchOnce(peer.port, path);
            if (r.status !== 200) throw new Error(`${name}: ${path} answered ${r.status}`);
          }
          await runWrk(`http://127.0.0.1:${peer.port}${path}`, { threads: THREADS, connections: CONNECTIONS, seconds: Math.min(2, SECONDS) }); // warm-up
          const before = origin.requests();
          const w = await runWrk(`http://127.0.0.1:${peer.port}${path}`, { threads: THREADS, connections: CONNECTIONS, seconds: SECONDS });
          const originSaw = origin.requests() - before;
          console.error(`${name} ${path}: ${w.requestsPerSec.toFixed(0)} requests/s${w.bad ? `, ${w.bad} non-2xx` : ''}${w.errors ? `, ${w.errors}` : ''}; origin requests during the run: ${originSaw}`);
          rates.set(path, w.requestsPerSec);
        }
      } finally {
        await peer.stop();
        peers.splice(peers.indexOf(peer), 1);
      }
    }
  } finally {
    cleanup();
    await origin.close();
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
  const rows: [string, string][] = [];
  for (const path of OBJECTS) {
    const size = path.slice(1).replace('k', ' KiB');
    for (const [name, rates] of results) rows.push([`${size} ${name}`, `${rates.get(path)!.toFixed(0)} requests/s`]);
    const w = results.get('wharf')?.get(path);
    for (const other of ['squid', 'varnish']) {
      const o = results.get(other)?.get(path);
      if (w && o) rows.push([`${size} ratio wharf/${other}`, (w / o).toFixed(2)]);
    }
  }
  printTable(`HTTP cache hits, wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${WORKERS} Wharf process(es), ${SQUID_WORKERS} Squid worker(s)`, rows);
}

await main();
