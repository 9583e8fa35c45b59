import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/load.js';
import { startTestWharf, testConfigOverrides } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import type { LogEvent, TranscriptEvent } from './events.js';
import type { Service } from '../service.js';
import { isWharfError } from './errors.js';
import { WorkerPool, childConfig, listenShared, pooledServices } from './worker-pool.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

/** Gone, or a zombie nobody reaped yet: either way it runs no more. */
function exited(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

/** Opens a POP3 connection and returns the greeting. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setEncoding('latin1');
    s.once('data', (d: string) => {
      s.end('QUIT\r\n');
      s.once('close', () => resolve(d));
    });
    s.once('error', reject);
  });
}

describe('childConfig', () => {
  it('enables only the pool sections, sets their workers to 1, leaves transcripts to the primary', () => {
    const config = loadConfig({ overrides: { ...testConfigOverrides({ services: ['pop3', 'pop3s', 'smtp', 'imap'] }), 'pop3.workers': 3, 'imap.workers': 2, 'log.transcripts': true } });
    const c = childConfig(config, ['pop3', 'pop3s']);
    assert.equal(c.pop3.enabled, true);
    assert.equal(c.pop3s.enabled, true);
    assert.equal(c.smtp.enabled, false);
    assert.equal(c.imap.enabled, false);
    assert.equal(c.queue.enabled, false);
    assert.equal(c.console.enabled, false);
    assert.equal(c.pop3.workers, 1);
    assert.equal(c.imap.workers, 2, 'other sections keep theirs (they are off anyway)');
    assert.equal(c.log.transcripts, false);
    // The primary's config is untouched.
    assert.equal(config.pop3.workers, 3);
    assert.equal(config.smtp.enabled, true);
    assert.equal(config.log.transcripts, true);
  });
});

describe('listenShared and pooledServices', () => {
  it('binds port 0 to a real port; a busy port is WHARF_LISTEN_FAILED', async () => {
    const a = await listenShared('127.0.0.1', 0, 'pop3');
    const port = (a.address() as net.AddressInfo).port;
    assert.ok(port > 0);
    await assert.rejects(listenShared('127.0.0.1', port, 'pop3'), (err: unknown) => isWharfError(err) && err.code === 'WHARF_LISTEN_FAILED');
    a.close();
  });

  it('leaves the services alone with workers = 1 and in a child that was handed their socket', async () => {
    const t = await startTestWharf({});
    try {
      const svc: Service = { name: 'pop3', start: async () => [], stop: async () => {} };
      assert.deepEqual(pooledServices(t.wharf, { name: 'pop3', workers: 1, services: [svc] }), [svc]);
      const pooled = pooledServices(t.wharf, { name: 'pop3', workers: 2, services: [svc] });
      assert.equal(pooled.length, 1);
      assert.notEqual(pooled[0], svc);
      const server = await listenShared('127.0.0.1', 0, 'pop3');
      t.wharf.sharedListeners.set('pop3', server);
      assert.deepEqual(pooledServices(t.wharf, { name: 'pop3', workers: 2, services: [svc] }), [svc]);
      server.close();
    } finally {
      await t.stop();
    }
  });
});

describe('WorkerPool', () => {
  let t: TestWharf;
  let server: net.Server;
  let port: number;
  let pool: WorkerPool;

  before(async () => {
    // The primary runs no POP3 itself here: it answers "+OK primary" on the shared socket.
    t = await startTestWharf({ set: { 'log.level': 'info' } });
    server = await listenShared('127.0.0.1', 0, 'pop3');
    server.on('connection', (s) => {
      s.on('error', () => {});
      s.end('+OK primary\r\n');
    });
    port = (server.address() as net.AddressInfo).port;
    // One connection per address in the child, so that a second one makes it log a warning.
    const config = { ...t.wharf.config, pop3: { ...t.wharf.config.pop3, max_per_ip: 1 } };
    pool = new WorkerPool({ wharf: t.wharf, name: 'pop3', count: 1, sections: ['pop3'], listeners: { pop3: server }, config, eventPollMs: 50, restart: { max: 2, windowMs: 60_000, delayMs: 50 } });
    await pool.start();
  });

  after(async () => {
    await pool?.stop(1000);
    server?.close();
    await t?.stop();
  });

  it('forwards bus events only while the primary listens for them', async () => {
    const forwarding = async () => ((await pool.stats('worker-forwarding'))[0]?.data ?? null) as string[] | null;
    assert.deepEqual(await forwarding(), []);
    const lines: TranscriptEvent[] = [];
    const logs: LogEvent[] = [];
    const offT = t.wharf.bus.on('transcript', (ev) => lines.push(ev));
    const offL = t.wharf.bus.on('log', (ev) => logs.push(ev));
    await until(async () => (await forwarding())?.length === 2, 'child forwards transcript and log');
    await until(async () => !(await greeting(port)).includes('primary'), 'a session in the child');
    const child = pool.pids[0]!;
    await until(() => lines.some((l) => l.dir === 'C' && l.text === 'QUIT'), 'the session transcript');
    assert.ok(lines.every((l) => l.session.endsWith(`@${child}`)), 'child session ids carry its pid');
    // A second connection at once is over the child's limit: it logs a warning, forwarded.
    let held: net.Socket | undefined;
    for (let i = 0; i < 50 && !held; i++) {
      const s = net.connect(port, '127.0.0.1');
      const d = await new Promise<string>((r) => s.once('data', (b: Buffer) => r(b.toString())));
      if (d.includes('primary')) s.destroy();
      else held = s;
    }
    assert.ok(held, 'a session held in the child');
    await until(async () => /^-ERR \[SYS\/TEMP\]/.test(await greeting(port)), 'a refused connection');
    held.destroy();
    const warn = await until(() => logs.find((l) => l.msg === 'connection refused: limit'), 'the forwarded warning');
    assert.equal(warn.level, 'warn');
    assert.equal(warn.worker, child);
    assert.ok(logs.every((l) => l.level !== 'debug'));
    offT();
    offL();
    await until(async () => (await forwarding())?.length === 0, 'child stops forwarding');
  });

  it('answers stats with the pid and memory of every child', async () => {
    const stats = await pool.stats();
    assert.equal(stats.length, 1);
    assert.equal(stats[0]!.pid, pool.pids[0]);
    assert.ok(stats[0]!.rss > 0 && stats[0]!.uptimeMs > 0);
  });

  it('re-forks a dead child on the same socket, but not beyond the storm guard', async () => {
    for (let i = 0; i < 2; i++) {
      const old = pool.pids[0]!;
      process.kill(old, 'SIGKILL');
      const next = await until(() => pool.pids.find((p) => p !== old), 're-forked child');
      assert.ok(next !== old);
      assert.match(await greeting(port), /^\+OK/);
    }
    assert.equal(pool.describe().restarts, 2);
    // A third death within the window: no more re-forks.
    const last = pool.pids[0]!;
    process.kill(last, 'SIGKILL');
    await until(() => exited(last), 'child gone');
    await sleep(500);
    assert.deepEqual(pool.pids, []);
    assert.equal(pool.describe().restarts, 2);
  });
});

describe("pooledServices with balance 'kernel'", () => {
  it('serves from the primary and the child on one listening socket; stop() leaves no child', async () => {
    const t = await startTestWharf({ set: { 'pop3.host': '127.0.0.1', 'pop3.port': 0, 'log.level': 'error' } });
    try {
      const { pop3Server } = await import('../pop3/server.js');
      const [svc] = pooledServices(t.wharf, { name: 'pop3', workers: 2, services: [pop3Server(t.wharf, 'pop3')], balance: 'kernel' });
      const [bound] = await svc!.start();
      const info = (await t.wharf.inspectors.get('workers:pop3')!()) as { balance: string; children: { pid: number }[] };
      assert.equal(info.balance, 'kernel');
      const child = info.children[0]!.pid;
      const seen = new Set<string>();
      const offT = t.wharf.bus.on('transcript', (ev) => seen.add(ev.session.includes('@') ? 'child' : 'primary'));
      await until(async () => ((await t.wharf.inspectors.get('workers:pop3')!()) as { forwarding: string[] }).forwarding.includes('transcript'), 'forwarding');
      // The kernel picks: connect until both have answered.
      for (let i = 0; i < 200 && seen.size < 2; i++) assert.match(await greeting(bound!.port), /^\+OK/);
      offT();
      assert.deepEqual([...seen].sort(), ['child', 'primary']);
      await svc!.stop(1000);
      assert.ok(exited(child) || (await until(() => exited(child), 'child gone', 3000)));
      assert.equal(t.wharf.sharedListeners.size, 0);
      await assert.rejects(greeting(bound!.port));
    } finally {
      await t.stop();
    }
  });
});

describe('a child whose primary dies', () => {
  it('exits when the IPC channel closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-test-pool-'));
    try {
      // Under tsx (sources) or built (dist/, what npm test runs): the same flavour for the primary.
      const ts = import.meta.url.endsWith('.ts');
      const helpers = fileURLToPath(new URL(`../../test/helpers/instance.${ts ? 'ts' : 'js'}`, import.meta.url));
      const script = join(dir, ts ? 'primary.mts' : 'primary.mjs');
      writeFileSync(
        script,
        `import { startTestWharf } from ${JSON.stringify(helpers)};
const t = await startTestWharf({ services: ['pop3'], set: { 'pop3.workers': 2, 'log.level': 'error' } });
const info = await t.wharf.inspectors.get('workers:pop3')();
process.stdout.write(JSON.stringify({ child: info.children[0].pid, port: t.port('pop3') }) + '\\n');
setInterval(() => {}, 1000);
`,
      );
      const primary = spawn(process.execPath, [...(ts ? ['--import', 'tsx'] : []), script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
      let out = '';
      primary.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const info = await until(() => (out.includes('\n') ? (JSON.parse(out) as { child: number; port: number }) : null), 'the primary started', 30_000);
      assert.ok(!exited(info.child));
      assert.match(await greeting(info.port), /^\+OK/);
      primary.kill('SIGKILL');
      await until(() => exited(info.child), 'the orphaned child exits', 10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      assert.ok(existsSync(dir) === false);
    }
  });
});
