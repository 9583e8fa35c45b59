import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPeer, isLoopback, normalizeAddress } from './net.js';

test('isLoopback: 127/8, ::1, mapped', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.2', '::FFFF:127.9.9.9', '[::1]']) {
    assert.equal(isLoopback(a), true, a);
  }
  for (const a of ['128.0.0.1', '10.0.0.1', '::2', '::', '::ffff:10.0.0.1', 'localhost', '', 'garbage', '1127.0.0.1', '::ffff:128.0.0.1', 'fe80::1']) {
    assert.equal(isLoopback(a), false, a);
  }
});

test('formatPeer', () => {
  assert.equal(formatPeer('127.0.0.1', 5000), '127.0.0.1:5000');
  assert.equal(formatPeer('::1', 5000), '[::1]:5000');
  assert.equal(formatPeer('::ffff:192.0.2.1', 25), '192.0.2.1:25');
  assert.equal(formatPeer('2001:DB8::1', 993), '[2001:db8::1]:993');
});

test('normalizeAddress', () => {
  assert.equal(normalizeAddress('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1');
  assert.equal(normalizeAddress('10.0.0.1'), '10.0.0.1');
});
