// Wharf's DNS with real peers: NSD (Debian nsd) as a secondary of a Wharf zone, pulling it by AXFR
// after Wharf's NOTIFY (RFC 1996, RFC 5936), and Unbound (Debian unbound) using Wharf as the stub
// for a zone and resolving through it; and dns.workers = 2 answering from two processes.
// The peers run with our own configs in temp dirs on random 127.x addresses (bench/lib/dns-peers.ts).
// A missing peer fails the test unless WHARF_SKIP_PEERS=1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { NSD, UNBOUND, peerAvailable, randomLoopback, startNsd, startUnbound } from '../../bench/lib/dns-peers.js';
import type { Peer } from '../../bench/lib/dns-peers.js';
import { freePort } from '../../bench/lib/util.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { dnsServices } from '../../src/dns/service.js';
import type { DnsService } from '../../src/dns/service.js';
import { Wharf } from '../../src/wharf.js';
import { runWharf } from '../helpers/cli.js';
import { startTestWharf, testConfigOverrides } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

const SKIP = process.env.WHARF_SKIP_PEERS === '1';

function zone(serial: number, extra = ''): string {
  return `$ORIGIN peers.test.
$TTL 300
@ SOA ns1 hostmaster ${serial} 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 127.0.0.5
@ MX 10 mail
mail A 127.0.0.6
alias CNAME www
${extra}`;
}

function dig(server: string, port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve) =>
    execFile('dig', [`@${server}`, '-p', String(port), '+time=2', '+tries=1', ...args], (_e, out, err) => resolve(out + err)),
  );
}

