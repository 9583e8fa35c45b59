// For bench/http-proxy: a local origin, Squid and Varnish run on loopback from temporary
// configs (never their default ports, state under the bench's temporary folder), and wrk.
//
// Invariants
//  - Every peer binds 127.0.0.1 on a port found free just before; stop() ends the process
//    group it started (and nothing else) and waits for it.
//  - Squid and Varnish cache in memory and are told to keep the origin's objects (max-age
//    from the origin), as Wharf does.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { join } from 'node:path';
import { freePort, waitForPort } from './util.js';

export interface Peer {
  name: string;
  port: number;
  stop: () => Promise<void>;
}

export interface Origin {
  port: number;
  /** Requests the origin answered so far. */
  requests(): number;
  close(): Promise<void>;
}

/** An origin serving /<n>k: n KiB of bytes, cacheable for an hour, with validators. */
export async function startOrigin(): Promise<Origin> {
  let requests = 0;
  const bodies = new Map<string, Buffer>();
  const server = http.createServer((req, res) => {
    requests++;
    const m = /^\/(\d+)k$/.exec(req.url ?? '');
    if (!m || Number(m[1]) > 100_000) {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    let body = bodies.get(m[1]!);
    if (!body) {
      body = Buffer.alloc(Number(m[1]) * 1024, 'x');
      bodies.set(m[1]!, body);
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'cache-control': 'public, max-age=3600',
      'last-modified': 'Mon, 23 Nov 2026 10:00:00 GMT',
      etag: `"${m[1]}k"`,
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function stopper(child: ChildProcess, name: string): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      // the whole group this script started (squid's kids, varnish's child)
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    console.error(`${name} stopped`);
  };
}

/**
 * Squid 5 as a reverse proxy (accel) in front of the origin, memory cache, `workers` kids
 * (SMP: one shared memory cache). BENCH_SQUID_ACCESS_LOG=1 (with BENCH_KEEP=1) keeps an
 * access log: with 2 kids Squid 5.7 answers some hits as TCP_MISS (its kids' shared cache
 * entry being rewritten), which the bench shows as origin requests during the run.
 */
export async function startSquid(dir: string, originPort: number, workers: number): Promise<Peer> {
  const port = await freePort();
  const d = join(dir, 'squid');
  mkdirSync(d, { recursive: true });
  // Squid drops to the proxy user; it must write its logs and pid here.
  spawnSync('chmod', ['777', d]);
  const conf = join(d, 'squid.conf');
  writeFileSync(
    conf,
    `http_port 127.0.0.1:${port} accel defaultsite=127.0.0.1:${originPort} no-vhost
cache_peer 127.0.0.1 parent ${originPort} 0 no-query originserver name=origin
acl everyone src all
http_access allow everyone
cache_peer_access origin allow everyone
cache_mem 256 MB
maximum_object_size_in_memory 1 MB
memory_cache_shared on
collapsed_forwarding on
cache allow everyone
workers ${workers}
pid_filename ${d}/squid.pid
cache_log ${d}/cache.log
access_log ${process.env.BENCH_SQUID_ACCESS_LOG ? `stdio:${d}/access.log` : 'none'}
cache_store_log none
coredump_dir ${d}
pinger_enable off
icp_port 0
htcp_port 0
snmp_port 0
shutdown_lifetime 1 seconds
`,
  );
  // -n: our own service name, so our shared memory and IPC sockets are apart from any other squid
  const child = spawn('/usr/sbin/squid', ['--foreground', '-f', conf, '-n', `wharfbench${process.pid}`], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  await waitForPort(port);
  // the first kid listens before the others have started: give them time
  await new Promise((r) => setTimeout(r, 2000));
  return { name: 'squid', port, stop: stopper(child, 'squid') };
}

/** Varnish 7 in front of the origin (its built-in VCL), malloc storage, no management port. */
export async function startVarnish(dir: string, originPort: number): Promise<Peer> {
  const port = await freePort();
  const d = join(dir, 'varnish');
  mkdirSync(d, { recursive: true });
  const child = spawn('/usr/sbin/varnishd', ['-F', '-j', 'none', '-a', `127.0.0.1:${port}`, '-b', `127.0.0.1:${originPort}`, '-n', d, '-s', 'malloc,256m', '-T', 'none'], {
    // varnishd narrates its start and stop on stderr; a failure shows as waitForPort timing out
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: true,
  });
  await waitForPort(port);
  return { name: 'varnish', port, stop: stopper(child, 'varnish') };
}

export interface WrkResult {
  requestsPerSec: number;
  errors: string;
  bad: number;
}

/** wrk against one URL; requests/s, socket errors and non-2xx/3xx answers. */
export function runWrk(url: string, opts: { threads: number; connections: number; seconds: number }): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk failed (${code}): ${out}`));
      resolve({ requestsPerSec: Number(rps[1]), errors: /Socket errors:[^\n]*/.exec(out)?.[0] ?? '', bad: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) });
    });
  });
}

/** One GET, to put an object in a cache; resolves to the status. */
export function fetchOnce(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
  });
}
