import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { connect, TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { loadOrCreateTls, selfSignedCertificate } from './tls.js';

test('the self-signed certificate parses and names the host and loopback', () => {
  const { cert } = selfSignedCertificate(['mail.hamburger.edu', 'localhost', '127.0.0.1', '::1']);
  const x = new X509Certificate(cert);
  assert.equal(x.checkHost('mail.hamburger.edu'), 'mail.hamburger.edu');
  assert.equal(x.checkHost('localhost'), 'localhost');
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkIP('::1'), '::1');
  assert.equal(x.checkHost('example.org'), undefined);
  assert.ok(x.verify(x.publicKey), 'self-signature verifies');
  assert.ok(x.subject.includes('CN=mail.hamburger.edu'));
});

test('generated once, reused, and a client trusting it completes a verified handshake', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
  try {
    const a = await loadOrCreateTls({ dataDir: dir, hostname: 'wharf.test' });
    const b = await loadOrCreateTls({ dataDir: dir, hostname: 'wharf.test' });
    assert.equal(a.cert, b.cert);
    assert.equal(statSync(join(dir, 'tls', 'self-signed.key')).mode & 0o777, 0o600);
    const server = createServer((raw) => new TLSSocket(raw, { isServer: true, secureContext: a.context }).end('hello\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port, servername: 'wharf.test', ca: readFileSync(a.certFile) }, () => {
        assert.equal(c.authorized, true);
      });
      let got = '';
      c.on('data', (d) => (got += d));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    server.close();
    assert.equal(text, 'hello\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('configured files that do not match are a config error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-tls-'));
  try {
    await assert.rejects(loadOrCreateTls({ dataDir: dir, hostname: 'x', certFile: join(dir, 'nope.crt') }), { code: 'WHARF_CONFIG_INVALID' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