async function until(what: string, fn: () => Promise<boolean>, ms = 15_000, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) assert.fail(`${what} not seen within ${ms} ms\n${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function requirePeer(bin: string, pkg: string): boolean {
  if (peerAvailable(bin)) return true;
  if (SKIP) return false;
  assert.fail(`${bin} is missing: apt-get install ${pkg} (or set WHARF_SKIP_PEERS=1)`);
}

describe('NSD as a secondary of a Wharf zone', () => {
  let w: TestWharf;
  let nsd: Peer;
  const nsdAddr = randomLoopback();
  let ok = true;

  before(async () => {
    ok = requirePeer(NSD, 'nsd');
    if (!ok) return;
    const nsdPort = await freePort(nsdAddr);
    w = await startTestWharf({ services: ['dns'], set: { 'dns.secondaries': [`${nsdAddr}:${nsdPort}`], 'dns.rrl.enabled': false } });
    await w.wharf.store.putZone('peers.test', zone(1), 1);
    await until('zone served by wharf', async () => /127\.0\.0\.5/.test(await dig('127.0.0.1', w.port('dns'), '+short', 'www.peers.test')));
    nsd = await startNsd({ address: nsdAddr, port: nsdPort, zones: [{ name: 'peers.test', primary: `127.0.0.1@${w.port('dns')}` }] });
  });
  after(async () => {
    await nsd?.stop();
    await w?.stop();
  });

  test('NSD pulls the zone at start and serves it', { skip: SKIP && !peerAvailable(NSD) }, async () => {
    await until('NSD serving www.peers.test', async () => /127\.0\.0\.5/.test(await dig(nsdAddr, nsd.port, '+short', '+norec', 'www.peers.test')), 15_000, () => nsd.log());
    const soa = await dig(nsdAddr, nsd.port, '+norec', 'peers.test', 'SOA');
    assert.match(soa, /flags: qr aa/, soa);
    assert.match(soa, /hostmaster\.peers\.test\. 1 3600 600 86400 60/);
  });

  test('a change through store.putZone is NOTIFYed and NSD transfers it', { skip: SKIP && !peerAvailable(NSD) }, async () => {
    await until('NSD serving serial 1', async () => /\b1 3600/.test(await dig(nsdAddr, nsd.port, '+short', 'peers.test', 'SOA')), 15_000, () => nsd.log());
    await w.wharf.store.putZone('peers.test', zone(2, 'new A 127.0.0.42\n'), 2);
    // NSD's refresh is 3600 s: only the NOTIFY makes it fetch the zone now.
    await until('new.peers.test on NSD', async () => /127\.0\.0\.42/.test(await dig(nsdAddr, nsd.port, '+short', 'new.peers.test')), 15_000, () => nsd.log());
    assert.match(nsd.log(), /notify/i, 'NSD logged the NOTIFY');
  });

  test('`wharf zone add-record` in another process: NOTIFY, AXFR, served by NSD', { skip: SKIP && !peerAvailable(NSD) }, async () => {
    const r = await runWharf(['zone', 'add-record', 'peers.test', 'cli 600 IN A 127.0.0.43', '--data', w.dataDir]);
    assert.equal(r.status, 0, r.stderr);
    await until('cli.peers.test on NSD', async () => /127\.0\.0\.43/.test(await dig(nsdAddr, nsd.port, '+short', 'cli.peers.test')), 15_000, () => nsd.log());
    const mx = await dig(nsdAddr, nsd.port, '+short', 'peers.test', 'MX');
    assert.match(mx, /10 mail\.peers\.test\./);
  });
});

describe('Unbound with a stub-zone served by Wharf', () => {
  let w: TestWharf;
  let unbound: Peer;
  const addr = randomLoopback();

  before(async () => {
    if (!requirePeer(UNBOUND, 'unbound')) return;
    w = await startTestWharf({ services: ['dns'], set: { 'dns.rrl.enabled': false } });
    await w.wharf.store.putZone('peers.test', zone(7), 7);
    await until('zone served by wharf', async () => /127\.0\.0\.5/.test(await dig('127.0.0.1', w.port('dns'), '+short', 'www.peers.test')));
    unbound = await startUnbound({ address: addr, port: await freePort(addr), stubs: [{ name: 'peers.test', addr: `127.0.0.1@${w.port('dns')}` }] });
  });
  after(async () => {
    await unbound?.stop();
    await w?.stop();
  });

  test('names in the zone resolve through Unbound (RA, not AA), CNAME followed, NXDOMAIN passed on', { skip: SKIP && !peerAvailable(UNBOUND) }, async () => {
    const a = await dig(addr, unbound.port, 'www.peers.test', 'A');
    assert.match(a, /status: NOERROR/, `${a}\n${unbound.log()}`);
    assert.match(a, /flags: qr rd ra;/);
    assert.match(a, /www\.peers\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.5/);
    const cname = await dig(addr, unbound.port, 'alias.peers.test', 'A');
    assert.match(cname, /alias\.peers\.test\.\s+\d+\s+IN\s+CNAME\s+www\.peers\.test\./);
    assert.match(cname, /www\.peers\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.5/);
    const nx = await dig(addr, unbound.port, 'nothing.peers.test', 'A');
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(nx, /peers\.test\.\s+\d+\s+IN\s+SOA/);
    const mx = await dig(addr, unbound.port, '+short', 'peers.test', 'MX');
    assert.equal(mx.trim(), '10 mail.peers.test.');
  });

  test('the answer comes from the cache the second time, TTL counting down', { skip: SKIP && !peerAvailable(UNBOUND) }, async () => {
    // Wharf's server emits a transcript event per query it handles: count what Unbound asks.
    let asked = 0;
    const off = w.wharf.bus.on('transcript', () => void asked++);
    try {
      const first = await dig(addr, unbound.port, 'mail.peers.test', 'A');
      assert.ok(asked >= 1, 'the first query reached Wharf');
      const seen = asked;
      await new Promise((r) => setTimeout(r, 1100));
      const second = await dig(addr, unbound.port, 'mail.peers.test', 'A');
      const ttl = (s: string) => Number(/mail\.peers\.test\.\s+(\d+)\s+IN\s+A/.exec(s)?.[1]);
      assert.ok(ttl(first) <= 300 && ttl(second) < ttl(first), `${ttl(first)} then ${ttl(second)}`);
      assert.equal(asked, seen, 'the second answer came from Unbound\'s cache');
    } finally {
      off();
    }
  });
});

describe('dns.workers = 2', () => {
  let wharf: Wharf;
  let svc: DnsService;
  let port: number;
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-test-workers-'));
  before(async () => {
    const config = loadConfig({ overrides: testConfigOverrides({ services: ['dns'], set: { 'dns.workers': 2, 'dns.rrl.enabled': false, 'log.level': 'error' } }) });
    wharf = new Wharf({ config, dataDir, logStream: process.env.WHARF_TEST_LOG ? process.stderr : null });
    await wharf.open();
    await wharf.store.putZone('peers.test', zone(3), 3);
    svc = (await dnsServices(wharf)) as DnsService;
    const bound = await svc.start();
    port = bound[0]!.port;
  });
  after(async () => {
    await svc?.stop(1000);
    await wharf?.stop(1000);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('two processes answer over UDP and TCP, and both serve a zone changed later', async () => {
    assert.notEqual(port, 0);
    const a = await dig('127.0.0.1', port, '+short', 'www.peers.test');
    assert.equal(a.trim(), '127.0.0.5', a);
    const queries = async (n: number) => {
      for (let i = 0; i < n; i += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, j) => dig('127.0.0.1', port, '+short', (i + j) % 4 === 0 ? '+tcp' : '+notcp', 'www.peers.test')));
      }
    };
    await queries(100);
    const stats = await svc.stats();
    assert.equal(stats.length, 2, 'the primary and one worker');
    const served = stats.map((s) => s.queries);
    assert.ok(served.every((q) => q > 0), `queries per process: ${served.join(', ')}`);
    assert.ok(served.reduce((x, y) => x + y, 0) >= 100, `queries per process: ${served.join(', ')}`);
    // a change reaches every process through the store
    await wharf.store.putZone('peers.test', zone(4, 'later A 127.0.0.44\n'), 4);
    await until('later.peers.test from every process', async () => {
      const outs = await Promise.all(Array.from({ length: 20 }, (_, i) => dig('127.0.0.1', port, '+short', i % 2 ? '+tcp' : '+notcp', 'later.peers.test')));
      return outs.every((o) => o.trim() === '127.0.0.44');
    });
  });

  test('a worker that dies is forked again on the same port', async () => {
    const pids = (svc as unknown as { pool: { children: Set<{ proc: { pid: number } }> } }).pool.children;
    const [child] = [...pids];
    assert.ok(child, 'a worker process');
    process.kill(child.proc.pid, 'SIGKILL');
    await until('a new worker', async () => {
      const st = await svc.stats();
      return st.length === 2 && [...pids].every((c) => c.proc.pid !== child.proc.pid);
    });
    const out = await dig('127.0.0.1', port, '+short', '+tcp', 'www.peers.test');
    assert.equal(out.trim(), '127.0.0.5');
  });
});
