// The hierarchy test: fake root, TLD and authoritative servers (ZoneSet + answerQuery) on
// 127.0.0.2/3/4 (plus misbehaving ones), and the resolver iterating through them over real UDP
// and TCP sockets. Upstream traffic is counted at the fakes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EventBus } from '../../src/core/events.js';
import type { DnsTraceEvent } from '../../src/core/events.js';
import { Resolver } from '../../src/dns/resolver/index.js';
import type { ResolverOptions } from '../../src/dns/resolver/index.js';
import { emptyFlags, RCODE } from '../../src/dns/wire/types.js';
import type { Message } from '../../src/dns/wire/types.js';
import { startFakeServers, totalQueries } from '../helpers/dns-fake.js';
import type { FakeServer } from '../helpers/dns-fake.js';

const ROOT = `
$TTL 86400
@ IN SOA a.root-servers.net. nstld.example. 1 1800 900 604800 86400
@ NS a.root-servers.net.
a.root-servers.net. A 127.0.0.2
edu. NS ns.edu.
ns.edu. A 127.0.0.3
`;

// A second root whose edu. delegation lists a silent and a refusing server first.
const LAME_ROOT = `
$TTL 86400
@ IN SOA a.root-servers.net. nstld.example. 1 1800 900 604800 86400
@ NS a.root-servers.net.
a.root-servers.net. A 127.0.0.7
edu. NS ns-silent.edu.
edu. NS ns-lame.edu.
edu. NS ns.edu.
ns-silent.edu. A 127.0.0.5
ns-lame.edu. A 127.0.0.6
ns.edu. A 127.0.0.3
`;

const EDU = `
$TTL 3600
@ IN SOA ns.edu. hostmaster.edu. 1 1800 900 604800 300
@ NS ns.edu.
ns A 127.0.0.3
www A 10.0.0.9
umass NS ns.umass.edu.
ns.umass A 127.0.0.4
; glueless: the server's name is in another zone
example NS ns1.umass.edu.
`;

const UMASS = `
$TTL 3600
@ IN SOA ns.umass.edu. hostmaster.umass.edu. 1 3600 600 86400 60
@ NS ns.umass.edu.
@ MX 10 mail.umass.edu.
@ MX 5 mx0.umass.edu.
ns A 127.0.0.4
ns1 A 127.0.0.4
mail A 128.119.1.1
mx0 A 128.119.1.2
gaia.cs 600 A 128.119.245.12
alias CNAME www.edu.
`;

const EXAMPLE = `
$TTL 3600
@ IN SOA ns1.umass.edu. hostmaster.example.edu. 1 3600 600 86400 60
@ NS ns1.umass.edu.
www A 192.0.2.80
`;

let fakes: FakeServer[];
let port: number;
let root: FakeServer, edu: FakeServer, umass: FakeServer;
let clock = 1_700_000_000_000;
const resolvers: Resolver[] = [];

function make(over: Partial<ResolverOptions> = {}): Resolver {
  const r = new Resolver(
    { rootHints: [`127.0.0.2:${port}`], upstreamPort: port, cacheSize: 1000, qnameMinimisation: false, maxOutstanding: 100, timeoutMs: 400, ...over },
    { now: () => clock },
  );
  resolvers.push(r);
  return r;
}

function steps(trace: DnsTraceEvent[]): string[] {
  return trace.map((e) => `${e.server.replace(`:${port}`, '')} ${e.outcome}`);
}

before(async () => {
  fakes = await startFakeServers([
    { address: '127.0.0.2', zones: { '.': ROOT } },
    { address: '127.0.0.3', zones: { 'edu.': EDU } },
    { address: '127.0.0.4', zones: { 'umass.edu.': UMASS, 'example.edu.': EXAMPLE } },
    { address: '127.0.0.5', mode: 'silent' },
    { address: '127.0.0.6', mode: 'refused' },
    { address: '127.0.0.7', zones: { '.': LAME_ROOT } },
  ]);
  [root, edu, umass] = fakes as [FakeServer, FakeServer, FakeServer];
  port = root.port;
});

after(async () => {
  for (const r of resolvers) r.close();
  await Promise.all(fakes.map((f) => f.close()));
});

