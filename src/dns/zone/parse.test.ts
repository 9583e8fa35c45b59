import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTtl, parseZone } from './parse.js';
import { ZoneParseError } from './errors.js';
import { isWharfError } from '../../core/errors.js';

const HAMBURGER = `
$TTL 1h
$ORIGIN hamburger.edu.
@   IN  SOA dns.hamburger.edu. hostmaster (
        2024010101 ; serial
        3600       ; refresh
        15m        ; retry
        1w         ; expire
        300 )      ; negative TTL
    IN  NS   dns
    IN  MX   10 mail
dns     A    128.119.40.1
mail    86400 IN A 128.119.40.186
        IN AAAA 2001:DB8::25
www     CNAME mail.hamburger.edu.
txt     TXT  "v=spf1 mx -all" "second \\"quoted\\" \\065\\\\" bare
caa     CAA  0 issue "letsencrypt.org"
_sip._tcp SRV 0 5 5060 sip
*.wild  A 10.0.0.9
`;

test('the hamburger.edu zone parses: $TTL, $ORIGIN, @, relative names, blank owners, parentheses', () => {
  const z = parseZone(HAMBURGER, { origin: 'hamburger.edu' });
  assert.equal(z.origin, 'hamburger.edu.');
  const r = z.records;
  assert.deepEqual(r[0], {
    name: 'hamburger.edu.', type: 'SOA', class: 'IN', ttl: 3600,
    data: { mname: 'dns.hamburger.edu.', rname: 'hostmaster.hamburger.edu.', serial: 2024010101, refresh: 3600, retry: 900, expire: 604800, minimum: 300 },
  });
  assert.deepEqual(r[1], { name: 'hamburger.edu.', type: 'NS', class: 'IN', ttl: 3600, data: { host: 'dns.hamburger.edu.' } });
  assert.deepEqual(r[2], { name: 'hamburger.edu.', type: 'MX', class: 'IN', ttl: 3600, data: { preference: 10, exchange: 'mail.hamburger.edu.' } });
  assert.deepEqual(r[3], { name: 'dns.hamburger.edu.', type: 'A', class: 'IN', ttl: 3600, data: { address: '128.119.40.1' } });
  assert.deepEqual(r[4], { name: 'mail.hamburger.edu.', type: 'A', class: 'IN', ttl: 86400, data: { address: '128.119.40.186' } });
  assert.deepEqual(r[5], { name: 'mail.hamburger.edu.', type: 'AAAA', class: 'IN', ttl: 3600, data: { address: '2001:db8::25' } }, '$TTL wins over last TTL');
  assert.deepEqual(r[6]!.data, { target: 'mail.hamburger.edu.' });
  assert.deepEqual(r[7]!.data, { strings: ['v=spf1 mx -all', 'second "quoted" A\\', 'bare'] });
  assert.deepEqual(r[8]!.data, { flags: 0, tag: 'issue', value: 'letsencrypt.org' });
  assert.deepEqual(r[9], { name: '_sip._tcp.hamburger.edu.', type: 'SRV', class: 'IN', ttl: 3600, data: { priority: 0, weight: 5, port: 5060, target: 'sip.hamburger.edu.' } });
  assert.equal(r[10]!.name, '*.wild.hamburger.edu.');
  assert.equal(r.length, 11);
});

test('TTL defaults: last explicit TTL without $TTL (RFC 1035), options.defaultTtl, SOA minimum', () => {
  const a = parseZone('a 100 A 1.1.1.1\nb A 2.2.2.2\n', { origin: 'x.' });
  assert.equal(a.records[1]!.ttl, 100);
  const b = parseZone('a A 1.1.1.1\n', { origin: 'x.', defaultTtl: 42 });
  assert.equal(b.records[0]!.ttl, 42);
  const c = parseZone('@ SOA ns h 1 2 3 4 77\nb A 2.2.2.2\n', { origin: 'x.' });
  assert.deepEqual(c.records.map((x) => x.ttl), [77, 77]);
  assert.throws(() => parseZone('a A 1.1.1.1\n', { origin: 'x.' }), /no TTL/);
});

test('class and TTL in either order; $ORIGIN changes relative names; @ inside data', () => {
  const z = parseZone('$TTL 60\na IN 30 A 1.1.1.1\nb 30 IN A 1.1.1.2\n$ORIGIN sub\nc CNAME @\n', { origin: 'x.' });
  assert.deepEqual(z.records.map((r) => [r.name, r.ttl]), [['a.x.', 30], ['b.x.', 30], ['c.sub.x.', 60]]);
  assert.deepEqual(z.records[2]!.data, { target: 'sub.x.' });
});

test('names: escapes, case kept, absolute names untouched', () => {
  const z = parseZone('$TTL 1\nWWW A 1.2.3.4\na\\.b A 1.2.3.4\nx CNAME Other.Example.\n', { origin: 'Hamburger.EDU' });
  assert.equal(z.records[0]!.name, 'WWW.Hamburger.EDU.');
  assert.equal(z.records[1]!.name, 'a\\.b.Hamburger.EDU.');
  assert.deepEqual(z.records[2]!.data, { target: 'Other.Example.' });
});

