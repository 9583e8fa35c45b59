import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  displayAddresses,
  formatAddress,
  formatAddressList,
  formatDate,
  getHeader,
  getHeaders,
  headerFields,
  isFieldLine,
  makeMessageId,
  parseAddresses,
  parseAddressList,
  parseDate,
  parseHeaderFields,
  unfold,
} from './message.js';

const block = Buffer.from(
  'Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n' +
    'Subject: folded\r\n  subject\r\n' +
    'X-Empty:\r\n' +
    'Received: second\r\n' +
    'FROM : alice@crepes.fr\r\n' +
    'not a field line\r\n' +
    'To: bob@hamburger.edu\r\n' +
    '\r\n' +
    'Body: not a header\r\n',
);

describe('header fields (RFC 5322 §2.2)', () => {
  it('parses, unfolds, keeps raw values and offsets, stops at the blank line', () => {
    const f = parseHeaderFields(block);
    assert.deepEqual(
      f.map((x) => x.name),
      ['Received', 'Subject', 'X-Empty', 'Received', 'FROM', 'To'],
    );
    assert.equal(f[0]!.raw, ' from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000');
    assert.equal(f[0]!.value, 'from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000');
    assert.equal(getHeader(f, 'subject'), 'folded  subject');
    assert.equal(getHeader(f, 'x-empty'), '');
    assert.equal(getHeader(f, 'from'), 'alice@crepes.fr');
    assert.equal(getHeader(f, 'missing'), null);
    assert.deepEqual(getHeaders(f, 'received'), ['from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000', 'second']);
    assert.equal(block.toString('latin1', f[1]!.start, f[1]!.end), 'Subject: folded\r\n  subject\r\n');
    assert.equal(unfold('a\r\n b\n\tc\r\nd'), 'a b\tc\r\nd');
  });

  it('recognises field lines', () => {
    assert.equal(isFieldLine(Buffer.from('Subject: x')), true);
    assert.equal(isFieldLine(Buffer.from('Subject : x')), true);
    assert.equal(isFieldLine(Buffer.from(': x')), false);
    assert.equal(isFieldLine(Buffer.from('Sub ject: x')), false);
    assert.equal(isFieldLine(Buffer.from('no colon')), false);
    assert.equal(isFieldLine(Buffer.from('Sübject: x', 'utf8')), false);
  });

  it('HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 3501 §6.4.5) keep wire form and end with a blank line', () => {
    assert.equal(headerFields(block, ['subject', 'TO']).toString(), 'Subject: folded\r\n  subject\r\nTo: bob@hamburger.edu\r\n\r\n');
    assert.equal(headerFields(block, ['x-none']).toString(), '\r\n');
    assert.equal(
      headerFields(block, ['received', 'subject', 'to'], true).toString(),
      'X-Empty:\r\nFROM : alice@crepes.fr\r\n\r\n',
    );
    // A header block without its final CRLF still yields CRLF-terminated fields.
    assert.equal(headerFields(Buffer.from('A: 1\r\nB: 2'), ['b']).toString(), 'B: 2\r\n\r\n');
  });
});

