// dns.zone_for_domains: adding a mail domain creates its zone (SOA, NS, MX, A), served by DNS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startTestWharf } from '../helpers/instance.js';

const run = promisify(execFile);

test('a new mail domain gets a zone that dig can query', async () => {
  const t = await startTestWharf({ services: ['dns'], domains: ['crepes.fr'], hostname: 'mail.crepes.fr', set: { 'dns.zone_for_domains': true, 'dns.zone_address': '127.0.0.9' } });
  try {
    const z = await t.wharf.store.getZone('crepes.fr.');
    assert.ok(z, 'the zone exists');
    assert.match(z.text, /\bSOA\b/);
    const port = String(t.port('dns'));
    const mx = await run('dig', ['@127.0.0.1', '-p', port, '+short', '+norec', 'MX', 'crepes.fr']);
    assert.equal(mx.stdout.trim(), '10 mail.crepes.fr.');
    const a = await run('dig', ['@127.0.0.1', '-p', port, '+short', '+norec', 'A', 'mail.crepes.fr']);
    assert.equal(a.stdout.trim(), '127.0.0.9');
  } finally {
    await t.stop();
  }
});

test('without dns.zone_for_domains no zone is made', async () => {
  const t = await startTestWharf({ domains: ['hamburger.edu'] });
  try {
    assert.equal(await t.wharf.store.getZone('hamburger.edu.'), null);
  } finally {
    await t.stop();
  }
});
