import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZoneSet, answerQuery } from './authoritative.js';
import { parseZone } from './zone/parse.js';
import { decode, encode } from './wire/message.js';
import { RCODE, emptyFlags } from './wire/types.js';
import type { Edns, Message, ResourceRecord } from './wire/types.js';

const HAMBURGER = `$TTL 3600
@        SOA  dns hostmaster 2024010101 3600 600 604800 300
@        NS   dns
@        NS   ns.crepes.fr.
@        MX   10 mail
@        MX   20 backup.crepes.fr.
dns      A    128.119.40.1
mail     A    128.119.40.186
mail     AAAA 2001:db8::25
www      CNAME mail
alias    CNAME www.crepes.fr.
away     CNAME www.example.org.
dangling CNAME nothere
loop1    CNAME loop2
loop2    CNAME loop1
a.b      A    10.0.0.1
*.wild   A    10.9.9.9
*.wild   MX   5 mail
exists.wild A 10.1.1.1
x.y.wild TXT  "deep"
*.cn     CNAME mail
; delegation with glue below the cut and a name server elsewhere in the zone
cs       NS   ns1.cs
cs       NS   dns
ns1.cs   A    128.119.240.1
_sip._tcp SRV 0 5 5060 mail
ttlmix   10 A 10.0.0.1
ttlmix   20 A 10.0.0.2
`;

const CREPES = `$TTL 60
@    SOA ns hostmaster 1 2 3 4 30
@    NS  ns
ns   A   192.0.2.53
www  A   192.0.2.80
`;

const zones = new ZoneSet([
  parseZone(HAMBURGER, { origin: 'hamburger.edu.' }),
  parseZone(CREPES, { origin: 'crepes.fr.' }),
]);

function q(name: string, type: string, over: Partial<Message> = {}): Message {
  return { id: 4242, flags: emptyFlags({ rd: true }), questions: [{ name, type, class: 'IN' }], answers: [], authorities: [], additionals: [], ...over };
}
function ask(name: string, type: string, over: Partial<Message> = {}, recursionAvailable = false): Message {
  const r = answerQuery(q(name, type, over), zones, { recursionAvailable });
  assert.ok(r, `${name} ${type} should be ours`);
  return r;
}
const short = (rs: ResourceRecord[]): string[] => rs.map((r) => `${r.name} ${r.ttl} ${r.type} ${JSON.stringify(r.data)}`);
const names = (rs: ResourceRecord[]): string[] => rs.map((r) => `${r.name} ${r.type}`);

test('exact match: AA, id, RD, question copied with its case, RA from options', () => {
  const r = ask('WWW.hamburger.EDU', 'A', {}, true);
  assert.equal(r.id, 4242);
  assert.deepEqual(r.flags, emptyFlags({ qr: true, aa: true, rd: true, ra: true, rcode: 0 }));
  assert.deepEqual(r.questions, [{ name: 'WWW.hamburger.EDU', type: 'A', class: 'IN' }]);
  const d = ask('dns.hamburger.edu.', 'A', { flags: emptyFlags({ rd: false }) });
  assert.equal(d.flags.rd, false);
  assert.equal(d.flags.ra, false);
  assert.deepEqual(short(d.answers), ['dns.hamburger.edu. 3600 A {"address":"128.119.40.1"}']);
  assert.deepEqual(d.authorities, []);
});

test('MX: targets in our zones get their addresses in additional, others not', () => {
  const r = ask('hamburger.edu', 'MX');
  assert.deepEqual(names(r.answers), ['hamburger.edu. MX', 'hamburger.edu. MX']);
  assert.deepEqual(names(r.additionals), ['mail.hamburger.edu. A', 'mail.hamburger.edu. AAAA']);
  // backup.crepes.fr is in a zone we serve but does not exist: nothing added.
  const ns = ask('hamburger.edu', 'NS');
  assert.deepEqual(names(ns.additionals), ['dns.hamburger.edu. A', 'ns.crepes.fr. A']);
  const srv = ask('_sip._tcp.hamburger.edu', 'SRV');
  assert.deepEqual(names(srv.additionals), ['mail.hamburger.edu. A', 'mail.hamburger.edu. AAAA']);
});

