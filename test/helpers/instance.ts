// Starts a Wharf instance for a test: a fresh temporary data directory, every listener on
// 127.0.0.1 port 0 (so tests run in parallel and beside a running server), only the services
// the test asks for, cheap password hashing, and the users/domains it needs.
//
//   const t = await startTestWharf({ services: ['pop3'], users: [['bob@hamburger.edu', 'hungry']] });
//   const { port } = t.address('pop3');
//   ...
//   await t.stop();   // also removes the data directory
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { schemaEntries } from '../../src/config/schema.js';
import type { BoundAddress } from '../../src/service.js';
import { Wharf } from '../../src/wharf.js';

export interface TestWharfOptions {
  /** Config sections to enable ("smtp", "pop3", "pop3s", "imap", …); every other listener is off. */
  services?: string[];
  /** Extra config by dotted key (typed values or strings). */
  set?: Record<string, unknown>;
  users?: [address: string, password: string][];
  /** Domains to create (the users' domains are created anyway). */
  domains?: string[];
  /** Reuse a data directory (restart tests); it is then not removed at stop. */
  dataDir?: string;
  hostname?: string;
  /** PostgreSQL instead of SQLite: a fresh schema in the local test database. */
  postgres?: boolean;
}

export interface TestWharf {
  wharf: Wharf;
  dataDir: string;
  address(service: string): BoundAddress;
  port(service: string): number;
  stop(): Promise<void>;
}

/** Sections that have `enabled` and `port` keys: the listeners. */
export function listenerSections(): string[] {
  const keys = new Set(schemaEntries().map(([k]) => k));
  return [...keys].filter((k) => k.endsWith('.enabled') && keys.has(k.replace(/\.enabled$/, '.port'))).map((k) => k.replace(/\.enabled$/, ''));
}

export function testConfigOverrides(opts: TestWharfOptions = {}): Record<string, unknown> {
  const wanted = new Set(opts.services ?? []);
  const set: Record<string, unknown> = {
    hostname: opts.hostname ?? 'wharf.test',
    'auth.scrypt_cost': 10,
    'log.level': 'warn',
  };
  for (const s of listenerSections()) {
    set[`${s}.enabled`] = wanted.has(s);
    set[`${s}.host`] = '127.0.0.1';
    set[`${s}.port`] = 0;
  }
  if (!wanted.has('smtp') && !wanted.has('submission') && !wanted.has('submissions')) set['queue.enabled'] = false;
  if (opts.postgres) {
    set['store.engine'] = 'postgres';
    set['store.pool_size'] = 4;
    set['store.schema'] = `wharf_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  }
  return { ...set, ...opts.set };
}

export async function startTestWharf(opts: TestWharfOptions = {}): Promise<TestWharf> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'wharf-test-'));
  const config = loadConfig({ overrides: testConfigOverrides(opts) });
  const wharf = new Wharf({ config, dataDir, logStream: process.env.WHARF_TEST_LOG ? process.stderr : null });
  await wharf.open();
  const domains = new Set([...(opts.domains ?? []), ...(opts.users ?? []).map(([a]) => a.slice(a.lastIndexOf('@') + 1).toLowerCase())]);
  const existing = new Set((await wharf.accounts.listDomains()).map((d) => d.name));
  for (const d of domains) if (!existing.has(d)) await wharf.accounts.addDomain(d);
  for (const [address, password] of opts.users ?? []) {
    if (!(await wharf.store.getAccount(address))) await wharf.accounts.addUser(address, password);
  }
  await wharf.start();
  return {
    wharf,
    dataDir,
    address: (s) => wharf.address(s),
    port: (s) => wharf.address(s).port,
    async stop() {
      await wharf.stop(1000);
      if (opts.postgres) await dropSchema(config.store.url, config.store.schema);
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const pg = await import('pg');
  const { withDefaultUser } = await import('../../src/store/postgres/index.js');
  const client = new pg.default.Client({ connectionString: withDefaultUser(url) });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}
