// The server over real UDP and TCP sockets on 127.0.0.1 port 0, with an in-memory zone store.
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { EventBus } from '../../core/events.js';
import { silentLogger } from '../../core/logger.js';
import type { Store } from '../../store/store.js';
import { decode, encode } from '../wire/message.js';
import { OPCODE, RCODE, emptyFlags } from '../wire/types.js';
import type { Message, ResourceRecord } from '../wire/types.js';
import { formatZone } from '../zone/format.js';
import { AddressList } from './acl.js';
import { DnsListener } from './listener.js';
import { Notifier } from './notify.js';
import { ResponseRateLimiter } from './rrl.js';
import { DnsServer } from './server.js';
import type { Recursor } from './server.js';
import { TcpClient, query, tcpQuery, udpExchange, udpQuery } from './testing.js';
import { TSIG_ERROR, findTsig, parseTsigKeys, signMessage, verifyTsig } from './tsig.js';
import { ZoneRegistry } from './zones.js';

const ZONE = `$ORIGIN hamburger.edu.
$TTL 300
@ SOA ns1 hostmaster 100 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 127.0.0.5
mail A 127.0.0.6
@ MX 10 mail
sub NS ns.sub
ns.sub A 127.0.0.77
${Array.from({ length: 40 }, (_, i) => `big TXT "${'t'.repeat(60)}${i}"`).join('\n')}
`;
const BIG = ['$ORIGIN big.test.', '$TTL 60', '@ SOA ns hm 7 1 1 1 1', '@ NS ns', 'ns A 127.0.0.1',
  ...Array.from({ length: 3000 }, (_, i) => `h${i} TXT "${'x'.repeat(100)}"`)].join('\n');

/** A Store with just the zone methods, in memory. */
function memoryStore(initial: Record<string, string>): Store & { texts: Map<string, string>; fire(name: string): void } {
  const texts = new Map(Object.entries(initial));
  const listeners = new Set<(n: string) => void>();
  const s = {
    texts,
    fire: (n: string) => { for (const l of listeners) l(n); },
    listZones: async () => [...texts].map(([name, text]) => ({ name, text, serial: 0, updatedAt: new Date() })),
    getZone: async (name: string) => (texts.has(name) ? { name, text: texts.get(name)!, serial: 0, updatedAt: new Date() } : null),
    putZone: async (name: string, text: string) => { texts.set(name, text); },
    watchZones: (l: (n: string) => void) => { listeners.add(l); return () => listeners.delete(l); },
  };
  return s as unknown as Store & { texts: Map<string, string>; fire(name: string): void };
}

const secret = Buffer.from('wharf-tsig-secret-for-tests-0001');
const KEYS = parseTsigKeys([`upd:hmac-sha256:${secret.toString('base64')}`]);
const KEY = KEYS.get('upd.')!;

interface Fixture { server: DnsServer; listener: DnsListener; port: number; store: ReturnType<typeof memoryStore>; zones: ZoneRegistry; changed: string[] }

async function fixture(opts: { rrl?: ResponseRateLimiter; resolver?: Recursor; allow?: string[]; idleMs?: number; transferFrom?: string[] } = {}): Promise<Fixture> {
  const store = memoryStore({ 'hamburger.edu.': ZONE, 'big.test.': BIG });
  const changed: string[] = [];
  const zones = new ZoneRegistry(store, silentLogger(), (z) => changed.push(`${z.origin} ${z.serial}`));
  await zones.start();
  const transfer = new AddressList(opts.transferFrom ?? []);
  const server = new DnsServer({
    zones,
    logger: silentLogger(),
    recursion: { enabled: true, allow: new AddressList(opts.allow ?? ['127.0.0.0/8']), resolver: opts.resolver },
    tsigKeys: KEYS,
    transferAllowed: (a) => transfer.has(a),
    saveZone: async (origin, records) => store.putZone(origin, formatZone(origin, records), 0),
  });
  const listener = new DnsListener(server, silentLogger(), { rrl: opts.rrl, tcp: { maxConnections: 20, maxPerIp: 10, idleTimeoutMs: opts.idleMs ?? 2000 } });
  const bound = await listener.start('127.0.0.1', 0);
  assert.equal(bound.transport, 'tcp+udp');
  return { server, listener, port: bound.port, store, zones, changed };
}

