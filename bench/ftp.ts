// bench/ftp: uploads and downloads the same files to and from Wharf's FTP server and Debian's
// vsftpd (run by this script on loopback with its own config, bench/lib/vsftpd.ts), with the same
// client, and prints MB/s (large files) and files/s (small files) for each, the ratios, and
// Wharf's peak RSS during the large transfers (it must stay flat: streams, not buffers).
//
//   npm run bench -- ftp [--clients K] [--large N] [--large-mb M] [--small S] [--small-kb KB] [--no-fsync]
//
// Defaults: 4 clients; 4 files of 256 MiB (1 GiB in all) and 1,000 files of 4 KiB. K clients run
// at once, each on its own control connection, taking files in turn; every transfer is TYPE I over
// its own PASV data connection (RFC 959 §3.2, §4.1.2). Both servers run side by side and each
// phase (large up, large down, small up, small down) runs on Wharf and then at once on vsftpd, so
// on a shared machine both see about the same load. Wharf runs in a child process so its RSS is
// its own (sampled from /proc/<pid>/status every 50 ms), not the client's; the child also reports
// process.memoryUsage() at its RSS peak (V8 heap vs external/ArrayBuffer memory).
//
// Fairness: Wharf fsyncs every upload before its 226 (store.fsync, principle "durable before the
// reply"); vsftpd never fsyncs. --no-fsync turns Wharf's off to compare the protocol paths alone.
// vsftpd needs root (PAM login of a system user, created here as `wharfbench` when missing).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { printTable } from './lib/util.js';
import { VSFTPD_PASSWORD, VSFTPD_USER, startVsftpd, vsftpdAvailable } from './lib/vsftpd.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    large: { type: 'string', default: '4' },
    'large-mb': { type: 'string', default: '256' },
    small: { type: 'string', default: '1000' },
    'small-kb': { type: 'string', default: '4' },
    'no-fsync': { type: 'boolean', default: false },
    // internal: run as the Wharf server process (data dir, fsync on/off)
    'child-wharf': { type: 'string' },
  },
});

const WHARF_USER = 'bench@bench.test';
const PASSWORD = 'bench-password-7';
const MiB = 1024 * 1024;

// ---- the Wharf server, in its own process ------------------------------------------------------

async function childWharf(dataDir: string): Promise<void> {
  const { loadConfig } = await import('../src/config/load.js');
  const { Wharf } = await import('../src/wharf.js');
  const { listenerSections } = await import('../test/helpers/instance.js');
  const set: Record<string, unknown> = {
    hostname: 'bench.test',
    'auth.scrypt_cost': 10,
    'log.level': 'error',
    'queue.enabled': false,
    'store.fsync': !values['no-fsync'],
    'auth.throttle.free_attempts': 1000,
  };
  for (const s of listenerSections()) set[`${s}.enabled`] = s === 'ftp';
  set['ftp.host'] = '127.0.0.1';
  set['ftp.port'] = 0;
  set['ftp.max_per_ip'] = 1000;
  set['ftp.max_connections'] = 1000;
  const wharf = new Wharf({ config: loadConfig({ overrides: set }), dataDir, logStream: null });
  await wharf.open();
  await wharf.accounts.addDomain('bench.test');
  await wharf.accounts.addUser(WHARF_USER, PASSWORD);
  await wharf.start();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await wharf.stop();
    process.exit(0);
  };
  // The breakdown of memory at the highest RSS seen since the last 'mem-reset' (V8 heap vs
  // external/ArrayBuffer memory), sampled every 50 ms like the parent's RSS.
  let peak: NodeJS.MemoryUsage = process.memoryUsage();
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss > peak.rss) peak = m;
  }, 50);
  sampler.unref();
  process.on('message', (m) => {
    if (m === 'stop') void stop();
    else if (m === 'mem-reset') peak = process.memoryUsage();
    else if (m === 'mem') process.send!({ mem: peak });
  });
  process.on('disconnect', () => void stop());
  process.send!({ port: wharf.address('ftp').port });
}

interface WharfChild {
  port: number;
  pid: number;
  /** process.memoryUsage() of the child at its highest RSS since memReset(). */
  memAtPeak(): Promise<NodeJS.MemoryUsage>;
  memReset(): void;
  stop(): Promise<void>;
}

