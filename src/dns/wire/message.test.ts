import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, encodingLength } from './message.js';
import { badVersResponse, maxUdpPayload, responseEdns } from './edns.js';
import { DnsWireError } from './errors.js';
import { RCODE, emptyFlags } from './types.js';
import type { Message, ResourceRecord } from './types.js';

const rr = (name: string, type: string, data: ResourceRecord['data'], ttl = 3600): ResourceRecord => ({ name, type, class: 'IN', ttl, data });

function query(name: string, type: string, over: Partial<Message> = {}): Message {
  return { id: 0x1234, flags: emptyFlags({ rd: true }), questions: [{ name, type, class: 'IN' }], answers: [], authorities: [], additionals: [], ...over };
}

test('a query encodes exactly as dig sends it', () => {
  const { buf, truncated } = encode(query('www.hamburger.edu', 'A'));
  assert.equal(truncated, false);
  const expected = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from('\x03www\x09hamburger\x03edu\x00', 'latin1'),
    Buffer.from([0, 1, 0, 1]),
  ]);
  assert.deepEqual(buf, expected);
  assert.equal(encodingLength(query('www.hamburger.edu', 'A')), expected.length);
});

test('full response round-trips: flags, sections, compression, EDNS', () => {
  const msg: Message = {
    id: 7,
    flags: emptyFlags({ qr: true, aa: true, rd: true, ra: true, ad: true, cd: true, opcode: 0, rcode: 0 }),
    questions: [{ name: 'hamburger.edu.', type: 'MX', class: 'IN' }],
    answers: [rr('hamburger.edu.', 'MX', { preference: 10, exchange: 'mail.hamburger.edu.' })],
    authorities: [rr('hamburger.edu.', 'NS', { host: 'dns.hamburger.edu.' })],
    additionals: [rr('mail.hamburger.edu.', 'A', { address: '128.119.40.186' }), rr('mail.hamburger.edu.', 'AAAA', { address: '2001:db8::25' })],
    edns: { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [{ code: 10, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }] },
  };
  const { buf } = encode(msg);
  const back = decode(buf);
  assert.deepEqual(back, msg);
  // Compression made it much shorter than the uncompressed form.
  assert.ok(buf.length < encode(msg, { compress: false }).buf.length - 30);
  assert.deepEqual(decode(encode(msg, { compress: false }).buf), msg);
});

test('header bits map to the right positions', () => {
  const bits: [keyof Message['flags'], number][] = [['qr', 0x8000], ['aa', 0x0400], ['tc', 0x0200], ['rd', 0x0100], ['ra', 0x0080], ['ad', 0x0020], ['cd', 0x0010]];
  for (const [k, v] of bits) {
    const m = query('x.', 'A', { flags: emptyFlags({ [k]: true }) });
    assert.equal(encode(m).buf.readUInt16BE(2), v, k);
    assert.equal(decode(encode(m).buf).flags[k], true);
  }
  const m = query('x.', 'A', { flags: emptyFlags({ opcode: 5, rcode: 3 }) });
  assert.equal(encode(m).buf.readUInt16BE(2), (5 << 11) | 3);
});

test('extended RCODE: BADVERS splits between header and OPT', () => {
  const q = query('hamburger.edu', 'SOA', { edns: { udpSize: 4096, extendedRcode: 0, version: 1, do: false, options: [] } });
  const r = badVersResponse(q);
  assert.ok(r);
  const buf = encode(r).buf;
  assert.equal(buf.readUInt16BE(2) & 0xf, 0);
  const back = decode(buf);
  assert.equal(back.flags.rcode, RCODE.BADVERS);
  assert.equal(back.edns?.extendedRcode, 1);
  assert.equal(back.edns?.version, 0);
  assert.equal(badVersResponse(query('x', 'A', { edns: { udpSize: 512, extendedRcode: 0, version: 0, do: false, options: [] } })), null);
  assert.equal(badVersResponse(query('x', 'A')), null);
  assert.throws(() => encode(query('x', 'A', { flags: emptyFlags({ rcode: 16 }) })), /needs EDNS/);
});

test('EDNS helpers: echo, payload size bounds', () => {
  const q = query('x', 'A', { edns: { udpSize: 4096, extendedRcode: 0, version: 0, do: true, options: [] } });
  assert.deepEqual(responseEdns(q), { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [] });
  assert.equal(responseEdns(query('x', 'A')), undefined);
  assert.equal(maxUdpPayload(q), 1232);
  assert.equal(maxUdpPayload(query('x', 'A')), 512);
  assert.equal(maxUdpPayload({ ...q, edns: { ...q.edns!, udpSize: 100 } }), 512);
});

function bigAnswer(nAnswers: number, nAdditional: number): Message {
  const answers = Array.from({ length: nAnswers }, (_, i) => rr('big.hamburger.edu.', 'TXT', { strings: ['x'.repeat(100) + i] }));
  const additionals = Array.from({ length: nAdditional }, (_, i) => rr(`h${i % 3}.hamburger.edu.`, 'A', { address: `10.0.0.${i}` }));
  additionals.sort((a, b) => a.name.localeCompare(b.name));
  return { id: 1, flags: emptyFlags({ qr: true, aa: true }), questions: [{ name: 'big.hamburger.edu.', type: 'TXT', class: 'IN' }], answers, authorities: [], additionals };
}

