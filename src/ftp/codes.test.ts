import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply, quotePath, reply, C221Goodbye } from './codes.js';

test('a single-line reply is "ddd text"', () => {
  assert.deepEqual(formatReply(C221Goodbye), ['221 Goodbye.']);
  assert.deepEqual(formatReply(reply(200)), ['200 ']);
});

test('RFC 959 §4.2: multi-line replies use ddd- first and ddd SP last', () => {
  assert.deepEqual(formatReply({ code: 211, lines: ['Features:', ' MDTM', ' SIZE', 'End'] }), ['211-Features:', ' MDTM', ' SIZE', '211 End']);
});

test('a middle line starting with digits is indented so it cannot end the reply', () => {
  const out = formatReply({ code: 213, lines: ['Status:', '211 looks like an end', 'End'] });
  assert.deepEqual(out, ['213-Status:', ' 211 looks like an end', '213 End']);
});

test('CR and LF in a value never split a reply', () => {
  const out = formatReply(reply(257, quotePath('/a\r\n227 Entering Passive Mode (1,2,3,4,5,6)')));
  assert.equal(out.length, 1);
  assert.ok(!/[\r\n]/.test(out[0]!));
  assert.match(out[0]!, /^257 "\/a\?\?227/);
});

test('quotePath doubles quotes (RFC 959 Appendix II)', () => {
  assert.equal(quotePath('/say "hi"'), '"/say ""hi"""');
});
