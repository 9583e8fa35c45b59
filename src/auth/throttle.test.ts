import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from './throttle.js';

test('free attempts, then doubling delays up to the maximum, forgotten after the window', () => {
  let now = 0;
  const t = new LoginThrottle({ freeAttempts: 2, baseDelayMs: 100, maxDelayMs: 350, windowMs: 1000, now: () => now });
  assert.equal(t.failure('1.2.3.4', 'bob'), 0);
  assert.equal(t.failure('1.2.3.4', 'bob'), 100);
  assert.equal(t.failure('1.2.3.4', 'bob'), 200);
  assert.equal(t.failure('1.2.3.4', 'bob'), 350);
  // another address guessing the same account is delayed too
  assert.equal(t.delayFor('5.6.7.8', 'BOB'), 350);
  now = 2000;
  assert.equal(t.delayFor('1.2.3.4', 'bob'), 0);
});

test('success clears the record', () => {
  const t = new LoginThrottle({ freeAttempts: 0, baseDelayMs: 100, maxDelayMs: 1000, windowMs: 60_000 });
  t.failure('ip', 'alice');
  assert.ok(t.delayFor('ip', 'alice') > 0);
  t.success('ip', 'alice');
  assert.equal(t.delayFor('ip', 'alice'), 0);
});
