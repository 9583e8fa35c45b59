import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { extractHeaderFields, findPart, sectionRange, topLines } from './section.js';
import { messageMeta } from './meta.js';

// The RFC 3501 §6.4.5 example structure, abridged.
const msg = Buffer.from(
  [
    'Subject: top',
    'From: a@b.test',
    'Content-Type: MULTIPART/MIXED; boundary=x',
    '',
    '--x',
    '',
    'part 1 text',
    '--x',
    'Content-Type: APPLICATION/OCTET-STREAM',
    '',
    'part 2',
    '--x',
    'Content-Type: MESSAGE/RFC822',
    '',
    'Subject: inner',
    'Content-Type: MULTIPART/MIXED; boundary=y',
    '',
    '--y',
    'Content-Type: TEXT/PLAIN',
    '',
    'part 3.1',
    '--y',
    'Content-Type: APPLICATION/OCTET-STREAM',
    '',
    'part 3.2',
    '--y--',
    '--x',
    'Content-Type: message/rfc822',
    '',
    'Subject: single',
    '',
    'part 4.1 is the body',
    '--x--',
    '',
  ].join('\r\n'),
);
const meta = messageMeta(msg);
const sec = (path: number[], spec: '' | 'HEADER' | 'TEXT' | 'MIME') => {
  const r = sectionRange(meta, path, spec);
  return r ? msg.toString('latin1', r.start, r.end) : null;
};

describe('sections (RFC 3501 §6.4.5)', () => {
  it('numbers parts like the RFC', () => {
    assert.equal(sec([1], ''), 'part 1 text');
    assert.equal(sec([2], ''), 'part 2');
    assert.equal(sec([3, 1], ''), 'part 3.1');
    assert.equal(sec([3, 2], ''), 'part 3.2');
    assert.equal(sec([4, 1], ''), 'part 4.1 is the body');
    assert.equal(sec([3], 'HEADER'), 'Subject: inner\r\nContent-Type: MULTIPART/MIXED; boundary=y\r\n\r\n');
    assert.equal(sec([3], 'MIME'), 'Content-Type: MESSAGE/RFC822\r\n\r\n');
    assert.equal(sec([3, 1], 'MIME'), 'Content-Type: TEXT/PLAIN\r\n\r\n');
    assert.equal(sec([4], 'TEXT'), 'part 4.1 is the body');
    assert.equal(sec([], 'HEADER'), 'Subject: top\r\nFrom: a@b.test\r\nContent-Type: MULTIPART/MIXED; boundary=x\r\n\r\n');
    assert.ok(sec([], 'TEXT')!.startsWith('--x\r\n'));
    assert.equal(sec([], '')!.length, msg.length);
  });

  it('missing sections are null', () => {
    assert.equal(sec([5], ''), null);
    assert.equal(sec([1, 2], ''), null);
    assert.equal(sec([2], 'HEADER'), null);
    assert.equal(sec([], 'MIME'), null);
    assert.equal(findPart(meta, [0]), null);
    assert.equal(findPart(meta, [1, 1])?.bodyStart, findPart(meta, [1])?.bodyStart);
    const single = messageMeta(Buffer.from('Subject: x\r\n\r\nbody'));
    assert.equal(findPart(single, [1]), single.body);
    assert.equal(findPart(single, [2]), null);
  });

  it('HEADER.FIELDS with and without the stored prefix', () => {
    assert.equal(extractHeaderFields(msg, meta, [], ['subject'])!.toString(), 'Subject: top\r\n\r\n');
    assert.equal(extractHeaderFields(msg, meta, [3], ['SUBJECT'])!.toString(), 'Subject: inner\r\n\r\n');
    assert.equal(extractHeaderFields(msg, meta, [], ['subject', 'content-type'], true)!.toString(), 'From: a@b.test\r\n\r\n');
    const prefix = Buffer.from('Return-Path: <a@b.test>\r\n');
    assert.equal(extractHeaderFields(msg, meta, [], ['return-path'], false, prefix)!.toString(), 'Return-Path: <a@b.test>\r\n\r\n');
    assert.equal(extractHeaderFields(msg, meta, [9], ['x']), null);
  });

  it('POP3 TOP', () => {
    const m = Buffer.from('A: 1\r\n\r\nl1\r\nl2\r\nl3');
    const hm = messageMeta(m).headerEnd;
    assert.equal(topLines(m, hm, 0).toString(), 'A: 1\r\n\r\n');
    assert.equal(topLines(m, hm, 2).toString(), 'A: 1\r\n\r\nl1\r\nl2\r\n');
    assert.equal(topLines(m, hm, 10).toString(), m.toString());
  });
});
