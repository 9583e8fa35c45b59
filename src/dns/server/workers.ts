// dns.workers > 1: DNS served by several processes sharing one UDP socket and one listening TCP
// socket, so a node uses all its cores for DNS while the rest of Wharf stays in one process.
//
// Why this design (Node 20): worker_threads cannot share a socket (handles are per event loop)
// and SO_REUSEPORT (`reusePort`) only arrived in Node 22.12/23.1; node:cluster shares sockets but
// is process-global state (cluster.setupPrimary, one worker script per process), which breaks
// "several instances in one process". So the primary binds the sockets itself (DnsListener.
// startShared, port 0 resolved there), keeps serving on them, and forks N-1 children with
// child_process.fork, handing each the same two sockets over IPC (subprocess.send(msg, handle),
// which supports dgram.Socket and net.Server). The kernel gives each datagram or connection to
// one of the processes reading the socket.
//
// Invariants
//  - The primary keeps its descriptors open (keepOpen): a child that dies is forked again and
//    handed the same sockets; the port never changes.
//  - Each child opens the store itself, loads and watches the zones (the SQLite store notices
//    other processes' commits by polling; PostgreSQL by LISTEN/NOTIFY), and has its own resolver
//    cache and RRL state. Only the primary sends NOTIFY (a child's zone changes reach the store,
//    which the primary watches), so secondaries get one NOTIFY per change.
//  - stop() asks every child to stop and waits for it (SIGKILL after the deadline); a child also
//    exits when the primary's IPC channel closes (the primary died).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type * as dgram from 'node:dgram';
import type * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/schema.js';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DnsServerStats } from './server.js';

/** Messages between the primary and a DNS worker (JSON over the IPC channel). */
export type ToWorker =
  | { type: 'init'; config: Config; dataDir: string }
  | { type: 'udp' }
  | { type: 'tcp' }
  | { type: 'stats'; id: number }
  | { type: 'stop'; deadlineMs: number };

export type FromWorker =
  | { type: 'built' }
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'stats'; id: number; stats: DnsServerStats };

export interface DnsWorkerPoolOptions {
  /** Children to fork (dns.workers - 1: the primary serves too). */
  count: number;
  config: Config;
  dataDir: string;
  logger: Logger;
  udp: dgram.Socket;
  tcp: net.Server;
  /** How long a child may take to open the store and load zones. */
  startTimeoutMs?: number;
}

interface Child {
  proc: ChildProcess;
  ready: boolean;
}

/** The worker entry, beside this file (worker-main.ts under tsx, .js when built). */
function entry(): { file: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './worker-main.ts' : './worker-main.js', import.meta.url));
  // Keep only the loader flags of our own command line (tsx), never --test and the like.
  const keep: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['--import', '--loader', '--experimental-loader', '--require', '-r'].includes(a) && i + 1 < argv.length) keep.push(a, argv[++i]!);
    else if (/^--(import|loader|experimental-loader|require)=/.test(a)) keep.push(a);
  }
  if (ts && keep.length === 0) keep.push('--import', 'tsx');
  return { file, execArgv: keep };
}

export class DnsWorkerPool {
  private readonly children = new Set<Child>();
  private stopping = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (s: DnsServerStats | null) => void>();
  private restarts: number[] = [];

  constructor(private readonly opts: DnsWorkerPoolOptions) {}

  /** Forks the children; resolves when every one serves (rejects if one fails to start). */
  async start(): Promise<void> {
    const started = await Promise.allSettled(Array.from({ length: this.opts.count }, () => this.spawn()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop(1000);
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  get size(): number {
    return [...this.children].filter((c) => c.ready).length;
  }

  /** The server counters of every child that answers within `timeoutMs`. */
  async stats(timeoutMs = 2000): Promise<DnsServerStats[]> {
    const all = await Promise.all(
      [...this.children].filter((c) => c.ready && c.proc.connected).map(
        (c) =>
          new Promise<DnsServerStats | null>((resolve) => {
            const id = this.nextId++;
            const t = setTimeout(() => {
              this.waiting.delete(id);
              resolve(null);
            }, timeoutMs);
            this.waiting.set(id, (s) => {
              clearTimeout(t);
              resolve(s);
            });
            c.proc.send({ type: 'stats', id } satisfies ToWorker);
          }),
      ),
    );
    return all.filter((s): s is DnsServerStats => s !== null);
  }

  private spawn(): Promise<void> {
    const { file, execArgv } = entry();
    const proc = fork(file, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const child: Child = { proc, ready: false };
    this.children.add(child);
    const log = this.opts.logger.child({ worker: proc.pid });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new Error(`dns worker ${proc.pid} did not start within ${this.opts.startTimeoutMs ?? 30_000} ms`));
        proc.kill('SIGKILL');
      }, this.opts.startTimeoutMs ?? 30_000);
      proc.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'built':
            // The same descriptors for every child; ours stay open (keepOpen) for respawns.
            proc.send({ type: 'udp' } satisfies ToWorker, this.opts.udp, { keepOpen: true });
            proc.send({ type: 'tcp' } satisfies ToWorker, this.opts.tcp, { keepOpen: true });
            break;
          case 'ready':
            child.ready = true;
            log.info('dns worker serving');
            settle();
            break;
          case 'failed':
            log.error('dns worker failed to start', { error: m.error });
            settle(new Error(`dns worker failed to start: ${m.error}`));
            break;
          case 'stats':
            this.waiting.get(m.id)?.(m.stats);
            this.waiting.delete(m.id);
            break;
        }
      });
      proc.on('error', (err) => log.warn('dns worker ipc error', { err: describeError(err) }));
      proc.once('exit', (code, signal) => {
        this.children.delete(child);
        settle(new Error(`dns worker exited at start (code ${code}, signal ${signal})`));
        if (this.stopping || !child.ready) return;
        log.error('dns worker exited; forking another', { code, signal });
        this.respawn();
      });
      proc.send({ type: 'init', config: this.opts.config, dataDir: this.opts.dataDir } satisfies ToWorker);
    });
  }

  /** At most 5 restarts a minute, so a worker that dies at once does not spin. */
  private respawn(): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= 5) {
      this.opts.logger.error('dns workers keep dying; not forking more until restart');
      return;
    }
    this.restarts.push(now);
    setTimeout(() => {
      if (!this.stopping) this.spawn().catch((err: unknown) => this.opts.logger.error('dns worker restart failed', { err: describeError(err) }));
    }, 500).unref();
  }

  async stop(deadlineMs = 2000): Promise<void> {
    this.stopping = true;
    for (const [, w] of this.waiting) w(null);
    this.waiting.clear();
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.proc.kill('SIGKILL'), deadlineMs + 1000);
            c.proc.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (c.proc.connected) c.proc.send({ type: 'stop', deadlineMs } satisfies ToWorker);
            else c.proc.kill('SIGTERM');
          }),
      ),
    );
    this.children.clear();
  }
}
