import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createAuthenticator } from './authenticator.js';
import type { AuthAccount } from './authenticator.js';
import { hashPassword } from './password.js';
import { LoginThrottle } from './throttle.js';

async function setup(defaultDomain = '') {
  const bob: AuthAccount = { id: 7, address: 'bob@Hamburger.edu', passwordHash: await hashPassword('hungry', { cost: 10 }), disabled: false, apopSecret: 'tanstaaf' };
  const slept: number[] = [];
  const auth = createAuthenticator({
    findAccount: async (a) => (a.toLowerCase() === 'bob@hamburger.edu' ? bob : null),
    throttle: new LoginThrottle({ freeAttempts: 1, baseDelayMs: 10, maxDelayMs: 40, windowMs: 60_000 }),
    defaultDomain,
    sleep: async (ms) => void slept.push(ms),
  });
  return { auth, bob, slept };
}

test('right password logs in, wrong or unknown does not', async () => {
  const { auth } = await setup();
  assert.deepEqual(await auth.authenticate({ username: 'BOB@hamburger.edu', password: 'hungry', remote: '127.0.0.1' }), { ok: true, account: { id: 7, address: 'bob@Hamburger.edu' } });
  assert.deepEqual(await auth.authenticate({ username: 'bob@hamburger.edu', password: 'full', remote: '127.0.0.1' }), { ok: false, reason: 'invalid' });
  assert.deepEqual(await auth.authenticate({ username: 'eve@hamburger.edu', password: 'hungry', remote: '127.0.0.1' }), { ok: false, reason: 'invalid' });
});

test('a bare name is completed with the default domain', async () => {
  const { auth } = await setup('hamburger.edu');
  assert.equal((await auth.authenticate({ username: 'bob', password: 'hungry', remote: '::1' })).ok, true);
});

test('repeated failures are delayed', async () => {
  const { auth, slept } = await setup();
  for (let i = 0; i < 4; i++) await auth.authenticate({ username: 'bob@hamburger.edu', password: 'x', remote: '10.0.0.1' });
  assert.ok(slept.length >= 3, `delays: ${slept}`);
  assert.ok(slept.includes(40));
});

test('another identity as authzid is refused', async () => {
  const { auth } = await setup();
  const r = await auth.authenticate({ username: 'bob@hamburger.edu', password: 'hungry', remote: '127.0.0.1', authzid: 'alice@hamburger.edu' });
  assert.deepEqual(r, { ok: false, reason: 'authzid' });
});

test('APOP digest (RFC 1939 §7 example shape)', async () => {
  const { auth } = await setup();
  const ts = '<1896.697170952@dbc.mtview.ca.us>';
  const digest = createHash('md5').update(ts + 'tanstaaf').digest('hex');
  assert.equal((await auth.authenticateApop('bob@hamburger.edu', ts, digest, '127.0.0.1')).ok, true);
  assert.equal((await auth.authenticateApop('bob@hamburger.edu', ts, digest.replace(/^./, '0'), '127.0.0.1')).ok, false);
});
