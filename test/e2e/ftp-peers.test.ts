// FTP against a peer: the same Python ftplib session run on Wharf and on Debian's vsftpd (started
// on loopback with its own config by bench/lib/vsftpd.ts) must give the same reply codes and the
// same bytes back. Plus the "Done when" bad inputs not yet covered over real sockets: names with
// CR, LF or NUL, and a folder of 10,000 entries listed with ftplib; the server keeps serving.
//
// The vsftpd test needs the Debian package `vsftpd` and root (vsftpd logs a system user in through
// PAM; one, `wharfbench`, is created when missing). Without them it is skipped, and says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VSFTPD_PASSWORD, VSFTPD_USER, startVsftpd, vsftpdAvailable } from '../../bench/lib/vsftpd.js';
import type { RunningVsftpd } from '../../bench/lib/vsftpd.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

const USER = 'carol@peers.test';
const PASS = 'peer-pass-1';
const VS_USER = VSFTPD_USER;
const VS_PASS = VSFTPD_PASSWORD;
const canRunVsftpd = vsftpdAvailable() && process.getuid?.() === 0;
const skipVsftpd = canRunVsftpd ? false : 'needs the Debian package vsftpd and root';

let t: TestWharf;
let home: string;
let work: string;
let vs: RunningVsftpd | null = null;
let vsRoot = '';

before(async () => {
  t = await startTestWharf({ services: ['ftp'], users: [[USER, PASS]] });
  home = join(t.dataDir, 'ftp', USER);
  work = mkdtempSync(join(tmpdir(), 'wharf-ftp-peers-'));
  chmodSync(work, 0o755);
  if (canRunVsftpd) {
    vsRoot = join(work, 'vsftpd', 'root');
    vs = await startVsftpd({ dir: join(work, 'vsftpd'), root: vsRoot, user: VS_USER, password: VS_PASS, ascii: true });
  }
});

after(async () => {
  await vs?.stop();
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

function py(port: number, user: string, pass: string, script: string): Promise<string> {
  const prelude = `import ftplib, io, os, json, sys\nPORT=${port}\nUSER=${JSON.stringify(user)}\nPASS=${JSON.stringify(pass)}\n`;
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', prelude + script], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve(String(stdout));
    });
  });
}

/** A session of everyday operations; prints one JSON object of reply codes and outcomes. */
const SESSION = String.raw`
out = {}
def code(name, fn, *a, **k):
    try:
        r = fn(*a, **k)
        out[name] = r[:3] if isinstance(r, str) else r
    except ftplib.all_errors as e:
        out[name] = str(e)[:3]
f = ftplib.FTP(); f.connect('127.0.0.1', PORT, timeout=20)
code('login', f.login, USER, PASS)
code('type-i', f.sendcmd, 'TYPE I')
code('mkd', f.sendcmd, 'MKD d')
code('mkd-again', f.sendcmd, 'MKD d')
code('cwd', f.sendcmd, 'CWD d')
code('cwd-missing', f.sendcmd, 'CWD nowhere')
data = bytes(range(256)) * 1200 + b'end'
code('stor', f.storbinary, 'STOR a.bin', io.BytesIO(data))
out['size'] = f.size('a.bin')
code('size-missing', f.sendcmd, 'SIZE nothere')
code('mdtm', f.sendcmd, 'MDTM a.bin')
buf = io.BytesIO(); code('retr', f.retrbinary, 'RETR a.bin', buf.write); out['retr-same'] = buf.getvalue() == data
code('retr-missing', f.retrbinary, 'RETR nothere', lambda b: None)
buf = io.BytesIO(); code('retr-rest', f.retrbinary, 'RETR a.bin', buf.write, rest=100000); out['retr-rest-same'] = buf.getvalue() == data[100000:]
code('appe', f.storbinary, 'APPE a.bin', io.BytesIO(b'tail'))
out['size-appe'] = f.size('a.bin')
code('stor-part', f.storbinary, 'STOR c.bin', io.BytesIO(data[:1000]))
code('stor-rest', f.storbinary, 'STOR c.bin', io.BytesIO(data[1000:]), rest=1000)
buf = io.BytesIO(); f.retrbinary('RETR c.bin', buf.write); out['stor-rest-same'] = buf.getvalue() == data
code('type-a', f.sendcmd, 'TYPE A')
code('stor-ascii', f.storlines, 'STOR t.txt', io.BytesIO(b'one\r\ntwo\r\n'))
lines = []; code('retr-ascii', f.retrlines, 'RETR t.txt', lines.append); out['ascii-lines'] = lines
f.sendcmd('TYPE I')
buf = io.BytesIO(); f.retrbinary('RETR t.txt', buf.write); out['ascii-stored'] = buf.getvalue().decode()
out['nlst'] = sorted(os.path.basename(n) for n in f.nlst())
code('rename', f.rename, 'a.bin', 'b.bin')
code('rnfr-missing', f.sendcmd, 'RNFR nothere')
code('dele-dir', f.sendcmd, 'DELE ../d')
code('rmd-nonempty', f.sendcmd, 'RMD ../d')
for n in ('b.bin', 'c.bin', 't.txt'): code('dele-' + n, f.delete, n)
code('dele-missing', f.sendcmd, 'DELE b.bin')
code('cdup', f.sendcmd, 'CDUP')
code('rmd', f.sendcmd, 'RMD d')
code('garbage', f.sendcmd, 'XYZZY plugh')
code('noop', f.sendcmd, 'NOOP')
code('quit', f.quit)
print(json.dumps(out, sort_keys=True))
`;

