// bench/imap: the same IMAP workload against Wharf and against Dovecot (Debian dovecot-imapd, run
// by this script on loopback over a temporary maildir), with the same client, and prints
// operations/s per phase for each, the ratio, and memory.
//
//   npm run bench -- imap [--clients K] [--messages N] [--size KB] [--rounds R] [--only wharf|dovecot]
//
// One mailbox of N messages of about KB KiB; K clients log in to it at once and, in lock step:
// LOGIN, SELECT, FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), two UID SEARCHes, 100 x UID FETCH
// BODY.PEEK[], 200 x UID STORE, LOGOUT (bench/lib/imap-load.ts). R rounds after one warm-up
// round (Dovecot builds its index then, Wharf warms its caches); the median round is reported.
// Wharf runs in this process with its defaults (fsync on; the mailbox is loaded with fsync off
// first, then the instance is reopened); "wharf rss" is this process's peak resident set during
// the measured rounds (the client's worker thread included; after a full GC of what loading the
// mailbox left), "dovecot rss" the peak sum over Dovecot's processes.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../src/config/load.js';
import { deliverLocal } from '../src/mail/deliver.js';
import { ingestBuffer } from '../src/mail/ingest.js';
import { Wharf } from '../src/wharf.js';
import { listenerSections } from '../test/helpers/instance.js';
import type { ImapLoadResult } from './lib/imap-load.js';
import { startDovecot } from './lib/dovecot.js';
import type { RunningDovecot } from './lib/dovecot.js';
import { printTable } from './lib/util.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    messages: { type: 'string', default: '10000' },
    size: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    /** Measure one server only (profiling: node --cpu-prof dist/bench/imap.js --only wharf). */
    only: { type: 'string', default: '' },
  },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
const SIZE_KB = Number(values.size);
const ROUNDS = Number(values.rounds);
const USER = 'bench@bench.test';
const PASSWORD = 'bench-password';
const PHASES = ['login', 'select', 'envelopes', 'search', 'bodies', 'store', 'logout'];

function message(i: number): string {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.round((SIZE_KB * 1024) / line.length)));
  const from = `"Sender ${i % 97}" <sender${i % 97}@crepes.fr>`;
  return `From: ${from}\r\nTo: "Bench" <${USER}>\r\nCc: team${i % 13}@bench.test\r\nSubject: message ${i} of the bench\r\nMessage-ID: <${i}@bench.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`;
}

