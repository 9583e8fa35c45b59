import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetaParser, messageMeta } from './meta.js';
import type { BodyPart, MessageMeta } from './meta.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');
const text = (b: Buffer, s: number, e: number) => b.toString('latin1', s, e);
const header = (b: Buffer, p: BodyPart) => text(b, p.headerStart, p.bodyStart);
const body = (b: Buffer, p: BodyPart) => text(b, p.bodyStart, p.bodyEnd);

function parseChunks(chunks: Buffer[]): MessageMeta {
  const p = createMetaParser();
  for (const c of chunks) p.write(c);
  return p.end();
}

let seed = 12345;
function rnd(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}

/** Same metadata whole, byte by byte, and in random splits. */
function assertChunkInvariant(b: Buffer): MessageMeta {
  const whole = messageMeta(b);
  assert.deepEqual(parseChunks([...b].map((x) => Buffer.from([x]))), whole, 'byte by byte');
  for (let t = 0; t < 20; t++) {
    const cuts = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => Math.floor(rnd() * (b.length + 1))).sort((x, y) => x - y);
    const chunks: Buffer[] = [];
    let last = 0;
    for (const c of cuts) {
      chunks.push(b.subarray(last, c));
      last = c;
    }
    chunks.push(b.subarray(last));
    assert.deepEqual(parseChunks(chunks), whole, `cuts ${cuts.join(',')}`);
  }
  return whole;
}

const nested = crlf([
  'From: "Alice Q. User" <alice@crepes.fr>',
  'To: bob@hamburger.edu',
  'Subject: nested',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed;',
  '\tboundary="outer"',
  '',
  'This is the preamble.',
  '--outer',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'plain line 1',
  'plain line 2',
  '',
  '--inner',
  'Content-Type: text/html',
  '',
  '<p>html</p>',
  '--inner--',
  'inner epilogue',
  '--outer',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  'AAECAw==',
  '--outer--',
  'This is the epilogue.',
  '',
]);

