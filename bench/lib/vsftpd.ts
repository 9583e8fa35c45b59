// Runs Debian's vsftpd on loopback for the FTP benchmark (and peer tests): our own config file in
// a temporary folder, a free control port, its own passive port range, in the foreground
// (background=NO), never the system's /etc/vsftpd.conf or port 21.
//
// Invariants
//  - Binds 127.0.0.1 only; the process is ours and is killed by stop().
//  - vsftpd authenticates local users through PAM, so the bench needs a real system user: one is
//    created with `useradd -m` when missing (root only) and given the password with chpasswd.
//    Its logins land in `root` (local_root), which is made the user's.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from './util.js';

export const VSFTPD = '/usr/sbin/vsftpd';
/** The system user the bench and the peer tests log in as, and its password (set on each start). */
export const VSFTPD_USER = 'wharfbench';
export const VSFTPD_PASSWORD = 'wharf-bench-vsftpd-1';

export interface VsftpdOptions {
  /** Folder for the config, logs and the empty secure_chroot_dir. */
  dir: string;
  /** Folder the user logs in to (created, chowned to the user). */
  root: string;
  user: string;
  password: string;
  /** Inclusive passive port range; default a free port and the 999 above it. */
  pasvPorts?: [number, number];
  /** TYPE A line-end conversion both ways (vsftpd's default is off: ASCII transfers stay raw). */
  ascii?: boolean;
}

export interface RunningVsftpd {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function vsftpdAvailable(): boolean {
  return existsSync(VSFTPD);
}

/** Creates the system user when missing and sets its password (vsftpd logs in through PAM). */
export function ensureSystemUser(user: string, password: string): void {
  if (spawnSync('id', ['-u', user]).status !== 0) {
    // pam_shells (in /etc/pam.d/vsftpd) wants a shell listed in /etc/shells.
    const r = spawnSync('useradd', ['-m', '-s', '/bin/sh', user], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`useradd ${user} failed (root needed): ${r.stderr}`);
  }
  const r = spawnSync('chpasswd', [], { input: `${user}:${password}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chpasswd failed: ${r.stderr}`);
}

export async function startVsftpd(o: VsftpdOptions): Promise<RunningVsftpd> {
  if (!vsftpdAvailable()) throw new Error('vsftpd is missing: apt-get install -y vsftpd (with a policy-rc.d that exits 101)');
  ensureSystemUser(o.user, o.password);
  const port = await freePort();
  let pasv = o.pasvPorts;
  if (!pasv) {
    const lo = Math.min(await freePort(), 64000);
    pasv = [lo, lo + 999];
  }
  const empty = join(o.dir, 'empty');
  mkdirSync(empty, { recursive: true });
  chmodSync(empty, 0o755);
  mkdirSync(o.root, { recursive: true });
  spawnSync('chown', ['-R', `${o.user}:`, o.root]);
  const conf = join(o.dir, 'vsftpd.conf');
  writeFileSync(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      `local_root=${o.root}`,
      'chroot_local_user=NO',
      'pam_service_name=vsftpd',
      'userlist_enable=NO',
      'tcp_wrappers=NO',
      `secure_chroot_dir=${empty}`,
      'seccomp_sandbox=NO',
      // Namespaces may be unavailable in containers.
      'isolate=NO',
      'isolate_network=NO',
      'pasv_enable=YES',
      'pasv_address=127.0.0.1',
      `pasv_min_port=${pasv[0]}`,
      `pasv_max_port=${pasv[1]}`,
      'max_clients=0',
      'max_per_ip=0',
      'xferlog_enable=NO',
      'syslog_enable=NO',
      `vsftpd_log_file=${join(o.dir, 'vsftpd.log')}`,
      'ssl_enable=NO',
      `ascii_upload_enable=${o.ascii ? 'YES' : 'NO'}`,
      `ascii_download_enable=${o.ascii ? 'YES' : 'NO'}`,
      'use_localtime=NO',
      '',
    ].join('\n'),
  );
  chmodSync(conf, 0o600); // vsftpd wants its config owned by root and not writable by others
  const child: ChildProcess = spawn(VSFTPD, [conf], { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  try {
    await Promise.race([
      waitForPort(port),
      exit.then(() => {
        throw new Error(`vsftpd exited at start (config ${conf})`);
      }),
    ]);
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (exited) return;
      // vsftpd's per-session processes die with their control connections; the listener is ours.
      child.kill('SIGTERM');
      await exit;
    },
  };
}
