// bench/smtp: Postfix's load generator smtp-source (Debian `postfix`, /usr/sbin/smtp-source)
// sends the same number of messages, of the same size, over the same number of parallel
// sessions to Wharf's MX listener and to a Postfix instance (bench/lib/postfix.ts), both
// delivering to a local mailbox durably: Wharf answers 250 after the INBOX row and the blob are
// fsynced (store.fsync on); Postfix after its queue file is fsynced, and its virtual(8) agent
// then writes the Maildir file (also fsynced). Prints messages/s for each, the ratio, Postfix's
// rate until the last message is in the Maildir, and Wharf's peak RSS (VmHWM of the server
// process, plus its worker children's with --workers).
//
//   npm run bench -- smtp [--messages N] [--size KB] [--sessions S] [--workers N] [--reuse] [--only wharf] [--set key=value ...]
//
// --only wharf skips Postfix (quick before/after comparisons of a change to Wharf).
// --workers N sets smtp.workers: the MX listener served by N processes (src/smtp/service.ts);
// with SQLite they all write one database file, taking turns on its write lock.
// The last line, Wharf's CPU time per message (all its processes, user + system), is what a
// busy shared machine distorts least. Leave a minute or so between runs: perf showed ext4's
// inode allocation for the blob files (find_inode_bit, recently_deleted) taking a quarter of
// Wharf's CPU right after another run had deleted its thousands of files, far less after a pause.
//
// --set passes config to the Wharf server (e.g. store.engine=postgres; store.fsync=false only to
// see what durability costs: the figures are then not comparable).
// --reuse sends every session's messages over one connection (smtp-source -d); by default each
// message gets its own connection, as MX traffic does. One warm-up run precedes each measurement.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { Wharf } from '../src/wharf.js';
import { spawnWharf } from '../test/helpers/cli.js';
import { listenerSections } from '../test/helpers/instance.js';
import { havePostfix, POSTFIX_PACKAGES, SMTP_SOURCE, startPostfix } from './lib/postfix.js';
import { printTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '4' },
    sessions: { type: 'string', default: '20' },
    reuse: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
    /** Extra Wharf config, e.g. --set store.engine=postgres (repeatable). */
    set: { type: 'string', multiple: true, default: [] },
  },
});
const MESSAGES = Number(values.messages);
const SIZE = Math.round(Number(values.size) * 1024);
const SESSIONS = Number(values.sessions);
const WORKERS = Number(values.workers);
/** USER_HZ: the unit of /proc/PID/stat times (100 on Linux). */
const CLOCK_TICKS = 100;
const WARMUP = Math.max(SESSIONS, Math.min(200, Math.round(MESSAGES / 10)));
const DOMAIN = 'bench.test';
const RCPT = `bench@${DOMAIN}`;

