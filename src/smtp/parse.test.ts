import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ReplyError } from '../core/errors.js';
import type { SmtpReply } from './codes.js';
import { decodeXtext, encodeXtext, parseBdat, parseCommand, parseMailFrom, parseMailbox, parseRcptTo } from './parse.js';

function replyOf(fn: () => unknown): SmtpReply {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ReplyError, `expected a ReplyError, got ${String(err)}`);
    return err.reply as SmtpReply;
  }
  assert.fail('expected a ReplyError');
}

describe('parseCommand', () => {
  it('splits verb and argument, case-insensitively', () => {
    assert.deepEqual(parseCommand('mail FROM:<a@b>'), { verb: 'MAIL', arg: 'FROM:<a@b>' });
    assert.deepEqual(parseCommand('QUIT'), { verb: 'QUIT', arg: '' });
    assert.deepEqual(parseCommand('NOOP   '), { verb: 'NOOP', arg: '' });
    assert.equal(parseCommand('!!garbage').verb, '');
  });
});

describe('parseMailFrom', () => {
  it('accepts the slides\' form with a space after FROM:', () => {
    assert.equal(parseMailFrom('FROM: <alice@crepes.fr>').sender, 'alice@crepes.fr');
    assert.equal(parseMailFrom('from:<alice@crepes.fr>').sender, 'alice@crepes.fr');
  });
  it('takes the null reverse-path', () => {
    assert.equal(parseMailFrom('FROM:<>').sender, '');
  });
  it('reads SIZE, BODY, RET, ENVID, AUTH', () => {
    const m = parseMailFrom('FROM:<a@b.c> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 AUTH=<>', { dsn: true });
    assert.equal(m.size, 1000);
    assert.equal(m.body, '8BITMIME');
    assert.equal(m.ret, 'HDRS');
    assert.equal(m.envid, 'QQ+1');
    assert.equal(m.auth, '<>');
  });
  it('refuses unknown parameters with 555 and bad values with 501', () => {
    assert.equal(replyOf(() => parseMailFrom('FROM:<a@b.c> FOO=1')).code, 555);
    assert.equal(replyOf(() => parseMailFrom('FROM:<a@b.c> SIZE=abc')).code, 501);
    assert.equal(replyOf(() => parseMailFrom('FROM:<a@b.c> BODY=9BIT')).code, 501);
    assert.equal(replyOf(() => parseMailFrom('FROM:<a@b.c> RET=FULL')).code, 555, 'DSN not offered');
    assert.equal(replyOf(() => parseMailFrom('FROM:<a@b.c> SIZE=1 SIZE=2')).code, 501);
  });
  it('takes quoted local parts and ignores source routes', () => {
    assert.equal(parseMailFrom('FROM:<"john smith"@example.org>').sender, '"john smith"@example.org');
    assert.equal(parseMailFrom('FROM:<"a>b"@example.org>').sender, '"a>b"@example.org');
    assert.equal(parseMailFrom('FROM:<@relay.example,@r2.example:joe@example.org>').sender, 'joe@example.org');
  });
  it('requires SMTPUTF8 for UTF-8 addresses (553 5.6.7)', () => {
    const r = replyOf(() => parseMailFrom('FROM:<jösé@exämple.org>', { smtputf8: true }));
    assert.equal(r.code, 553);
    assert.equal(r.enhanced, '5.6.7');
    assert.equal(parseMailFrom('FROM:<jösé@exämple.org> SMTPUTF8', { smtputf8: true }).sender, 'jösé@exämple.org');
  });
  it('rejects malformed addresses', () => {
    for (const bad of ['FROM:<a@>', 'FROM:<@b>', 'FROM:<a b@c>', 'FROM:<a@b..c>', 'FROM:<a@b', 'FROM:<a@-b.c>', 'FROM:<a..b@c.d>', 'FROM:']) {
      assert.ok([501, 553].includes(replyOf(() => parseMailFrom(bad)).code), bad);
    }
    assert.equal(replyOf(() => parseMailFrom(`FROM:<${'a'.repeat(65)}@b.c>`)).code, 501);
    assert.equal(replyOf(() => parseMailFrom(`FROM:<a@${'b'.repeat(300)}.c>`)).code, 501);
    assert.equal(replyOf(() => parseMailFrom('TO:<a@b.c>')).code, 501);
  });
  it('accepts address literals', () => {
    assert.equal(parseMailbox('a@[127.0.0.1]', false), 'a@[127.0.0.1]');
    assert.equal(parseMailbox('a@[IPv6:::1]', false), 'a@[IPv6:::1]');
    assert.throws(() => parseMailbox('a@[999.0.0.1]', false));
  });
});

describe('parseRcptTo', () => {
  it('reads the path, NOTIFY and ORCPT', () => {
    const r = parseRcptTo('TO:<bob@hamburger.edu> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@hamburger.edu', { dsn: true });
    assert.equal(r.recipient, 'bob@hamburger.edu');
    assert.deepEqual(r.notify, ['SUCCESS', 'FAILURE']);
    assert.equal(r.orcpt, 'rfc822;bob+x@hamburger.edu');
  });
  it('NEVER stands alone', () => {
    assert.deepEqual(parseRcptTo('TO:<a@b.c> NOTIFY=NEVER', { dsn: true }).notify, ['NEVER']);
    assert.equal(replyOf(() => parseRcptTo('TO:<a@b.c> NOTIFY=NEVER,FAILURE', { dsn: true })).code, 501);
    assert.equal(replyOf(() => parseRcptTo('TO:<a@b.c> NOTIFY=SOMETIMES', { dsn: true })).code, 501);
  });
  it('accepts <Postmaster> without a domain and refuses an empty path', () => {
    assert.equal(parseRcptTo('TO:<postmaster>').recipient, 'Postmaster');
    assert.equal(replyOf(() => parseRcptTo('TO:<>')).code, 501);
  });
});

describe('xtext', () => {
  it('round-trips and rejects malformed input', () => {
    for (const s of ['plain', 'a+b=c', 'sp ace', 'ünï']) assert.equal(decodeXtext(encodeXtext(s)), s);
    assert.equal(encodeXtext('a+b=c'), 'a+2Bb+3Dc');
    assert.equal(decodeXtext('bad+2'), null);
    assert.equal(decodeXtext('bad+zz'), null);
    assert.equal(decodeXtext('a=b'), null);
  });
});

describe('parseBdat', () => {
  it('reads size and LAST', () => {
    assert.deepEqual(parseBdat('100'), { size: 100, last: false });
    assert.deepEqual(parseBdat('0 last'), { size: 0, last: true });
    assert.equal(replyOf(() => parseBdat('-1')).code, 501);
    assert.equal(replyOf(() => parseBdat('10 FIRST')).code, 501);
  });
});