describe('messageMeta: MIME structure and offsets', () => {
  it('nested multiparts with preamble and epilogue: byte-exact offsets', () => {
    const m = assertChunkInvariant(nested);
    assert.equal(m.problem, null);
    assert.equal(m.size, nested.length);
    assert.equal(m.headerEnd, nested.indexOf('\r\n\r\n') + 4);
    const top = m.body;
    assert.equal(top.type, 'multipart');
    assert.equal(top.subtype, 'mixed');
    assert.deepEqual(top.params, { boundary: 'outer' });
    assert.equal(top.headerStart, 0);
    assert.equal(top.bodyStart, m.headerEnd);
    assert.equal(top.bodyEnd, nested.length);
    assert.equal(top.parts!.length, 2);
    const [alt, att] = top.parts as [BodyPart, BodyPart];
    assert.equal(header(nested, alt), 'Content-Type: multipart/alternative; boundary=inner\r\n\r\n');
    // The CRLF before "--outer" belongs to the boundary (RFC 2046 §5.1.1).
    assert.equal(body(nested, alt), '--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain line 1\r\nplain line 2\r\n\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\ninner epilogue');
    const [plain, html] = alt.parts as [BodyPart, BodyPart];
    assert.equal(body(nested, plain), 'plain line 1\r\nplain line 2\r\n');
    assert.equal(plain.lines, 2);
    assert.deepEqual(plain.params, { charset: 'utf-8' });
    assert.equal(header(nested, html), 'Content-Type: text/html\r\n\r\n');
    assert.equal(body(nested, html), '<p>html</p>');
    assert.equal(html.lines, 0); // no line end of its own: the CRLF belongs to the delimiter
    assert.equal(att.type, 'application');
    assert.equal(att.encoding, 'base64');
    assert.deepEqual(att.disposition, { type: 'attachment', params: { filename: 'a.bin' } });
    assert.equal(body(nested, att), 'AAECAw==');
    assert.equal(att.lines, 0);
    assert.equal(m.lines, 31);
  });

  it('message/rfc822 has its own envelope and body', () => {
    const b = crlf([
      'From: a@b.example',
      'Content-Type: multipart/mixed; boundary=XX',
      '',
      '--XX',
      '',
      'first part, default type',
      '--XX',
      'Content-Type: message/rfc822',
      'Content-Description: forwarded',
      '',
      'From: Carol <carol@c.example>',
      'Subject: the inner one',
      'Date: Tue, 1 Nov 2022 12:00:00 -0500',
      'Content-Type: multipart/alternative; boundary="YY"',
      '',
      '--YY',
      'Content-Type: text/plain',
      '',
      'inner text',
      '--YY--',
      '',
      '--XX--',
      '',
    ]);
    const m = assertChunkInvariant(b);
    const [first, rfc] = m.body.parts as [BodyPart, BodyPart];
    assert.equal(first.type, 'text');
    assert.deepEqual(first.params, { charset: 'us-ascii' });
    assert.equal(header(b, first), '\r\n');
    assert.equal(body(b, first), 'first part, default type');
    assert.equal(rfc.type, 'message');
    assert.equal(rfc.subtype, 'rfc822');
    assert.equal(rfc.description, 'forwarded');
    const inner = rfc.message!;
    assert.ok(inner);
    assert.equal(inner.envelope.subject, 'the inner one');
    assert.deepEqual(inner.envelope.from, [{ name: 'Carol', adl: null, mailbox: 'carol', host: 'c.example' }]);
    assert.equal(inner.body.headerStart, rfc.bodyStart);
    assert.equal(inner.body.bodyEnd, rfc.bodyEnd);
    assert.ok(body(b, rfc).startsWith('From: Carol'));
    assert.ok(body(b, rfc).endsWith('--YY--\r\n'));
    assert.equal(rfc.lines, 10);
    assert.equal(inner.body.type, 'multipart');
    assert.equal(inner.body.parts!.length, 1);
    assert.equal(body(b, inner.body.parts![0]!), 'inner text');
  });

  it('multipart/digest parts default to message/rfc822 (RFC 2046 §5.1.5)', () => {
    const b = crlf([
      'Content-Type: multipart/digest; boundary=D',
      '',
      '--D',
      '',
      'Subject: one',
      '',
      'body one',
      '--D',
      'Content-Type: text/plain',
      '',
      'not a message',
      '--D--',
    ]);
    const m = assertChunkInvariant(b);
    const [one, two] = m.body.parts as [BodyPart, BodyPart];
    assert.equal(`${one.type}/${one.subtype}`, 'message/rfc822');
    assert.equal(one.message!.envelope.subject, 'one');
    assert.equal(body(b, one.message!.body), 'body one');
    assert.equal(`${two.type}/${two.subtype}`, 'text/plain');
    assert.equal(two.message, undefined);
  });

  it('missing close-delimiters: the inner multipart ends at the outer boundary, the outer at the end', () => {
    const b = crlf([
      'Content-Type: multipart/mixed; boundary=A',
      '',
      '--A',
      'Content-Type: multipart/related; boundary=B',
      '',
      '--B',
      '',
      'inner part never closed',
      '--A',
      '',
      'last part, no closing boundary',
      '',
    ]);
    const m = assertChunkInvariant(b);
    const [rel, last] = m.body.parts as [BodyPart, BodyPart];
    assert.equal(rel.parts!.length, 1);
    assert.equal(body(b, rel.parts![0]!), 'inner part never closed');
    assert.equal(body(b, rel), '--B\r\n\r\ninner part never closed');
    assert.equal(body(b, last), 'last part, no closing boundary\r\n');
    assert.equal(last.bodyEnd, b.length);
    assert.equal(m.body.bodyEnd, b.length);
  });

  it('boundary lines: transport padding allowed, prefixes and look-alikes are body text', () => {
    const b = crlf([
      'Content-Type: multipart/mixed; boundary="a b"',
      '',
      '--a b  \t',
      '',
      '--a bc',
      '--a b-',
      '-a b',
      '--a b-- ',
      'epilogue --a b',
    ]);
    const m = assertChunkInvariant(b);
    assert.equal(m.body.parts!.length, 1);
    assert.equal(body(b, m.body.parts![0]!), '--a bc\r\n--a b-\r\n-a b');
  });

  it('no parts at all: a multipart without its boundary in the body', () => {
    const b = crlf(['Content-Type: multipart/mixed; boundary=zz', '', 'just text', '']);
    const m = assertChunkInvariant(b);
    assert.deepEqual(m.body.parts, []);
    assert.equal(m.problem, null);
  });

  it('bare LF messages are parsed with LF line ends', () => {
    const b = Buffer.from('Subject: lf\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nhello\n--q--\n');
    const m = assertChunkInvariant(b);
    assert.equal(m.headerEnd, b.indexOf('\n\n') + 2);
    assert.equal(body(b, m.body.parts![0]!), 'hello');
    assert.equal(m.envelope.subject, 'lf');
  });

  it('empty part bodies and a part header without blank line', () => {
    const b = crlf(['Content-Type: multipart/mixed; boundary=e', '', '--e', 'Content-Type: text/plain', '', '--e', 'Content-Type: text/html', '--e--', '']);
    const m = assertChunkInvariant(b);
    const [p1, p2] = m.body.parts as [BodyPart, BodyPart];
    assert.equal(p1.bodyStart, p1.bodyEnd);
    assert.equal(p1.lines, 0);
    assert.equal(header(b, p1), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(p2.subtype, 'html');
    assert.equal(p2.bodyStart, p2.bodyEnd);
  });

  it('counts body lines as Dovecot does, by line ends: an unterminated last line does not count, nor the CRLF before a boundary', () => {
    const m = messageMeta(Buffer.from('Subject: x\r\n\r\none\r\ntwo'));
    assert.equal(m.body.lines, 1);
    assert.equal(m.lines, 4);
    const m2 = messageMeta(Buffer.from('Subject: x\r\n\r\none\r\ntwo\r\n'));
    assert.equal(m2.body.lines, 2);
    assert.equal(m2.lines, 4);
    const m3 = messageMeta(Buffer.from('Subject: x\r\n\r\n'));
    assert.equal(m3.body.lines, 0);
    assert.equal(m3.body.bodyStart, m3.size);
  });

  it('a header without body: headerEnd is the end of the message', () => {
    const b = Buffer.from('Subject: only a header\r\nFrom: a@b.c\r\n');
    const m = assertChunkInvariant(b);
    assert.equal(m.problem, null);
    assert.equal(m.headerEnd, b.length);
    assert.equal(m.body.bodyStart, b.length);
    assert.equal(m.envelope.subject, 'only a header');
  });

  it('message/rfc822 with base64 encoding is a leaf', () => {
    const b = crlf(['Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeA0KDQpoaQ==', '']);
    const m = messageMeta(b);
    assert.equal(m.body.message, undefined);
    assert.equal(m.body.encoding, 'base64');
  });

  it('top-level message/rfc822 whose inner header never ends', () => {
    const b = crlf(['Content-Type: message/rfc822', '', 'Subject: inner', 'X-A: b']);
    const m = assertChunkInvariant(b);
    assert.equal(m.body.message!.envelope.subject, 'inner');
    assert.equal(m.body.message!.body.bodyStart, b.length);
  });

  it('deep nesting is bounded and does not throw', () => {
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) lines.push(`Content-Type: multipart/mixed; boundary=b${i}`, '', `--b${i}`);
    lines.push('', 'deep');
    const m = messageMeta(crlf(lines));
    let depth = 0;
    for (let p: BodyPart | undefined = m.body; p; p = p.parts?.[0]) depth++;
    assert.ok(depth > 10 && depth <= 70, `depth ${depth}`);
  });
});

