import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyFlags, hasFlag, normaliseFlags, sameFlagSet } from './flags.js';

describe('flag lists', () => {
  it('normaliseFlags keeps the first spelling and drops duplicates and empties', () => {
    assert.deepEqual(normaliseFlags(['\\Seen', '\\SEEN', '', 'Work', 'work', '$Junk']), ['\\Seen', 'Work', '$Junk']);
    assert.deepEqual(normaliseFlags([]), []);
  });

  it('hasFlag compares case-insensitively', () => {
    assert.equal(hasFlag(['\\Seen'], '\\seen'), true);
    assert.equal(hasFlag(['\\Seen'], '\\Deleted'), false);
  });

  it('add appends only missing flags; null when nothing changes', () => {
    assert.deepEqual(applyFlags(['\\Seen'], 'add', ['\\seen', '\\Flagged']), ['\\Seen', '\\Flagged']);
    assert.equal(applyFlags(['\\Seen'], 'add', ['\\SEEN']), null);
    assert.equal(applyFlags([], 'add', []), null);
  });

  it('remove compares case-insensitively', () => {
    assert.deepEqual(applyFlags(['\\Seen', 'Work'], 'remove', ['\\SEEN']), ['Work']);
    assert.equal(applyFlags(['Work'], 'remove', ['\\Seen']), null);
  });

  it('set replaces, unless the same set in another case or order', () => {
    assert.deepEqual(applyFlags(['\\Seen'], 'set', ['\\Answered', '\\answered']), ['\\Answered']);
    assert.equal(applyFlags(['\\Seen', 'A'], 'set', ['a', '\\seen']), null);
    assert.deepEqual(applyFlags(['\\Seen'], 'set', []), []);
  });

  it('sameFlagSet', () => {
    assert.equal(sameFlagSet(['a', 'B'], ['b', 'A']), true);
    assert.equal(sameFlagSet(['a'], ['a', 'b']), false);
    assert.equal(sameFlagSet(['a', 'b'], ['a', 'c']), false);
  });
});