describe('dns server over UDP and TCP', () => {
  let f: Fixture;
  before(async () => { f = await fixture({ transferFrom: ['127.0.0.2'] }); });
  after(() => f.listener.stop());

  test('UDP and TCP share the port; authoritative answers with AA', async () => {
    const u = await udpQuery(f.port, query('www.hamburger.edu.'));
    assert.equal(u!.flags.aa, true);
    assert.deepEqual(u!.answers.map((r) => (r.data as { address: string }).address), ['127.0.0.5']);
    const t = await tcpQuery(f.port, query('WWW.Hamburger.EDU.'));
    assert.equal(t!.questions[0]!.name, 'WWW.Hamburger.EDU.', 'question case kept');
    assert.equal(t!.answers.length, 1);
  });

  test('NXDOMAIN and NODATA carry the SOA; referral without AA and with glue', async () => {
    const nx = await udpQuery(f.port, query('nope.hamburger.edu.'));
    assert.equal(nx!.flags.rcode, RCODE.NXDOMAIN);
    assert.equal(nx!.authorities[0]!.type, 'SOA');
    const nodata = await udpQuery(f.port, query('www.hamburger.edu.', 'MX'));
    assert.equal(nodata!.flags.rcode, RCODE.NOERROR);
    assert.equal(nodata!.answers.length, 0);
    assert.equal(nodata!.authorities[0]!.type, 'SOA');
    const ref = await udpQuery(f.port, query('a.sub.hamburger.edu.'));
    assert.equal(ref!.flags.aa, false);
    assert.equal(ref!.authorities[0]!.type, 'NS');
    assert.equal(ref!.additionals[0]!.type, 'A');
  });

  test('truncation: 512 without EDNS (TC=1), the EDNS size with it, the whole answer over TCP', async () => {
    const small = await udpExchange(f.port, encode(query('big.hamburger.edu.', 'TXT')).buf);
    assert.ok(small!.length <= 512, String(small!.length));
    assert.equal(decode(small!).flags.tc, true);
    const edns = { udpSize: 1232, extendedRcode: 0, version: 0, do: false, options: [] };
    const mid = await udpExchange(f.port, encode(query('big.hamburger.edu.', 'TXT', { edns })).buf);
    assert.ok(mid!.length <= 1232 && mid!.length > 512);
    assert.equal(decode(mid!).flags.tc, true);
    const full = await tcpQuery(f.port, query('big.hamburger.edu.', 'TXT'));
    assert.equal(full!.flags.tc, false);
    assert.equal(full!.answers.length, 40);
  });

  test('packet cache: a repeat gets the same bytes with its own id and case; option-carrying queries bypass it; a zone change drops it', async () => {
    const peer = { address: '127.0.0.9', port: 5353, transport: 'udp' as const };
    const q1 = encode({ ...query('mail.hamburger.edu.'), id: 0x1111 }).buf;
    const q2 = encode({ ...query('mail.hamburger.edu.'), id: 0x2222 }).buf;
    const before = f.server.cachedPackets;
    const [a1] = await f.server.handle(q1, peer);
    assert.equal(f.server.cachedPackets, before + 1);
    const [a2] = await f.server.handle(q2, peer);
    assert.equal(a2!.readUInt16BE(0), 0x2222);
    assert.deepEqual(a2!.subarray(2), a1!.subarray(2), 'identical after the id');
    assert.equal(f.server.cachedPackets, before + 1, 'the repeat was a hit');
    // Another letter case is another entry, echoed as asked.
    const [c] = await f.server.handle(encode(query('MAIL.hamburger.EDU.')).buf, peer);
    assert.equal(decode(c!).questions[0]!.name, 'MAIL.hamburger.EDU.');
    assert.equal(f.server.cachedPackets, before + 2);
    // TCP and UDP are cached apart (truncation differs).
    await f.server.handle(q1, { ...peer, transport: 'tcp' });
    assert.equal(f.server.cachedPackets, before + 3);
    // An EDNS option (a cookie) is not a plain query: answered, not cached.
    const edns = { udpSize: 1232, extendedRcode: 0, version: 0, do: false, options: [{ code: 10, data: Buffer.alloc(8, 1) }] };
    const [o] = await f.server.handle(encode(query('mail.hamburger.edu.', 'A', { edns })).buf, peer);
    assert.equal(decode(o!).answers.length, 1);
    assert.equal(f.server.cachedPackets, before + 3);
    // A request with trailing garbage is never served from the cache.
    const [g] = await f.server.handle(Buffer.concat([q1, Buffer.from([0, 0])]), peer);
    assert.notDeepEqual(g?.subarray(2), a1!.subarray(2));
  });

  test('TCP: several queries in one write, pipelined; each answered once with its id', async () => {
    const c = await TcpClient.connect(f.port);
    const ids = [11, 22, 33, 44];
    const bufs = ids.map((id, i) => encode(query(['www', 'mail', 'nope', 'ns1'][i] + '.hamburger.edu.', 'A', { id })).buf);
    const frames = bufs.map((b) => { const x = Buffer.alloc(b.length + 2); x.writeUInt16BE(b.length); b.copy(x, 2); return x; });
    c.sendRaw(Buffer.concat(frames));
    const got: number[] = [];
    for (let i = 0; i < ids.length; i++) got.push(decode((await c.read())!).id);
    assert.deepEqual(got.sort((a, b) => a - b), ids);
    // A frame split across writes is reassembled.
    const b = encode(query('www.hamburger.edu.', 'A', { id: 55 })).buf;
    const x = Buffer.alloc(b.length + 2); x.writeUInt16BE(b.length); b.copy(x, 2);
    c.sendRaw(x.subarray(0, 1));
    await new Promise((r) => setTimeout(r, 20));
    c.sendRaw(x.subarray(1, 9));
    await new Promise((r) => setTimeout(r, 20));
    c.sendRaw(x.subarray(9));
    assert.equal(decode((await c.read())!).id, 55);
    c.close();
  });

  test('TCP: a length too short for a header closes the connection', async () => {
    const c = await TcpClient.connect(f.port);
    c.sendRaw(Buffer.from([0, 3, 1, 2, 3]));
    assert.equal(await c.read(1000), null);
    assert.equal(c.closed, true);
  });

  test('transcript events: the question as C:, the outcome as S:', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on('transcript', (e) => seen.push(`${e.dir}: ${e.text}`));
    const server = new DnsServer({ zones: f.zones, logger: silentLogger(), bus });
    await server.handle(encode(query('www.hamburger.edu.', 'A', { id: 9 })).buf, { address: '127.0.0.1', port: 1, transport: 'udp' });
    await server.handle(Buffer.alloc(5), { address: '127.0.0.1', port: 1, transport: 'udp' });
    assert.deepEqual(seen, ['C: QUERY www.hamburger.edu. IN A id=9', 'S: NOERROR aa answers=1 authority=0 additional=0', 'C: (5 octets that do not decode)', '*: dropped']);
  });

  test('names outside our zones: REFUSED (no resolver: RA clear)', async () => {
    const r = await udpQuery(f.port, query('www.example.com.', 'A', { rd: true }));
    assert.equal(r!.flags.rcode, RCODE.REFUSED);
    assert.equal(r!.flags.ra, false);
  });

  test('AXFR: refused over UDP and to strangers; over TCP to a secondary in several messages', async () => {
    const u = await udpQuery(f.port, query('big.test.', 'AXFR'));
    assert.equal(u!.flags.rcode, RCODE.REFUSED);
    const stranger = await tcpQuery(f.port, query('big.test.', 'AXFR'));
    assert.equal(stranger!.flags.rcode, RCODE.REFUSED);
    const c = await TcpClient.connect(f.port, '127.0.0.1', '127.0.0.2'); // a configured secondary
    c.send(encode(query('big.test.', 'AXFR')).buf);
    let soas = 0;
    let n = 0;
    while (soas < 2) {
      const m = await c.read();
      assert.ok(m, 'transfer ended early');
      n++;
      soas += decode(m!).answers.filter((r) => r.type === 'SOA').length;
    }
    c.close();
    assert.ok(n > 5);
    const notOurs = await tcpQuery(f.port, query('example.com.', 'AXFR'));
    assert.equal(notOurs!.flags.rcode, RCODE.REFUSED);
  });

  test('AXFR with TSIG: every message signed, the chain verifies, SOA first and last', async () => {
    const c = await TcpClient.connect(f.port);
    const now = Math.floor(Date.now() / 1000);
    const req = signMessage(encode(query('big.test.', 'AXFR')).buf, { key: KEY, timeSigned: now });
    c.send(req.buf);
    const msgs: Buffer[] = [];
    let soas = 0;
    let prior = req.mac;
    let first = true;
    while (soas < 2) {
      const m = await c.read();
      assert.ok(m, 'transfer ended early');
      const t = findTsig(m!)!;
      assert.ok(t, 'each message carries a TSIG');
      if (first) assert.equal(verifyTsig(m!, t, KEYS, now, prior).ok, true, 'first message signed over the request MAC');
      first = false;
      prior = t.mac;
      const d = decode(m!);
      soas += d.answers.filter((r) => r.type === 'SOA').length;
      msgs.push(m!);
    }
    c.close();
    assert.ok(msgs.length > 5, `${msgs.length} messages`);
    const all = msgs.flatMap((m) => decode(m).answers);
    assert.equal(all.length, 3003 + 1);
    assert.equal(all[0]!.type, 'SOA');
    assert.equal(all.at(-1)!.type, 'SOA');
  });

  test('UPDATE: unsigned REFUSED; bad key BADKEY unsigned; bad MAC BADSIG; signed add then delete', async () => {
    const add: ResourceRecord = { name: 'new.hamburger.edu.', type: 'A', class: 'IN', ttl: 300, data: { address: '127.0.0.8' } };
    const upd = (authorities: ResourceRecord[]): Message => ({ id: 77, flags: emptyFlags({ opcode: OPCODE.UPDATE }), questions: [{ name: 'hamburger.edu.', type: 'SOA', class: 'IN' }], answers: [], authorities, additionals: [] });
    const unsigned = await tcpQuery(f.port, upd([add]));
    assert.equal(unsigned!.flags.rcode, RCODE.REFUSED);

    const other = parseTsigKeys([`nobody:hmac-sha256:${secret.toString('base64')}`]).get('nobody.')!;
    const badKey = await udpExchange(f.port, signMessage(encode(upd([add])).buf, { key: other }).buf);
    assert.equal(decode(badKey!).flags.rcode, RCODE.NOTAUTH);
    const bt = findTsig(badKey!)!;
    assert.deepEqual([bt.error, bt.mac.length], [TSIG_ERROR.BADKEY, 0]);

    const forged = signMessage(encode(upd([add])).buf, { key: KEY }).buf;
    forged[forged.indexOf(Buffer.from([127, 0, 0, 8]))] = 10;
    const badSig = await udpExchange(f.port, forged);
    assert.equal(findTsig(badSig!)!.error, TSIG_ERROR.BADSIG);

    const stale = signMessage(encode(upd([add])).buf, { key: KEY, timeSigned: Math.floor(Date.now() / 1000) - 3600 });
    const badTime = await udpExchange(f.port, stale.buf);
    const tt = findTsig(badTime!)!;
    assert.equal(tt.error, TSIG_ERROR.BADTIME);
    assert.equal(tt.other.length, 6, 'our time in Other Data');
    assert.equal(verifyTsig(badTime!, tt, KEYS, tt.timeSigned, stale.mac).ok, true, 'BADTIME answers are signed');
    assert.equal((await udpQuery(f.port, query('new.hamburger.edu.')))!.flags.rcode, RCODE.NXDOMAIN, 'nothing applied');

    const signed = signMessage(encode(upd([add])).buf, { key: KEY });
    const ok = await udpExchange(f.port, signed.buf);
    assert.equal(decode(ok!).flags.rcode, RCODE.NOERROR);
    const ot = findTsig(ok!)!;
    assert.equal(verifyTsig(ok!, ot, KEYS, Math.floor(Date.now() / 1000), signed.mac).ok, true, 'response signed');
    const seen = await udpQuery(f.port, query('new.hamburger.edu.'));
    assert.equal((seen!.answers[0]!.data as { address: string }).address, '127.0.0.8');
    assert.match(f.store.texts.get('hamburger.edu.')!, /new\s+300\s+IN\s+A\s+127\.0\.0\.8/);
    assert.ok(f.changed.includes('hamburger.edu. 101'), 'serial bumped and change reported (NOTIFY)');

    const del: ResourceRecord = { ...add, class: 'NONE', ttl: 0 };
    const r2 = await udpExchange(f.port, signMessage(encode(upd([del])).buf, { key: KEY }).buf);
    assert.equal(decode(r2!).flags.rcode, RCODE.NOERROR);
    assert.equal((await udpQuery(f.port, query('new.hamburger.edu.')))!.flags.rcode, RCODE.NXDOMAIN);
  });

  test('a zone changed in the store is reloaded and served', async () => {
    f.store.texts.set('hamburger.edu.', ZONE.replace('hostmaster 100', 'hostmaster 200').replace('www A 127.0.0.5\n', 'www A 127.0.0.55\n'));
    f.store.fire('hamburger.edu.');
    await f.zones.reload('hamburger.edu.');
    const r = await udpQuery(f.port, query('www.hamburger.edu.'));
    assert.equal((r!.answers[0]!.data as { address: string }).address, '127.0.0.55');
    assert.ok(f.changed.includes('hamburger.edu. 200'));
    // A broken zone keeps the old one serving.
    f.store.texts.set('hamburger.edu.', 'this is not a zone');
    await f.zones.reload('hamburger.edu.');
    assert.equal((await udpQuery(f.port, query('www.hamburger.edu.')))!.answers.length, 1);
    assert.ok(f.zones.errors.has('hamburger.edu.'));
  });
});