test('the same ftplib session gives the same replies and bytes on Wharf and on vsftpd', { skip: skipVsftpd }, async () => {
  const wharf = JSON.parse(await py(t.port('ftp'), USER, PASS, SESSION)) as Record<string, unknown>;
  const peer = JSON.parse(await py(vs!.port, VS_USER, VS_PASS, SESSION)) as Record<string, unknown>;
  if (process.env.FTP_PEERS_DEBUG) console.error({ wharf, peer });
  // What both must get right, whatever the peer says.
  assert.equal(wharf['stor'], '226');
  assert.equal(wharf['retr-same'], true);
  assert.equal(wharf['retr-rest-same'], true);
  assert.equal(wharf['stor-rest-same'], true);
  assert.equal(wharf['size-appe'], 256 * 1200 + 3 + 4);
  assert.deepEqual(wharf['ascii-lines'], ['one', 'two']);
  assert.equal(wharf['ascii-stored'], 'one\ntwo\n', 'TYPE A upload stores LF line ends (RFC 959 §3.1.1.1)');
  assert.deepEqual(wharf, peer);
});

/** A raw control connection (for what ftplib refuses to send). */
async function rawLogin(port: number): Promise<{ sock: net.Socket; cmd: (c: string | Buffer) => Promise<string>; line: () => Promise<string> }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setEncoding('latin1');
  let buf = '';
  let wake: (() => void) | null = null;
  let closed = false;
  sock.on('data', (d: string) => {
    buf += d;
    wake?.();
  });
  sock.on('close', () => {
    closed = true;
    wake?.();
  });
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 2);
        return l;
      }
      if (closed) throw new Error('connection closed');
      await new Promise<void>((r) => (wake = r));
    }
  };
  const cmd = async (c: string | Buffer) => {
    sock.write(typeof c === 'string' ? c + '\r\n' : c);
    return line();
  };
  assert.match(await line(), /^220 /);
  assert.match(await cmd(`USER ${USER}`), /^331 /);
  assert.match(await cmd(`PASS ${PASS}`), /^230 /);
  return { sock, cmd, line };
}

test('names with CR, LF or NUL over real sockets: refused or never listed; the server keeps serving', async () => {
  const r = await rawLogin(t.port('ftp'));
  // RFC 959 §3.2 (Telnet): a CR inside a path travels as CR NUL; such a name cannot be made safe.
  assert.equal(await r.cmd(Buffer.from('MKD a\r\0b\r\n', 'latin1')), '553 Requested action not taken: file name not allowed.');
  assert.match(await r.cmd('EPSV'), /^229 /);
  assert.equal(await r.cmd(Buffer.from('STOR x\0y\r\n', 'latin1')), '553 Requested action not taken: file name not allowed.');
  // A bare LF ends the command: "MKD c" runs, then "d" is an unknown command.
  r.sock.write('MKD c\nd\r\n');
  assert.match(await r.line(), /^257 "\/c"/);
  assert.match(await r.line(), /^500 /);
  assert.match(await r.cmd('QUIT'), /^221 /);
  r.sock.destroy();
  assert.ok(!existsSync(join(home, 'a\rb')) && !existsSync(join(home, 'a')) && !existsSync(join(home, 'x\0y'.replace('\0', ''))));
  // Names with CR or LF made on disk behind the server's back are not listed (a listing line
  // cannot carry them), and the rest still is.
  writeFileSync(join(home, 'bad\nname'), 'x');
  writeFileSync(join(home, 'bad\rname'), 'x');
  writeFileSync(join(home, 'good'), 'x');
  const out = await py(t.port('ftp'), USER, PASS, `f = ftplib.FTP(); f.connect('127.0.0.1', PORT, timeout=20); f.login(USER, PASS)
print(json.dumps(sorted(f.nlst()))); print(json.dumps(sorted(n for n, _ in f.mlsd()))); f.quit()`);
  const [nlst, mlsd] = out.trim().split('\n').map((l) => JSON.parse(l) as string[]);
  assert.deepEqual(nlst, ['c', 'good']);
  assert.deepEqual(mlsd, ['c', 'good']);
});

test('a folder of 10,000 entries is listed in full with ftplib (NLST, MLSD, LIST); the server keeps serving', async () => {
  const names = Array.from({ length: 10_000 }, (_, i) => `f${String(i).padStart(5, '0')}`);
  mkdirSync(join(home, 'many'), { recursive: true });
  for (const n of names) writeFileSync(join(home, 'many', n), '');
  const script = `f = ftplib.FTP(); f.connect('127.0.0.1', PORT, timeout=60); f.login(USER, PASS)
n = [os.path.basename(x) for x in f.nlst('many')]
m = [x for x, facts in f.mlsd('many') if facts.get('type') == 'file']
l = []; f.retrlines('LIST many', l.append)
print(json.dumps({'nlst': sorted(n), 'mlsd': len(m), 'mlsd_unique': len(set(m)), 'list': len([x for x in l if x.startswith('-')])}))
print(f.sendcmd('NOOP')); f.quit()`;
  const [json, noop] = (await py(t.port('ftp'), USER, PASS, script)).trim().split('\n');
  const r = JSON.parse(json!) as { nlst: string[]; mlsd: number; mlsd_unique: number; list: number };
  assert.deepEqual(r.nlst, names);
  assert.equal(r.mlsd, 10_000);
  assert.equal(r.mlsd_unique, 10_000);
  assert.equal(r.list, 10_000);
  assert.match(noop!, /^200 /);
});
