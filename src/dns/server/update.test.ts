import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RCODE, OPCODE, emptyFlags } from '../wire/types.js';
import type { Message, ResourceRecord, SoaData } from '../wire/types.js';
import { parseZone } from '../zone/parse.js';
import { decode, encode } from '../wire/message.js';
import { applyUpdate } from './update.js';

const ZONE = `$ORIGIN hamburger.edu.
$TTL 300
@ SOA ns1 hostmaster 100 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.53
www A 127.0.0.5
www A 127.0.0.6
alias CNAME www
`;
const origin = 'hamburger.edu.';
const records = parseZone(ZONE, { origin }).records;
const empty = { rdata: new Uint8Array(0) };
const rr = (name: string, type: string, cls: string, ttl: number, data: unknown): ResourceRecord => ({ name, type, class: cls, ttl, data: data as ResourceRecord['data'] });

function upd(prereq: ResourceRecord[], updates: ResourceRecord[], zone = origin): Message {
  return { id: 1, flags: emptyFlags({ opcode: OPCODE.UPDATE }), questions: [{ name: zone, type: 'SOA', class: 'IN' }], answers: prereq, authorities: updates, additionals: [] };
}
const serial = (rs: ResourceRecord[]) => (rs.find((r) => r.type === 'SOA')!.data as SoaData).serial;
const at = (rs: ResourceRecord[], name: string, type: string) => rs.filter((r) => r.name.toLowerCase() === name && r.type === type);

test('add a record: serial bumped, record present', () => {
  const r = applyUpdate(upd([], [rr('mail.hamburger.edu.', 'A', 'IN', 300, { address: '127.0.0.9' })]), origin, records);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.equal(at(r.records!, 'mail.hamburger.edu.', 'A').length, 1);
  assert.equal(serial(r.records!), 101);
});

test('delete an RRset (class ANY), one RR (class NONE), all at a name (ANY ANY)', () => {
  let r = applyUpdate(upd([], [rr('www.hamburger.edu.', 'A', 'ANY', 0, empty)]), origin, records);
  assert.equal(at(r.records!, 'www.hamburger.edu.', 'A').length, 0);
  r = applyUpdate(upd([], [rr('WWW.hamburger.edu.', 'A', 'NONE', 0, { address: '127.0.0.5' })]), origin, records);
  assert.deepEqual(at(r.records!, 'www.hamburger.edu.', 'A').map((x) => (x.data as { address: string }).address), ['127.0.0.6']);
  r = applyUpdate(upd([], [rr('alias.hamburger.edu.', 'ANY', 'ANY', 0, empty)]), origin, records);
  assert.equal(r.records!.some((x) => x.name.startsWith('alias')), false);
});

test('the apex SOA and the last apex NS survive deletes; no change means no serial bump', () => {
  const r = applyUpdate(upd([], [rr(origin, 'ANY', 'ANY', 0, empty), rr(origin, 'NS', 'NONE', 0, { host: 'ns1.hamburger.edu.' }), rr(origin, 'SOA', 'ANY', 0, empty)]), origin, records);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.equal(r.records, undefined, 'nothing changed');
  const del = applyUpdate(upd([], [rr('nothere.hamburger.edu.', 'A', 'ANY', 0, empty)]), origin, records);
  assert.equal(del.records, undefined);
});

test('CNAME and other data never share a name (RFC 2136 §3.4.2.2)', () => {
  const r1 = applyUpdate(upd([], [rr('alias.hamburger.edu.', 'A', 'IN', 300, { address: '127.0.0.1' })]), origin, records);
  assert.equal(r1.records, undefined);
  const r2 = applyUpdate(upd([], [rr('www.hamburger.edu.', 'CNAME', 'IN', 300, { target: 'x.hamburger.edu.' })]), origin, records);
  assert.equal(r2.records, undefined);
});

