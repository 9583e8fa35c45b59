// Fuzz: random and mutated packets into decode() must either decode or throw DnsWireError —
// never another error, never hang. Seeded PRNG so a failure reproduces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from './message.js';
import { DnsWireError } from './errors.js';
import { emptyFlags } from './types.js';
import type { Message } from './types.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds: Message[] = [
  {
    id: 1, flags: emptyFlags({ qr: true, aa: true }),
    questions: [{ name: 'hamburger.edu.', type: 'ANY', class: 'IN' }],
    answers: [
      { name: 'hamburger.edu.', type: 'SOA', class: 'IN', ttl: 60, data: { mname: 'dns.hamburger.edu.', rname: 'root.hamburger.edu.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } },
      { name: 'hamburger.edu.', type: 'MX', class: 'IN', ttl: 60, data: { preference: 10, exchange: 'mail.hamburger.edu.' } },
      { name: 'hamburger.edu.', type: 'TXT', class: 'IN', ttl: 60, data: { strings: ['v=spf1 mx -all', 'x'] } },
      { name: '_sip._tcp.hamburger.edu.', type: 'SRV', class: 'IN', ttl: 60, data: { priority: 1, weight: 2, port: 5060, target: 'sip.hamburger.edu.' } },
      { name: 'hamburger.edu.', type: 'CAA', class: 'IN', ttl: 60, data: { flags: 0, tag: 'issue', value: 'ca.example' } },
    ],
    authorities: [{ name: 'hamburger.edu.', type: 'NS', class: 'IN', ttl: 60, data: { host: 'dns.hamburger.edu.' } }],
    additionals: [
      { name: 'dns.hamburger.edu.', type: 'A', class: 'IN', ttl: 60, data: { address: '10.0.0.1' } },
      { name: 'dns.hamburger.edu.', type: 'AAAA', class: 'IN', ttl: 60, data: { address: 'fe80::1' } },
      { name: 'www.hamburger.edu.', type: 'CNAME', class: 'IN', ttl: 60, data: { target: 'hamburger.edu.' } },
      { name: '1.0.0.10.in-addr.arpa.', type: 'PTR', class: 'IN', ttl: 60, data: { target: 'dns.hamburger.edu.' } },
      { name: 'x.hamburger.edu.', type: 'TYPE999', class: 'IN', ttl: 60, data: { rdata: Uint8Array.of(1, 2, 3) } },
    ],
    edns: { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [{ code: 10, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }] },
  },
];

test('fuzz: 20,000 random and mutated packets only ever throw DnsWireError', () => {
  const rand = prng(0xd15ea5e);
  const base = seeds.map((m) => encode(m).buf);
  let decoded = 0;
  let refused = 0;
  const N = 20000;
  for (let i = 0; i < N; i++) {
    let pkt: Buffer;
    const mode = i % 4;
    if (mode === 0) {
      pkt = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    } else {
      pkt = Buffer.from(base[Math.floor(rand() * base.length)]!);
      const flips = 1 + Math.floor(rand() * 6);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(rand() * pkt.length);
        const r = rand();
        if (r < 0.5) pkt[at] = Math.floor(rand() * 256);
        else if (r < 0.7) pkt[at] = 0xc0 | Math.floor(rand() * 4); // make pointers
        else if (r < 0.85) pkt = pkt.subarray(0, at); // truncate
        else pkt = Buffer.concat([pkt.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), pkt.subarray(at)]);
      }
      if (mode === 3 && pkt.length >= 12) pkt.writeUInt16BE(Math.floor(rand() * 8), 4 + 2 * Math.floor(rand() * 4)); // counts
    }
    try {
      const m = decode(pkt);
      decoded++;
      // Whatever decodes must re-encode and decode to the same thing.
      if (i % 8 === 1) {
        let re: Buffer | undefined;
        try { re = encode(m).buf; } catch (e) { if (!(e instanceof DnsWireError)) throw e; }
        if (re) assert.deepEqual(decode(re), m);
      }
    } catch (err) {
      if (!(err instanceof DnsWireError)) {
        assert.fail(`packet ${i} (${pkt.toString('hex')}) threw ${String(err)}`);
      }
      refused++;
    }
  }
  assert.equal(decoded + refused, N);
  assert.ok(decoded > 100, `some mutated packets still decode (${decoded})`);
  assert.ok(refused > 1000, `most random packets are refused (${refused})`);
});