test('truncation: answers that do not fit set TC, drop whole records from the end', () => {
  const m = bigAnswer(20, 0);
  const full = encode(m);
  assert.ok(full.buf.length > 512);
  const { buf, truncated } = encode(m, { maxSize: 512 });
  assert.ok(truncated);
  assert.ok(buf.length <= 512);
  const back = decode(buf);
  assert.equal(back.flags.tc, true);
  assert.ok(back.answers.length > 0 && back.answers.length < 20);
  assert.deepEqual(back.answers, m.answers.slice(0, back.answers.length));
});

test('truncation: additional data that does not fit is dropped by RRset, TC stays clear', () => {
  const m = bigAnswer(3, 30);
  const size = encode({ ...m, additionals: [] }).buf.length;
  const { buf, truncated } = encode(m, { maxSize: size + 150 });
  assert.ok(truncated);
  const back = decode(buf);
  assert.equal(back.flags.tc, false);
  assert.equal(back.answers.length, 3);
  // Every RRset present is complete.
  for (const name of new Set(back.additionals.map((r) => r.name))) {
    assert.equal(back.additionals.filter((r) => r.name === name).length, m.additionals.filter((r) => r.name === name).length, name);
  }
  assert.ok(back.additionals.length < 30);
});

test('truncation keeps the OPT record', () => {
  const m = { ...bigAnswer(20, 0), edns: { udpSize: 1232, extendedRcode: 0, version: 0, do: false, options: [] } };
  const { buf } = encode(m, { maxSize: 600 });
  assert.ok(buf.length <= 600);
  const back = decode(buf);
  assert.ok(back.edns);
  assert.equal(back.flags.tc, true);
});

test('a message that fits is not truncated', () => {
  const m = bigAnswer(2, 2);
  const r = encode(m, { maxSize: 512 });
  assert.equal(r.truncated, false);
  assert.equal(decode(r.buf).flags.tc, false);
});

test('TTL with the top bit set decodes as 0 (RFC 2181 §8)', () => {
  const buf = encode({ ...query('x.', 'A'), answers: [rr('x.', 'A', { address: '1.2.3.4' }, 1)] }).buf;
  buf.writeUInt32BE(0x80000001, buf.length - 10);
  assert.equal(decode(buf).answers[0]!.ttl, 0);
});

test('unknown types travel opaque', () => {
  const m = { ...query('x.', 'TYPE65280'), answers: [rr('x.', 'TYPE65280', { rdata: Uint8Array.of(0xde, 0xad) })] };
  assert.deepEqual(decode(encode(m).buf), m);
});

test('encode refuses bad values', () => {
  assert.throws(() => encode({ ...query('x', 'A'), id: 70000 }), DnsWireError);
  assert.throws(() => encode({ ...query('x', 'A'), answers: [rr('x', 'A', { address: '1.2.3.4' }, -1)] }), /TTL/);
  assert.throws(() => encode({ ...query('x', 'A'), additionals: [rr('.', 'OPT', { rdata: Uint8Array.of() })] }), /OPT/);
  assert.throws(() => encode(query('a..b', 'A')), DnsWireError);
  assert.throws(() => encode(query('x', 'NOPE')), DnsWireError);
  assert.throws(() => encode({ ...query('x', 'A'), flags: emptyFlags({ opcode: 16 }) }), /opcode/);
});

test('decode refuses malformed messages', () => {
  const good = encode({ ...query('www.hamburger.edu', 'A'), answers: [rr('www.hamburger.edu', 'A', { address: '1.2.3.4' })] }).buf;
  assert.ok(decode(good));
  assert.throws(() => decode(good.subarray(0, 11)), /header/);
  assert.throws(() => decode(good.subarray(0, good.length - 1)), DnsWireError);
  assert.throws(() => decode(Buffer.concat([good, Buffer.from([0])])), /after the last record/);
  const moreQ = Buffer.from(good);
  moreQ.writeUInt16BE(2, 4);
  assert.throws(() => decode(moreQ), DnsWireError);
  const badLen = Buffer.from(good);
  badLen.writeUInt16BE(5, good.length - 6);
  assert.throws(() => decode(badLen), DnsWireError);
});

test('decode: OPT rules (one, additional only, root owner)', () => {
  const edns = { udpSize: 1232, extendedRcode: 0, version: 0, do: false, options: [] };
  const one = encode({ ...query('x.', 'A'), edns }).buf;
  const opt = one.subarray(one.length - 11);
  // Two OPT records.
  const two = Buffer.concat([one, opt]);
  two.writeUInt16BE(2, 10);
  assert.throws(() => decode(two), /more than one OPT/);
  // OPT in the answer section.
  const inAnswer = Buffer.from(one);
  inAnswer.writeUInt16BE(1, 6);
  inAnswer.writeUInt16BE(0, 10);
  assert.throws(() => decode(inAnswer), /outside the additional/);
  // OPT owned by a non-root name: "x." is at offset 12 -> pointer.
  const owned = Buffer.concat([one.subarray(0, one.length - 11), Buffer.from([0xc0, 12]), opt.subarray(1)]);
  assert.throws(() => decode(owned), /root/);
  // Truncated option.
  const badOpt = Buffer.concat([one.subarray(0, one.length - 2), Buffer.from([0, 3, 0, 1, 0])]);
  assert.throws(() => decode(badOpt), /option/);
});
