import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { C550NoSuchUser, formatReply, replyToString, withText } from './codes.js';
import { backoff } from './queue.js';

describe('formatReply', () => {
  it('writes one line with or without the enhanced code', () => {
    assert.deepEqual(formatReply(C550NoSuchUser), ['550 5.1.1 No such user here']);
    assert.deepEqual(formatReply(C550NoSuchUser, false), ['550 No such user here']);
  });
  it('writes multi-line replies with "-" on all but the last line (RFC 5321 §4.2.1)', () => {
    assert.deepEqual(formatReply({ code: 250, text: ['a', 'b', 'c'] }, false), ['250-a', '250-b', '250 c']);
  });
  it('never lets CR or LF through', () => {
    assert.deepEqual(formatReply(withText(C550NoSuchUser, 'x\r\n250 injected')), ['550 5.1.1 x 250 injected']);
    assert.equal(replyToString({ code: 250, text: ['a', 'b'] }), '250-a / 250 b');
  });
});

describe('backoff', () => {
  it('doubles from the base up to the maximum', () => {
    assert.equal(backoff(0, 60_000, 3_600_000), 60_000);
    assert.equal(backoff(1, 60_000, 3_600_000), 120_000);
    assert.equal(backoff(3, 60_000, 3_600_000), 480_000);
    assert.equal(backoff(10, 60_000, 3_600_000), 3_600_000);
    assert.equal(backoff(1000, 60_000, 3_600_000), 3_600_000);
  });
});