test('CNAME chain followed inside the zone', () => {
  const r = ask('www.hamburger.edu', 'A');
  assert.deepEqual(names(r.answers), ['www.hamburger.edu. CNAME', 'mail.hamburger.edu. A']);
  assert.equal(r.flags.aa, true);
  const c = ask('www.hamburger.edu', 'CNAME');
  assert.deepEqual(names(c.answers), ['www.hamburger.edu. CNAME'], 'asking for the CNAME itself does not follow it');
});

test('CNAME chain followed across our zones, stopped at foreign ones', () => {
  const r = ask('alias.hamburger.edu', 'A');
  assert.deepEqual(short(r.answers), ['alias.hamburger.edu. 3600 CNAME {"target":"www.crepes.fr."}', 'www.crepes.fr. 60 A {"address":"192.0.2.80"}']);
  const away = ask('away.hamburger.edu', 'A');
  assert.deepEqual(names(away.answers), ['away.hamburger.edu. CNAME']);
  assert.equal(away.flags.rcode, RCODE.NOERROR);
  assert.deepEqual(away.authorities, []);
});

test('CNAME to a missing name: NXDOMAIN with the CNAME kept; loops end', () => {
  const r = ask('dangling.hamburger.edu', 'A');
  assert.equal(r.flags.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(names(r.answers), ['dangling.hamburger.edu. CNAME']);
  assert.deepEqual(names(r.authorities), ['hamburger.edu. SOA']);
  const l = ask('loop1.hamburger.edu', 'A');
  assert.deepEqual(names(l.answers), ['loop1.hamburger.edu. CNAME', 'loop2.hamburger.edu. CNAME']);
});

test('NXDOMAIN: SOA in authority with TTL = min(SOA TTL, MINIMUM) (RFC 2308 §3)', () => {
  const r = ask('nope.hamburger.edu', 'A');
  assert.equal(r.flags.rcode, RCODE.NXDOMAIN);
  assert.equal(r.flags.aa, true);
  assert.deepEqual(r.answers, []);
  assert.deepEqual(names(r.authorities), ['hamburger.edu. SOA']);
  assert.equal(r.authorities[0]!.ttl, 300);
  const c = ask('nope.crepes.fr', 'A');
  assert.equal(c.authorities[0]!.ttl, 30);
});

test('NODATA: existing name, empty non-terminal; NOERROR with SOA', () => {
  const r = ask('mail.hamburger.edu', 'TXT');
  assert.equal(r.flags.rcode, RCODE.NOERROR);
  assert.deepEqual(r.answers, []);
  assert.deepEqual(names(r.authorities), ['hamburger.edu. SOA']);
  const ent = ask('b.hamburger.edu', 'A');
  assert.equal(ent.flags.rcode, RCODE.NOERROR, 'b exists as an empty non-terminal (RFC 8020)');
  assert.deepEqual(names(ent.authorities), ['hamburger.edu. SOA']);
});

test('referral at a zone cut: NS in authority, glue in additional, no AA', () => {
  for (const name of ['cs.hamburger.edu', 'www.cs.hamburger.edu', 'ns1.cs.hamburger.edu']) {
    const r = ask(name, 'A');
    assert.equal(r.flags.aa, false, name);
    assert.equal(r.flags.rcode, RCODE.NOERROR);
    assert.deepEqual(r.answers, []);
    assert.deepEqual(names(r.authorities), ['cs.hamburger.edu. NS', 'cs.hamburger.edu. NS']);
    assert.deepEqual(names(r.additionals), ['ns1.cs.hamburger.edu. A', 'dns.hamburger.edu. A']);
  }
  // DS belongs to the parent side of the cut: authoritative NODATA here (no DNSSEC data).
  const ds = ask('cs.hamburger.edu', 'DS');
  assert.equal(ds.flags.aa, true);
  assert.deepEqual(names(ds.authorities), ['hamburger.edu. SOA']);
});

test('wildcards (RFC 4592): synthesis for missing names only, owner = query name', () => {
  const r = ask('Anything.wild.hamburger.edu', 'A');
  assert.deepEqual(short(r.answers), ['Anything.wild.hamburger.edu. 3600 A {"address":"10.9.9.9"}']);
  assert.equal(r.flags.aa, true);
  // Deeper names use the same closest encloser's wildcard.
  assert.equal(ask('a.b.c.wild.hamburger.edu', 'A').answers.length, 1);
  // Existing name: no synthesis.
  assert.deepEqual(short(ask('exists.wild.hamburger.edu', 'A').answers), ['exists.wild.hamburger.edu. 3600 A {"address":"10.1.1.1"}']);
  assert.deepEqual(ask('exists.wild.hamburger.edu', 'MX').answers, [], 'existing name, other type: NODATA, not the wildcard MX');
  // An empty non-terminal blocks the wildcard: y.wild exists (x.y.wild), so y.wild is NODATA
  // and z.y.wild is NXDOMAIN (its closest encloser y.wild has no wildcard).
  const ent = ask('y.wild.hamburger.edu', 'A');
  assert.equal(ent.flags.rcode, RCODE.NOERROR);
  assert.deepEqual(ent.answers, []);
  assert.equal(ask('z.y.wild.hamburger.edu', 'A').flags.rcode, RCODE.NXDOMAIN);
  // Wildcard without the type: NODATA.
  const nodata = ask('q.wild.hamburger.edu', 'AAAA');
  assert.equal(nodata.flags.rcode, RCODE.NOERROR);
  assert.deepEqual(names(nodata.authorities), ['hamburger.edu. SOA']);
  // Additional processing works on synthesized MX.
  assert.deepEqual(names(ask('m.wild.hamburger.edu', 'MX').additionals), ['mail.hamburger.edu. A', 'mail.hamburger.edu. AAAA']);
  // The wildcard name itself answers as a normal name.
  assert.equal(ask('*.wild.hamburger.edu', 'A').answers[0]!.name, '*.wild.hamburger.edu.');
  // A wildcard does not match the closest encloser itself.
  assert.deepEqual(ask('wild.hamburger.edu', 'A').answers, []);
});

test('wildcard CNAME is synthesized and followed', () => {
  const r = ask('foo.cn.hamburger.edu', 'A');
  assert.deepEqual(names(r.answers), ['foo.cn.hamburger.edu. CNAME', 'mail.hamburger.edu. A']);
});

test('ANY is answered with one RRset (RFC 8482)', () => {
  const r = ask('mail.hamburger.edu', 'ANY');
  assert.deepEqual(names(r.answers), ['mail.hamburger.edu. A']);
  assert.deepEqual(names(ask('www.hamburger.edu', 'ANY').answers), ['www.hamburger.edu. CNAME']);
  assert.equal(ask('nope.hamburger.edu', 'ANY').flags.rcode, RCODE.NXDOMAIN);
});

test('an RRset answers with the lowest TTL of its members', () => {
  assert.deepEqual(ask('ttlmix.hamburger.edu', 'A').answers.map((r) => r.ttl), [10, 10]);
});

test('FORMERR for zero or two questions, NOTIMP for other opcodes, REFUSED for AXFR', () => {
  const none = answerQuery({ ...q('x', 'A'), questions: [] }, zones, { recursionAvailable: false });
  assert.equal(none?.flags.rcode, RCODE.FORMERR);
  const two = answerQuery({ ...q('x', 'A'), questions: [{ name: 'a.', type: 'A', class: 'IN' }, { name: 'b.', type: 'A', class: 'IN' }] }, zones, { recursionAvailable: false });
  assert.equal(two?.flags.rcode, RCODE.FORMERR);
  assert.equal(two?.flags.qr, true);
  const status = answerQuery(q('hamburger.edu', 'A', { flags: emptyFlags({ opcode: 2 }) }), zones, { recursionAvailable: false });
  assert.equal(status?.flags.rcode, RCODE.NOTIMP);
  assert.equal(status?.flags.opcode, 2);
  assert.equal(ask('hamburger.edu', 'AXFR').flags.rcode, RCODE.REFUSED);
});

test('not ours: names outside our zones, other classes, responses', () => {
  assert.equal(answerQuery(q('www.example.org', 'A'), zones, { recursionAvailable: true }), null);
  assert.equal(answerQuery(q('edu', 'NS'), zones, { recursionAvailable: true }), null);
  assert.equal(answerQuery({ ...q('version.bind', 'TXT'), questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] }, zones, { recursionAvailable: false }), null);
  assert.equal(answerQuery(q('www.hamburger.edu', 'A', { flags: emptyFlags({ qr: true }) }), zones, { recursionAvailable: false }), null);
});

