import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MessageCache } from './cache.js';

describe('IMAP message cache', () => {
  it('keys entries by mailbox, UIDVALIDITY and UID', () => {
    const c = new MessageCache(100);
    c.mailbox(1, 10).entry(5).envelope = 'E';
    assert.equal(c.mailbox(1, 10).get(5)?.envelope, 'E');
    assert.equal(c.mailbox(1, 11).get(5), undefined, 'a re-created mailbox (new UIDVALIDITY) starts empty');
    assert.equal(c.mailbox(2, 10).get(5), undefined);
    assert.equal(c.size, 1);
  });

  it('stays within its bound, dropping the least recently used mailbox first', () => {
    const c = new MessageCache(10);
    const a = c.mailbox(1, 1);
    for (let u = 1; u <= 6; u++) a.entry(u).envelope = `a${u}`;
    const b = c.mailbox(2, 1);
    for (let u = 1; u <= 4; u++) b.entry(u).envelope = `b${u}`;
    assert.equal(c.size, 10);
    c.mailbox(1, 1); // a is now the most recently used
    c.mailbox(3, 1).entry(1).envelope = 'c1';
    assert.equal(c.mailbox(2, 1).get(1), undefined, 'b dropped');
    assert.equal(c.mailbox(1, 1).get(6)?.envelope, 'a6');
    assert.equal(c.size, 7);
    // One mailbox bigger than the bound keeps its newest entries.
    const big = c.mailbox(4, 1);
    for (let u = 1; u <= 25; u++) big.entry(u).envelope = `d${u}`;
    assert.ok(c.size <= 10, `size ${c.size}`);
    assert.equal(big.get(25)?.envelope, 'd25');
    assert.equal(big.get(1), undefined);
  });
});
