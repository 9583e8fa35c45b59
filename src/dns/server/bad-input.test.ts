// Hostile and broken packets: each gets FORMERR or is dropped, and the server keeps serving.
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../core/logger.js';
import type { Store } from '../../store/store.js';
import { decode, encode } from '../wire/message.js';
import { RCODE } from '../wire/types.js';
import { AddressList } from './acl.js';
import { DnsListener } from './listener.js';
import { DnsServer } from './server.js';
import { TcpClient, query, udpExchange, udpQuery } from './testing.js';
import { ZoneRegistry } from './zones.js';

const ZONE = `$ORIGIN hamburger.edu.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 127.0.0.5
* TXT "wild"
`;

function store(): Store {
  return {
    listZones: async () => [{ name: 'hamburger.edu.', text: ZONE, serial: 1, updatedAt: new Date() }],
    getZone: async () => null,
    watchZones: () => () => {},
  } as unknown as Store;
}

/** mulberry32: a small seeded PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0); b.writeUInt16BE(flags, 2); b.writeUInt16BE(qd, 4); b.writeUInt16BE(an, 6); b.writeUInt16BE(ns, 8); b.writeUInt16BE(ar, 10);
  return b;
}
const tail = Buffer.from([0, 1, 0, 1]); // QTYPE A, QCLASS IN

describe('bad input', () => {
  let server: DnsServer;
  let listener: DnsListener;
  let port: number;
  before(async () => {
    const zones = new ZoneRegistry(store(), silentLogger());
    await zones.start();
    server = new DnsServer({ zones, logger: silentLogger(), recursion: { enabled: false, allow: new AddressList([]) } });
    listener = new DnsListener(server, silentLogger());
    port = (await listener.start('127.0.0.1', 0)).port;
  });
  after(() => listener.stop());

  const formerr = async (what: string, packet: Buffer): Promise<void> => {
    const r = await udpExchange(port, packet, 1000);
    assert.ok(r, `${what}: no answer`);
    const m = decode(r!);
    assert.equal(m.flags.rcode, RCODE.FORMERR, what);
    assert.equal(m.flags.qr, true);
    assert.equal(m.id, packet.readUInt16BE(0), `${what}: id copied`);
  };

  test('malformed packets with a header get FORMERR', async () => {
    const good = encode(query('www.hamburger.edu.', 'A', { id: 4321 })).buf;
    for (let n = 12; n < good.length; n += 3) await formerr(`truncated to ${n}`, good.subarray(0, n));
    await formerr('compression loop', Buffer.concat([header(1, 0, 1), Buffer.from([0xc0, 12]), tail]));
    await formerr('forward pointer', Buffer.concat([header(2, 0, 1), Buffer.from([0xc0, 18, 0, 1, 0, 1, 3, 0x77, 0x77, 0x77, 0])]));
    await formerr('label over 63', Buffer.concat([header(3, 0, 1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), tail]));
    const long = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x62)])), Buffer.from([0])]);
    await formerr('name over 255', Buffer.concat([header(4, 0, 1), long, tail]));
    await formerr('counts larger than the packet', Buffer.concat([header(5, 0, 1, 5, 0, 3), Buffer.from([3, 0x77, 0x77, 0x77, 0]), tail]));
    await formerr('QDCOUNT 0', header(6, 0, 0));
    const q = Buffer.from([3, 0x77, 0x77, 0x77, 9, ...Buffer.from('hamburger'), 3, ...Buffer.from('edu'), 0, 0, 1, 0, 1]);
    await formerr('QDCOUNT 2', Buffer.concat([header(7, 0, 2), q, q]));
    await formerr('trailing garbage', Buffer.concat([good, Buffer.from([1, 2, 3])]));
  });

  test('packets without a header, and responses (QR=1), get nothing', async () => {
    assert.equal(await udpExchange(port, Buffer.alloc(0), 300), null);
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3, 4, 5]), 300), null);
    assert.equal(await udpExchange(port, Buffer.alloc(11), 300), null);
    const resp = encode({ ...query('www.hamburger.edu.'), flags: { ...query('x.').flags, qr: true } }).buf;
    assert.equal(await udpExchange(port, resp, 300), null);
    assert.ok((await udpQuery(port, query('www.hamburger.edu.')))!.answers.length === 1, 'still serving');
  });

  test('TCP: garbage frames get FORMERR on the same connection, which keeps working', async () => {
    const c = await TcpClient.connect(port);
    c.send(Buffer.concat([header(9, 0, 1), Buffer.from([0xc0, 12]), tail]));
    assert.equal(decode((await c.read())!).flags.rcode, RCODE.FORMERR);
    c.send(encode(query('www.hamburger.edu.', 'A', { id: 10 })).buf);
    const ok = decode((await c.read())!);
    assert.deepEqual([ok.id, ok.answers.length], [10, 1]);
    c.close();
  });

  test('100,000 seeded random and mutated packets: FORMERR, dropped or a well-formed answer; never a crash', async () => {
    const rand = prng(0x5eed);
    const seeds = [
      encode(query('www.hamburger.edu.', 'A')).buf,
      encode(query('x.y.hamburger.edu.', 'TXT', { edns: { udpSize: 4096, extendedRcode: 0, version: 0, do: true, options: [{ code: 10, data: new Uint8Array(8) }] } })).buf,
      encode({ ...query('hamburger.edu.', 'SOA'), answers: [{ name: 'hamburger.edu.', type: 'MX', class: 'IN', ttl: 1, data: { preference: 1, exchange: 'www.hamburger.edu.' } }] }).buf,
    ];
    const sock = dgram.createSocket('udp4');
    sock.on('message', () => {});
    const counts = { dropped: 0, formerr: 0, other: 0 };
    const t0 = Date.now();
    for (let i = 0; i < 100_000; i++) {
      let p: Buffer;
      if (i % 4 === 0) {
        p = Buffer.alloc(Math.floor(rand() * 80));
        for (let k = 0; k < p.length; k++) p[k] = Math.floor(rand() * 256);
      } else {
        p = Buffer.from(seeds[i % seeds.length]!);
        const edits = 1 + Math.floor(rand() * 4);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(rand() * p.length);
          const kind = rand();
          if (kind < 0.6) p[at] = Math.floor(rand() * 256);
          else if (kind < 0.8) p = p.subarray(0, at);
          else p = Buffer.concat([p.subarray(0, at), Buffer.from([0xc0, Math.floor(rand() * 64)]), p.subarray(at)]);
        }
      }
      const out = await server.handle(p, { address: '127.0.0.1', port: 5353, transport: i % 2 ? 'udp' : 'tcp' });
      if (out.length === 0) { counts.dropped++; continue; }
      assert.equal(out.length, 1);
      const m = decode(out[0]!); // every answer is well formed
      assert.equal(m.flags.qr, true);
      if (m.flags.rcode === RCODE.FORMERR) counts.formerr++;
      else counts.other++;
      if (i % 50 === 0) sock.send(p, port, '127.0.0.1'); // and a share over the real socket
    }
    sock.close();
    assert.equal(server.stats.errors, 0, 'no internal errors');
    assert.ok(counts.dropped > 1000 && counts.formerr > 10_000, JSON.stringify(counts));
    assert.ok(Date.now() - t0 < 20_000);
    const r = await udpQuery(port, query('www.hamburger.edu.'));
    assert.equal(r!.answers.length, 1, 'still answers a good query');
  });
});
