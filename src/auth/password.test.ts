import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, needsRehash, verifyPassword } from './password.js';

test('a password verifies against its own hash and no other', async () => {
  const h = await hashPassword('hungry', { cost: 10 });
  assert.match(h, /^\$scrypt\$ln=10,r=8,p=1\$/);
  assert.equal(await verifyPassword('hungry', h), true);
  assert.equal(await verifyPassword('Hungry', h), false);
  assert.equal(await verifyPassword('', h), false);
  assert.notEqual(await hashPassword('hungry', { cost: 10 }), h, 'salted');
});

test('malformed stored hashes never match', async () => {
  for (const bad of ['', 'hungry', '$scrypt$ln=10,r=8,p=1$$', '$scrypt$ln=99,r=8,p=1$AAAA$AAAA', '$argon2id$v=19$x']) {
    assert.equal(await verifyPassword('hungry', bad), false, bad);
  }
});

test('needsRehash when the cost was raised', async () => {
  const h = await hashPassword('x', { cost: 10 });
  assert.equal(needsRehash(h, 10), false);
  assert.equal(needsRehash(h, 12), true);
  assert.equal(needsRehash('garbage', 10), true);
});
