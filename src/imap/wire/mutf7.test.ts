import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkUtf8MailboxName, decodeMailboxName, encodeMailboxName } from './mutf7.js';
import { ParseError } from './parser.js';

describe('modified UTF-7 mailbox names (RFC 3501 §5.1.3)', () => {
  it('encodes the RFC examples and ASCII as itself, "&" as "&-"', () => {
    assert.equal(encodeMailboxName('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(encodeMailboxName('INBOX'), 'INBOX');
    assert.equal(encodeMailboxName('Tom & Jerry'), 'Tom &- Jerry');
    assert.equal(encodeMailboxName('Entwürfe'), 'Entw&APw-rfe');
    assert.equal(encodeMailboxName('Crêpes/Été'), 'Cr&AOo-pes/&AMk-t&AOk-');
    assert.equal(encodeMailboxName('📬 mail'), '&2D3c7A- mail');
    assert.equal(encodeMailboxName('tab\there'), 'tab&AAk-here');
  });

  it('round-trips', () => {
    for (const name of ['', 'INBOX', 'a&b', '&&', '台北', 'Entwürfe/Brouillons', '📬📭', 'x\u00e9y\u00e9z', 'ü&ü', '~/%*', 'Ω']) {
      const wire = encodeMailboxName(name);
      assert.match(wire, /^[\x20-\x7e]*$/);
      assert.equal(decodeMailboxName(wire), name, wire);
    }
  });

  it('refuses what is not canonical modified UTF-7 with ParseError (BAD)', () => {
    for (const bad of [
      'Entw\u00fcrfe', // 8-bit
      'a\tb', // control
      '&U,BTFw', // unterminated
      '&U,BT!w-', // bad BASE64 character
      '&U/BTFw-', // "/" instead of ","
      '&AGE-', // encoded printable ASCII ("a")
      '&APw', // no "-"
      '&APx-', // non-zero padding bits
      '&APwA-', // a trailing partial character
      '&2D0-', // lone high surrogate
      '&3Kw-', // lone low surrogate
      '&APw-&APw-', // two adjacent shifts (canonical is one)
      '&AP-', // too short for a character
    ]) {
      assert.throws(() => decodeMailboxName(bad), ParseError, bad);
    }
  });

  it('checks UTF-8 names of IMAP4rev2 clients', () => {
    assert.equal(checkUtf8MailboxName('Entwürfe & co'), 'Entwürfe & co');
    assert.throws(() => checkUtf8MailboxName('bad\u0001'), ParseError);
    assert.throws(() => checkUtf8MailboxName('x\ufffdy'), ParseError);
  });
});
