// Dovecot (Debian dovecot-pop3d / dovecot-imapd) on loopback for the POP3 and IMAP benchmarks:
// a temporary configuration and Maildir holding the same messages as Wharf's store, one
// listener on a free port, the other protocol's listeners off. Run as root: the mail belongs to
// nobody (Dovecot refuses to run mail processes as root).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from './util.js';

export interface DovecotOptions {
  /** A folder of the benchmark's temporary directory (readable by Dovecot's auth process). */
  dir: string;
  protocol: 'pop3' | 'imap';
  /** user -> messages (CRLF line ends, as given to Wharf). */
  mailboxes: Map<string, string[]>;
  password: string;
  /** How the passwd file stores the password: PLAIN, or SHA512-CRYPT with `rounds`. */
  scheme?: { name: 'PLAIN' } | { name: 'SHA512-CRYPT'; rounds: number };
}

export interface RunningDovecot {
  port: number;
  /** The master process (its children serve the sessions). */
  pid: number;
  stop(): Promise<void>;
}

function passwordHash(password: string, scheme: DovecotOptions['scheme']): string {
  if (!scheme || scheme.name === 'PLAIN') return `{PLAIN}${password}`;
  const pw = spawnSync('doveadm', ['pw', '-s', 'SHA512-CRYPT', '-r', String(scheme.rounds), '-p', password], { encoding: 'utf8' });
  if (pw.status !== 0 || !pw.stdout.startsWith('{SHA512-CRYPT}')) throw new Error(`doveadm pw failed: ${pw.stderr}`);
  return pw.stdout.trim();
}

export async function startDovecot(opts: DovecotOptions): Promise<RunningDovecot> {
  const port = await freePort();
  const d = join(opts.dir, 'dovecot');
  mkdirSync(join(d, 'run'), { recursive: true });
  const hash = passwordHash(opts.password, opts.scheme);
  const users: string[] = [];
  for (const [user, messages] of opts.mailboxes) {
    users.push(`${user}:${hash}::::::`);
    const mail = join(d, 'mail', user);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(mail, sub), { recursive: true });
    messages.forEach((m, i) => {
      // Maildir stores LF line ends; Dovecot sends CRLF.
      writeFileSync(join(mail, 'cur', `1700000000.M${i + 1}P1.bench:2,`), `Return-Path: <alice@crepes.fr>\n${m.replace(/\r\n/g, '\n')}`);
    });
  }
  writeFileSync(join(d, 'passwd'), users.join('\n') + '\n');
  spawnSync('chown', ['-R', 'nobody:nogroup', join(d, 'mail')]);
  mkdirSync(join(d, 'home'), { recursive: true });
  spawnSync('chown', ['-R', 'nobody:nogroup', join(d, 'home')]);
  const listener = (proto: 'pop3' | 'imap'): string =>
    proto === opts.protocol
      ? `service ${proto}-login {\n  inet_listener ${proto} {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener ${proto}s {\n    port = 0\n  }\n  process_min_avail = 2\n}\n`
      : `service ${proto}-login {\n  inet_listener ${proto} {\n    port = 0\n  }\n  inet_listener ${proto}s {\n    port = 0\n  }\n}\n`;
  const conf = join(d, 'dovecot.conf');
  writeFileSync(
    conf,
    `base_dir = ${join(d, 'run')}
state_dir = ${join(d, 'state')}
log_path = ${join(d, 'dovecot.log')}
protocols = ${opts.protocol}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 100
mail_location = maildir:${join(d, 'mail')}/%u
mail_max_userip_connections = 1000
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${join(d, 'passwd')}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${join(d, 'home')}/%u
}
${listener('pop3')}${listener('imap')}`,
  );
  const child = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: 'inherit' });
  await waitForPort(port);
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
