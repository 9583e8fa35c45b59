// Resolver logic over an in-memory transport: bounds on work, loops, close(). The e2e test
// (test/e2e/dns-resolver.test.ts) covers the same code over real sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WharfError } from '../../core/errors.js';
import { ZoneSet, answerQuery } from '../authoritative.js';
import { DNS_TIMEOUT } from '../client.js';
import type { QueryResult, ServerAddress } from '../client.js';
import { emptyFlags } from '../wire/types.js';
import type { Message, Question } from '../wire/types.js';
import { parseZone } from '../zone/parse.js';
import { MAX_CNAME_CHAIN, MAX_QUERIES, MAX_TRIES_PER_STEP, Resolver, parseHostPort } from './index.js';

type Net = Record<string, Record<string, string> | 'silent'>;

function fakeNet(net: Net) {
  const sets = new Map<string, ZoneSet | 'silent'>();
  for (const [host, zones] of Object.entries(net)) {
    sets.set(host, zones === 'silent' ? 'silent' : new ZoneSet(Object.entries(zones).map(([origin, text]) => parseZone(text, { origin, defaultTtl: 300 }))));
  }
  const log: string[] = [];
  const query = async (server: ServerAddress, q: Question): Promise<QueryResult> => {
    log.push(`${server.host} ${q.name.toLowerCase()} ${q.type}`);
    const zs = sets.get(server.host);
    if (!zs || zs === 'silent') throw new WharfError(DNS_TIMEOUT, 'timeout');
    const msg: Message = { id: 1, flags: emptyFlags(), questions: [q], answers: [], authorities: [], additionals: [] };
    const res = answerQuery(msg, zs, { recursionAvailable: false }) ?? { ...msg, flags: emptyFlags({ qr: true, rcode: 5 }) };
    return { message: res, sentName: q.name, tcp: false, rttMs: 1 };
  };
  return { query, log };
}

const soa = (origin: string) => `$TTL 300\n@ SOA ns.${origin === '.' ? 'root.' : origin} h.${origin === '.' ? 'root.' : origin} 1 1 1 1 60\n`;
const rootWith = (body: string) => soa('.') + '@ NS ns.root.\nns.root. A 10.0.0.1\n' + body;

function resolver(net: Net, over: Partial<ConstructorParameters<typeof Resolver>[0]> = {}) {
  const { query, log } = fakeNet(net);
  const r = new Resolver({ rootHints: ['10.0.0.1'], upstreamPort: 53, cacheSize: 1000, qnameMinimisation: false, maxOutstanding: 10, timeoutMs: 100, ...over }, { query });
  return { r, log };
}

