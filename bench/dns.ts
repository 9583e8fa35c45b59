// bench/dns: dnsperf (Debian dnsperf) against Wharf's authoritative server and NSD (Debian nsd)
// serving the same zone, then against Wharf's resolver and Unbound (Debian unbound) answering
// from a warm cache the same names (served by NSD on another 127.x address); prints queries/s
// for each and the ratios. Every server uses both cores: dns.workers = 2, NSD server-count 2,
// Unbound num-threads 2.
//
//   npm run bench -- dns [--seconds S] [--clients C] [--names N] [--workers W]
//
// The names are host0..host{N-1}.bench.test, A records, asked in turn. RRL is off everywhere.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { Wharf } from '../src/wharf.js';
import { listenerSections } from '../test/helpers/instance.js';
import { DNSPERF, NSD, UNBOUND, peerAvailable, randomLoopback, startNsd, startUnbound } from './lib/dns-peers.js';
import type { Peer } from './lib/dns-peers.js';
import { freePort, printTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '20' },
    names: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '2' },
  },
});
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const NAMES = Number(values.names);
const WORKERS = Number(values.workers);

function zoneText(ns: string): string {
  const lines = [
    '$ORIGIN bench.test.',
    '$TTL 86400',
    '@ SOA ns1 hostmaster 1 3600 600 86400 3600',
    '@ NS ns1',
    `ns1 A ${ns}`,
    '@ MX 10 mail',
    'mail A 127.0.0.25',
  ];
  for (let i = 0; i < NAMES; i++) lines.push(`host${i} A 127.1.${(i >> 8) & 255}.${i & 255}`);
  return lines.join('\n') + '\n';
}

/** A root zone delegating bench.test (Wharf's resolver starts from root hints). */
function rootText(ns: string): string {
  return `$ORIGIN .
$TTL 86400
. SOA a.root hostmaster.root 1 3600 600 86400 3600
. NS a.root
a.root A ${ns}
bench.test. NS ns1.bench.test.
ns1.bench.test. A ${ns}
`;
}

function dnsperf(address: string, port: number, file: string, args: string[]): Promise<{ qps: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile(DNSPERF, ['-s', address, '-p', String(port), '-d', file, '-c', String(CLIENTS), '-T', '2', '-q', '500', '-t', '2', ...args], { timeout: (SECONDS + 60) * 1000 }, (err, stdout, stderr) => {
      const out = stdout + stderr;
      const m = /Queries per second:\s+([\d.]+)/.exec(out);
      if (!m) return reject(new Error(`dnsperf failed: ${err?.message ?? ''}\n${out}`));
      const lost = /Queries lost:\s+(\d+)/.exec(out)?.[1];
      const completed = /Queries completed:\s+(\d+)/.exec(out)?.[1];
      const noerror = /NOERROR (\d+)/.exec(out)?.[1];
      if (completed && noerror && Number(noerror) < Number(completed) * 0.99) return reject(new Error(`answers are not NOERROR:\n${out}`));
      console.error(`  ${address}:${port}: ${m[1]} q/s (completed ${completed}, lost ${lost})`);
      resolve({ qps: Number(m[1]), out });
    });
  });
}

async function startWharf(dir: string, name: string, address: string, set: Record<string, unknown>): Promise<{ wharf: Wharf }> {
  const overrides: Record<string, unknown> = { hostname: 'bench.test', 'log.level': 'error', 'queue.enabled': false };
  for (const s of listenerSections()) overrides[`${s}.enabled`] = s === 'dns';
  Object.assign(overrides, { 'dns.host': address, 'dns.port': 0, 'dns.workers': WORKERS, 'dns.rrl.enabled': false, ...set });
  const wharf = new Wharf({ config: loadConfig({ overrides }), dataDir: join(dir, name), logStream: null });
  await wharf.open();
  return { wharf };
}