describe('resolver against a fake hierarchy', () => {
  it('resolves gaia.cs.umass.edu from the root: root, then TLD, then authoritative', async () => {
    const bus = new EventBus();
    const events: DnsTraceEvent[] = [];
    bus.on('dns-trace', (e) => events.push(e));
    const r = make({ bus });
    const res = await r.resolve('gaia.cs.umass.edu', 'A', { trace: true });
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.deepEqual(res.answers.map((a) => (a.data as { address: string }).address), ['128.119.245.12']);
    assert.equal(res.answers[0]!.ttl, 600);
    assert.equal(res.fromCache, false);
    assert.deepEqual(steps(res.trace), ['127.0.0.2 referral', '127.0.0.3 referral', '127.0.0.4 answer']);
    assert.match(res.trace[0]!.detail!, /referral to edu\./);
    assert.match(res.trace[1]!.detail!, /referral to umass\.edu\./);
    assert.equal(res.trace[2]!.serverName, 'ns.umass.edu.');
    assert.deepEqual(events, res.trace, 'every step went out on the bus');
    assert.ok(res.trace.every((e) => e.resolution === res.trace[0]!.resolution));

    // The repeated query: from the cache, TTL counted down, no upstream traffic.
    const before = totalQueries(fakes);
    clock += 100_000;
    const again = await r.resolve('gaia.cs.umass.edu', 'A');
    assert.equal(totalQueries(fakes), before, 'no upstream query');
    assert.equal(again.fromCache, true);
    assert.equal(again.answers[0]!.ttl, 500);
    assert.deepEqual(steps(again.trace), ['cache cache']);
    assert.notEqual(again.trace[0]!.resolution, res.trace[0]!.resolution);

    // A sibling name starts at the cached umass.edu. delegation.
    const mx = await r.resolve('umass.edu', 'MX');
    assert.deepEqual(steps(mx.trace), ['127.0.0.4 answer']);
  });

  it('answers a client query: RA, RD echoed, case kept, TTLs counting down, EDNS echoed', async () => {
    const r = make();
    const q: Message = {
      id: 4242,
      flags: emptyFlags({ rd: true }),
      questions: [{ name: 'GAIA.cs.UMass.edu.', type: 'A', class: 'IN' }],
      answers: [],
      authorities: [],
      additionals: [],
      edns: { udpSize: 4096, extendedRcode: 0, version: 0, do: true, options: [] },
    };
    const res = await r.answer(q);
    assert.equal(res.id, 4242);
    assert.equal(res.flags.qr, true);
    assert.equal(res.flags.ra, true);
    assert.equal(res.flags.rd, true);
    assert.equal(res.flags.aa, false);
    assert.equal(res.flags.rcode, RCODE.NOERROR);
    assert.deepEqual(res.questions, q.questions);
    assert.equal(res.answers.length, 1);
    assert.equal(res.answers[0]!.name, 'GAIA.cs.UMass.edu.');
    assert.equal(res.edns?.do, true);
    assert.equal(res.edns?.version, 0);
    clock += 30_000;
    const res2 = await r.answer({ ...q, id: 7 });
    assert.equal(res2.id, 7);
    assert.equal(res2.answers[0]!.ttl, 570);

    const noEdns = await r.answer({ ...q, edns: undefined } as Message);
    assert.equal(noEdns.edns, undefined);
    const nx = await r.answer({ ...q, questions: [{ name: 'nope.umass.edu.', type: 'A', class: 'IN' }] });
    assert.equal(nx.flags.rcode, RCODE.NXDOMAIN);
    assert.equal(nx.authorities.length, 1);
    assert.equal(nx.authorities[0]!.type, 'SOA');
    assert.equal(nx.authorities[0]!.ttl, 60, 'RFC 2308: min(SOA TTL, MINIMUM)');
    const two = await r.answer({ ...q, questions: [...q.questions, ...q.questions] });
    assert.equal(two.flags.rcode, RCODE.FORMERR);
    const notimp = await r.answer({ ...q, flags: emptyFlags({ opcode: 2 }) });
    assert.equal(notimp.flags.rcode, RCODE.NOTIMP);
  });

  it('follows a CNAME into another zone', async () => {
    const r = make();
    const res = await r.resolve('alias.umass.edu', 'A');
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.deepEqual(res.answers.map((a) => `${a.name} ${a.type}`), ['alias.umass.edu. CNAME', 'www.edu. A']);
    assert.equal(res.cnameChain.length, 1);
    assert.deepEqual(steps(res.trace), ['127.0.0.2 referral', '127.0.0.3 referral', '127.0.0.4 cname', '127.0.0.3 answer']);
    const again = await r.resolve('alias.umass.edu', 'A');
    assert.equal(again.fromCache, true);
    assert.equal(again.answers.length, 2);
  });

  it('caches NXDOMAIN for the SOA minimum', async () => {
    const r = make();
    const res = await r.resolve('nope.umass.edu', 'A');
    assert.equal(res.rcode, RCODE.NXDOMAIN);
    assert.equal(res.authority[0]!.type, 'SOA');
    const n = totalQueries(fakes);
    clock += 10_000;
    const again = await r.resolve('nope.umass.edu', 'MX'); // NXDOMAIN covers every type
    assert.equal(again.rcode, RCODE.NXDOMAIN);
    assert.equal(again.fromCache, true);
    assert.equal(again.authority[0]!.ttl, 50);
    assert.equal(totalQueries(fakes), n);
    clock += 60_000; // past the negative TTL: asked again
    const later = await r.resolve('nope.umass.edu', 'A');
    assert.equal(later.fromCache, false);
    assert.equal(later.rcode, RCODE.NXDOMAIN);
    assert.equal(totalQueries(fakes), n + 1);
    await assert.rejects(r.addresses('nope.umass.edu'), { code: 'WHARF_DNS_NXDOMAIN' });
  });

  it('NODATA: no answer, SOA in authority', async () => {
    const r = make();
    const res = await r.resolve('gaia.cs.umass.edu', 'MX');
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.equal(res.answers.length, 0);
    assert.equal(res.authority[0]!.type, 'SOA');
    assert.deepEqual(await r.mx('gaia.cs.umass.edu'), []);
  });

  it('resolves through a delegation without glue', async () => {
    const r = make();
    const res = await r.resolve('www.example.edu', 'A');
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.deepEqual(res.answers.map((a) => (a.data as { address: string }).address), ['192.0.2.80']);
    assert.ok(res.trace.some((e) => e.qname.toLowerCase() === 'ns1.umass.edu.' && e.outcome === 'answer'), 'looked up the name server');
  });

  it('mx() sorts by preference, addresses() returns A records', async () => {
    const r = make();
    assert.deepEqual(await r.mx('umass.edu'), [{ preference: 5, exchange: 'mx0.umass.edu' }, { preference: 10, exchange: 'mail.umass.edu' }]);
    assert.deepEqual(await r.addresses('mail.umass.edu'), ['128.119.1.1']);
    assert.deepEqual(await r.addresses('127.0.0.1'), ['127.0.0.1']);
  });

  it('skips silent and lame servers and remembers them', async () => {
    const r = make({ rootHints: [`127.0.0.7:${port}`], timeoutMs: 300 });
    const res = await r.resolve('gaia.cs.umass.edu', 'A');
    assert.equal(res.rcode, RCODE.NOERROR);
    assert.deepEqual(steps(res.trace), ['127.0.0.7 referral', '127.0.0.5 timeout', '127.0.0.6 refused', '127.0.0.3 referral', '127.0.0.4 answer']);
    const silent = fakes[3]!.received.length;
    const res2 = await r.resolve('www.edu', 'A');
    assert.deepEqual(steps(res2.trace), ['127.0.0.3 answer'], 'the good server is asked first now');
    assert.equal(fakes[3]!.received.length, silent);
    clock += 16 * 60_000; // estimates are forgotten: the silent server gets another chance
    const res3 = await r.resolve('ns.edu', 'A');
    assert.deepEqual(steps(res3.trace), ['127.0.0.5 timeout', '127.0.0.6 refused', '127.0.0.3 answer']);
  });

  it('fails with SERVFAIL / WHARF_DNS_TEMP when nothing answers', async () => {
    const r = make({ rootHints: [`127.0.0.5:${port}`], timeoutMs: 200 });
    const res = await r.resolve('gaia.cs.umass.edu', 'A');
    assert.equal(res.rcode, RCODE.SERVFAIL);
    assert.deepEqual(steps(res.trace), ['127.0.0.5 timeout']);
    await assert.rejects(r.mx('umass.edu'), { code: 'WHARF_DNS_TEMP' });
  });

  it('ignores spoofed answers (wrong id, wrong question, wrong case)', async () => {
    const poison = (q: Message, over: Partial<Message>): Message => ({
      id: q.id,
      flags: emptyFlags({ qr: true, aa: true }),
      questions: q.questions.map((x) => ({ ...x })),
      answers: q.questions.map((x) => ({ name: x.name, type: 'A', class: 'IN', ttl: 9999, data: { address: '6.6.6.6' } })),
      authorities: [],
      additionals: [],
      ...over,
    });
    const flip = (s: string): string => s.replace(/[a-z]/gi, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    umass.spec.spoof = (q) => [
      poison(q, { id: (q.id + 1) & 0xffff }),
      poison(q, { questions: [{ name: 'other.umass.edu.', type: 'A', class: 'IN' }] }),
      poison(q, { questions: q.questions.map((x) => ({ ...x, name: flip(x.name) })) }),
      poison(q, { questions: q.questions.map((x) => ({ ...x, type: 'AAAA' })) }),
    ];
    try {
      const r = make();
      const res = await r.resolve('gaia.cs.umass.edu', 'A');
      assert.deepEqual(res.answers.map((a) => (a.data as { address: string }).address), ['128.119.245.12']);
      const cached = await r.resolve('gaia.cs.umass.edu', 'A');
      assert.equal(cached.fromCache, true);
      assert.equal((cached.answers[0]!.data as { address: string }).address, '128.119.245.12');
    } finally {
      delete umass.spec.spoof;
    }
  });

  it('drops out-of-bailiwick records (no cache poisoning)', async () => {
    umass.spec.mutate = (res) => ({
      ...res,
      answers: [...res.answers, { name: 'www.edu.', type: 'A', class: 'IN', ttl: 9999, data: { address: '6.6.6.6' } }],
      additionals: [...res.additionals, { name: 'ns.edu.', type: 'A', class: 'IN', ttl: 9999, data: { address: '6.6.6.6' } }],
    });
    try {
      const r = make();
      const res = await r.resolve('gaia.cs.umass.edu', 'A');
      assert.equal(res.answers.length, 1);
      assert.match(res.trace.at(-1)!.detail!, /2 out-of-bailiwick records dropped/);
      const www = await r.resolve('www.edu', 'A');
      assert.equal(www.fromCache, false);
      assert.deepEqual(www.answers.map((a) => (a.data as { address: string }).address), ['10.0.0.9']);
    } finally {
      delete umass.spec.mutate;
    }
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    umass.spec.truncateUdp = true;
    const tcpBefore = umass.tcpQueries;
    try {
      const r = make();
      const res = await r.resolve('gaia.cs.umass.edu', 'A');
      assert.deepEqual(res.answers.map((a) => (a.data as { address: string }).address), ['128.119.245.12']);
      assert.equal(umass.tcpQueries, tcpBefore + 1);
    } finally {
      delete umass.spec.truncateUdp;
    }
  });

  it('QNAME minimisation reveals one label per step (RFC 9156)', async () => {
    const seen = fakes.map((f) => f.received.length);
    const r = make({ qnameMinimisation: true });
    const res = await r.resolve('gaia.cs.umass.edu', 'A');
    assert.deepEqual(res.answers.map((a) => (a.data as { address: string }).address), ['128.119.245.12']);
    const asked = (f: FakeServer, i: number): string[] => f.received.slice(seen[i]).map((q) => `${q.name.toLowerCase()} ${q.type}`);
    assert.deepEqual(asked(root, 0), ['edu. A']);
    assert.deepEqual(asked(edu, 1), ['umass.edu. A']);
    assert.deepEqual(asked(umass, 2), ['cs.umass.edu. A', 'gaia.cs.umass.edu. A']);
  });

  it('coalesces identical in-flight resolutions and bounds outstanding ones', async () => {
    const r = make();
    const n = totalQueries(fakes);
    const [a, b] = await Promise.all([r.resolve('mail.umass.edu', 'A'), r.resolve('MAIL.umass.edu.', 'A')]);
    assert.equal(a, b);
    assert.equal(totalQueries(fakes), n + 3);

    const slow = make({ rootHints: [`127.0.0.5:${port}`], timeoutMs: 300, maxOutstanding: 1 });
    const first = slow.resolve('a.edu', 'A');
    const second = await slow.resolve('b.edu', 'A');
    assert.equal(second.rcode, RCODE.SERVFAIL);
    assert.equal(second.trace[0]!.outcome, 'refused');
    assert.equal((await first).rcode, RCODE.SERVFAIL);
    assert.equal(slow.inProgress, 0);
  });
});
