// bench/pop3: retrieves the same messages from Wharf's POP3 server and from Dovecot's
// (Debian dovecot-pop3d, run by this script on loopback over a temporary maildir), with the same
// client, and prints messages/s for each and the ratio.
//
//   npm run bench -- pop3 [--users K] [--messages N] [--size KB] [--rounds R] [--workers W]
//
// K clients run at once, one per user; each logs in, RETRs its N messages of about KB KiB, and
// QUITs (no DELE, so every round sees the same maildrop); R rounds after one warm-up round.
// --workers W sets pop3.workers (W processes share the listening socket; the rss reported is
// their sum). Dovecot runs its usual multi-process setup either way.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../src/config/load.js';
import { deliverLocal } from '../src/mail/deliver.js';
import { ingestBuffer } from '../src/mail/ingest.js';
import { Wharf } from '../src/wharf.js';
import { listenerSections } from '../test/helpers/instance.js';
import { freePort, printTable, waitForPort } from './lib/util.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '8' },
    messages: { type: 'string', default: '200' },
    size: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
  },
});
const USERS = Number(values.users);
const MESSAGES = Number(values.messages);
const SIZE_KB = Number(values.size);
const ROUNDS = Number(values.rounds);
const WORKERS = Number(values.workers);
const PASSWORD = 'bench-password';

function message(user: number, i: number): string {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.round((SIZE_KB * 1024) / line.length)));
  return `From: alice@crepes.fr\r\nTo: user${user}@bench.test\r\nSubject: message ${i}\r\nMessage-ID: <${user}.${i}@bench.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n${body}`;
}

/** K clients at once in a worker thread (its own event loop and core); messages per second. */
function load(port: number): Promise<{ rate: number; octets: number }> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./lib/pop3-load${ext}`, import.meta.url), {
    workerData: { port, users: USERS, messages: MESSAGES, password: PASSWORD },
    execArgv: process.execArgv,
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { ok: boolean; rate: number; octets: number; error?: string }) => {
      void worker.terminate();
      if (m.ok) resolve({ rate: m.rate, octets: m.octets });
      else reject(new Error(m.error));
    });
    worker.once('error', reject);
  });
}

async function measure(name: string, port: number): Promise<number> {
  await load(port); // warm-up: indexes, caches
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) rates.push((await load(port)).rate);
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  console.error(`${name}: ${rates.map((x) => x.toFixed(0)).join(', ')} messages/s`);
  return median;
}

/** Resident memory of one process, from /proc (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

async function startWharf(dir: string): Promise<{ port: number; stop: () => Promise<void>; rss: () => Promise<number> }> {
  const set: Record<string, unknown> = { hostname: 'bench.test', 'auth.scrypt_cost': 10, 'log.level': 'error', 'queue.enabled': false };
  for (const s of listenerSections()) set[`${s}.enabled`] = s === 'pop3';
  set['pop3.port'] = 0;
  set['pop3.max_per_ip'] = 1000;
  set['pop3.workers'] = WORKERS;
  set['auth.throttle.free_attempts'] = 1000;
  const wharf = new Wharf({ config: loadConfig({ overrides: set }), dataDir: join(dir, 'wharf'), logStream: null });
  await wharf.open();
  await wharf.accounts.addDomain('bench.test');
  for (let u = 0; u < USERS; u++) {
    const address = `user${u}@bench.test`;
    await wharf.accounts.addUser(address, PASSWORD);
    for (let i = 1; i <= MESSAGES; i++) {
      const stored = await ingestBuffer(wharf.store.blobs, Buffer.from(message(u, i)));
      await deliverLocal(wharf.store, { sender: 'alice@crepes.fr', blobId: stored.blobId, size: stored.size, meta: stored.meta }, [address]);
    }
  }
  await wharf.start();
  const rss = async (): Promise<number> => {
    const pool = (await wharf.inspectors.get('workers:pop3')?.()) as { children: { pid: number }[] } | undefined;
    return process.memoryUsage().rss + (pool?.children ?? []).reduce((sum, c) => sum + rssOf(c.pid), 0);
  };
  return { port: wharf.address('pop3').port, stop: () => wharf.stop(), rss };
}

async function startDovecot(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const d = join(dir, 'dovecot');
  mkdirSync(join(d, 'run'), { recursive: true });
  const users: string[] = [];
  for (let u = 0; u < USERS; u++) {
    const user = `user${u}@bench.test`;
    users.push(`${user}:{PLAIN}${PASSWORD}::::::`);
    const cur = join(d, 'mail', user, 'cur');
    mkdirSync(cur, { recursive: true });
    mkdirSync(join(d, 'mail', user, 'new'), { recursive: true });
    mkdirSync(join(d, 'mail', user, 'tmp'), { recursive: true });
    for (let i = 1; i <= MESSAGES; i++) {
      // Maildir stores LF line ends; Dovecot sends CRLF.
      writeFileSync(join(cur, `1700000000.M${i}P1.bench:2,`), `Return-Path: <alice@crepes.fr>\n${message(u, i).replace(/\r\n/g, '\n')}`);
    }
  }
  writeFileSync(join(d, 'passwd'), users.join('\n') + '\n');
  // Dovecot refuses to run mail processes as root: the mail belongs to nobody.
  spawnSync('chown', ['-R', 'nobody:nogroup', join(d, 'mail')]);
  mkdirSync(join(d, 'home'), { recursive: true });
  spawnSync('chown', ['-R', 'nobody:nogroup', join(d, 'home')]);
  const conf = join(d, 'dovecot.conf');
  writeFileSync(
    conf,
    `base_dir = ${join(d, 'run')}
state_dir = ${join(d, 'state')}
log_path = ${join(d, 'dovecot.log')}
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 100
mail_location = maildir:${join(d, 'mail')}/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${join(d, 'passwd')}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${join(d, 'home')}/%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener pop3s {
    port = 0
  }
  process_min_avail = 2
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
`,
  );
  const child = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: 'inherit' });
  await waitForPort(port);
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function main(): Promise<void> {
  if (!existsSync('/usr/sbin/dovecot')) {
    console.error('bench/pop3 needs Dovecot: apt-get install dovecot-pop3d (with a policy-rc.d that exits 101)');
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-pop3-'));
  chmodSync(dir, 0o755); // Dovecot's auth process runs as the dovecot user and reads the passwd file
  try {
    console.error(`preparing ${USERS} users x ${MESSAGES} messages of ${SIZE_KB} KiB in each server ...`);
    const wharf = await startWharf(dir);
    const dovecot = await startDovecot(dir);
    process.once('exit', () => void dovecot.stop());
    const w = await measure('wharf', wharf.port);
    const d = await measure('dovecot', dovecot.port);
    const rss = await wharf.rss();
    await wharf.stop();
    await dovecot.stop();
    printTable(`POP3 RETR, ${USERS} clients x ${MESSAGES} messages of ${SIZE_KB} KiB, median of ${ROUNDS}, pop3.workers ${WORKERS}`, [
      ['wharf', `${w.toFixed(0)} messages/s`],
      ['dovecot', `${d.toFixed(0)} messages/s`],
      ['ratio wharf/dovecot', (w / d).toFixed(2)],
      ['wharf rss', `${(rss / 1048576).toFixed(0)} MiB`],
    ]);
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
