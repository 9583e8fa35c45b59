import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { composeDsn, composeMessage, foldField, formatDeliveryStatus, headerBlock } from './compose.js';
import { messageMeta } from '../meta.js';
import { decodeBody } from './body.js';
import { parseHeaderFields, getHeader, parseAddresses } from '../message.js';
import type { BodyPart } from '../meta.js';

const date = new Date(Date.UTC(2026, 10, 23, 10, 0, 0));

function assertWellFormed(b: Buffer): void {
  const s = b.toString('latin1');
  assert.equal(/\r(?!\n)|(?<!\r)\n/.test(s), false, 'only CRLF line ends');
  for (const l of s.split('\r\n')) assert.ok(l.length <= 998, `line of ${l.length}`);
}

const bodyText = (b: Buffer, p: BodyPart) => decodeBody(b.subarray(p.bodyStart, p.bodyEnd), p.encoding, p.params['charset']);

describe('composeMessage', () => {
  it('a plain ASCII message is 7bit text/plain', () => {
    const b = composeMessage({ from: 'alice@crepes.fr', to: 'bob@hamburger.edu', subject: 'Hi', date, messageId: '<1@crepes.fr>', text: 'Hello Bob\nbye' });
    assertWellFormed(b);
    const m = messageMeta(b);
    assert.equal(m.problem, null);
    assert.equal(m.envelope.subject, 'Hi');
    assert.equal(m.envelope.messageId, '<1@crepes.fr>');
    assert.equal(m.envelope.date, 'Mon, 23 Nov 2026 10:00:00 +0000');
    assert.equal(m.dateMs, date.getTime());
    assert.equal(`${m.body.type}/${m.body.subtype}`, 'text/plain');
    assert.equal(m.body.encoding, '7bit');
    assert.equal(b.subarray(m.body.bodyStart).toString(), 'Hello Bob\r\nbye');
    assert.equal(m.eightBit, false);
  });

  it('non-ASCII text, subject and names are encoded and decode back', () => {
    const b = composeMessage({
      from: { name: 'Jörg', address: 'j@x.test' },
      to: [{ name: 'Zoë', address: 'z@y.test' }, 'plain@y.test'],
      subject: 'Grüße — a rather long subject line that will need more than one encoded word to fit',
      date,
      text: 'Schöne Grüße\n' + 'x'.repeat(2000),
    });
    assertWellFormed(b);
    assert.equal(b.every((c) => c < 128), true, 'pure 7-bit output');
    const m = messageMeta(b);
    assert.equal(m.decoded.subject, 'Grüße — a rather long subject line that will need more than one encoded word to fit');
    assert.equal(m.decoded.from, 'Jörg <j@x.test>');
    assert.deepEqual(parseAddresses(getHeader(parseHeaderFields(b), 'to')), [{ name: 'Zoë', address: 'z@y.test' }, { name: null, address: 'plain@y.test' }]);
    assert.equal(m.body.encoding, 'quoted-printable');
    assert.equal(bodyText(b, m.body), 'Schöne Grüße\r\n' + 'x'.repeat(2000));
    assert.match(getHeader(parseHeaderFields(b), 'message-id') ?? '', /@x\.test>$/);
  });

  it('text + html + attachments: multipart/mixed with multipart/alternative', () => {
    const bin = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 255));
    const b = composeMessage({
      from: 'a@b.test',
      to: 'c@d.test',
      subject: 's',
      date,
      text: 'plain',
      html: '<p>html</p>',
      attachments: [
        { filename: 'data.bin', content: bin },
        { filename: 'résumé.txt', contentType: 'text/plain; charset=utf-8', content: 'CV', disposition: 'inline', contentId: 'cv1' },
      ],
      headers: { 'X-Mailer': 'Wharf' },
    });
    assertWellFormed(b);
    const m = messageMeta(b);
    assert.equal(m.body.subtype, 'mixed');
    const [alt, a1, a2] = m.body.parts as [BodyPart, BodyPart, BodyPart];
    assert.equal(alt.subtype, 'alternative');
    assert.deepEqual(alt.parts!.map((p) => `${p.type}/${p.subtype}`), ['text/plain', 'text/html']);
    assert.equal(bodyText(b, alt.parts![0]!), 'plain');
    assert.equal(bodyText(b, alt.parts![1]!), '<p>html</p>');
    assert.deepEqual(a1.disposition, { type: 'attachment', params: { filename: 'data.bin' } });
    assert.equal(a1.encoding, 'base64');
    const decoded = Buffer.from(b.subarray(a1.bodyStart, a1.bodyEnd).toString(), 'base64');
    assert.deepEqual(decoded, bin);
    assert.deepEqual(a2.disposition, { type: 'inline', params: { filename: 'résumé.txt' } });
    assert.equal(a2.params['name'], 'résumé.txt');
    assert.equal(a2.id, '<cv1>');
    assert.equal(getHeader(parseHeaderFields(b), 'x-mailer'), 'Wharf');
  });

  it('refuses header injection', () => {
    assert.throws(() => composeMessage({ from: 'a@b.test', headers: { 'X-A': 'x\r\nBcc: evil@x.test' } }), TypeError);
  });

  it('foldField keeps lines short', () => {
    const f = foldField('To', Array.from({ length: 20 }, (_, i) => `user${i}@example.test`).join(', '));
    for (const l of f.split('\r\n').filter(Boolean)) assert.ok(l.length <= 78, l);
    assert.equal(f.replace(/\r\n /g, ' '), 'To: ' + Array.from({ length: 20 }, (_, i) => `user${i}@example.test`).join(', ') + '\r\n');
  });
});

