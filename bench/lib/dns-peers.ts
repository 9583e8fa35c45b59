// NSD and Unbound as peers of Wharf's DNS (tests and bench/dns): each runs in the foreground
// with a config of ours in a fresh temporary directory (zones, pid, state, log), on a loopback
// address and port we choose, never the system's config or port 53.
//
// Invariants
//  - No privilege dropping and no chroot (username ""), so everything stays in the temp dir.
//  - stop() kills the process we started (by its pid) and removes the directory.
//  - Only loopback addresses are ever written into a config.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from './util.js';

export const NSD = '/usr/sbin/nsd';
export const UNBOUND = '/usr/sbin/unbound';
export const DNSPERF = '/usr/bin/dnsperf';

/** Debian packages the peers come from (CI installs them). */
export const PEER_PACKAGES = { nsd: 'nsd', unbound: 'unbound', dnsperf: 'dnsperf', dig: 'dnsutils' } as const;

export function peerAvailable(bin: string): boolean {
  return existsSync(bin);
}

export interface Peer {
  address: string;
  port: number;
  dir: string;
  pid: number;
  /** The peer's log file so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A primary zone (master file text) or a secondary pulled from `primary` ("addr@port"). */
export type NsdZone =
  | { name: string; text: string }
  | { name: string; primary: string; notifyFrom?: string };

export interface NsdOptions {
  address: string;
  port: number;
  zones: NsdZone[];
  /** server-count (processes answering queries); 2 uses both cores. */
  servers?: number;
  /** Response rate limiting (on in Debian's build); off for benchmarks. */
  rrl?: boolean;
}

function assertLoopback(address: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`peers run on 127.x addresses only, not ${address}`);
}

function launch(bin: string, args: string[], dir: string, logFile: string, address: string, port: number): Promise<Peer> {
  const child: ChildProcess = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const log = (): string => output + (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const peer: Peer = {
    address,
    port,
    dir,
    pid: child.pid!,
    log,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      if (!process.env.WHARF_KEEP_PEERS) rmSync(dir, { recursive: true, force: true });
    },
  };
  return (async () => {
    try {
      await Promise.race([
        waitForPort(port, address, 15_000),
        exited.then(() => {
          throw new Error(`${bin} exited at start:\n${log()}`);
        }),
      ]);
    } catch (err) {
      await peer.stop();
      throw err;
    }
    return peer;
  })();
}

/** Starts `nsd -d` serving (or pulling) the zones on address:port. */
export async function startNsd(opts: NsdOptions): Promise<Peer> {
  assertLoopback(opts.address);
  const dir = mkdtempSync(join(tmpdir(), 'wharf-nsd-'));
  const zones = opts.zones.map((z, i) => {
    if ('text' in z) {
      writeFileSync(join(dir, `z${i}.zone`), z.text);
      return `zone:\n  name: "${z.name}"\n  zonefile: "z${i}.zone"\n`;
    }
    // RFC 1996 / RFC 5936: NOTIFY accepted from the primary's host, AXFR pulled from it.
    const [host] = z.primary.split('@');
    assertLoopback(host!);
    return `zone:\n  name: "${z.name}"\n  zonefile: "z${i}.zone"\n  request-xfr: AXFR ${z.primary} NOKEY\n  allow-notify: ${z.notifyFrom ?? '127.0.0.0/8'} NOKEY\n` +
      // Transfers come from our own address (the primary allows AXFR by source address).
      `  outgoing-interface: ${opts.address}\n`;
  });
  const logFile = join(dir, 'nsd.log');
  const conf = `server:
  ip-address: ${opts.address}@${opts.port}
  port: ${opts.port}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${join(dir, 'nsd.pid')}"
  xfrdfile: "${join(dir, 'xfrd.state')}"
  zonelistfile: "${join(dir, 'zone.list')}"
  database: ""
  logfile: "${logFile}"
  server-count: ${opts.servers ?? 1}
  verbosity: 2
  hide-version: yes
  xfrd-reload-timeout: 0
  refuse-any: no
${opts.rrl === false ? '  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n' : ''}remote-control:
  control-enable: no
${zones.join('')}`;
  writeFileSync(join(dir, 'nsd.conf'), conf);
  const check = spawnSync('/usr/sbin/nsd-checkconf', [join(dir, 'nsd.conf')], { encoding: 'utf8' });
  if (check.status !== 0 && check.error === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nsd-checkconf: ${check.stdout}${check.stderr}`);
  }
  return launch(NSD, ['-d', '-c', join(dir, 'nsd.conf')], dir, logFile, opts.address, opts.port);
}

export interface UnboundOptions {
  address: string;
  port: number;
  /** stub-zone name -> "addr@port" of its authoritative server. */
  stubs: { name: string; addr: string }[];
  threads?: number;
}

/** Starts `unbound -d` resolving the stub zones through the given servers. */
export async function startUnbound(opts: UnboundOptions): Promise<Peer> {
  assertLoopback(opts.address);
  const dir = mkdtempSync(join(tmpdir(), 'wharf-unbound-'));
  const logFile = join(dir, 'unbound.log');
  const threads = opts.threads ?? 1;
  const stubs = opts.stubs.map((s) => {
    assertLoopback(s.addr.split('@')[0]!);
    return `stub-zone:\n  name: "${s.name}"\n  stub-addr: ${s.addr}\n`;
  });
  const conf = `server:
  interface: ${opts.address}@${opts.port}
  port: ${opts.port}
  do-ip6: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  do-daemonize: no
  use-syslog: no
  logfile: "${logFile}"
  verbosity: 1
  num-threads: ${threads}
  so-reuseport: yes
  # Our stub servers are on loopback (off by default to stop spoofed self-queries).
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  # No DNSSEC validation (our zones are unsigned, and no trust anchor is fetched).
  module-config: "iterator"
  # test. is one of Unbound's built-in empty zones (RFC 6761); let stubs under it resolve.
  local-zone: "test." nodefault
  harden-referral-path: no
  qname-minimisation: no
  prefetch: no
  num-queries-per-thread: 4096
  outgoing-range: 8192
  msg-cache-size: 32m
  rrset-cache-size: 64m
remote-control:
  control-enable: no
${stubs.join('')}`;
  writeFileSync(join(dir, 'unbound.conf'), conf);
  const check = spawnSync('/usr/sbin/unbound-checkconf', [join(dir, 'unbound.conf')], { encoding: 'utf8' });
  if (check.status !== 0 && check.error === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`unbound-checkconf: ${check.stdout}${check.stderr}`);
  }
  return launch(UNBOUND, ['-d', '-c', join(dir, 'unbound.conf')], dir, logFile, opts.address, opts.port);
}

/** A random 127.A.B.C address (A in 64..127) for one run, so runs in parallel do not collide. */
export function randomLoopback(): string {
  const b = () => 1 + Math.floor(Math.random() * 250);
  return `127.${64 + Math.floor(Math.random() * 64)}.${b()}.${b()}`;
}
