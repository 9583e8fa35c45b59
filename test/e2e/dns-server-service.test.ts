// The DNS service inside a Wharf instance: recursion handed to the resolver (root hints pointing
// at another Wharf instance on loopback), REFUSED to clients outside dns.recursion.allow, and the
// resolver set as wharf.dnsLookup even when the DNS listener is off.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { dnsServices } from '../../src/dns/service.js';
import type { Service } from '../../src/service.js';

const ROOT = `$ORIGIN .
$TTL 300
. SOA a.root hostmaster.root 1 3600 600 86400 60
. NS a.root
a.root A 127.0.0.1
www.hamburger.edu. A 127.0.0.5
`;

function dig(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve) => execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args], (_e, out, err) => resolve(out + err)));
}

describe('dns service: recursion and dnsLookup', () => {
  let root: TestWharf;
  let rec: TestWharf;
  before(async () => {
    root = await startTestWharf({ services: ['dns'], set: { 'dns.recursion.enabled': false, 'dns.rrl.enabled': false } });
    await root.wharf.store.putZone('.', ROOT, 1);
    const rootPort = root.port('dns');
    rec = await startTestWharf({
      services: ['dns'],
      set: { 'dns.resolver.root_hints': [`127.0.0.1:${rootPort}`], 'dns.resolver.upstream_port': rootPort, 'dns.resolver.timeout': 500 },
    });
    // the root zone is loaded through the store watcher
    for (let i = 0; i < 50 && !/127\.0\.0\.5/.test(await dig(rootPort, '+short', 'www.hamburger.edu')); i++) await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => {
    await rec?.stop();
    await root?.stop();
  });

  test('an RD query for a name outside our zones is resolved (RA set); +norec is REFUSED', async () => {
    const out = await dig(rec.port('dns'), 'www.hamburger.edu', 'A');
    assert.match(out, /status: NOERROR/, out);
    assert.match(out, /flags: qr rd ra/);
    assert.match(out, /www\.hamburger\.edu\.\s+\d+\s+IN\s+A\s+127\.0\.0\.5/);
    const norec = await dig(rec.port('dns'), '+norec', 'www.hamburger.edu', 'A');
    assert.match(norec, /status: REFUSED/);
    assert.ok(rec.wharf.dnsLookup, 'the resolver is the instance DnsLookup');
    assert.deepEqual(await rec.wharf.dnsLookup!.addresses('www.hamburger.edu'), ['127.0.0.5']);
  });

  test('clients outside dns.recursion.allow get REFUSED with RA clear', async () => {
    const t = await startTestWharf({ services: ['dns'], set: { 'dns.recursion.allow': ['10.0.0.0/8'], 'dns.resolver.root_hints': [`127.0.0.1:${root.port('dns')}`] } });
    try {
      const out = await dig(t.port('dns'), 'www.hamburger.edu', 'A');
      assert.match(out, /status: REFUSED/);
      assert.doesNotMatch(out, /flags: [^;]*\bra\b/);
    } finally {
      await t.stop();
    }
  });

  test('with the DNS listener off the resolver still serves wharf.dnsLookup, and is dropped at stop', async () => {
    // The factory itself (src/services.ts decides when the module is loaded: dns, smtp, queue or proxy on).
    const t = await startTestWharf({ services: [], set: { 'dns.resolver.root_hints': [`127.0.0.1:${root.port('dns')}`], 'dns.resolver.upstream_port': root.port('dns') } });
    try {
      const made = await dnsServices(t.wharf);
      const svc = made as Service;
      assert.ok(svc && !Array.isArray(made));
      assert.deepEqual(await svc.start(), [], 'no listener');
      assert.ok(t.wharf.dnsLookup);
      assert.deepEqual(await t.wharf.dnsLookup!.addresses('www.hamburger.edu'), ['127.0.0.5']);
      await svc.stop(1000);
      assert.equal(t.wharf.dnsLookup, undefined);
    } finally {
      await t.stop();
    }
  });
});