test('prerequisites: name in use / not in use, RRset exists / not, value-dependent', () => {
  const add = [rr('new.hamburger.edu.', 'A', 'IN', 300, { address: '127.0.0.7' })];
  const cases: [ResourceRecord[], number][] = [
    [[rr('www.hamburger.edu.', 'ANY', 'ANY', 0, empty)], RCODE.NOERROR],
    [[rr('nope.hamburger.edu.', 'ANY', 'ANY', 0, empty)], RCODE.NXDOMAIN],
    [[rr('www.hamburger.edu.', 'ANY', 'NONE', 0, empty)], RCODE.YXDOMAIN],
    [[rr('www.hamburger.edu.', 'MX', 'ANY', 0, empty)], RCODE.NXRRSET],
    [[rr('www.hamburger.edu.', 'A', 'NONE', 0, empty)], RCODE.YXRRSET],
    [[rr('www.hamburger.edu.', 'A', 'IN', 0, { address: '127.0.0.5' }), rr('www.hamburger.edu.', 'A', 'IN', 0, { address: '127.0.0.6' })], RCODE.NOERROR],
    [[rr('www.hamburger.edu.', 'A', 'IN', 0, { address: '127.0.0.5' })], RCODE.NXRRSET],
    [[rr('www.hamburger.edu.', 'A', 'ANY', 300, empty)], RCODE.FORMERR],
    [[rr('www.example.com.', 'A', 'ANY', 0, empty)], RCODE.NOTZONE],
  ];
  for (const [pre, rcode] of cases) {
    const r = applyUpdate(upd(pre, add), origin, records);
    assert.equal(r.rcode, rcode, JSON.stringify(pre));
    if (rcode !== RCODE.NOERROR) assert.equal(r.records, undefined, 'a failed prerequisite changes nothing');
  }
});

test('prescan: out-of-zone, meta types, bad class ANY/NONE forms; the zone section', () => {
  const cases: [Message, number][] = [
    [upd([], [rr('www.example.com.', 'A', 'IN', 300, { address: '127.0.0.1' })]), RCODE.NOTZONE],
    [upd([], [rr('www.hamburger.edu.', 'AXFR', 'IN', 300, empty)]), RCODE.FORMERR],
    [upd([], [rr('www.hamburger.edu.', 'A', 'ANY', 5, empty)]), RCODE.FORMERR],
    [upd([], [rr('www.hamburger.edu.', 'A', 'ANY', 0, { address: '127.0.0.1' })]), RCODE.FORMERR],
    [upd([], [rr('www.hamburger.edu.', 'A', 'NONE', 9, { address: '127.0.0.1' })]), RCODE.FORMERR],
    [upd([], [rr('www.hamburger.edu.', 'A', 'CH', 0, { address: '127.0.0.1' })]), RCODE.FORMERR],
    [upd([], [], 'example.com.'), RCODE.NOTAUTH],
    [{ ...upd([], []), questions: [] }, RCODE.FORMERR],
  ];
  for (const [m, rcode] of cases) assert.equal(applyUpdate(m, origin, records).rcode, rcode, JSON.stringify(m.authorities));
  // A failing record after a good one: nothing is applied (atomic).
  const r = applyUpdate(upd([], [rr('ok.hamburger.edu.', 'A', 'IN', 300, { address: '127.0.0.1' }), rr('x.example.com.', 'A', 'IN', 300, { address: '127.0.0.1' })]), origin, records);
  assert.equal(r.rcode, RCODE.NOTZONE);
  assert.equal(r.records, undefined);
});

test('an explicit SOA update with a greater serial replaces it; a smaller one is ignored', () => {
  const soa = records.find((r) => r.type === 'SOA')!;
  const higher = applyUpdate(upd([], [{ ...soa, data: { ...(soa.data as SoaData), serial: 500 } }]), origin, records);
  assert.equal(serial(higher.records!), 500);
  const lower = applyUpdate(upd([], [{ ...soa, data: { ...(soa.data as SoaData), serial: 50 } }]), origin, records);
  assert.equal(lower.records, undefined);
});

test('adding a duplicate only updates the TTL', () => {
  const same = applyUpdate(upd([], [rr('www.hamburger.edu.', 'A', 'IN', 300, { address: '127.0.0.5' })]), origin, records);
  assert.equal(same.records, undefined);
  const ttl = applyUpdate(upd([], [rr('www.hamburger.edu.', 'A', 'IN', 60, { address: '127.0.0.5' })]), origin, records);
  assert.equal(at(ttl.records!, 'www.hamburger.edu.', 'A').length, 2);
});

test('wire: class ANY/NONE records with empty RDATA decode (RFC 2136 §2.4), even for fixed-size types', () => {
  const m = upd([rr('www.hamburger.edu.', 'A', 'ANY', 0, empty)], [rr('www.hamburger.edu.', 'A', 'ANY', 0, empty), rr('www.hamburger.edu.', 'MX', 'NONE', 0, empty)]);
  const d = decode(encode(m).buf);
  assert.deepEqual(d.answers[0]!.data, empty);
  assert.deepEqual(d.authorities.map((r) => [r.type, r.class, (r.data as { rdata: Uint8Array }).rdata.length]), [['A', 'ANY', 0], ['MX', 'NONE', 0]]);
  // Class IN with an empty A is still malformed.
  assert.throws(() => decode(encode(upd([], [rr('www.hamburger.edu.', 'A', 'IN', 0, empty)])).buf));
  assert.equal(applyUpdate(d, origin, records).rcode, RCODE.NOERROR);
});
