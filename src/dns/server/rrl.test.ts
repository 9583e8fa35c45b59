import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientPrefix } from './acl.js';
import { ResponseRateLimiter } from './rrl.js';

test('prefixes: /24 for IPv4 (mapped too), /56 for IPv6', () => {
  assert.equal(clientPrefix('192.0.2.77'), '192.0.2.0/24');
  assert.equal(clientPrefix('::ffff:192.0.2.1'), '192.0.2.0/24');
  assert.equal(clientPrefix('2001:db8:1:23ff::1'), '2001:db8:1:2300::/56');
  assert.equal(clientPrefix('2001:db8:1:2300::9'), clientPrefix('2001:db8:1:23aa::1'));
  assert.notEqual(clientPrefix('2001:db8:1:2400::1'), clientPrefix('2001:db8:1:2300::1'));
});

test('a burst beyond the rate is limited; every 2nd limited response slips', () => {
  const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, window: 2, slip: 2 });
  const t = 1_000_000;
  const verdicts = Array.from({ length: 11 }, () => rrl.check('192.0.2.1', t));
  assert.deepEqual(verdicts.slice(0, 5), ['send', 'send', 'send', 'send', 'send']);
  assert.deepEqual(verdicts.slice(5), ['drop', 'slip', 'drop', 'slip', 'drop', 'slip']);
  // Another client of the same /24 shares the bucket; another /24 does not.
  assert.notEqual(rrl.check('192.0.2.200', t), 'send');
  assert.equal(rrl.check('198.51.100.1', t), 'send');
});

test('tokens refill at the rate; a debt lasts at most the window', () => {
  const rrl = new ResponseRateLimiter({ responsesPerSecond: 10, window: 1, slip: 0 });
  let t = 0;
  for (let i = 0; i < 1000; i++) rrl.check('10.0.0.1', t);
  assert.equal(rrl.check('10.0.0.1', t), 'drop', 'slip 0 drops everything limited');
  t += 1000; // debt is at most 10 tokens: one second pays it back
  assert.equal(rrl.check('10.0.0.1', t), 'drop');
  t += 2000;
  assert.equal(rrl.check('10.0.0.1', t), 'send');
});

test('memory is bounded', () => {
  const rrl = new ResponseRateLimiter({ responsesPerSecond: 10, window: 1, slip: 2, maxEntries: 100 });
  for (let i = 0; i < 1000; i++) rrl.check(`10.${i >> 8}.${i & 255}.1`, 0);
  assert.ok(rrl.size <= 100, String(rrl.size));
});