/** Runs smtp-source against host:port; resolves with the wall time in seconds. */
function smtpSource(port: number, messages: number): Promise<number> {
  const args = ['-s', String(SESSIONS), '-m', String(messages), '-l', String(SIZE), '-f', 'sender@source.test', '-t', RCPT, '-M', 'source.test'];
  if (values.reuse) args.unshift('-d');
  args.push(`127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      // smtp-source exits non-zero, or complains on stderr, on any refused message.
      if (code !== 0 || /fatal|error|warning/i.test(stderr)) reject(new Error(`smtp-source exited ${code}: ${stderr.slice(0, 2000)}`));
      else resolve(secs);
    });
  });
}

function overrides(): Record<string, unknown> {
  const set: Record<string, unknown> = { hostname: 'wharf.bench.test', 'auth.scrypt_cost': 10, 'log.level': 'error', 'queue.enabled': false, 'store.fsync': true };
  for (const s of listenerSections()) set[`${s}.enabled`] = false;
  // --set store.* must reach the instances that create the user and count the INBOX too.
  for (const kv of values.set!) {
    const i = kv.indexOf('=');
    if (i > 0 && kv.startsWith('store.')) set[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return set;
}

async function startWharf(dir: string): Promise<{ port: number; child: ChildProcess; peakRss: () => number; cpu: () => number[]; stop: () => Promise<void> }> {
  const setup = new Wharf({ config: loadConfig({ overrides: overrides() }), dataDir: dir, logStream: null });
  await setup.open();
  await setup.accounts.addDomain(DOMAIN);
  await setup.accounts.addUser(RCPT, 'bench-password');
  await setup.stop();
  const set = { ...overrides(), 'smtp.enabled': true, 'smtp.host': '127.0.0.1', 'smtp.port': 0, 'smtp.max_per_ip': 10_000, 'smtp.max_connections': 10_000, 'smtp.workers': WORKERS };
  const args = [...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]), ...values.set!.flatMap((kv) => ['--set', kv])];
  const child = spawnWharf(['start', '--data', dir, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^smtp\s+tcp\s+127\.0\.0\.1:(\d+)/m.exec(out);
      if (m && out.includes('listener')) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error('wharf start exited early')));
  });
  return {
    port,
    child,
    // VmHWM: a process's peak resident set size, in kB; the server's plus its worker children's.
    peakRss: () => [child.pid!, ...childPids(child.pid!)].reduce((sum, pid) => sum + vmHwm(pid), 0),
    // CPU seconds (user + system) so far, the server's first, then each worker child's.
    cpu: () => [child.pid!, ...childPids(child.pid!)].map(cpuSecs),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function vmHwm(pid: number): number {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0; // gone
  }
}

/** A live process's user + system CPU time, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSecs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The direct children of a process (the worker pool's), from /proc. */
function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

async function countInbox(dir: string): Promise<number> {
  const w = new Wharf({ config: loadConfig({ overrides: overrides() }), dataDir: dir, logStream: null });
  await w.open();
  try {
    const acc = (await w.store.getAccount(RCPT))!;
    const box = (await w.store.getMailbox(acc.id, 'INBOX'))!;
    return (await w.store.listMessages(box.id)).length;
  } finally {
    await w.stop();
  }
}

async function main(): Promise<void> {
  if (!havePostfix() || !existsSync(SMTP_SOURCE)) {
    console.error(`bench/smtp needs Postfix and smtp-source: apt-get install ${POSTFIX_PACKAGES.join(' ')} (with a policy-rc.d that exits 101)`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-smtp-'));
  if (values.set!.length) console.error(`wharf config: ${values.set!.join(' ')}`);
  const shape = `${MESSAGES} messages of ${values.size} KiB over ${SESSIONS} sessions${values.reuse ? ' (connections reused)' : ' (a connection per message)'}${WORKERS > 1 ? `, smtp.workers=${WORKERS}` : ''}`;
  console.error(`smtp-source: ${shape}, after a warm-up of ${WARMUP} ...`);
  let wharf: Awaited<ReturnType<typeof startWharf>> | null = null;
  let postfix: Awaited<ReturnType<typeof startPostfix>> | null = null;
  try {
    wharf = await startWharf(join(dir, 'wharf'));
    await smtpSource(wharf.port, WARMUP);
    const cpu0 = wharf.cpu();
    const wSecs = await smtpSource(wharf.port, MESSAGES);
    const cpu1 = wharf.cpu();
    const rss = wharf.peakRss();
    // CPU per message is what a busy, shared machine distorts least; per process shows the spread.
    const perProcess = cpu1.map((c, i) => c - (cpu0[i] ?? 0));
    const cpuMs = (perProcess.reduce((a, b) => a + b, 0) * 1000) / MESSAGES;
    const cpuRow: [string, string] = ['wharf cpu per message', `${cpuMs.toFixed(2)} ms${perProcess.length > 1 ? ` (${perProcess.map((c) => `${c.toFixed(1)} s`).join(' + ')})` : ''}`];
    await wharf.stop();
    wharf = null;
    const stored = await countInbox(join(dir, 'wharf'));
    if (stored !== WARMUP + MESSAGES) throw new Error(`Wharf's INBOX holds ${stored} messages, expected ${WARMUP + MESSAGES}`);
    console.error(`wharf: ${(MESSAGES / wSecs).toFixed(0)} messages/s, ${cpuMs.toFixed(2)} ms cpu per message`);
    if (values.only === 'wharf') {
      printTable(`SMTP in, durable, smtp-source: ${shape}`, [
        ['wharf (250 = in the INBOX)', `${(MESSAGES / wSecs).toFixed(0)} messages/s`],
        [`wharf peak rss${WORKERS > 1 ? ` (${WORKERS} processes)` : ''}`, `${(rss / 1048576).toFixed(0)} MiB`],
        cpuRow,
      ]);
      return;
    }

    postfix = await startPostfix({ domain: DOMAIN, users: ['bench'], maxProcs: Math.max(100, SESSIONS * 2) });
    const pf = postfix;
    const until = async (n: number, ms: number) => {
      const end = Date.now() + ms;
      while (pf.count('bench') < n) {
        if (Date.now() > end) throw new Error(`Postfix delivered ${pf.count('bench')} of ${n}\n${pf.log().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await smtpSource(pf.port, WARMUP);
    await until(WARMUP, 60_000);
    const start = process.hrtime.bigint();
    const pSecs = await smtpSource(pf.port, MESSAGES);
    await until(WARMUP + MESSAGES, 120_000);
    const pDeliveredSecs = Number(process.hrtime.bigint() - start) / 1e9;
    console.error(`postfix: ${(MESSAGES / pSecs).toFixed(0)} messages/s accepted, ${(MESSAGES / pDeliveredSecs).toFixed(0)} messages/s into the Maildir`);
    await pf.stop();
    postfix = null;

    const w = MESSAGES / wSecs;
    const p = MESSAGES / pSecs;
    printTable(`SMTP in, durable, smtp-source: ${shape}`, [
      ['wharf (250 = in the INBOX)', `${w.toFixed(0)} messages/s`],
      ['postfix (250 = in the queue)', `${p.toFixed(0)} messages/s`],
      ['ratio wharf/postfix', (w / p).toFixed(2)],
      ['postfix until in the Maildir', `${(MESSAGES / pDeliveredSecs).toFixed(0)} messages/s`],
      [`wharf peak rss${WORKERS > 1 ? ` (${WORKERS} processes)` : ''}`, `${(rss / 1048576).toFixed(0)} MiB`],
      cpuRow,
    ]);
  } finally {
    await wharf?.stop();
    await postfix?.stop();
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
