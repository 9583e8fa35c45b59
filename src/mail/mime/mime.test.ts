import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCharset, decodeHeaderBytes } from './charset.js';
import { decodeWords, encodeWords, encodeWord } from './encoded-words.js';
import { decode2231, formatParams, parseContentType, parseDisposition, parseParams } from './params.js';
import { decodeBase64, decodeQP, encodeBase64, encodeQP } from './qp.js';
import { decodeBody } from './body.js';

describe('quoted-printable (RFC 2045 §6.7)', () => {
  it('decodes escapes, soft breaks, and drops trailing whitespace', () => {
    assert.equal(decodeQP('caf=C3=A9').toString('utf8'), 'café');
    assert.equal(decodeQP('a=\r\nb').toString(), 'ab');
    assert.equal(decodeQP('a=\nb').toString(), 'ab');
    assert.equal(decodeQP('line  \t\r\nnext').toString(), 'line\r\nnext');
    assert.equal(decodeQP('soft =  \r\nbreak').toString(), 'soft break');
    assert.equal(decodeQP('lower =c3=a9').toString('utf8'), 'lower é');
    assert.equal(decodeQP('=3D=3d').toString(), '==');
    assert.equal(decodeQP('a\nb').toString(), 'a\r\nb');
  });

  it('keeps malformed escapes literally', () => {
    assert.equal(decodeQP('100=%').toString(), '100=%');
    assert.equal(decodeQP('=G1 and =4').toString(), '=G1 and =4');
    assert.equal(decodeQP('end=').toString(), 'end');
  });

  it('encodes: "=", 8-bit, trailing whitespace, 76-char lines, round trip', () => {
    assert.equal(encodeQP('a=b'), 'a=3Db');
    assert.equal(encodeQP('café'), 'caf=C3=A9');
    assert.equal(encodeQP('trailing \r\nx'), 'trailing=20\r\nx');
    assert.equal(encodeQP('tab\t'), 'tab=09');
    const long = 'x'.repeat(200) + 'é' + ' y'.repeat(50);
    const enc = encodeQP(long);
    for (const l of enc.split('\r\n')) assert.ok(l.length <= 76, `line of ${l.length}`);
    assert.equal(decodeQP(enc).toString('utf8'), long);
    const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(decodeQP(encodeQP(bin, { binary: true })), bin);
  });
});

describe('base64 (RFC 2045 §6.8)', () => {
  it('decodes tolerating whitespace and junk, encodes 76-char lines', () => {
    assert.equal(decodeBase64('SGVs\r\n bG8s\tIEJv Yg==').toString(), 'Hello, Bob');
    assert.equal(decodeBase64('SGVsbG8*!').toString(), 'Hello');
    assert.equal(decodeBase64('').length, 0);
    const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 255));
    const enc = encodeBase64(data);
    assert.ok(enc.split('\r\n').every((l) => l.length <= 76));
    assert.deepEqual(decodeBase64(enc), data);
  });
});

describe('charsets', () => {
  it('decodes the common ones and reports unknown ones', () => {
    assert.equal(decodeCharset(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'ISO-8859-1'), 'café');
    assert.equal(decodeCharset(Buffer.from([0x80]), 'windows-1252'), '€');
    assert.equal(decodeCharset(Buffer.from([0x80]), 'iso-8859-1'), '\x80');
    assert.equal(decodeCharset(Buffer.from('é', 'utf8'), 'UTF-8'), 'é');
    assert.equal(decodeCharset(Buffer.from('x'), 'x-no-such-charset'), null);
    assert.equal(decodeHeaderBytes(Buffer.from('grüße', 'utf8')), 'grüße');
    assert.equal(decodeHeaderBytes(Buffer.from([0x67, 0xfc])), 'gü');
  });
});