test('RFC 3597 generic form, known and unknown types', () => {
  const z = parseZone('$TTL 1\na TYPE65280 \\# 3 ab CD ef\nb A \\# 4 0A000001\nc TYPE1 10.0.0.2\nd HINFO \\# 0\n', { origin: 'x.' });
  assert.deepEqual(z.records[0], { name: 'a.x.', type: 'TYPE65280', class: 'IN', ttl: 1, data: { rdata: Uint8Array.of(0xab, 0xcd, 0xef) } });
  assert.deepEqual(z.records[1]!.data, { address: '10.0.0.1' });
  assert.equal(z.records[2]!.type, 'A');
  assert.deepEqual(z.records[3]!.data, { rdata: new Uint8Array(0) });
  assert.throws(() => parseZone('$TTL 1\na A \\# 3 0A0000\n', { origin: 'x.' }), /not valid A/);
  assert.throws(() => parseZone('$TTL 1\na A \\# 4 0A0000\n', { origin: 'x.' }), /does not match/);
  assert.throws(() => parseZone('$TTL 1\na A \\# 2 0A0\n', { origin: 'x.' }), /odd/);
  assert.throws(() => parseZone('$TTL 1\na HINFO "x" "y"\n', { origin: 'x.' }), /RFC 3597/);
});

test('errors carry file, line, column and a clear message', () => {
  const cases: [string, RegExp, number, number][] = [
    ['$TTL 1\nwww A 999.1.1.1\n', /bad IPv4 address "999.1.1.1"/, 2, 7],
    ['$TTL 1\n\nwww BOGUS 1\n', /unknown type "BOGUS"/, 3, 5],
    ['$TTL 1\na MX 10\n', /missing MX exchange/, 2, 6],
    ['$TTL 1\na MX x y\n', /bad MX preference "x"/, 2, 6],
    ['$TTL 1\na A 1.2.3.4 extra\n', /unexpected "extra"/, 2, 13],
    ['$TTL 1\na TXT "open\n', /unterminated quoted string/, 2, 7],
    ['$TTL 1\na SOA ( ns h 1 2 3 4 5\n', /never closed/, 2, 7],
    ['$TTL 1\na A 1.2.3.4 )\n', /without/, 2, 13],
    ['$TTL x\n', /bad TTL "x"/, 1, 6],
    ['$TTL 4294967295\n', /above/, 1, 6],
    ['$FOO 1\n', /unknown directive/, 1, 1],
    ['$INCLUDE other.zone\n', /\$INCLUDE is not allowed/, 1, 1],
    ['  A 1.2.3.4\n', /no previous owner/, 1, 3],
    ['$TTL 1\na..b A 1.2.3.4\n', /bad name "a..b"/, 2, 1],
    ['$TTL 1\na ANY 1\n', /cannot appear in a zone/, 2, 3],
    ['$TTL 1\na TXT "\\300"\n', /DDD/, 2, 7],
    ['$TTL 1\na TXT "' + 'x'.repeat(256) + '"\n', /255/, 2, 7],
    ['$TTL 1\na A 1.1.1.1\nb CH A 1.1.1.1\n', /class CH differs/, 3, 1],
    ['$TTL 1\na CAA 0 "bad tag" x\n', /CAA tag/, 2, 9],
  ];
  for (const [text, re, line, col] of cases) {
    try {
      parseZone(text, { origin: 'x.', file: 'x.zone' });
      assert.fail(`no error for ${JSON.stringify(text)}`);
    } catch (err) {
      assert.ok(err instanceof ZoneParseError, `${JSON.stringify(text)}: ${String(err)}`);
      assert.ok(isWharfError(err, 'WHARF_ZONE_INVALID'));
      assert.match(err.message, re, text);
      assert.deepEqual([err.file, err.line, err.column], ['x.zone', line, col], `${JSON.stringify(text)} -> ${err.message}`);
      assert.ok(err.message.startsWith(`x.zone:${line}:${col}: `));
    }
  }
});

test('$INCLUDE with a reader: relative path, origin argument, origin restored afterwards', () => {
  const files: Record<string, string> = {
    '/zones/hosts.inc': 'mail A 10.0.0.25\n$ORIGIN elsewhere.\nz A 10.0.0.26\n',
  };
  const read = (p: string): string => {
    const f = files[p];
    if (f === undefined) throw new Error('ENOENT');
    return f;
  };
  const z = parseZone('$TTL 5\n$INCLUDE hosts.inc sub\nafter A 10.0.0.1\n', { origin: 'x.', file: '/zones/x.zone', allowInclude: true, readFile: read });
  assert.deepEqual(z.records.map((r) => r.name), ['mail.sub.x.', 'z.elsewhere.', 'after.x.']);
  assert.throws(() => parseZone('$INCLUDE missing.inc\n', { origin: 'x.', file: '/zones/x.zone', allowInclude: true, readFile: read }), /cannot read/);
  files['/zones/loop.inc'] = '$INCLUDE loop.inc\n';
  assert.throws(() => parseZone('$INCLUDE loop.inc\n', { origin: 'x.', file: '/zones/x.zone', allowInclude: true, readFile: read }), /nested/);
});

test('parseTtl: numbers and BIND units', () => {
  assert.equal(parseTtl('3600'), 3600);
  assert.equal(parseTtl('1h30m'), 5400);
  assert.equal(parseTtl('1W2D'), 7 * 86400 + 2 * 86400);
  assert.equal(parseTtl('1x'), undefined);
  assert.equal(parseTtl('h'), undefined);
});

test('comments, CRLF line ends, a BOM and blank lines are ignored', () => {
  const z = parseZone('\ufeff; header\r\n$TTL 1\r\n\r\n   ; only a comment\r\na A 1.1.1.1 ; trailing\r\n', { origin: 'x.' });
  assert.equal(z.records.length, 1);
  assert.deepEqual(z.records[0]!.data, { address: '1.1.1.1' });
});