async function main(): Promise<void> {
  const missing = [NSD, UNBOUND, DNSPERF].filter((b) => !peerAvailable(b));
  if (missing.length) {
    console.error(`bench/dns needs ${missing.join(', ')}: apt-get install nsd unbound dnsperf (with a policy-rc.d that exits 101)`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-dns-'));
  const peers: Peer[] = [];
  const wharfs: Wharf[] = [];
  try {
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, Array.from({ length: NAMES }, (_, i) => `host${i}.bench.test A\n`).join(''));

    // Authoritative: Wharf and NSD, same zones.
    const authAddr = randomLoopback();
    const nsdAddr = randomLoopback();
    const auth = await startWharf(dir, 'auth', authAddr, { 'dns.recursion.enabled': false });
    wharfs.push(auth.wharf);
    await auth.wharf.store.putZone('bench.test', zoneText(nsdAddr), 1);
    await auth.wharf.store.putZone('.', rootText(nsdAddr), 1);
    const authBound = await auth.wharf.start();
    const authPort = authBound.find((b) => b.service === 'dns')!.port;
    const nsd = await startNsd({
      address: nsdAddr,
      port: await freePort(nsdAddr),
      servers: WORKERS,
      rrl: false,
      zones: [
        { name: 'bench.test', text: zoneText(nsdAddr) },
        { name: '.', text: rootText(nsdAddr) },
      ],
    });
    peers.push(nsd);
    console.error(`authoritative, ${SECONDS} s, ${CLIENTS} clients, ${NAMES} names:`);
    await dnsperf(authAddr, authPort, queries, ['-l', '2']); // warm-up (JIT)
    const wAuth = (await dnsperf(authAddr, authPort, queries, ['-l', String(SECONDS)])).qps;
    const nAuth = (await dnsperf(nsdAddr, nsd.port, queries, ['-l', String(SECONDS)])).qps;
    await auth.wharf.stop(1000);
    wharfs.length = 0;

    // Resolvers with a warm cache, both resolving through NSD.
    const resAddr = randomLoopback();
    const res = await startWharf(dir, 'resolver', resAddr, {
      'dns.recursion.enabled': true,
      'dns.recursion.allow': ['127.0.0.0/8'],
      'dns.resolver.root_hints': [`${nsdAddr}:${nsd.port}`],
      'dns.resolver.upstream_port': nsd.port,
      'dns.resolver.cache_size': Math.max(10_000, NAMES * 4),
    });
    wharfs.push(res.wharf);
    const resPort = (await res.wharf.start()).find((b) => b.service === 'dns')!.port;
    const ubAddr = randomLoopback();
    const unbound = await startUnbound({ address: ubAddr, port: await freePort(ubAddr), threads: WORKERS, stubs: [{ name: 'bench.test', addr: `${nsdAddr}@${nsd.port}` }] });
    peers.push(unbound);
    console.error(`resolver cache hits, ${SECONDS} s:`);
    // Warm every process's cache: each name several times (the kernel spreads them).
    await dnsperf(resAddr, resPort, queries, ['-n', '4']);
    await dnsperf(ubAddr, unbound.port, queries, ['-n', '4']);
    const wRes = (await dnsperf(resAddr, resPort, queries, ['-l', String(SECONDS)])).qps;
    const uRes = (await dnsperf(ubAddr, unbound.port, queries, ['-l', String(SECONDS)])).qps;

    printTable(`DNS, dnsperf ${SECONDS} s, ${CLIENTS} clients, ${NAMES} names, ${WORKERS} processes/threads per server`, [
      ['wharf authoritative', `${wAuth.toFixed(0)} queries/s`],
      ['nsd authoritative', `${nAuth.toFixed(0)} queries/s`],
      ['ratio wharf/nsd', (wAuth / nAuth).toFixed(2)],
      ['wharf resolver (cache)', `${wRes.toFixed(0)} queries/s`],
      ['unbound (cache)', `${uRes.toFixed(0)} queries/s`],
      ['ratio wharf/unbound', (wRes / uRes).toFixed(2)],
    ]);
  } finally {
    for (const w of wharfs) await w.stop(1000).catch(() => {});
    for (const p of peers) await p.stop().catch(() => {});
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