async function startWharfChild(dataDir: string): Promise<WharfChild> {
  const args = [...process.execArgv, process.argv[1]!, '--child-wharf', dataDir];
  if (values['no-fsync']) args.push('--no-fsync');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the Wharf process exited (${code}) before listening`)));
  });
  return {
    port,
    pid: child.pid!,
    memReset: () => child.send('mem-reset'),
    memAtPeak: () =>
      new Promise((resolve) => {
        const on = (m: unknown) => {
          if (m && typeof m === 'object' && 'mem' in m) {
            child.off('message', on);
            resolve((m as { mem: NodeJS.MemoryUsage }).mem);
          }
        };
        child.on('message', on);
        child.send('mem');
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.send('stop');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** VmRSS (or another field) of a process in bytes, from /proc. */
function procMem(pid: number, field = 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }
  private sample(): void {
    this.peak = Math.max(this.peak, procMem(this.pid));
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

// ---- a small FTP client over node:net ------------------------------------------------------------

interface Reply {
  code: number;
  text: string;
}

class BenchFtp {
  private socket!: net.Socket;
  private buf = '';
  private lines: string[] = [];
  private waiting: (() => void) | null = null;
  private closed = false;
  private error: Error | null = null;

  static async connect(port: number, user: string, password: string): Promise<BenchFtp> {
    const c = new BenchFtp();
    await new Promise<void>((resolve, reject) => {
      c.socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, resolve);
      c.socket.once('error', reject);
    });
    c.socket.setEncoding('latin1');
    c.socket.on('data', (d: string) => {
      c.buf += d;
      let i: number;
      while ((i = c.buf.indexOf('\r\n')) >= 0) {
        c.lines.push(c.buf.slice(0, i));
        c.buf = c.buf.slice(i + 2);
      }
      c.wake();
    });
    c.socket.on('error', (e) => {
      c.error = e;
      c.wake();
    });
    c.socket.on('close', () => {
      c.closed = true;
      c.wake();
    });
    await c.expect(null, 220);
    await c.expect(`USER ${user}`, 331);
    await c.expect(`PASS ${password}`, 230);
    await c.expect('TYPE I', 200);
    return c;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private async line(): Promise<string> {
    for (;;) {
      const l = this.lines.shift();
      if (l !== undefined) return l;
      if (this.error) throw this.error;
      if (this.closed) throw new Error('control connection closed');
      await new Promise<void>((r) => (this.waiting = r));
    }
  }

  /** One reply, multi-line ones included (RFC 959 §4.2: "123-" ... "123 "). */
  async reply(): Promise<Reply> {
    const first = await this.line();
    const code = Number(first.slice(0, 3));
    let text = first;
    if (first[3] === '-') {
      for (;;) {
        const l = await this.line();
        text += '\n' + l;
        if (l.startsWith(`${first.slice(0, 3)} `)) break;
      }
    }
    return { code, text };
  }

  async expect(cmd: string | null, ...codes: number[]): Promise<Reply> {
    if (cmd !== null) this.socket.write(cmd + '\r\n');
    const r = await this.reply();
    if (!codes.includes(r.code)) throw new Error(`${cmd ?? 'greeting'}: ${r.text}`);
    return r;
  }

  /** PASV (RFC 959 §4.1.1): the data connection, connected. */
  private async pasv(): Promise<net.Socket> {
    const r = await this.expect('PASV', 227);
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r.text);
    if (!m) throw new Error(`bad 227: ${r.text}`);
    const host = `${m[1]}.${m[2]}.${m[3]}.${m[4]}`;
    const port = Number(m[5]) * 256 + Number(m[6]);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, noDelay: true }, () => resolve(s));
      s.once('error', reject);
    });
  }

  /** STOR: `size` bytes of `pattern` (repeated), written with backpressure. */
  async stor(name: string, pattern: Buffer, size: number): Promise<void> {
    const data = await this.pasv();
    const dataDone = new Promise<void>((resolve, reject) => {
      data.once('close', () => resolve());
      data.once('error', reject);
    });
    await this.expect(`STOR ${name}`, 150, 125);
    let left = size;
    while (left > 0) {
      const n = Math.min(left, pattern.length);
      left -= n;
      if (!data.write(n === pattern.length ? pattern : pattern.subarray(0, n))) {
        await new Promise<void>((r, j) => {
          const onClose = () => j(new Error(`data connection closed in STOR ${name}`));
          data.once('close', onClose);
          data.once('drain', () => {
            data.off('close', onClose);
            r();
          });
        });
      }
    }
    data.end();
    await this.expect(null, 226, 250);
    await dataDone;
  }

  /** RETR: resolves the bytes received (and the content when `keep`). */
  async retr(name: string, keep = false): Promise<{ bytes: number; content: Buffer | null }> {
    const data = await this.pasv();
    let bytes = 0;
    const chunks: Buffer[] = [];
    const dataDone = new Promise<void>((resolve, reject) => {
      data.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      data.once('end', () => resolve());
      data.once('error', reject);
    });
    await this.expect(`RETR ${name}`, 150, 125);
    await dataDone;
    await this.expect(null, 226, 250);
    data.destroy();
    return { bytes, content: keep ? Buffer.concat(chunks) : null };
  }

  async quit(): Promise<void> {
    await this.expect('QUIT', 221).catch(() => {});
    this.socket.destroy();
  }
}

// ---- the load ----------------------------------------------------------------------------------

const CLIENTS = Number(values.clients);
const LARGE = Number(values.large);
const LARGE_BYTES = Number(values['large-mb']) * MiB;
const SMALL = Number(values.small);
const SMALL_BYTES = Number(values['small-kb']) * 1024;
const pattern = randomBytes(MiB);

function smallContent(i: number): Buffer {
  const head = Buffer.from(`small file ${i}\n`);
  return Buffer.concat([head, pattern.subarray(i % 1024, i % 1024 + Math.max(0, SMALL_BYTES - head.length))]);
}

/** K clients at once, each taking the next file index until all `count` are done; seconds. */
async function parallel(port: number, user: string, password: string, count: number, each: (c: BenchFtp, i: number) => Promise<void>): Promise<number> {
  const clients = await Promise.all(Array.from({ length: Math.min(CLIENTS, Math.max(count, 1)) }, () => BenchFtp.connect(port, user, password)));
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = next++; i < count; i = next++) await each(c, i);
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await Promise.all(clients.map((c) => c.quit()));
  return secs;
}

interface Result {
  upMBs: number;
  downMBs: number;
  smallUp: number;
  smallDown: number;
}

interface Target {
  name: string;
  port: number;
  user: string;
  password: string;
}

async function warmUp(t: Target): Promise<void> {
  const setup = await BenchFtp.connect(t.port, t.user, t.password);
  await setup.expect('MKD small', 257, 550);
  await setup.expect('MKD warm', 257, 550);
  await setup.quit();
  // Warm-up (JIT, caches, the passive port path) on files that are not measured.
  await parallel(t.port, t.user, t.password, 50, (c, i) => c.stor(`warm/w${i}`, smallContent(i), SMALL_BYTES));
  await parallel(t.port, t.user, t.password, 50, async (c, i) => void (await c.retr(`warm/w${i}`)));
}

/** The four measured phases, each in seconds. */
const PHASES: Record<keyof Result, (t: Target) => Promise<number>> = {
  upMBs: (t) => parallel(t.port, t.user, t.password, LARGE, (c, i) => c.stor(`large${i}.bin`, pattern, LARGE_BYTES)),
  downMBs: (t) =>
    parallel(t.port, t.user, t.password, LARGE, async (c, i) => {
      const { bytes } = await c.retr(`large${i}.bin`);
      if (bytes !== LARGE_BYTES) throw new Error(`${t.name}: large${i}.bin came back with ${bytes} bytes, expected ${LARGE_BYTES}`);
    }),
  smallUp: (t) => parallel(t.port, t.user, t.password, SMALL, (c, i) => c.stor(`small/f${i}`, smallContent(i), SMALL_BYTES)),
  smallDown: (t) =>
    parallel(t.port, t.user, t.password, SMALL, async (c, i) => {
      const { content } = await c.retr(`small/f${i}`, true);
      if (!content!.equals(smallContent(i))) throw new Error(`${t.name}: small/f${i} came back different`);
    }),
};

async function main(): Promise<void> {
  if (!vsftpdAvailable()) {
    console.error('bench/ftp needs vsftpd: apt-get install -y vsftpd (with a policy-rc.d that exits 101); and root, for its PAM login');
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wharf-bench-ftp-'));
  chmodSync(dir, 0o755); // vsftpd's session runs as the bench user and must reach its root
  const cleanups: (() => Promise<void>)[] = [];
  try {
    console.error(`${CLIENTS} clients; ${LARGE} x ${LARGE_BYTES / MiB} MiB and ${SMALL} x ${SMALL_BYTES / 1024} KiB files; wharf fsync ${values['no-fsync'] ? 'off' : 'on'}`);
    mkdirSync(join(dir, 'wharf'));
    const wharf = await startWharfChild(join(dir, 'wharf'));
    cleanups.push(wharf.stop);
    await new Promise((r) => setTimeout(r, 500));
    const idle = procMem(wharf.pid); // listening, nothing served yet
    mkdirSync(join(dir, 'vsftpd'));
    const vs = await startVsftpd({ dir: join(dir, 'vsftpd'), root: join(dir, 'vsftpd', 'root'), user: VSFTPD_USER, password: VSFTPD_PASSWORD });
    cleanups.push(vs.stop);
    const wt: Target = { name: 'wharf', port: wharf.port, user: WHARF_USER, password: PASSWORD };
    const vt: Target = { name: 'vsftpd', port: vs.port, user: VSFTPD_USER, password: VSFTPD_PASSWORD };
    await warmUp(wt);
    await warmUp(vt);

    // Each phase runs on Wharf, then at once on vsftpd: on a shared machine both see about the
    // same load. Wharf's RSS is sampled through the large phases (it is idle during vsftpd's).
    const rssBase = procMem(wharf.pid);
    const sampler = new RssSampler(wharf.pid);
    wharf.memReset();
    const w = {} as Result;
    const v = {} as Result;
    const total = LARGE * LARGE_BYTES;
    let rssPeak = 0;
    let memPeak: NodeJS.MemoryUsage | null = null;
    for (const phase of ['upMBs', 'downMBs', 'smallUp', 'smallDown'] as const) {
      const per = phase === 'upMBs' || phase === 'downMBs' ? total / MiB : SMALL;
      // sync(1) first: one server's dirty pages are not written back during the other's phase.
      spawnSync('sync');
      w[phase] = per / (await PHASES[phase](wt));
      spawnSync('sync');
      v[phase] = per / (await PHASES[phase](vt));
      if (phase === 'downMBs') {
        rssPeak = sampler.stop();
        memPeak = await wharf.memAtPeak();
      }
    }
    const hwm = procMem(wharf.pid, 'VmHWM');
    for (const [name, r] of [['wharf', w], ['vsftpd', v]] as const) {
      console.error(`${name}: large up ${r.upMBs.toFixed(0)} MB/s, down ${r.downMBs.toFixed(0)} MB/s; small up ${r.smallUp.toFixed(0)} files/s, down ${r.smallDown.toFixed(0)} files/s`);
    }
    await wharf.stop();
    await vs.stop();

    const mb = (x: number) => `${x.toFixed(0)} MB/s`;
    const fs = (x: number) => `${x.toFixed(0)} files/s`;
    const mib = (x: number | undefined) => `${((x ?? 0) / MiB).toFixed(0)} MiB`;
    printTable(`FTP, ${CLIENTS} clients: ${LARGE} x ${LARGE_BYTES / MiB} MiB files (MB = MiB), ${SMALL} x ${SMALL_BYTES / 1024} KiB files; wharf fsync ${values['no-fsync'] ? 'off' : 'on'}`, [
      ['wharf  large upload', mb(w.upMBs)],
      ['vsftpd large upload', mb(v.upMBs)],
      ['ratio wharf/vsftpd', (w.upMBs / v.upMBs).toFixed(2)],
      ['wharf  large download', mb(w.downMBs)],
      ['vsftpd large download', mb(v.downMBs)],
      ['ratio wharf/vsftpd', (w.downMBs / v.downMBs).toFixed(2)],
      ['wharf  small upload', fs(w.smallUp)],
      ['vsftpd small upload', fs(v.smallUp)],
      ['ratio wharf/vsftpd', (w.smallUp / v.smallUp).toFixed(2)],
      ['wharf  small download', fs(w.smallDown)],
      ['vsftpd small download', fs(v.smallDown)],
      ['ratio wharf/vsftpd', (w.smallDown / v.smallDown).toFixed(2)],
      ['wharf rss idle, just started', mib(idle)],
      ['wharf rss before large transfers', mib(rssBase)],
      ['wharf peak rss during them', mib(rssPeak)],
      ['wharf rss high-water mark (VmHWM)', mib(hwm)],
      ['  at its peak: V8 heap used/total', `${mib(memPeak?.heapUsed)} / ${mib(memPeak?.heapTotal)}`],
      ['  external (ArrayBuffers)', `${mib(memPeak?.external)} (${mib(memPeak?.arrayBuffers)})`],
    ]);
  } finally {
    for (const c of cleanups) await c().catch(() => {});
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

if (values['child-wharf']) await childWharf(values['child-wharf']);
else await main();
