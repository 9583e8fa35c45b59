import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  className, classCode, isRecordOfType, normalizeType, rdataOf, readRData, typeCode, typeName, typedFromOpaque, writeRData,
} from './records.js';
import { Writer } from './name.js';
import { DnsWireError } from './errors.js';
import { formatIpv6, parseIpv4, parseIpv6 } from './address.js';
import { bytesToText, textToBytes } from './bytes-text.js';
import type { RData, ResourceRecord } from './types.js';

test('type and class mnemonics, TYPEnnn and CLASSnnn forms', () => {
  assert.equal(typeCode('a'), 1);
  assert.equal(typeCode('CAA'), 257);
  assert.equal(typeCode('TYPE123'), 123);
  assert.equal(typeCode('type1'), 1);
  assert.equal(typeName(1), 'A');
  assert.equal(typeName(65280), 'TYPE65280');
  assert.equal(normalizeType('TYPE28'), 'AAAA');
  assert.throws(() => typeCode('BOGUS'), DnsWireError);
  assert.throws(() => typeCode('TYPE65536'), DnsWireError);
  assert.throws(() => typeCode('TYPE'), DnsWireError);
  assert.equal(classCode('in'), 1);
  assert.equal(className(3), 'CH');
  assert.equal(className(42), 'CLASS42');
  assert.equal(classCode('CLASS42'), 42);
  assert.throws(() => classCode('XX'), DnsWireError);
});

test('addresses: strict IPv4, RFC 5952 IPv6', () => {
  assert.deepEqual([...parseIpv4('128.119.40.186')], [128, 119, 40, 186]);
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.a', '']) assert.throws(() => parseIpv4(bad), DnsWireError, bad);
  const cases: [string, string][] = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of equal runs
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ];
  for (const [i, o] of cases) assert.equal(formatIpv6(parseIpv6(i)), o, i);
  for (const bad of [':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::', ':1::', '1:2:3:4:5:6:7', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4', '1.2.3.4'])
    assert.throws(() => parseIpv6(bad), DnsWireError, bad);
});

test('bytes-text: UTF-8 text and arbitrary bytes both round-trip', () => {
  assert.equal(bytesToText(Buffer.from('v=spf1 -all')), 'v=spf1 -all');
  assert.equal(bytesToText(Buffer.from('héllo ☃ 𝄞')), 'héllo ☃ 𝄞');
  const raw = Uint8Array.of(0x61, 0xff, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98, 0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80);
  const t = bytesToText(raw);
  assert.deepEqual([...textToBytes(t)], [...raw]);
  assert.ok(t.includes('😀'), 'the valid 4-byte sequence decodes');
  assert.equal(t.charCodeAt(1), 0xdcff, 'invalid byte as lone surrogate');
  for (let i = 0; i < 2000; i++) {
    const b = Uint8Array.from({ length: i % 17 }, () => Math.floor(Math.random() * 256));
    assert.deepEqual([...textToBytes(bytesToText(b))], [...b]);
  }
});

function roundTrip(type: string, data: RData): RData {
  const w = new Writer();
  writeRData(w, type, data);
  const buf = w.result();
  return readRData(buf, type, 0, buf.length);
}

test('RDATA round-trips for every modelled type', () => {
  const cases: [string, RData][] = [
    ['A', { address: '128.119.40.186' }],
    ['AAAA', { address: '2001:db8::25' }],
    ['NS', { host: 'dns.hamburger.edu.' }],
    ['CNAME', { target: 'www.hamburger.edu.' }],
    ['PTR', { target: 'mail.hamburger.edu.' }],
    ['SOA', { mname: 'dns.hamburger.edu.', rname: 'hostmaster.hamburger.edu.', serial: 2024010101, refresh: 3600, retry: 600, expire: 604800, minimum: 300 }],
    ['MX', { preference: 10, exchange: 'mail.hamburger.edu.' }],
    ['TXT', { strings: ['v=spf1 mx -all', '', 'second "quoted" ☃'] }],
    ['SRV', { priority: 0, weight: 5, port: 5060, target: 'sip.hamburger.edu.' }],
    ['CAA', { flags: 128, tag: 'issue', value: 'letsencrypt.org' }],
    ['TYPE65280', { rdata: Uint8Array.of(1, 2, 3) }],
    ['HINFO', { rdata: Uint8Array.of(1, 0x41, 1, 0x42) }],
  ];
  for (const [t, d] of cases) assert.deepEqual(roundTrip(t, d), d, t);
});

test('bad RDATA values are refused on encode', () => {
  const w = new Writer();
  assert.throws(() => writeRData(w, 'A', { address: '1.2.3.999' }), DnsWireError);
  assert.throws(() => writeRData(w, 'MX', { preference: 70000, exchange: 'x.' }), /65535/);
  assert.throws(() => writeRData(w, 'TXT', { strings: [] }), /at least one/);
  assert.throws(() => writeRData(w, 'TXT', { strings: ['x'.repeat(256)] }), /255/);
  assert.throws(() => writeRData(w, 'CAA', { flags: 0, tag: 'bad tag', value: '' }), /CAA tag/);
  assert.throws(() => writeRData(w, 'HINFO', { address: '1.2.3.4' } as RData), /opaque/);
  assert.throws(() => writeRData(w, 'SOA', { mname: 'a.', rname: 'b.' } as unknown as RData), /serial/);
});

test('bad RDATA bytes are refused on decode', () => {
  assert.throws(() => readRData(Uint8Array.of(1, 2, 3), 'A', 0, 3), /4 bytes/);
  assert.throws(() => readRData(Uint8Array.of(1, 2, 3), 'A', 0, 4), /past the end/);
  assert.throws(() => readRData(Uint8Array.of(1, 0x61, 0, 7), 'NS', 0, 4), /length mismatch/);
  assert.throws(() => readRData(Uint8Array.of(5, 0x61), 'TXT', 0, 2), /too short/);
  assert.throws(() => readRData(Uint8Array.of(), 'TXT', 0, 0), /empty/);
  assert.throws(() => readRData(Uint8Array.of(0, 0), 'CAA', 0, 2), /tag length/);
  assert.throws(() => readRData(Uint8Array.of(0, 10), 'MX', 0, 2), /past the end/);
});

test('typedFromOpaque turns RFC 3597 bytes of a known type into typed data', () => {
  assert.deepEqual(typedFromOpaque('A', Uint8Array.of(10, 0, 0, 1)), { address: '10.0.0.1' });
  assert.deepEqual(typedFromOpaque('TYPE1', Uint8Array.of(10, 0, 0, 1)), { address: '10.0.0.1' });
  assert.deepEqual(typedFromOpaque('TYPE999', Uint8Array.of(9)), { rdata: Uint8Array.of(9) });
  assert.throws(() => typedFromOpaque('A', Uint8Array.of(10)), DnsWireError);
});

test('isRecordOfType / rdataOf narrow typed records only', () => {
  const mx: ResourceRecord = { name: 'hamburger.edu.', type: 'MX', class: 'IN', ttl: 60, data: { preference: 10, exchange: 'mail.hamburger.edu.' } };
  assert.ok(isRecordOfType(mx, 'MX'));
  assert.equal(rdataOf(mx, 'MX')?.exchange, 'mail.hamburger.edu.');
  assert.equal(rdataOf(mx, 'A'), undefined);
  assert.equal(rdataOf({ ...mx, data: { rdata: Uint8Array.of() } }, 'MX'), undefined);
});
