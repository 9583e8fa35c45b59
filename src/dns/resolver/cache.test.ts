import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DnsCache, Rank, negativeTtl } from './cache.js';
import type { ResourceRecord } from '../wire/types.js';

const a = (name: string, address: string, ttl = 300): ResourceRecord => ({ name, type: 'A', class: 'IN', ttl, data: { address } });
const soa = (ttl: number, minimum: number): ResourceRecord => ({
  name: 'Example.EDU.', type: 'SOA', class: 'IN', ttl,
  data: { mname: 'ns.example.edu.', rname: 'h.example.edu.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum },
});

function clocked(max = 100): { cache: DnsCache; tick: (s: number) => void } {
  let t = 1_000_000;
  return { cache: new DnsCache(max, () => t), tick: (s) => { t += s * 1000; } };
}

describe('DnsCache', () => {
  it('counts TTLs down and forgets expired RRsets', () => {
    const { cache, tick } = clocked();
    cache.putRRset([a('WWW.Example.edu.', '192.0.2.1', 300), a('www.example.edu', '192.0.2.2', 200)], Rank.answer);
    let got = cache.getRRset('www.EXAMPLE.edu.', 'a')!;
    assert.deepEqual(got.map((r) => r.ttl), [200, 200], 'RFC 2181 §5.2: one TTL per RRset, the lowest');
    assert.equal(got[0]!.name, 'www.example.edu.');
    tick(50);
    got = cache.getRRset('www.example.edu', 'A')!;
    assert.deepEqual(got.map((r) => r.ttl), [150, 150]);
    tick(149.5);
    assert.equal(cache.getRRset('www.example.edu', 'A')![0]!.ttl, 1);
    tick(0.5);
    assert.equal(cache.getRRset('www.example.edu', 'A'), undefined);
    assert.equal(cache.size, 0);
  });

  it('does not cache TTL 0', () => {
    const { cache } = clocked();
    cache.putRRset([a('x.example.', '192.0.2.1', 0)], Rank.answer);
    assert.equal(cache.size, 0);
  });

  it('evicts the least recently used entry beyond its size', () => {
    const { cache } = clocked(2);
    cache.putRRset([a('one.', '192.0.2.1')], Rank.answer);
    cache.putRRset([a('two.', '192.0.2.2')], Rank.answer);
    assert.ok(cache.getRRset('one.', 'A')); // one is now the most recent
    cache.putRRset([a('three.', '192.0.2.3')], Rank.answer);
    assert.equal(cache.size, 2);
    assert.ok(cache.getRRset('one.', 'A'));
    assert.equal(cache.getRRset('two.', 'A'), undefined);
    assert.ok(cache.getRRset('three.', 'A'));
  });

  it('size 0 caches nothing', () => {
    const { cache } = clocked(0);
    cache.putRRset([a('one.', '192.0.2.1')], Rank.answer);
    cache.putNxdomain('gone.', soa(300, 60));
    assert.equal(cache.size, 0);
    assert.equal(cache.lookup('gone.', 'A'), undefined);
  });

  it('caches NXDOMAIN for every type, for min(SOA TTL, MINIMUM) (RFC 2308 §5)', () => {
    const { cache, tick } = clocked();
    assert.equal(negativeTtl(soa(300, 60)), 60);
    assert.equal(negativeTtl(soa(30, 60)), 30);
    cache.putNxdomain('Gone.example.edu.', soa(300, 60));
    const hit = cache.lookup('gone.example.edu', 'MX');
    assert.equal(hit?.kind, 'nxdomain');
    assert.equal(hit.kind === 'nxdomain' ? hit.soa?.ttl : -1, 60);
    tick(45);
    const later = cache.lookup('gone.example.edu', 'A');
    assert.equal(later?.kind === 'nxdomain' ? later.soa?.ttl : -1, 15);
    tick(15);
    assert.equal(cache.lookup('gone.example.edu', 'A'), undefined);
  });

  it('caches NODATA per type, and not without an SOA', () => {
    const { cache } = clocked();
    cache.putNodata('host.example.', 'MX', soa(300, 120));
    assert.equal(cache.lookup('host.example.', 'MX')?.kind, 'nodata');
    assert.equal(cache.lookup('host.example.', 'A'), undefined);
    cache.putNodata('other.example.', 'MX', undefined);
    assert.equal(cache.lookup('other.example.', 'MX'), undefined);
  });

  it('ranks data: glue never replaces an answer, and is not served to clients', () => {
    const { cache } = clocked();
    cache.putRRset([a('ns.example.', '192.0.2.1')], Rank.answer);
    cache.putRRset([a('ns.example.', '6.6.6.6')], Rank.glue);
    assert.equal((cache.getRRset('ns.example.', 'A')![0]!.data as { address: string }).address, '192.0.2.1');
    cache.putRRset([a('glue.example.', '192.0.2.9')], Rank.glue);
    assert.equal(cache.lookup('glue.example.', 'A'), undefined, 'glue is for iteration only');
    assert.ok(cache.getRRset('glue.example.', 'A'));
    cache.putRRset([a('glue.example.', '192.0.2.10')], Rank.answer);
    const hit = cache.lookup('glue.example.', 'A');
    assert.equal(hit?.kind === 'rrset' ? (hit.records[0]!.data as { address: string }).address : '', '192.0.2.10');
  });
});