/** One round of the workload in a worker thread. */
function load(port: number, round: number): Promise<ImapLoadResult> {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./lib/imap-load${ext}`, import.meta.url), {
    workerData: { port, clients: CLIENTS, messages: MESSAGES, user: USER, password: PASSWORD, round },
    execArgv: process.execArgv,
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: ImapLoadResult & { ok: boolean; error?: string }) => {
      void worker.terminate();
      if (m.ok) resolve(m);
      else reject(new Error(m.error));
    });
    worker.once('error', reject);
  });
}

/** A full garbage collection (the mailbox was loaded in this process: its garbage is not Wharf's). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

interface Measured {
  /** ops/s per phase (median round) */
  rates: Record<string, number>;
  /** workload rounds (K sessions each) per second, median */
  sessions: number;
  peakRss: number;
  startRss: number;
}

async function measure(name: string, port: number, rss: () => number): Promise<Measured> {
  collectGarbage();
  const startRss = rss();
  await load(port, 0); // warm-up: Dovecot's index, Wharf's caches
  const rounds: ImapLoadResult[] = [];
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 200);
  try {
    for (let r = 1; r <= ROUNDS; r++) rounds.push(await load(port, r));
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, rss());
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rates: Record<string, number> = {};
  for (const p of PHASES) rates[p] = median(rounds.map((r) => r.phases[p]!.ops / r.phases[p]!.secs));
  const sessions = median(rounds.map((r) => CLIENTS / r.total));
  console.error(`${name}: ${rounds.map((r) => `${r.total.toFixed(2)} s`).join(', ')} per round; ${PHASES.map((p) => `${p} ${rates[p]!.toFixed(1)}/s`).join(', ')}`);
  return { rates, sessions, peakRss: peak, startRss };
}

function wharfConfig(dir: string, fsync: boolean): Wharf {
  const set: Record<string, unknown> = { hostname: 'bench.test', 'auth.scrypt_cost': 10, 'log.level': 'error', 'queue.enabled': false, 'store.fsync': fsync };
  for (const s of listenerSections()) set[`${s}.enabled`] = s === 'imap';
  set['imap.port'] = 0;
  set['imap.max_per_ip'] = 1000;
  set['auth.throttle.free_attempts'] = 100_000;
  return new Wharf({ config: loadConfig({ overrides: set }), dataDir: join(dir, 'wharf'), logStream: null });
}

async function startWharf(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  // Load the mailbox without fsync (a throwaway instance), then reopen with the defaults.
  const loader = wharfConfig(dir, false);
  await loader.open();
  await loader.accounts.addDomain('bench.test');
  await loader.accounts.addUser(USER, PASSWORD);
  for (let i = 1; i <= MESSAGES; i++) {
    const stored = await ingestBuffer(loader.store.blobs, Buffer.from(message(i)));
    await deliverLocal(loader.store, { sender: 'alice@crepes.fr', blobId: stored.blobId, size: stored.size, meta: stored.meta }, [USER]);
  }
  await loader.stop();
  const wharf = wharfConfig(dir, true);
  await wharf.open();
  await wharf.start();
  return { port: wharf.address('imap').port, stop: () => wharf.stop() };
}

/** Resident set of a process and its children (Dovecot's master and its services), bytes. */
function treeRss(pid: number): number {
  const r = spawnSync('ps', ['-e', '-o', 'pid=,ppid=,rss='], { encoding: 'utf8' });
  let sum = 0;
  for (const line of r.stdout.split('\n')) {
    const [p, pp, rss] = line.trim().split(/\s+/).map(Number);
    if (p === pid || pp === pid) sum += (rss ?? 0) * 1024;
  }
  return sum;
}

function startImapDovecot(dir: string): Promise<RunningDovecot> {
  return startDovecot({ dir, protocol: 'imap', mailboxes: new Map([[USER, Array.from({ length: MESSAGES }, (_, i) => message(i + 1))]]), password: PASSWORD });
}

async function main(): Promise<void> {
  if (!existsSync('/usr/sbin/dovecot')) {
    console.error('bench/imap needs Dovecot: apt-get install dovecot-imapd (with a policy-rc.d that exits 101)');
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-imap-'));
  chmodSync(dir, 0o755); // Dovecot's auth process runs as the dovecot user and reads the passwd file
  try {
    console.error(`preparing a mailbox of ${MESSAGES} messages of ${SIZE_KB} KiB in each server ...`);
    if (values.only === 'wharf') {
      const wharf = await startWharf(dir);
      await measure('wharf', wharf.port, () => process.memoryUsage().rss);
      await wharf.stop();
      return;
    }
    if (values.only === 'dovecot') {
      const dovecot = await startImapDovecot(dir);
      process.once('exit', () => void dovecot.stop());
      await measure('dovecot', dovecot.port, () => treeRss(dovecot.pid));
      await dovecot.stop();
      return;
    }
    const wharf = await startWharf(dir);
    const dovecot = await startImapDovecot(dir);
    process.once('exit', () => void dovecot.stop());
    const w = await measure('wharf', wharf.port, () => process.memoryUsage().rss);
    const d = await measure('dovecot', dovecot.port, () => treeRss(dovecot.pid));
    await wharf.stop();
    await dovecot.stop();
    const rows: [string, string][] = [];
    const pad = (x: number) => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
    for (const p of PHASES) rows.push([p, `wharf ${pad(w.rates[p]!)} ops/s   dovecot ${pad(d.rates[p]!)} ops/s   ratio ${(w.rates[p]! / d.rates[p]!).toFixed(2)}`]);
    rows.push(['whole workload', `wharf ${pad(w.sessions)} sessions/s   dovecot ${pad(d.sessions)} sessions/s   ratio ${(w.sessions / d.sessions).toFixed(2)}`]);
    rows.push(['wharf rss (peak)', `${(w.peakRss / 1048576).toFixed(0)} MiB (${(w.startRss / 1048576).toFixed(0)} MiB before the first round)`]);
    rows.push(['dovecot rss (peak, all processes)', `${(d.peakRss / 1048576).toFixed(0)} MiB`]);
    printTable(`IMAP, ${CLIENTS} clients on one mailbox of ${MESSAGES} messages of ${SIZE_KB} KiB, median of ${ROUNDS} rounds`, rows);
  } finally {
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