describe('addresses (RFC 5322 §3.4)', () => {
  it('parses the RFC 5322 appendix A examples', () => {
    assert.deepEqual(parseAddressList('"Joe Q. Public" <john.q.public@example.com>'), [
      { name: 'Joe Q. Public', adl: null, mailbox: 'john.q.public', host: 'example.com' },
    ]);
    assert.deepEqual(parseAddressList('Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>'), [
      { name: 'Mary Smith', adl: null, mailbox: 'mary', host: 'x.test' },
      { name: null, adl: null, mailbox: 'jdoe', host: 'example.org' },
      { name: 'Who?', adl: null, mailbox: 'one', host: 'y.test' },
    ]);
    assert.deepEqual(parseAddressList('<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>'), [
      { name: null, adl: null, mailbox: 'boss', host: 'nil.test' },
      { name: 'Giant; "Big" Box', adl: null, mailbox: 'sysservices', host: 'example.net' },
    ]);
    // A.5: white space, comments, obsolete forms.
    assert.deepEqual(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>'), [
      { name: 'Pete', adl: null, mailbox: 'pete', host: 'silly.test' },
    ]);
    assert.deepEqual(parseAddressList('A Group(Some people)\r\n     :Chris Jones <c@(Chris\'s host.)public.example>,\r\n         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of the group)'), [
      { name: null, adl: null, mailbox: 'A Group', host: null },
      { name: 'Chris Jones', adl: null, mailbox: 'c', host: 'public.example' },
      { name: null, adl: null, mailbox: 'joe', host: 'example.org' },
      { name: 'John', adl: null, mailbox: 'jdoe', host: 'one.test' },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
    // A.6.1 obsolete: obs-route, obs-local-part with spaces around dots, empty list elements.
    assert.deepEqual(parseAddressList('Joe Q. Public <john.q.public@example.com>, , Mary <@machine.tld:mary@example.net>, jdoe@test   . example'), [
      { name: 'Joe Q. Public', adl: null, mailbox: 'john.q.public', host: 'example.com' },
      { name: 'Mary', adl: '@machine.tld', mailbox: 'mary', host: 'example.net' },
      { name: null, adl: null, mailbox: 'jdoe', host: 'test.example' },
    ]);
  });

  it('handles quoted local parts, missing parts, empty groups and garbage without throwing', () => {
    assert.deepEqual(parseAddressList('"john doe"@example.com'), [{ name: null, adl: null, mailbox: 'john doe', host: 'example.com' }]);
    assert.deepEqual(parseAddressList('undisclosed-recipients:;'), [
      { name: null, adl: null, mailbox: 'undisclosed-recipients', host: null },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
    assert.deepEqual(parseAddressList('<>'), [{ name: null, adl: null, mailbox: 'MISSING_MAILBOX', host: 'MISSING_DOMAIN' }]);
    assert.deepEqual(parseAddressList('postmaster'), [{ name: null, adl: null, mailbox: 'postmaster', host: 'MISSING_DOMAIN' }]);
    assert.deepEqual(parseAddressList(''), []);
    for (const junk of ['<<<', '@@@', ':::;;;', '"unterminated', '(unterminated', 'a@', '@b', '>x<', 'a:b:c;d;', '[1.2.3.4']) {
      assert.ok(Array.isArray(parseAddressList(junk)), junk);
    }
    assert.deepEqual(parseAddressList('x@[192.0.2.1]'), [{ name: null, adl: null, mailbox: 'x', host: '[192.0.2.1]' }]);
  });

  it('parseAddresses flattens groups and decodes names; display form', () => {
    assert.deepEqual(parseAddresses('=?utf-8?q?J=C3=B6rg?= <j@x.test>, G: a@b.test;'), [
      { name: 'Jörg', address: 'j@x.test' },
      { name: null, address: 'a@b.test' },
    ]);
    assert.equal(displayAddresses('=?utf-8?q?J=C3=B6rg?= <j@x.test>, a@b.test'), 'Jörg <j@x.test>, a@b.test');
    assert.equal(displayAddresses(''), '');
  });

  it('formats addresses, quoting and encoding names', () => {
    assert.equal(formatAddress({ name: null, address: 'bob@hamburger.edu' }), 'bob@hamburger.edu');
    assert.equal(formatAddress({ name: 'Bob Smith', address: 'bob@hamburger.edu' }), 'Bob Smith <bob@hamburger.edu>');
    assert.equal(formatAddress({ name: 'Smith, Bob', address: 'bob@x.test' }), '"Smith, Bob" <bob@x.test>');
    assert.equal(formatAddress({ name: null, address: 'john doe@x.test' }), '"john doe"@x.test');
    const enc = formatAddress({ name: 'Jörg Müller', address: 'j@x.test' });
    assert.match(enc, /^=\?UTF-8\?Q\?.*\?= <j@x\.test>$/);
    assert.deepEqual(parseAddresses(enc), [{ name: 'Jörg Müller', address: 'j@x.test' }]);
    const list = [
      { name: 'A "quoted" one', address: 'a@x.test' },
      { name: null, address: 'b@y.test' },
    ];
    assert.deepEqual(parseAddresses(formatAddressList(list)), list);
  });
});

describe('dates (RFC 5322 §3.3, §4.3)', () => {
  const t = Date.UTC(1997, 10, 21, 15, 55, 6);
  it('parses modern and obsolete forms', () => {
    assert.equal(parseDate('Fri, 21 Nov 1997 09:55:06 -0600'), t);
    assert.equal(parseDate('21 Nov 1997 09:55:06 -0600'), t);
    assert.equal(parseDate('Fri, 21 Nov 97 09:55:06 CST'), t);
    assert.equal(parseDate('Friday, 21 November 1997 15:55:06 GMT'), t);
    assert.equal(parseDate('Fri,21 Nov 1997 15:55:06 UT (comment)'), t);
    assert.equal(parseDate('Fri, 21 Nov 1997 15 : 55 : 06 +0000'), t);
    assert.equal(parseDate('Fri, 21 Nov 097 15:55:06 Z'), t);
    assert.equal(parseDate('21 Nov 1997 15:55 +0000'), Date.UTC(1997, 10, 21, 15, 55, 0));
    assert.equal(parseDate('Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)'), Date.UTC(1969, 1, 14, 3, 2, 0));
    assert.equal(parseDate('1 Jan 49 00:00:00 +0000'), Date.UTC(2049, 0, 1));
    assert.equal(parseDate('1 Jan 50 00:00:00 +0000'), Date.UTC(1950, 0, 1));
    assert.equal(parseDate('Mon, 1 Jan 2024 00:00:00 A'), Date.UTC(2024, 0, 1), 'military zones are -0000');
    assert.equal(parseDate('Mon, 1 Jan 2024 00:00:00 PDT'), Date.UTC(2024, 0, 1, 7));
  });

  it('returns null for what is not a date', () => {
    for (const bad of [null, '', 'yesterday', '32 Jan 2024 00:00:00 +0000', '1 Foo 2024 00:00:00 +0000', '1 Jan 2024 25:00:00 +0000', '1 Jan 2024']) {
      assert.equal(parseDate(bad), null, String(bad));
    }
  });

  it('formats and round-trips', () => {
    assert.equal(formatDate(new Date(t)), 'Fri, 21 Nov 1997 15:55:06 +0000');
    assert.equal(formatDate(t, -360), 'Fri, 21 Nov 1997 09:55:06 -0600');
    assert.equal(formatDate(Date.UTC(2026, 0, 5, 1, 2, 3), 330), 'Mon, 5 Jan 2026 06:32:03 +0530');
    for (const off of [0, -360, 330, 60]) assert.equal(parseDate(formatDate(t, off)), t);
  });
});

describe('makeMessageId (RFC 5322 §3.6.4)', () => {
  it('is unique, angle-bracketed and uses a clean hostname', () => {
    const a = makeMessageId('hamburger.edu');
    const b = makeMessageId('hamburger.edu');
    assert.notEqual(a, b);
    assert.match(a, /^<[A-Za-z0-9._-]+@hamburger\.edu>$/);
    assert.match(makeMessageId('bad host>\r\n'), /@badhost>$/);
    assert.match(makeMessageId(''), /@localhost>$/);
  });
});

describe('fuzz: parsers never throw', () => {
  it('random header-ish text through every parser', async () => {
    const { decodeWords } = await import('./mime/encoded-words.js');
    const { parseParams, parseContentType } = await import('./mime/params.js');
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = ['"', '\\', '(', ')', '<', '>', '@', ',', ';', ':', '.', '[', ']', ' ', '\r\n ', '=?', '?=', '?Q?', '?B?', 'utf-8', '*0*', "''", '%', 'a', 'é', '=', 'Jan', '12', '+0100'];
    for (let t = 0; t < 2000; t++) {
      let s = '';
      const n = Math.floor(rnd() * 30);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      parseAddressList(s);
      parseAddresses(s);
      displayAddresses(s);
      const d = parseDate(s);
      assert.ok(d === null || Number.isFinite(d));
      decodeWords(s);
      parseParams(s);
      parseContentType(s);
      parseHeaderFields(Buffer.from(s));
      headerFields(Buffer.from(s), ['a']);
    }
  });
});
