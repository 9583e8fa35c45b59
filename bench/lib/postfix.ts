// A throwaway Postfix instance on loopback, for e2e tests and benchmarks (Debian package
// `postfix`; /usr/sbin/postfix and /usr/lib/postfix/sbin). Everything lives in a temporary
// directory: config_directory (main.cf, master.cf), queue_directory, data_directory, the log
// file and the mailboxes. Nothing is chrooted and no system file is touched; the instance binds
// only its own 127.x address and port, never :25.
//
// Mail for `domain` is delivered by virtual(8) to one Maildir per user under <dir>/mail/<user>/
// (owned by `nobody`), and a message is only acknowledged once its queue file is fsynced
// (Postfix's default), so it is a durable peer. Mail for other domains goes to `relayTo`
// ("[127.0.0.1]:PORT" as relayhost: no MX lookup) when given.
//
// Invariant: stop() runs `postfix -c DIR stop` and waits for the master to exit; callers call
// it in a finally/after hook, so no Postfix outlives its test.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './util.js';

export const POSTFIX = '/usr/sbin/postfix';
export const SMTP_SOURCE = '/usr/sbin/smtp-source';
/** What CI must install (Debian): the MTA itself; smtp-source comes with it. */
export const POSTFIX_PACKAGES = ['postfix'];

export function havePostfix(): boolean {
  return existsSync(POSTFIX);
}

export interface PostfixOptions {
  /** The domain Postfix delivers locally (virtual mailbox domain). */
  domain: string;
  /** Local parts that have a mailbox; others get 550 5.1.1. */
  users: string[];
  /** myhostname (default mx.<domain>). */
  hostname?: string;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default: a free one). */
  port?: number;
  /** Send every non-local message here (relayhost = [host]:port). */
  relayTo?: { host: string; port: number };
  /** Concurrent smtpd processes (master.cf maxproc; default 100). */
  maxProcs?: number;
  /** Offer STARTTLS (a self-signed certificate made with openssl) and use it when the peer offers it. */
  tls?: boolean;
}

export interface PostfixInstance {
  dir: string;
  host: string;
  port: number;
  domain: string;
  /** Messages delivered to `user` (Maildir new/ + cur/), as raw text. */
  messages(user: string): string[];
  /** Count of delivered files for `user`, without reading them. */
  count(user: string): number;
  /** The instance's log (maillog_file). */
  log(): string;
  /** `postqueue -p` output (empty queue: "Mail queue is empty"). */
  queue(): Promise<string>;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** uid/gid of a system user from /etc/passwd. */
function account(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} in /etc/passwd`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  if (!havePostfix()) throw new Error(`${POSTFIX} is missing: apt-get install ${POSTFIX_PACKAGES.join(' ')}`);
  if (userInfo().uid !== 0) throw new Error('Postfix must be started as root (it drops privileges itself)');
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const dir = mkdtempSync(join(tmpdir(), 'wharf-postfix-'));
  // Postfix daemons run as the postfix user and must traverse the directory.
  chmodSync(dir, 0o755);
  const conf = join(dir, 'etc');
  const mail = join(dir, 'mail');
  mkdirSync(conf);
  mkdirSync(join(dir, 'queue'));
  mkdirSync(join(dir, 'data'));
  mkdirSync(mail);
  // The virtual delivery agent will not deliver as root: mailboxes belong to `nobody`.
  const { uid, gid } = account('nobody');
  chownSync(mail, uid, gid);
  // data_directory belongs to the mail_owner (master.lock, caches).
  const owner = account('postfix');
  chownSync(join(dir, 'data'), owner.uid, owner.gid);
  const users = opts.users.map((u) => u.toLowerCase());
  writeFileSync(join(conf, 'vmailbox'), users.map((u) => `${u}@${opts.domain} ${u}/`).join('\n') + '\n');
  const hostname = opts.hostname ?? `mx.${opts.domain}`;
  if (opts.tls) {
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${hostname}`, '-keyout', join(conf, 'key.pem'), '-out', join(conf, 'cert.pem')]);
  }
  const tls = opts.tls
    ? `smtpd_tls_security_level = may
smtpd_tls_cert_file = ${join(conf, 'cert.pem')}
smtpd_tls_key_file = ${join(conf, 'key.pem')}
smtpd_tls_received_header = yes
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtpd_tls_loglevel = 1`
    : `smtpd_tls_security_level = none
smtp_tls_security_level = none`;
  writeFileSync(
    join(conf, 'main.cf'),
    `# Generated by bench/lib/postfix.ts for a throwaway loopback instance.
compatibility_level = 3.6
queue_directory = ${join(dir, 'queue')}
data_directory = ${join(dir, 'data')}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = ${join(dir, 'maillog')}
maillog_file_prefixes = ${dir}
myhostname = ${hostname}
mydomain = ${opts.domain}
myorigin = ${opts.domain}
mydestination =
inet_interfaces = ${host}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_bind_address = ${host}
relayhost = ${opts.relayTo ? `[${opts.relayTo.host}]:${opts.relayTo.port}` : ''}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
${tls}
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
# Loopback lab: no waiting before retries when Wharf is briefly unreachable.
minimal_backoff_time = 1s
maximal_backoff_time = 5s
queue_run_delay = 1s
virtual_mailbox_domains = ${opts.domain}
virtual_mailbox_base = ${mail}
virtual_mailbox_maps = texthash:${join(conf, 'vmailbox')}
virtual_uid_maps = static:${uid}
virtual_gid_maps = static:${gid}
virtual_minimum_uid = 1
virtual_destination_concurrency_limit = 50
default_process_limit = ${opts.maxProcs ?? 100}
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
in_flow_delay = 0
`,
  );
  // No chroot ("n" in the 5th column): the daemons see the real file system.
  writeFileSync(
    join(conf, 'master.cf'),
    `# service type  private unpriv  chroot  wakeup  maxproc command
${host}:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`,
  );
  let started = false;
  const stop = async (): Promise<void> => {
    if (!started) return;
    started = false;
    await run(POSTFIX, ['-c', conf, 'stop']).catch(() => run(POSTFIX, ['-c', conf, 'abort']).catch(() => {}));
    // The master exits shortly after `stop`; wait for its pid file to go.
    const pidFile = join(dir, 'queue', 'pid', 'master.pid');
    for (let i = 0; i < 50 && existsSync(pidFile); i++) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!process.env.POSTFIX_KEEP) rmSync(dir, { recursive: true, force: true });
  };
  const userDir = (user: string) => join(mail, user.toLowerCase());
  const files = (user: string): string[] => {
    const out: string[] = [];
    for (const sub of ['new', 'cur']) {
      const d = join(userDir(user), sub);
      if (existsSync(d)) for (const f of readdirSync(d)) out.push(join(d, f));
    }
    return out;
  };
  try {
    await run(POSTFIX, ['-c', conf, 'check']);
    await run(POSTFIX, ['-c', conf, 'start']);
    started = true;
    await waitForPort(port, host);
  } catch (err) {
    started = true;
    const log = existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : '';
    await stop();
    throw new Error(`Postfix did not start: ${(err as Error).message}\n${log}`);
  }
  return {
    dir,
    host,
    port,
    domain: opts.domain,
    messages: (user) => files(user).map((f) => readFileSync(f, 'utf8')),
    count: (user) => files(user).length,
    log: () => (existsSync(join(dir, 'maillog')) ? readFileSync(join(dir, 'maillog'), 'utf8') : ''),
    queue: async () => (await run('/usr/sbin/postqueue', ['-c', conf, '-p']).catch((e: Error) => ({ stdout: e.message }))).stdout,
    stop,
  };
}