describe('composeDsn (RFC 3464)', () => {
  const original = Buffer.from('From: alice@crepes.fr\r\nTo: nobody@hamburger.edu\r\nSubject: lost\r\n\r\nThe body.\r\n');
  const base = {
    reportingMta: 'mx.hamburger.edu',
    arrivalDate: date,
    originalEnvelopeId: 'ENV-1',
    recipients: [
      { finalRecipient: 'nobody@hamburger.edu', originalRecipient: 'rfc822;Nobody@hamburger.edu', action: 'failed' as const, status: '5.1.1', diagnostic: '550 5.1.1 no such user', remoteMta: 'mx.hamburger.edu' },
      { finalRecipient: 'slow@x.test', action: 'delayed' as const, status: '4.4.1', willRetryUntil: date },
    ],
    humanText: 'Your message could not be delivered.',
    original,
    to: 'alice@crepes.fr',
    date,
  };

  it('builds multipart/report with the human part, delivery-status and the message', () => {
    const b = composeDsn(base);
    assertWellFormed(b);
    const m = messageMeta(b);
    assert.equal(m.problem, null);
    assert.equal(`${m.body.type}/${m.body.subtype}`, 'multipart/report');
    assert.equal(m.body.params['report-type'], 'delivery-status');
    assert.equal(m.decoded.subject, 'Undelivered Mail Returned to Sender');
    assert.equal(m.decoded.from, 'Mail Delivery System <MAILER-DAEMON@mx.hamburger.edu>');
    assert.equal(getHeader(parseHeaderFields(b), 'auto-submitted'), 'auto-replied');
    const [human, status, orig] = m.body.parts as [BodyPart, BodyPart, BodyPart];
    assert.equal(bodyText(b, human), 'Your message could not be delivered.');
    assert.equal(`${status.type}/${status.subtype}`, 'message/delivery-status');
    const ds = b.subarray(status.bodyStart, status.bodyEnd).toString();
    assert.equal(
      ds,
      [
        'Original-Envelope-Id: ENV-1',
        'Reporting-MTA: dns; mx.hamburger.edu',
        'Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0000',
        '',
        'Original-Recipient: rfc822;Nobody@hamburger.edu',
        'Final-Recipient: rfc822; nobody@hamburger.edu',
        'Action: failed',
        'Status: 5.1.1',
        'Remote-MTA: dns; mx.hamburger.edu',
        'Diagnostic-Code: smtp; 550 5.1.1 no such user',
        '',
        'Final-Recipient: rfc822; slow@x.test',
        'Action: delayed',
        'Status: 4.4.1',
        'Will-Retry-Until: Mon, 23 Nov 2026 10:00:00 +0000',
        '',
      ].join('\r\n'),
    );
    assert.equal(`${orig.type}/${orig.subtype}`, 'message/rfc822');
    assert.equal(orig.message!.envelope.subject, 'lost');
    assert.deepEqual(b.subarray(orig.bodyStart, orig.bodyEnd), original);
  });

  it('RET=HDRS returns text/rfc822-headers only', () => {
    const b = composeDsn({ ...base, returnHeadersOnly: true });
    const m = messageMeta(b);
    const orig = m.body.parts![2]!;
    assert.equal(`${orig.type}/${orig.subtype}`, 'text/rfc822-headers');
    assert.equal(b.subarray(orig.bodyStart, orig.bodyEnd).toString(), 'From: alice@crepes.fr\r\nTo: nobody@hamburger.edu\r\nSubject: lost\r\n\r\n');
    assert.ok(!b.includes('The body.'));
  });

  it('headerBlock and formatDeliveryStatus edge cases', () => {
    assert.equal(headerBlock(Buffer.from('A: 1\n\nbody')).toString(), 'A: 1\n\n');
    assert.equal(headerBlock(Buffer.from('A: 1')).toString(), 'A: 1');
    assert.ok(!formatDeliveryStatus({ reportingMta: 'x', recipients: [{ finalRecipient: 'a@b\r\nX: y', action: 'failed', status: '5.0.0' }] }).includes('\r\nX: y'));
  });
});