test('EDNS: echoed with our UDP size and the DO bit; BADVERS for version 1; absent when not asked', () => {
  const edns: Edns = { udpSize: 4096, extendedRcode: 0, version: 0, do: true, options: [{ code: 10, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }] };
  const r = ask('www.hamburger.edu', 'A', { edns });
  assert.deepEqual(r.edns, { udpSize: 1232, extendedRcode: 0, version: 0, do: true, options: [] });
  assert.equal(ask('www.hamburger.edu', 'A').edns, undefined);
  const bv = ask('www.hamburger.edu', 'A', { edns: { ...edns, version: 1 } });
  assert.equal(bv.flags.rcode, RCODE.BADVERS);
  assert.deepEqual(bv.answers, []);
  assert.equal(decode(encode(bv).buf).flags.rcode, RCODE.BADVERS);
});

test('nested zones: the closest enclosing zone answers', () => {
  const sub = parseZone('$TTL 5\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 10.0.0.53\nwww A 10.0.0.80\n', { origin: 'cs.hamburger.edu.' });
  const both = new ZoneSet([parseZone(HAMBURGER, { origin: 'hamburger.edu.' }), sub]);
  assert.equal(both.find('www.cs.hamburger.edu')?.origin, 'cs.hamburger.edu.');
  assert.equal(both.find('www.hamburger.edu')?.origin, 'hamburger.edu.');
  assert.equal(both.find('edu.'), undefined);
  const r = answerQuery(q('www.cs.hamburger.edu', 'A'), both, { recursionAvailable: false });
  assert.equal(r?.flags.aa, true);
  assert.deepEqual(short(r!.answers), ['www.cs.hamburger.edu. 5 A {"address":"10.0.0.80"}']);
});

test('ZoneSet refuses invalid zones and duplicates', () => {
  assert.throws(() => new ZoneSet([parseZone('$TTL 1\na A 1.1.1.1\n', { origin: 'x.' })]), /no SOA/);
  const ok = parseZone('$TTL 1\n@ SOA a b 1 2 3 4 5\n@ NS a\n', { origin: 'x.' });
  assert.throws(() => new ZoneSet([ok, { ...ok, origin: 'X' }]), /twice/);
});

test('a whole exchange on the wire: decode query, answer, encode within 512 bytes', () => {
  const wire = encode(q('hamburger.edu', 'MX')).buf;
  const res = answerQuery(decode(wire), zones, { recursionAvailable: false })!;
  const { buf, truncated } = encode(res, { maxSize: 512 });
  assert.equal(truncated, false);
  const back = decode(buf);
  assert.equal(back.id, 4242);
  assert.deepEqual(back.answers.map((r) => r.data), [{ preference: 10, exchange: 'mail.hamburger.edu.' }, { preference: 20, exchange: 'backup.crepes.fr.' }]);
});
