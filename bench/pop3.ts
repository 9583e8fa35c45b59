// bench/pop3: retrieves the same messages from Wharf's POP3 server and from Dovecot's
// (Debian dovecot-pop3d, run by this script on loopback over a temporary maildir), with the same
// client, and prints messages/s for each and the ratio.
//
//   npm run bench -- pop3 [--users K] [--messages N] [--size KB] [--rounds R] [--workers W]
//                         [--only wharf|dovecot] [--dovecot-scheme SHA512-CRYPT|PLAIN]
//
// K clients run at once, one per user; each logs in, RETRs its N messages of about KB KiB, and
// QUITs (no DELE, so every round sees the same maildrop); R rounds after one warm-up round.
// --workers W sets pop3.workers (W processes share the listening socket; the rss reported is
// their sum). Dovecot runs its usual multi-process setup either way. --only runs one server
// (profiling: `node --cpu-prof --import tsx bench/pop3.ts --only wharf`).
//
// The load runs in a child process, so the CPU time each server spent (all its processes and
// threads, the client excluded) is measured too and printed as µs per message: on a shared
// machine it is steadier than messages/s.
//
// Fairness of the login: every round logs K users in. Wharf's passwords are scrypt hashes with
// auth.scrypt_cost 10 (the schema's minimum, N = 2^10: about 1.9 ms of CPU per check here);
// Dovecot's are {SHA512-CRYPT} with 9000 rounds (about the same CPU: 1.9 ms), made by
// `doveadm pw`, so both servers pay a comparable hash per login. --dovecot-scheme PLAIN gives
// Dovecot clear-text passwords instead (no hashing at all: its login is then cheaper).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { deliverLocal } from '../src/mail/deliver.js';
import { ingestBuffer } from '../src/mail/ingest.js';
import { Wharf } from '../src/wharf.js';
import { listenerSections } from '../test/helpers/instance.js';
import { startDovecot } from './lib/dovecot.js';
import { printTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '8' },
    messages: { type: 'string', default: '200' },
    size: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    only: { type: 'string' },
    'dovecot-scheme': { type: 'string', default: 'SHA512-CRYPT' },
  },
});
const USERS = Number(values.users);
const MESSAGES = Number(values.messages);
const SIZE_KB = Number(values.size);
const ROUNDS = Number(values.rounds);
const WORKERS = Number(values.workers);
const ONLY = values.only;
if (ONLY !== undefined && ONLY !== 'wharf' && ONLY !== 'dovecot') throw new Error('--only wharf|dovecot');
const DOVECOT_SCHEME = values['dovecot-scheme']!.toUpperCase();
if (DOVECOT_SCHEME !== 'SHA512-CRYPT' && DOVECOT_SCHEME !== 'PLAIN') throw new Error('--dovecot-scheme SHA512-CRYPT|PLAIN');
const PASSWORD = 'bench-password';
/** SHA512-CRYPT rounds whose CPU cost matches scrypt with ln=10, r=8, p=1 (both ~1.9 ms here). */
const SHA512_ROUNDS = 9000;

function message(user: number, i: number): string {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.round((SIZE_KB * 1024) / line.length)));
  return `From: alice@crepes.fr\r\nTo: user${user}@bench.test\r\nSubject: message ${i}\r\nMessage-ID: <${user}.${i}@bench.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n${body}`;
}

/** K clients at once in a child process (its own event loop and core); messages per second. */
function load(port: number): Promise<{ rate: number; octets: number }> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const file = new URL(`./lib/pop3-load${ext}`, import.meta.url).pathname;
  const input = JSON.stringify({ port, users: USERS, messages: MESSAGES, password: PASSWORD });
  const child = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), file, input], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let answer: { ok: boolean; rate: number; octets: number; error?: string } | undefined;
    child.once('message', (m: typeof answer) => (answer = m));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (answer?.ok) resolve({ rate: answer.rate, octets: answer.octets });
      else reject(new Error(answer?.error ?? `load exited with ${code}`));
    });
  });
}

interface Measured {
  rate: number;
  /** Server CPU time per message retrieved, µs (median round). */
  cpuPerMessage: number;
}

