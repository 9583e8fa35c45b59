import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { parseDuration, parseSize } from './fields.js';
import { ConfigError, configDocs, formatConfig, loadConfig, parseSet } from './load.js';
import { schemaEntries } from './schema.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.equal(err.code, 'WHARF_CONFIG_INVALID');
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('defaults are the embedded default: loopback and the unprivileged ports of DESIGN.md', () => {
  const c = loadConfig();
  const ports = { smtp: 2525, submission: 2587, pop3: 2110, imap: 2143, ftp: 2121, dns: 2053, proxy: 3128, console: 8025 } as const;
  for (const [svc, p] of Object.entries(ports)) {
    const s = c[svc as keyof typeof ports];
    assert.equal(s.port, p, `${svc}.port`);
    assert.equal(s.host, '127.0.0.1', `${svc}.host`);
    assert.equal(s.enabled, true, `${svc}.enabled`);
  }
  assert.equal(c.store.engine, 'sqlite');
  assert.ok(c.hostname.length > 0);
});

test('a file, then --set overrides in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-config-'));
  const file = join(dir, 'wharf.toml');
  writeFileSync(file, 'hostname = "hamburger.edu"\n[pop3]\nport = 1110\n[dns.recursion]\nallow = ["10.0.0.0/8"]\n');
  const c = loadConfig({ file, sets: ['pop3.port=2220', 'smtp.max_message_size=10MB', 'queue.max_age=2d', 'dns.resolver.root_hints=["127.0.0.2:5300"]', 'imap.enabled=false'] });
  assert.equal(c.hostname, 'hamburger.edu');
  assert.equal(c.pop3.port, 2220);
  assert.deepEqual(c.dns.recursion.allow, ['10.0.0.0/8']);
  assert.equal(c.smtp.max_message_size, 10 * 1024 * 1024);
  assert.equal(c.queue.max_age, 2 * 86_400_000);
  assert.deepEqual(c.dns.resolver.root_hints, ['127.0.0.2:5300']);
  assert.equal(c.imap.enabled, false);
});

test('an invalid value names the key, the value and what was expected', () => {
  const err = configError(() => loadConfig({ sets: ['pop3.port=notaport'] }));
  assert.equal(err.key, 'pop3.port');
  assert.equal(err.value, 'notaport');
  assert.match(err.message, /pop3\.port/);
  assert.match(err.message, /"notaport"/);
  assert.match(err.message, /port number/);
  const e2 = configError(() => loadConfig({ text: '[smtp]\nport = 70000\n' }));
  assert.equal(e2.key, 'smtp.port');
  const e3 = configError(() => loadConfig({ text: '[dns.recursion]\nallow = ["10.0.0.0/33"]\n' }));
  assert.equal(e3.key, 'dns.recursion.allow');
});

test('unknown keys are refused with a suggestion', () => {
  const err = configError(() => loadConfig({ text: '[pop3]\nprot = 1\n' }));
  assert.match(err.message, /unknown key "pop3.prot"/);
  assert.match(err.message, /did you mean "pop3.port"/);
  configError(() => loadConfig({ sets: ['nosuch=1'] }));
  configError(() => loadConfig({ text: 'this is not toml' }));
  configError(() => parseSet('novalue'));
});

test('the effective config printed as TOML reads back to the same config', () => {
  const c = loadConfig({ sets: ['hostname=crepes.fr', 'ftp.passive_ports=50000-50010', 'proxy.cache.max_size=512MB'] });
  const text = formatConfig(c);
  assert.doesNotThrow(() => parseToml(text));
  assert.deepEqual(loadConfig({ text }), c);
});

test('every key has a doc and a default that passes its own check', () => {
  const docs = configDocs();
  for (const [key, f] of schemaEntries()) {
    assert.ok(f.doc.length > 10, `${key} has a doc`);
    assert.ok(docs.includes(`${key} = `), `${key} in docs`);
    const def = typeof f.default === 'function' ? (f.default as () => unknown)() : f.default;
    assert.deepEqual(f.parse(def, false), def, `${key} default`);
  }
});

test('sizes and durations', () => {
  assert.equal(parseSize('10MB'), 10485760);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize(42), 42);
  assert.equal(parseSize('ten'), undefined);
  assert.equal(parseSize('-1'), undefined);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5d'), 432_000_000);
  assert.equal(parseDuration('5 days'), undefined);
  assert.equal(parseDuration(''), undefined);
});