describe('Resolver bounds', () => {
  it('parses root hints', () => {
    assert.deepEqual(parseHostPort('127.0.0.2:5300', 53), { host: '127.0.0.2', port: 5300 });
    assert.deepEqual(parseHostPort('198.41.0.4', 53), { host: '198.41.0.4', port: 53 });
    assert.deepEqual(parseHostPort('[::1]:5300', 53), { host: '::1', port: 5300 });
    assert.deepEqual(parseHostPort('2001:db8::1', 53), { host: '2001:db8::1', port: 53 });
  });

  it('stops a CNAME loop across zones with SERVFAIL', async () => {
    const { r, log } = resolver({
      '10.0.0.1': { '.': rootWith('a. NS ns.a.\nns.a. A 10.0.0.2\nb. NS ns.b.\nns.b. A 10.0.0.3\n') },
      '10.0.0.2': { 'a.': soa('a.') + '@ NS ns.a.\nns A 10.0.0.2\nx CNAME x.b.\n' },
      '10.0.0.3': { 'b.': soa('b.') + '@ NS ns.b.\nns A 10.0.0.3\nx CNAME x.a.\n' },
    });
    const res = await r.resolve('x.a', 'A');
    assert.equal(res.rcode, 2);
    assert.ok(log.length <= 6, `bounded: ${log.length} queries`);
    assert.ok(res.trace.some((e) => e.detail === 'CNAME loop'));
  });

  it('stops a long CNAME chain', async () => {
    // Every link points into the other zone so each is a separate step.
    let a = '';
    for (let i = 0; i < 31; i++) a += `c${i} CNAME c${i + 1}.b.\n`;
    let b = '';
    for (let i = 0; i < 31; i++) b += `c${i} CNAME c${i + 1}.a.\n`;
    const { r, log } = resolver({
      '10.0.0.1': { '.': rootWith('a. NS ns.a.\nns.a. A 10.0.0.2\nb. NS ns.b.\nns.b. A 10.0.0.3\n') },
      '10.0.0.2': { 'a.': soa('a.') + '@ NS ns.a.\nns A 10.0.0.2\n' + a },
      '10.0.0.3': { 'b.': soa('b.') + '@ NS ns.b.\nns A 10.0.0.3\n' + b },
    });
    const res = await r.resolve('c0.a', 'A');
    assert.equal(res.rcode, 2);
    assert.ok(res.cnameChain.length <= MAX_CNAME_CHAIN + 1);
    assert.ok(log.length <= MAX_CNAME_CHAIN + 4, `bounded: ${log.length}`);
  });

  it('gives up on name servers that can only be found through each other (no glue)', async () => {
    const { r, log } = resolver({
      '10.0.0.1': { '.': rootWith('a. NS ns.b.\nb. NS ns.a.\n') },
    });
    const res = await r.resolve('www.a', 'A');
    assert.equal(res.rcode, 2);
    assert.ok(log.length <= MAX_QUERIES, `bounded: ${log.length}`);
  });

  it('tries at most MAX_TRIES_PER_STEP servers of a zone', async () => {
    let ns = '';
    for (let i = 0; i < 10; i++) ns += `a. NS ns${i}.a.\nns${i}.a. A 10.0.1.${i}\n`;
    const { r, log } = resolver({ '10.0.0.1': { '.': rootWith(ns) } });
    const res = await r.resolve('www.a', 'A');
    assert.equal(res.rcode, 2);
    assert.equal(log.length, 1 + MAX_TRIES_PER_STEP);
    assert.equal(res.trace.filter((e) => e.outcome === 'timeout').length, MAX_TRIES_PER_STEP);
  });

  it('answers SERVFAIL after close()', async () => {
    const { r, log } = resolver({ '10.0.0.1': { '.': rootWith('') } });
    r.close();
    const res = await r.resolve('www.a', 'A');
    assert.equal(res.rcode, 2);
    assert.equal(log.length, 0);
    await assert.rejects(r.addresses('www.a'), { code: 'WHARF_DNS_TEMP' });
  });

  it('null MX (RFC 7505) and an answer of type CNAME', async () => {
    const { r } = resolver({
      '10.0.0.1': { '.': rootWith('a. NS ns.a.\nns.a. A 10.0.0.2\n') },
      '10.0.0.2': { 'a.': soa('a.') + '@ NS ns.a.\nns A 10.0.0.2\n@ MX 0 .\nalias CNAME ns.a.\n' },
    });
    assert.deepEqual(await r.mx('a'), [{ preference: 0, exchange: '' }]);
    const c = await r.resolve('alias.a', 'CNAME');
    assert.equal(c.answers.length, 1);
    assert.equal(c.answers[0]!.type, 'CNAME');
    assert.equal(c.cnameChain.length, 0);
    assert.deepEqual(await r.addresses('alias.a'), ['10.0.0.2']);
  });
});

describe('Resolver input', () => {
  it('rejects a malformed name or type without asking anyone', async () => {
    const { r, log } = resolver({ '10.0.0.1': { '.': rootWith('') } });
    await assert.rejects(r.resolve('a..b', 'A'), { code: 'WHARF_DNS_FORMAT' });
    await assert.rejects(r.resolve('x'.repeat(64) + '.a', 'A'), { code: 'WHARF_DNS_FORMAT' });
    await assert.rejects(r.resolve('a', 'NOPE'), { code: 'WHARF_DNS_FORMAT' });
    await assert.rejects(r.mx('a..b'), { code: 'WHARF_DNS_FORMAT' });
    assert.equal(log.length, 0);
    const res = await r.answer({ id: 1, flags: emptyFlags({ rd: true }), questions: [{ name: 'a.', type: 'A', class: 'CH' }], answers: [], authorities: [], additionals: [] });
    assert.equal(res.flags.rcode, 5);
    const axfr = await r.answer({ id: 1, flags: emptyFlags({ rd: true }), questions: [{ name: 'a.', type: 'AXFR', class: 'IN' }], answers: [], authorities: [], additionals: [] });
    assert.equal(axfr.flags.rcode, 4);
    const badvers = await r.answer({ id: 1, flags: emptyFlags({ rd: true }), questions: [{ name: 'a.', type: 'A', class: 'IN' }], answers: [], authorities: [], additionals: [], edns: { udpSize: 1232, extendedRcode: 0, version: 1, do: false, options: [] } });
    assert.equal(badvers.flags.rcode, 16);
    assert.equal(badvers.flags.ra, true);
    assert.equal(log.length, 0);
  });
});