async function measure(name: string, port: number, cpu: () => number): Promise<Measured> {
  await load(port); // warm-up: indexes, caches
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = cpu();
    rates.push((await load(port)).rate);
    cpus.push((cpu() - before) / (USERS * MESSAGES));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.error(`${name}: ${rates.map((x) => x.toFixed(0)).join(', ')} messages/s; server CPU ${cpus.map((x) => x.toFixed(0)).join(', ')} µs/message`);
  return { rate: median(rates), cpuPerMessage: median(cpus) };
}

/** utime+stime and (reaped children) cutime+cstime of a process, µs; 0 when it is gone. */
function cpuOfPid(pid: number, reaped: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    const ticks = Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
    return (ticks * 1e6) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU of a process tree (the pop3 processes Dovecot has reaped included), µs. */
function cpuOfTree(root: number): number {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  let sum = 0;
  const walk = (pid: number) => {
    sum += cpuOfPid(pid, true);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return sum;
}

/** Resident memory of one process, from /proc (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

async function startWharf(dir: string): Promise<{ port: number; stop: () => Promise<void>; rss: () => Promise<number>; cpu: () => number }> {
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
  // This process (every thread: the server, the thread pool's scrypt and file reads, GC) and
  // the pool's children; not the load, a child that is reaped after each round.
  const pool = (await wharf.inspectors.get('workers:pop3')?.()) as { children: { pid: number }[] } | undefined;
  const cpu = (): number => {
    const u = process.cpuUsage();
    return u.user + u.system + (pool?.children ?? []).reduce((sum, c) => sum + cpuOfPid(c.pid, false), 0);
  };
  return { port: wharf.address('pop3').port, stop: () => wharf.stop(), rss, cpu };
}

async function startPop3Dovecot(dir: string): Promise<{ port: number; stop: () => Promise<void>; cpu: () => number }> {
  const mailboxes = new Map<string, string[]>();
  for (let u = 0; u < USERS; u++) mailboxes.set(`user${u}@bench.test`, Array.from({ length: MESSAGES }, (_, i) => message(u, i + 1)));
  const scheme = DOVECOT_SCHEME === 'SHA512-CRYPT' ? { name: 'SHA512-CRYPT' as const, rounds: SHA512_ROUNDS } : { name: 'PLAIN' as const };
  const d = await startDovecot({ dir, protocol: 'pop3', mailboxes, password: PASSWORD, scheme });
  return { port: d.port, stop: d.stop, cpu: () => cpuOfTree(d.pid) };
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
    const rows: [string, string][] = [];
    let w: Measured | undefined;
    let d: Measured | undefined;
    if (ONLY !== 'dovecot') {
      const wharf = await startWharf(dir);
      w = await measure('wharf', wharf.port, wharf.cpu);
      const rss = await wharf.rss();
      await wharf.stop();
      rows.push(['wharf', `${w.rate.toFixed(0)} messages/s, server CPU ${w.cpuPerMessage.toFixed(0)} µs/message`], ['wharf rss', `${(rss / 1048576).toFixed(0)} MiB`]);
    }
    if (ONLY !== 'wharf') {
      const dovecot = await startPop3Dovecot(dir);
      process.once('exit', () => void dovecot.stop());
      d = await measure('dovecot', dovecot.port, dovecot.cpu);
      await dovecot.stop();
      rows.push(['dovecot', `${d.rate.toFixed(0)} messages/s, server CPU ${d.cpuPerMessage.toFixed(0)} µs/message`]);
    }
    if (w && d) {
      rows.push(['ratio wharf/dovecot', `${(w.rate / d.rate).toFixed(2)} (messages/s), ${(d.cpuPerMessage / w.cpuPerMessage).toFixed(2)} (CPU per message)`]);
    }
    printTable(
      `POP3 RETR, ${USERS} clients x ${MESSAGES} messages of ${SIZE_KB} KiB, median of ${ROUNDS}, pop3.workers ${WORKERS}, passwords scrypt ln=10 / ${DOVECOT_SCHEME === 'PLAIN' ? 'PLAIN' : `SHA512-CRYPT ${SHA512_ROUNDS}`}`,
      rows,
    );
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
