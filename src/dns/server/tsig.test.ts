import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { DnsWireError } from '../wire/errors.js';
import { decode, encode } from '../wire/message.js';
import { emptyFlags } from '../wire/types.js';
import { TSIG_ERROR, findTsig, parseTsigKeys, signMessage, verifyTsig } from './tsig.js';

const secret = Buffer.from('0123456789abcdef0123456789abcdef');
const keys = parseTsigKeys([`Update-Key:hmac-sha256:${secret.toString('base64')}`]);
const key = keys.get('update-key.')!;

function request(id = 0x1234): Buffer {
  return encode({ id, flags: emptyFlags({ rd: true }), questions: [{ name: 'hamburger.edu.', type: 'SOA', class: 'IN' }], answers: [], authorities: [], additionals: [] }).buf;
}

test('parseTsigKeys: names are absolute lower case; bad entries and algorithms are refused', () => {
  assert.equal(key.name, 'update-key.');
  assert.equal(key.algorithm, 'hmac-sha256.');
  assert.deepEqual(key.secret, secret);
  assert.throws(() => parseTsigKeys(['nokey']), DnsWireError);
  assert.throws(() => parseTsigKeys(['k:hmac-md5:AAAA']), /not supported/);
});

test('vector: the MAC is HMAC-SHA256 over message + TSIG variables (RFC 8945 §4.3), computed independently', () => {
  const msg = request();
  const time = 1_700_000_000;
  const signed = signMessage(msg, { key, timeSigned: time, fudge: 300 }).buf;
  // Independent construction of the digest input.
  const name = (labels: string[]) => Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const vars = Buffer.concat([
    name(['update-key']), Buffer.from([0x00, 0xff]), Buffer.from([0, 0, 0, 0]), name(['hmac-sha256']),
    Buffer.from([0x00, 0x00, 0x65, 0x53, 0xf1, 0x00]), // 1700000000 as u48
    Buffer.from([0x01, 0x2c]), Buffer.from([0, 0]), Buffer.from([0, 0]),
  ]);
  const expected = createHmac('sha256', secret).update(msg).update(vars).digest();
  const t = findTsig(signed)!;
  assert.equal(t.keyName, 'update-key.');
  assert.equal(t.timeSigned, time);
  assert.equal(t.originalId, 0x1234);
  assert.deepEqual(t.mac, expected);
  // The signed message still decodes, TSIG last in the additional section, class ANY TTL 0.
  const m = decode(signed);
  assert.equal(m.additionals.at(-1)!.type, 'TSIG');
  assert.equal(m.additionals.at(-1)!.class, 'ANY');
  assert.equal(m.additionals.at(-1)!.ttl, 0);
});

test('verify: good, tampered (BADSIG), unknown key (BADKEY), stale (BADTIME), in that order', () => {
  const now = 1_700_000_000;
  const signed = signMessage(request(), { key, timeSigned: now }).buf;
  const ok = verifyTsig(signed, findTsig(signed)!, keys, now + 10);
  assert.equal(ok.ok, true);

  const tampered = Buffer.from(signed);
  tampered[tampered.indexOf('hamburger') + 1] ^= 0x20; // flip case of one question byte
  const bad = verifyTsig(tampered, findTsig(tampered)!, keys, now);
  assert.deepEqual([bad.ok, !bad.ok && bad.error], [false, TSIG_ERROR.BADSIG]);

  const other = parseTsigKeys([`other:hmac-sha256:${secret.toString('base64')}`]);
  const nokey = verifyTsig(signed, findTsig(signed)!, other, now);
  assert.deepEqual([nokey.ok, !nokey.ok && nokey.error], [false, TSIG_ERROR.BADKEY]);

  const late = verifyTsig(signed, findTsig(signed)!, keys, now + 301);
  assert.deepEqual([late.ok, !late.ok && late.error], [false, TSIG_ERROR.BADTIME]);
  // A bad MAC is reported as BADSIG even when the time is also wrong (MAC is checked first).
  const both = verifyTsig(tampered, findTsig(tampered)!, keys, now + 10_000);
  assert.equal(!both.ok && both.error, TSIG_ERROR.BADSIG);
});

test('verify: the original ID is restored before hashing (a forwarder may change the ID)', () => {
  const now = 1_700_000_000;
  const signed = signMessage(request(0x4242), { key, timeSigned: now }).buf;
  signed.writeUInt16BE(0x9999, 0);
  assert.equal(verifyTsig(signed, findTsig(signed)!, keys, now).ok, true);
});

test('response signing chains the request MAC; transfer messages chain the prior MAC', () => {
  const now = 1_700_000_000;
  const req = signMessage(request(), { key, timeSigned: now });
  const res1 = signMessage(request(), { key, requestMac: req.mac, timeSigned: now });
  const t1 = findTsig(res1.buf)!;
  assert.equal(verifyTsig(res1.buf, t1, keys, now, req.mac).ok, true);
  assert.equal(verifyTsig(res1.buf, t1, keys, now).ok, false, 'without the request MAC it does not verify');
  const res2 = signMessage(request(), { key, priorMac: res1.mac, timeSigned: now });
  const expected = createHmac('sha256', secret)
    .update(Buffer.from([0, 32])).update(res1.mac).update(request())
    .update(Buffer.from([0x00, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x01, 0x2c])).digest();
  assert.deepEqual(res2.mac, expected);
});

test('findTsig: none, misplaced and truncated TSIGs', () => {
  assert.equal(findTsig(request()), null);
  const signed = signMessage(request(), { key }).buf;
  // Claim the TSIG is in the authority section: not allowed (RFC 8945 §5.2).
  const moved = Buffer.from(signed);
  moved.writeUInt16BE(1, 8);
  moved.writeUInt16BE(0, 10);
  assert.throws(() => findTsig(moved), /last additional/);
  assert.throws(() => findTsig(signed.subarray(0, signed.length - 3)), DnsWireError);
  // A MAC shorter than 16 octets is a FORMERR (§5.2.2.1).
  const t = findTsig(signed)!;
  assert.throws(() => verifyTsig(signed, { ...t, mac: t.mac.subarray(0, 8) }, keys, Math.floor(Date.now() / 1000)), DnsWireError);
});
