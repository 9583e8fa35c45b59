import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SessionStore, TokenStore, tokensFile } from './auth.js';

describe('console SessionStore', () => {
  it('hands out random 32-byte ids and forgets a session after the TTL without use', () => {
    let now = 1000;
    const s = new SessionStore(100, () => now);
    const id = s.create('admin@x');
    assert.equal(Buffer.from(id, 'base64url').length, 32);
    assert.notEqual(s.create('admin@x'), id);
    now += 90;
    assert.equal(s.get(id), 'admin@x'); // used: the TTL starts again
    now += 90;
    assert.equal(s.get(id), 'admin@x');
    now += 101;
    assert.equal(s.get(id), null);
    assert.equal(s.get('nope'), null);
  });
  it('drops a session on delete', () => {
    const s = new SessionStore(10_000);
    const id = s.create('a@b');
    s.delete(id);
    assert.equal(s.get(id), null);
  });
});

describe('console TokenStore', () => {
  it('stores only a hash, verifies, lists, revokes, and refuses a taken name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-tokens-'));
    try {
      const t = new TokenStore(tokensFile(dir));
      assert.equal(t.verify('wharf_nothing'), null);
      const token = t.create('ci');
      assert.match(token, /^wharf_[A-Za-z0-9_-]{43}$/);
      const text = readFileSync(tokensFile(dir), 'utf8');
      assert.ok(!text.includes(token) && !text.includes(token.slice(6)), 'the token itself is not on disk');
      assert.equal(statSync(tokensFile(dir)).mode & 0o077, 0, 'the file is private');
      assert.equal(t.verify(token), 'ci');
      assert.equal(t.verify(token + 'x'), null);
      assert.deepEqual(t.list().map((x) => x.name), ['ci']);
      assert.throws(() => t.create('ci'), /exists/);
      assert.throws(() => t.create('bad name'), /token name/);
      assert.equal(t.revoke('ci'), true);
      assert.equal(t.revoke('ci'), false);
      assert.equal(t.verify(token), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('sees tokens created by another process (another store on the same file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-tokens-'));
    try {
      const server = new TokenStore(tokensFile(dir));
      assert.equal(server.verify('wharf_x'.padEnd(20, 'x')), null);
      const cli = new TokenStore(tokensFile(dir));
      const token = cli.create('deploy');
      assert.equal(server.verify(token), 'deploy');
      cli.revoke('deploy');
      assert.equal(server.verify(token), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