describe('dns server: recursion, RRL, idle timeout', () => {
  test('recursive answers are kept until their smallest TTL runs out, TTLs lowered by the time passed; a hit is traced', async () => {
    let clock = 1_000_000;
    let asked = 0;
    const resolver: Recursor = {
      answer: async (q) => {
        asked++;
        const r = { ...q, flags: { ...q.flags, qr: true, ra: true } };
        r.answers = [
          { name: q.questions[0]!.name, type: 'CNAME', class: 'IN', ttl: 600, data: { target: 'b.example.' } } as ResourceRecord,
          { name: 'b.example.', type: 'A', class: 'IN', ttl: 30, data: { address: '192.0.2.7' } } as ResourceRecord,
        ];
        return r;
      },
    };
    const store = memoryStore({ 'hamburger.edu.': ZONE });
    const zones = new ZoneRegistry(store, silentLogger());
    await zones.start();
    const bus = new EventBus();
    const server = new DnsServer({ zones, logger: silentLogger(), recursion: { enabled: true, allow: new AddressList(['127.0.0.0/8']), resolver }, now: () => clock, bus });
    const peer = { address: '127.0.0.1', port: 999, transport: 'udp' as const };
    const ask = async (id: number) => decode((await server.handle(encode({ ...query('a.example.', 'A', { rd: true }), id }).buf, peer))[0]!);
    const first = await ask(1);
    assert.deepEqual(first.answers.map((r) => r.ttl), [600, 30]);
    clock += 12_500;
    const second = await ask(2);
    assert.equal(asked, 1, 'the repeat did not reach the resolver');
    assert.equal(second.id, 2);
    assert.deepEqual(second.answers.map((r) => r.ttl), [588, 18]);
    clock += 18_000; // the A record's 30 s are over: ask the resolver again
    await ask(3);
    assert.equal(asked, 2);
    // Someone watching dns-trace (the console) sees a hit as a one-step resolution from the cache.
    const seen: string[] = [];
    const off = bus.on('dns-trace', (ev) => seen.push(`${ev.step} ${ev.server} ${ev.qname} ${ev.qtype} ${ev.outcome}`));
    await ask(4);
    assert.equal(asked, 2);
    assert.deepEqual(seen, ['1 cache a.example. A cache']);
    off();
    zones.stop();
  });

  test('recursion goes to the resolver for allowed clients with RD=1; otherwise REFUSED', async () => {
    const asked: string[] = [];
    const resolver: Recursor = {
      async answer(q) {
        asked.push(q.questions[0]!.name);
        return { id: q.id, flags: emptyFlags({ qr: true, rd: true, ra: true }), questions: q.questions, answers: [{ name: q.questions[0]!.name, type: 'A', class: 'IN', ttl: 5, data: { address: '192.0.2.1' } }], authorities: [], additionals: [] };
      },
    };
    const f = await fixture({ resolver });
    try {
      const r = await udpQuery(f.port, query('www.example.com.', 'A', { rd: true }));
      assert.equal(r!.flags.ra, true);
      assert.equal(r!.answers.length, 1);
      const norec = await udpQuery(f.port, query('www.example.com.', 'A', { rd: false }));
      assert.equal(norec!.flags.rcode, RCODE.REFUSED);
      assert.deepEqual(asked, ['www.example.com.']);
      const auth = await udpQuery(f.port, query('www.hamburger.edu.', 'A', { rd: true }));
      assert.equal(auth!.flags.ra, true, 'RA advertised to clients that may recurse');
    } finally { await f.listener.stop(); }
    const g = await fixture({ resolver, allow: ['10.0.0.0/8'] });
    try {
      const r = await udpQuery(g.port, query('www.example.com.', 'A', { rd: true }));
      assert.equal(r!.flags.rcode, RCODE.REFUSED);
      assert.equal(r!.flags.ra, false);
    } finally { await g.listener.stop(); }
  });

  test('RRL: UDP answers beyond the rate are dropped or slip with TC=1; TCP is never limited', async () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, window: 5, slip: 2 });
    const f = await fixture({ rrl });
    try {
      let full = 0; let tc = 0; let none = 0;
      for (let i = 0; i < 20; i++) {
        const r = await udpExchange(f.port, encode(query('www.hamburger.edu.')).buf, 150);
        if (!r) none++;
        else if (decode(r).flags.tc) { tc++; assert.equal(decode(r).answers.length, 0); }
        else full++;
      }
      assert.ok(full >= 5 && full <= 6, `full ${full}`);
      assert.ok(tc >= 6, `tc ${tc}`);
      assert.ok(none >= 6, `dropped ${none}`);
      for (let i = 0; i < 10; i++) assert.equal((await tcpQuery(f.port, query('www.hamburger.edu.')))!.answers.length, 1);
    } finally { await f.listener.stop(); }
  });

  test('TCP: an idle connection is closed after the timeout', async () => {
    const f = await fixture({ idleMs: 200 });
    try {
      const c = await TcpClient.connect(f.port);
      const t0 = Date.now();
      assert.equal(await c.read(3000), null);
      assert.ok(c.closed && Date.now() - t0 < 2000);
    } finally { await f.listener.stop(); }
  });

  test('NOTIFY: sent to a secondary, retried until acknowledged', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let seen = 0;
    sock.on('message', (m, rinfo) => {
      const q = decode(m);
      assert.equal(q.flags.opcode, OPCODE.NOTIFY);
      assert.equal(q.flags.aa, true);
      assert.equal(q.questions[0]!.type, 'SOA');
      if (++seen < 2) return; // ignore the first: the notifier must retry
      sock.send(encode({ ...q, flags: { ...q.flags, qr: true }, answers: [] }).buf, rinfo.port, rinfo.address);
    });
    const n = new Notifier({ logger: silentLogger(), timeoutMs: 100, retries: 3 });
    const [ok] = await n.notify('hamburger.edu.', undefined, [{ host: '127.0.0.1', port: (sock.address()).port }]);
    sock.close();
    assert.equal(ok, true);
    assert.equal(seen, 2);
    const [gaveUp] = await new Notifier({ logger: silentLogger(), timeoutMs: 20, retries: 1 }).notify('hamburger.edu.', undefined, [{ host: '127.0.0.1', port: 9 }]);
    assert.equal(gaveUp, false);
  });
});