describe('messageMeta: header fields', () => {
  it('MIME fields: RFC 2231 continuations and charsets, quoted values, comments', () => {
    const b = crlf([
      'Content-Type: application/x-stuff (comment);',
      " title*0*=us-ascii'en'This%20is%20even%20more%20;",
      ' title*1*=%2A%2A%2Afun%2A%2A%2A%20;',
      ' title*2="isn\'t it!"',
      'Content-Disposition: attachment;',
      " filename*=utf-8''%E2%82%AC%20rates.txt",
      'Content-Transfer-Encoding: BASE64 (yes)',
      'Content-ID: <part1@x>',
      'Content-Language: en, fr',
      'Content-Location: http://x.example/a',
      'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
      '',
      'aGk=',
    ]);
    const m = messageMeta(b);
    const p = m.body;
    assert.equal(p.type, 'application');
    assert.equal(p.subtype, 'x-stuff');
    // RFC 2231 §4.1 example.
    assert.equal(p.params['title'], "This is even more ***fun*** isn't it!");
    assert.deepEqual(p.disposition, { type: 'attachment', params: { filename: '€ rates.txt' } });
    assert.equal(p.encoding, 'base64');
    assert.equal(p.id, '<part1@x>');
    assert.deepEqual(p.language, ['en', 'fr']);
    assert.equal(p.location, 'http://x.example/a');
    assert.equal(p.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
  });

  it('envelope: raw values, folded headers unfolded, groups, defaults for sender/reply-to', () => {
    const b = crlf([
      'Date: Fri, 21 Nov 1997 09:55:06 -0600',
      'Subject: =?ISO-8859-1?Q?Caf=E9?=',
      '  au lait',
      'From: John Doe <jdoe@machine.example>',
      'To: Mary Smith <mary@example.net>, "Joe Q. Public" <john.q.public@example.com>',
      'Cc: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;',
      'Reply-To: "Mary Smith: Personal Account" <smith@home.example>',
      'Message-ID: <1234@local.machine.example>',
      'In-Reply-To: <3456@example.net>',
      '',
      'body',
    ]);
    const m = messageMeta(b);
    const e = m.envelope;
    assert.equal(e.date, 'Fri, 21 Nov 1997 09:55:06 -0600');
    assert.equal(e.subject, '=?ISO-8859-1?Q?Caf=E9?=  au lait');
    assert.equal(m.decoded.subject, 'Café  au lait');
    assert.deepEqual(e.from, [{ name: 'John Doe', adl: null, mailbox: 'jdoe', host: 'machine.example' }]);
    assert.deepEqual(e.sender, e.from);
    assert.deepEqual(e.replyTo, [{ name: 'Mary Smith: Personal Account', adl: null, mailbox: 'smith', host: 'home.example' }]);
    assert.deepEqual(e.to[1], { name: 'Joe Q. Public', adl: null, mailbox: 'john.q.public', host: 'example.com' });
    assert.deepEqual(e.cc, [
      { name: null, adl: null, mailbox: 'A Group', host: null },
      { name: 'Ed Jones', adl: null, mailbox: 'c', host: 'a.test' },
      { name: null, adl: null, mailbox: 'joe', host: 'where.test' },
      { name: 'John', adl: null, mailbox: 'jdoe', host: 'one.test' },
      { name: null, adl: null, mailbox: null, host: null },
      { name: null, adl: null, mailbox: 'Undisclosed recipients', host: null },
      { name: null, adl: null, mailbox: null, host: null },
    ]);
    assert.equal(e.messageId, '<1234@local.machine.example>');
    assert.equal(e.inReplyTo, '<3456@example.net>');
    assert.equal(m.dateMs, Date.UTC(1997, 10, 21, 15, 55, 6));
    assert.equal(m.decoded.from, 'John Doe <jdoe@machine.example>');
    assert.equal(m.decoded.to, 'Mary Smith <mary@example.net>, Joe Q. Public <john.q.public@example.com>');
    assert.equal(m.eightBit, false);
  });

  it('eightBit and UTF-8 headers (RFC 6532)', () => {
    const m = messageMeta(Buffer.from('Subject: grüße\r\nFrom: Jörg <j@x.example>\r\n\r\nhi\r\n', 'utf8'));
    assert.equal(m.eightBit, true);
    assert.equal(m.envelope.subject, 'grüße');
    assert.equal(m.decoded.from, 'Jörg <j@x.example>');
  });

  it('obsolete syntax: WSP before the colon, obs-route, comments as names', () => {
    const b = crlf(['Subject : spaced', 'From: <@a.test,@b.test:joe@c.test>', 'To: pete@silly.test (Pete Smith)', '', '']);
    const m = messageMeta(b);
    assert.equal(m.problem, null);
    assert.equal(m.envelope.subject, 'spaced');
    assert.deepEqual(m.envelope.from, [{ name: null, adl: '@a.test,@b.test', mailbox: 'joe', host: 'c.test' }]);
    assert.deepEqual(m.envelope.to, [{ name: 'Pete Smith', adl: null, mailbox: 'pete', host: 'silly.test' }]);
  });
});

describe('messageMeta: problems', () => {
  it('flags what is not a message', () => {
    assert.equal(messageMeta(Buffer.alloc(0)).problem, 'empty message');
    assert.match(messageMeta(Buffer.from('\r\nbody only\r\n')).problem ?? '', /no header/);
    assert.match(messageMeta(Buffer.from('hello there\r\n\r\n')).problem ?? '', /first line/);
    assert.match(messageMeta(Buffer.from('Subject: a\0b\r\n\r\n')).problem ?? '', /NUL/);
    assert.match(messageMeta(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).problem ?? '', /first line/);
  });

  it('is lenient with what real messages do', () => {
    assert.equal(messageMeta(Buffer.from('Subject: x\r\nnot a field\r\nmore\r\n')).problem, null);
    assert.equal(messageMeta(Buffer.from('X-Long: ' + 'a'.repeat(5000) + '\r\n\r\nbody')).problem, null);
    assert.equal(messageMeta(Buffer.from('Subject: x\r\n\r\nbody with \0 NUL')).problem, null);
  });

  it('random bytes never throw and stay chunk-invariant', () => {
    for (let t = 0; t < 300; t++) {
      const len = Math.floor(rnd() * 200);
      const b = Buffer.alloc(len);
      const alphabet = Buffer.from('\r\n-:;= "ab\tB\0\xff', 'latin1');
      for (let i = 0; i < len; i++) b[i] = rnd() < 0.7 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256);
      const m = messageMeta(b);
      assert.equal(m.size, len);
      assert.ok(m.body.bodyEnd <= len && m.body.bodyStart <= m.body.bodyEnd);
    }
  });

  it('mutated fixtures never throw, offsets stay in range and ordered', () => {
    const check = (p: BodyPart, lo: number, hi: number) => {
      assert.ok(lo <= p.headerStart && p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= hi, JSON.stringify([lo, p.headerStart, p.bodyStart, p.bodyEnd, hi]));
      for (const c of p.parts ?? []) check(c, p.bodyStart, p.bodyEnd);
      if (p.message) check(p.message.body, p.bodyStart, p.bodyEnd);
    };
    for (let t = 0; t < 150; t++) {
      const b = Buffer.from(nested);
      const edits = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < edits; k++) b[Math.floor(rnd() * b.length)] = Buffer.from('\r\n-x:\0')[Math.floor(rnd() * 6)]!;
      const cut = b.subarray(0, Math.floor(rnd() * (b.length + 1)));
      const m = assertChunkInvariant(cut);
      check(m.body, 0, cut.length);
    }
  });
});