describe('encoded words (RFC 2047)', () => {
  it('decodes the RFC 2047 §8 examples', () => {
    assert.equal(decodeWords('=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>'), 'Keith Moore <moore@cs.utk.edu>');
    assert.equal(decodeWords('=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?='), 'Keld Jørn Simonsen');
    assert.equal(decodeWords('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
    assert.equal(
      decodeWords('=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?='),
      'If you can read this you understand the example.',
    );
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?=)'), '(a)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?= b)'), '(a b)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)'), '(ab)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)'), '(ab)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)'), '(ab)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a_b?=)'), '(a b)');
    assert.equal(decodeWords('(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)'), '(a b)');
  });

  it('joins a character split across words, keeps unknown charsets and broken words raw', () => {
    const euro = Buffer.from('€', 'utf8');
    const w1 = `=?UTF-8?B?${euro.subarray(0, 2).toString('base64')}?=`;
    const w2 = `=?UTF-8?B?${euro.subarray(2).toString('base64')}?=`;
    assert.equal(decodeWords(`${w1} ${w2}`), '€');
    assert.equal(decodeWords('=?x-unknown?Q?abc?= next'), '=?x-unknown?Q?abc?= next');
    assert.equal(decodeWords('a =?utf-8?q?b?= c'), 'a b c');
    assert.equal(decodeWords('=?utf-8*en?q?lang?='), 'lang'); // RFC 2231 §5
    assert.equal(decodeWords('plain'), 'plain');
  });

  it('encodes non-ASCII text into words of at most 75 characters that decode back', () => {
    assert.equal(encodeWords('plain ascii'), 'plain ascii');
    const s = 'Grüße aus Köln, 日本語のテキストも少し長めに書いておきます — and ASCII too';
    const enc = encodeWords(s);
    for (const w of enc.split('\r\n ')) assert.ok(w.length <= 75, w);
    assert.equal(decodeWords(enc), s);
    assert.equal(decodeWords(encodeWords(s, { q: true })), s);
    assert.equal(encodeWord('a b', 'Q'), '=?UTF-8?Q?a_b?=');
    assert.notEqual(encodeWords('looks =?like?= a word'), 'looks =?like?= a word');
  });
});

describe('parameters (RFC 2045 §5.1, RFC 2231)', () => {
  it('parses types, quoted values and comments', () => {
    assert.deepEqual(parseContentType('Text/HTML; Charset="UTF-8" (comment); format=flowed'), {
      type: 'text',
      subtype: 'html',
      params: { charset: 'UTF-8', format: 'flowed' },
    });
    assert.deepEqual(parseContentType('multipart/mixed; boundary="a \\"q\\" ;b"'), { type: 'multipart', subtype: 'mixed', params: { boundary: 'a "q" ;b' } });
    assert.equal(parseContentType('garbage'), null);
    assert.equal(parseContentType(''), null);
    assert.deepEqual(parseDisposition('INLINE'), { type: 'inline', params: {} });
  });

  it('RFC 2231 examples: continuations, charset and language', () => {
    // §3
    assert.deepEqual(parseParams('; URL*0="ftp://";\r\n URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"'), {
      url: 'ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar',
    });
    // §4
    assert.deepEqual(parseParams("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"), { title: 'This is ***fun***' });
    assert.deepEqual(decode2231("iso-8859-1'fr'caf%E9", true), { text: 'café', charset: 'iso-8859-1', language: 'fr' });
    // Out-of-order and gapped sections.
    assert.deepEqual(parseParams('; a*1=b; a*0=a; c*0=x; c*2=z'), { a: 'ab', c: 'x' });
    // A multi-octet character split across extended sections.
    assert.deepEqual(parseParams("; f*0*=utf-8''%E2%82; f*1*=%AC.txt"), { f: '€.txt' });
  });

  it('prefers RFC 2231 forms over plain ones and never decodes a boundary', () => {
    assert.deepEqual(parseParams("; filename=\"fallback.txt\"; filename*=utf-8''%C3%A9.txt"), { filename: 'é.txt' });
    assert.deepEqual(parseParams("; filename*=utf-8''%C3%A9.txt; filename=\"fallback.txt\""), { filename: 'é.txt' });
    assert.deepEqual(parseParams('; name=plain; name*0=con; name*1=tinued'), { name: 'continued' });
    assert.deepEqual(parseParams('; name=plain; name*1=orphan'), { name: 'plain' });
    assert.deepEqual(parseParams('; boundary="=?utf-8?q?x?="'), { boundary: '=?utf-8?q?x?=' });
  });

  it('tolerates junk', () => {
    assert.deepEqual(parseParams(';;; =x; novalue; a=1;'), { a: '1' });
    assert.deepEqual(parseParams('; name="unterminated'), { name: 'unterminated' });
    assert.deepEqual(parseParams('; name==?utf-8?b?w6k=?='), { name: 'é' });
  });

  it('formats and round-trips', () => {
    const f = formatParams({ a: 'plain', b: 'needs quoting; yes', c: 'naïve.txt' });
    assert.equal(f, `; a=plain; b="needs quoting; yes"; c*=utf-8''na%C3%AFve.txt`);
    assert.deepEqual(parseParams(f), { a: 'plain', b: 'needs quoting; yes', c: 'naïve.txt' });
  });
});

describe('decodeBody', () => {
  it('applies transfer encoding then charset', () => {
    assert.equal(decodeBody(Buffer.from('Y2Fm6Q=='), 'BASE64', 'iso-8859-1'), 'café');
    assert.equal(decodeBody(Buffer.from('caf=C3=A9=\r\n!'), 'quoted-printable', 'utf-8'), 'café!');
    assert.equal(decodeBody(Buffer.from('plain'), null, null), 'plain');
    assert.equal(decodeBody(Buffer.from('é', 'utf8'), '8bit', 'x-unknown'), 'é');
  });
});
