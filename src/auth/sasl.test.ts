import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBase64, saslExchange } from './sasl.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

test('PLAIN with an initial response', () => {
  const x = saslExchange('PLAIN');
  assert.deepEqual(x.start(b64('\0bob@hamburger.edu\0hungry')), { kind: 'done', credentials: { authzid: '', username: 'bob@hamburger.edu', password: 'hungry' } });
});

test('PLAIN without initial response gets an empty challenge, then the message', () => {
  const x = saslExchange('PLAIN');
  assert.deepEqual(x.start(), { kind: 'challenge', challenge: '' });
  const s = x.step(b64('admin\0bob\0pw'));
  assert.equal(s.kind, 'done');
  assert.equal(s.kind === 'done' && s.credentials.authzid, 'admin');
});

test('PLAIN rejects malformed messages and bad base64, and "*" cancels', () => {
  assert.equal(saslExchange('PLAIN').start(b64('bob\0hungry')).kind, 'error');
  assert.equal(saslExchange('PLAIN').start(b64('\0\0pw')).kind, 'error');
  assert.equal(saslExchange('PLAIN').start('!!notbase64').kind, 'error');
  assert.equal(saslExchange('PLAIN').start('*').kind, 'cancelled');
});

test('LOGIN asks Username: then Password:', () => {
  const x = saslExchange('LOGIN');
  assert.deepEqual(x.start(), { kind: 'challenge', challenge: b64('Username:') });
  assert.deepEqual(x.step(b64('bob')), { kind: 'challenge', challenge: b64('Password:') });
  assert.deepEqual(x.step(b64('hungry')), { kind: 'done', credentials: { authzid: '', username: 'bob', password: 'hungry' } });
});

test('strict base64', () => {
  assert.equal(decodeBase64('=')?.length, 0);
  assert.equal(decodeBase64('Ym9i')?.toString(), 'bob');
  assert.equal(decodeBase64('Ym9'), null);
  assert.equal(decodeBase64('Ym9i!'), null);
});