describe('messageMeta: performance', () => {
  it('parses a 25 MB message in linear time with flat memory', () => {
    const head = Buffer.from('From: a@b.c\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Transfer-Encoding: base64\r\n\r\n');
    const line = Buffer.from('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n');
    const block = Buffer.concat(Array.from({ length: 800 }, () => line)); // 62.4 KB
    const p = createMetaParser();
    const t0 = process.hrtime.bigint();
    p.write(head);
    let n = head.length;
    while (n < 25 * 1024 * 1024) {
      p.write(block);
      n += block.length;
    }
    // One 3 MB line without a line end, in pieces: must not be kept whole.
    const longLine = Buffer.alloc(64 * 1024, 0x41);
    for (let i = 0; i < 48; i++) p.write(longLine);
    p.write(Buffer.from('\r\n--zz--\r\n'));
    const m = p.end();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(m.body.parts!.length, 1);
    assert.ok(m.size > 25 * 1024 * 1024);
    assert.ok(ms < 5000, `took ${ms} ms`);
  });
});

describe('messageMeta: storage', () => {
  it('survives a JSON round trip unchanged (the store keeps it as JSON)', () => {
    const m = messageMeta(nested);
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
    const keys = JSON.stringify(m).match(/"[a-zA-Z]+":/g)!;
    assert.ok(keys.length > 10);
  });
});

describe('messageMeta: limits', () => {
  it('a header larger than the kept limit is counted, not kept', () => {
    const big = 'X-Big: ' + 'y'.repeat(3 * 1024 * 1024);
    const b = Buffer.from(`Subject: s\r\n${big}\r\nTo: t@x.test\r\n\r\nbody`);
    const m = messageMeta(b);
    assert.equal(m.size, b.length);
    assert.equal(m.headerEnd, b.length - 4);
    assert.equal(m.envelope.subject, 's');
  });

  it('caps the number of entities: a flood of empty parts does not grow the metadata', () => {
    const b = Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n' + '--b\r\n'.repeat(20000) + '--b--\r\nafter\r\n');
    const m = messageMeta(b);
    assert.ok(m.body.parts!.length < 5000, `${m.body.parts!.length} parts`);
    assert.ok(m.body.parts!.length > 100);
    const last = m.body.parts![m.body.parts!.length - 1]!;
    assert.ok(b.toString('latin1', last.bodyStart, last.bodyEnd).startsWith('--b\r\n--b'));
    assert.equal(m.body.bodyEnd, b.length);
  });
});
