// The foundation as a new user meets it: the wharf command on a data directory, with a server
// running on the same directory at the same time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runWharf, spawnWharf } from '../helpers/cli.js';
import { listenerSections } from '../helpers/instance.js';

/** --set arguments that put every listener on 127.0.0.1:0 (never the default ports). */
function portZeroArgs(): string[] {
  return listenerSections().flatMap((s) => ['--set', `${s}.port=0`]);
}

describe('wharf command', () => {
  let data: string;
  before(() => {
    data = mkdtempSync(join(tmpdir(), 'wharf-cli-'));
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  test('an invalid config value exits 2 and names the key, the value and what was expected', async () => {
    const r = await runWharf(['start', '--data', data, '--set', 'pop3.port=notaport']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /pop3\.port/);
    assert.match(r.stderr, /notaport/);
    assert.match(r.stderr, /port number/);
  });

  test('an invalid config file exits 2 naming the key', async () => {
    const file = join(data, 'bad.toml');
    writeFileSync(file, '[smtp]\nmax_recipients = "lots"\n');
    const r = await runWharf(['config', 'check', '--config', file]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /smtp\.max_recipients/);
    const r2 = await runWharf(['config', 'check'], { env: { WHARF_CONFIG: file } });
    assert.equal(r2.status, 2, 'WHARF_CONFIG is read');
  });

  test('config check prints the effective config, config docs every key', async () => {
    const r = await runWharf(['config', 'check', '--set', 'hostname=hamburger.edu', '--set', 'imap.port=1143']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^hostname = "hamburger.edu"$/m);
    assert.match(r.stdout, /\[imap\][^[]*port = 1143/);
    const d = await runWharf(['config', 'docs']);
    assert.equal(d.status, 0);
    for (const key of ['smtp.port', 'store.engine', 'dns.resolver.root_hints', 'proxy.cache.max_size', 'ftp.passive_ports']) {
      assert.match(d.stdout, new RegExp(`^${key.replace(/\./g, '\\.')} = `, 'm'), key);
    }
  });

  test('unknown commands and missing arguments are usage errors (exit 2)', async () => {
    assert.equal((await runWharf(['frobnicate'])).status, 2);
    assert.equal((await runWharf(['user', 'add', '--data', data])).status, 2);
    const r = await runWharf(['user', 'add', 'x@y.org', '--data', data]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /password/);
  });

  test('domains and users: add, list, passwd, del; errors are clear', async () => {
    assert.equal((await runWharf(['domain', 'add', 'crepes.fr', '--data', data])).status, 0);
    const noDomain = await runWharf(['user', 'add', 'x@nowhere.example', '--password', 'x', '--data', data]);
    assert.equal(noDomain.status, 1);
    assert.match(noDomain.stderr, /nowhere\.example/);
    const add = await runWharf(['user', 'add', 'alice@crepes.fr', '--password', 'x', '--data', data]);
    assert.equal(add.status, 0, add.stderr);
    const dup = await runWharf(['user', 'add', 'Alice@Crepes.fr', '--password', 'y', '--data', data]);
    assert.equal(dup.status, 1, 'addresses compare case-insensitively');
    const viaStdin = await runWharf(['user', 'add', 'carol@crepes.fr', '--password-stdin', '--data', data], { input: 's3cret\n' });
    assert.equal(viaStdin.status, 0, viaStdin.stderr);
    const list = await runWharf(['user', 'list', '--data', data]);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), ['alice@crepes.fr', 'carol@crepes.fr']);
    assert.ok(!list.stdout.includes('s3cret') && !list.stdout.includes('scrypt'), 'no secrets in listings');
    assert.equal((await runWharf(['user', 'passwd', 'carol@crepes.fr', '--password', 'new', '--data', data])).status, 0);
    assert.equal((await runWharf(['user', 'passwd', 'nobody@crepes.fr', '--password', 'new', '--data', data])).status, 67);
    const delDomain = await runWharf(['domain', 'del', 'crepes.fr', '--data', data]);
    assert.equal(delDomain.status, 1, 'a domain with users is not deleted without --force');
    assert.equal((await runWharf(['user', 'del', 'carol@crepes.fr', '--data', data])).status, 0);
    assert.equal((await runWharf(['user', 'list', 'crepes.fr', '--data', data])).stdout.trim(), 'alice@crepes.fr');
  });

  test('wharf start prints its listeners, admin commands work beside it, SIGTERM stops it with 0', async () => {
    const child = spawnWharf(['start', '--data', data, '--set', 'hostname=crepes.fr', ...portZeroArgs()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, sig) => resolve([code, sig])));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('listener')) resolve();
      });
      void exited.then(([code]) => reject(new Error(`wharf start exited early (${code}): ${stderr}`)));
    });
    assert.match(stdout, /wharf crepes\.fr: \d+ listeners? up/);
    for (const line of stdout.split('\n').filter((l) => /\b(tcp|udp)\b/.test(l))) {
      assert.match(line, /127\.0\.0\.1:\d+/, 'each listener line names its bound address');
      assert.doesNotMatch(line, /:0\b/, 'ports are the bound ones, not 0');
    }
    // A second process on the same data directory while the server runs.
    const add = await runWharf(['user', 'add', 'dave@crepes.fr', '--password', 'x', '--data', data]);
    assert.equal(add.status, 0, add.stderr);
    const list = await runWharf(['user', 'list', '--data', data]);
    assert.match(list.stdout, /^dave@crepes\.fr$/m);
    child.kill('SIGTERM');
    const [code, sig] = await exited;
    assert.equal(sig, null);
    assert.equal(code, 0, stderr);
  });
});
