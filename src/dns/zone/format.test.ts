import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRecord, formatZone, quoteString } from './format.js';
import { parseZone } from './parse.js';
import type { ResourceRecord } from '../wire/types.js';

const records: ResourceRecord[] = [
  { name: 'www.hamburger.edu.', type: 'CNAME', class: 'IN', ttl: 60, data: { target: 'mail.hamburger.edu.' } },
  { name: 'hamburger.edu.', type: 'SOA', class: 'IN', ttl: 3600, data: { mname: 'dns.hamburger.edu.', rname: 'hostmaster.hamburger.edu.', serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 } },
  { name: 'hamburger.edu.', type: 'NS', class: 'IN', ttl: 3600, data: { host: 'ns.other.net.' } },
  { name: 'hamburger.edu.', type: 'MX', class: 'IN', ttl: 3600, data: { preference: 10, exchange: 'mail.hamburger.edu.' } },
  { name: 'Mail.hamburger.edu.', type: 'A', class: 'IN', ttl: 0, data: { address: '128.119.40.186' } },
  { name: 'mail.hamburger.edu.', type: 'AAAA', class: 'IN', ttl: 1, data: { address: '2001:db8::25' } },
  { name: 'txt.hamburger.edu.', type: 'TXT', class: 'IN', ttl: 1, data: { strings: ['a "q" \\ b', '', 'héllo', 'bin\udcff\u0001'] } },
  { name: 'odd\\.label\\@\\$x\\032y.hamburger.edu.', type: 'A', class: 'IN', ttl: 1, data: { address: '1.2.3.4' } },
  { name: '*.hamburger.edu.', type: 'MX', class: 'IN', ttl: 1, data: { preference: 0, exchange: '.' } },
  { name: '_x._tcp.hamburger.edu.', type: 'SRV', class: 'IN', ttl: 1, data: { priority: 1, weight: 2, port: 3, target: 'hamburger.edu.' } },
  { name: 'hamburger.edu.', type: 'CAA', class: 'IN', ttl: 1, data: { flags: 128, tag: 'iodef', value: 'mailto:sec@hamburger.edu' } },
  { name: 'u.hamburger.edu.', type: 'TYPE65280', class: 'IN', ttl: 1, data: { rdata: Uint8Array.of(0, 1, 0xff) } },
  { name: 'e.hamburger.edu.', type: 'NULL', class: 'IN', ttl: 1, data: { rdata: new Uint8Array(0) } },
  { name: 'out.example.', type: 'A', class: 'IN', ttl: 1, data: { address: '9.9.9.9' } },
];

test('formatZone round-trips through parseZone, SOA first', () => {
  const text = formatZone('hamburger.edu', records);
  assert.match(text, /^\$ORIGIN hamburger\.edu\.\n@\t3600\tIN\tSOA\tdns hostmaster 7 1 2 3 4\n/);
  assert.match(text, /\nwww\t60\tIN\tCNAME\tmail\n/);
  assert.ok(/^[\x09\x0a\x20-\x7e]*$/.test(text), 'plain ASCII');
  const back = parseZone(text, { origin: 'hamburger.edu.' });
  const expected = [records[1]!, ...records.filter((_, i) => i !== 1)];
  assert.deepEqual(back.records, expected);
});

test('round trip in the root zone and with names outside the origin', () => {
  const rs: ResourceRecord[] = [{ name: 'com.', type: 'NS', class: 'IN', ttl: 172800, data: { host: 'a.gtld-servers.net.' } }];
  assert.deepEqual(parseZone(formatZone('.', rs), { origin: '.' }).records, rs);
});

test('quoteString escapes quotes, backslashes and non-ASCII bytes', () => {
  assert.equal(quoteString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quoteString('é'), '"\\195\\169"');
  assert.equal(quoteString('\udcff'), '"\\255"');
});

test('formatRecord writes one dig-style line with absolute names', () => {
  assert.equal(formatRecord(records[3]!), 'hamburger.edu.\t3600\tIN\tMX\t10 mail.hamburger.edu.');
  assert.equal(formatRecord(records[11]!), 'u.hamburger.edu.\t1\tIN\tTYPE65280\t\\# 3 0001ff');
});
