// The one place every protocol checks a password. It resolves the login name (a full address,
// or a bare name completed with auth.default_domain), verifies the scrypt hash, applies the
// login throttle (delays grow with failures per client address and per account), and spends
// the same time on an unknown user as on a wrong password (no user enumeration by timing).
// It never sees transcripts and never logs a password.
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, timingSafeEqual } from 'node:crypto';
import { dummyHash, verifyPassword } from './password.js';
import type { LoginThrottle } from './throttle.js';

export interface AuthAccount {
  id: number;
  address: string;
  passwordHash: string;
  disabled: boolean;
  /** The APOP shared secret (RFC 1939 §7), when stored. */
  apopSecret?: string | null;
}

export interface AuthRequest {
  username: string;
  password: string;
  /** Client address, for throttling. */
  remote: string;
  /** SASL authorization identity: must be empty or the same account (no proxy logins). */
  authzid?: string;
}

export type AuthResult =
  | { ok: true; account: { id: number; address: string } }
  | { ok: false; reason: 'invalid' | 'disabled' | 'authzid' };

export interface Authenticator {
  authenticate(req: AuthRequest): Promise<AuthResult>;
  /** RFC 1939 §7: digest = MD5(timestamp ‖ secret), hex. */
  authenticateApop(username: string, timestamp: string, digest: string, remote: string): Promise<AuthResult>;
  /** The full address a login name stands for ("bob" → "bob@hamburger.edu" with a default domain). */
  loginAddress(username: string): string;
}

export interface AuthenticatorOptions {
  findAccount: (address: string) => Promise<AuthAccount | null>;
  throttle: LoginThrottle;
  defaultDomain: string;
  /** Cost of the dummy hash verified for unknown users (match auth.scrypt_cost). */
  dummyCost?: number;
  /** For tests: replaces the sleep applied before a failure answer. */
  sleep?: (ms: number) => Promise<unknown>;
}

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  let dummy: Promise<string> | undefined;
  const wait = opts.sleep ?? ((ms: number) => sleep(ms));
  const loginAddress = (username: string): string => {
    const u = username.trim();
    return u.includes('@') || !opts.defaultDomain ? u : `${u}@${opts.defaultDomain}`;
  };
  const fail = async (remote: string, address: string, reason: 'invalid' | 'disabled' | 'authzid'): Promise<AuthResult> => {
    const delay = opts.throttle.failure(remote, address);
    if (delay > 0) await wait(delay);
    return { ok: false, reason };
  };
  return {
    loginAddress,
    async authenticate(req) {
      const address = loginAddress(req.username);
      // Wait out an earlier run of failures before even checking (slows parallel guessing).
      const pending = opts.throttle.delayFor(req.remote, address);
      if (pending > 0) await wait(pending);
      const account = address.length <= 320 ? await opts.findAccount(address) : null;
      if (!account) {
        dummy ??= dummyHash(opts.dummyCost ?? 10);
        await verifyPassword(req.password, await dummy);
        return fail(req.remote, address, 'invalid');
      }
      if (!(await verifyPassword(req.password, account.passwordHash))) return fail(req.remote, address, 'invalid');
      if (account.disabled) return fail(req.remote, address, 'disabled');
      if (req.authzid && loginAddress(req.authzid).toLowerCase() !== account.address.toLowerCase() && req.authzid.toLowerCase() !== req.username.toLowerCase()) {
        return fail(req.remote, address, 'authzid');
      }
      opts.throttle.success(req.remote, address);
      return { ok: true, account: { id: account.id, address: account.address } };
    },
    async authenticateApop(username, timestamp, digest, remote) {
      const address = loginAddress(username);
      const account = await opts.findAccount(address);
      const secret = account?.apopSecret;
      if (!account || !secret || !/^[0-9a-f]{32}$/i.test(digest)) return fail(remote, address, 'invalid');
      const want = createHash('md5').update(timestamp + secret).digest();
      if (!timingSafeEqual(want, Buffer.from(digest, 'hex'))) return fail(remote, address, 'invalid');
      if (account.disabled) return fail(remote, address, 'disabled');
      opts.throttle.success(remote, address);
      return { ok: true, account: { id: account.id, address: account.address } };
    },
  };
}
