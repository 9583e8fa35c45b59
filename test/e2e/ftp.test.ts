// End-to-end FTP with clients nobody here wrote: Python's ftplib (FTP and FTP_TLS), curl and
// lftp, against a Wharf instance on loopback (plain `ftp` with AUTH TLS, implicit `ftps`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

const USER = 'bob@hamburger.edu';
const PASS = 'hungry';
let t: TestWharf;
let work: string;
let ftpPort: number;
let ftpsPort: number;
let ca: string;
let home: string;

before(async () => {
  t = await startTestWharf({ services: ['ftp', 'ftps'], users: [[USER, PASS]], set: { 'ftp.data_timeout': 2000 } });
  ftpPort = t.port('ftp');
  ftpsPort = t.port('ftps');
  ca = t.wharf.tls.certFile;
  home = join(t.dataDir, 'ftp', USER);
  work = mkdtempSync(join(tmpdir(), 'wharf-ftp-e2e-'));
});

after(async () => {
  await t.stop();
  rmSync(work, { recursive: true, force: true });
});

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number | null) ?? 1 : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function py(script: string): Promise<string> {
  const prelude = `import ftplib, io, ssl, sys, os, hashlib\nPORT=${ftpPort}\nFTPS=${ftpsPort}\nCA=${JSON.stringify(ca)}\nUSER=${JSON.stringify(USER)}\nPASS=${JSON.stringify(PASS)}\n`;
  const r = await run('python3', ['-c', prelude + script]);
  assert.equal(r.code, 0, `python failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

async function curl(args: string[]): Promise<string> {
  const r = await run('curl', ['-sS', '--max-time', '60', '-u', `${USER}:${PASS}`, ...args]);
  assert.equal(r.code, 0, `curl ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function treeSums(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(root, p), sha(p));
    }
  };
  walk(root);
  return out;
}

test('python ftplib: login, cwd, mkd, storbinary, retrbinary, nlst, mlsd, rename, delete, rmd, REST resume', async () => {
  const out = await py(`
f = ftplib.FTP()
f.connect('127.0.0.1', PORT, timeout=10)
f.login(USER, PASS)
print(f.pwd())
print(f.mkd('py'))
f.cwd('py')
data = bytes(range(256)) * 4000
print(f.storbinary('STOR blob.bin', io.BytesIO(data)))
b = io.BytesIO(); f.retrbinary('RETR blob.bin', b.write)
assert b.getvalue() == data
print(f.size('blob.bin'))
rest = io.BytesIO(); f.retrbinary('RETR blob.bin', rest.write, rest=1000)
assert rest.getvalue() == data[1000:]
print(f.nlst())
print(sorted((n, facts['type'], facts.get('size')) for n, facts in f.mlsd()))
lines = []; f.retrlines('LIST', lines.append); print(len(lines))
print(f.rename('blob.bin', 'renamed.bin'))
print(f.delete('renamed.bin'))
f.cwd('..')
print(f.rmd('py'))
print(f.quit())
`);
  assert.equal(
    out,
    [
      '/',
      '/py',
      '226 Transfer complete.',
      '1024000',
      "['blob.bin']",
      "[('blob.bin', 'file', '1024000')]",
      '1',
      '250 Rename successful.',
      '250 File deleted.',
      '250 Directory removed.',
      '221 Goodbye.',
      '',
    ].join('\n'),
  );
  assert.ok(!existsSync(join(home, 'py')));
});

test('python FTP_TLS with prot_p (explicit TLS) and implicit FTPS', async () => {
  const out = await py(`
ctx = ssl.create_default_context(cafile=CA)
f = ftplib.FTP_TLS(context=ctx)
f.connect('127.0.0.1', PORT, timeout=10)
print(f.auth())
f.login(USER, PASS)
print(f.prot_p())
data = os.urandom(300000)
print(f.storbinary('STOR tls.bin', io.BytesIO(data)))
b = io.BytesIO(); f.retrbinary('RETR tls.bin', b.write)
assert b.getvalue() == data
print(f.nlst())
print(f.delete('tls.bin'))
f.quit()

class Implicit(ftplib.FTP_TLS):
    def connect(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        import socket
        self.sock = self.context.wrap_socket(socket.create_connection((host, port), timeout), server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile('r', encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome
g = Implicit(context=ctx)
print(g.connect('localhost', FTPS, 10)[:4])
g.login(USER, PASS)
g.prot_p()
print(g.nlst())
g.quit()
`);
  assert.equal(out, ['234 AUTH TLS successful.', '200 Protection level set to P.', '226 Transfer complete.', "['tls.bin']", '250 File deleted.', '220 ', '[]', ''].join('\n'));
});

test('curl: upload, download, list, --ftp-pasv, --ftp-port, --ssl-reqd, ftps://, resume with -C -', async () => {
  const src = join(work, 'curl-src.bin');
  writeFileSync(src, randomBytes(2 * 1024 * 1024 + 17));
  const base = `ftp://127.0.0.1:${ftpPort}`;
  await curl(['--ftp-create-dirs', '-T', src, `${base}/curl/src.bin`]);
  assert.equal(sha(join(home, 'curl', 'src.bin')), sha(src));
  const listing = await curl([`${base}/curl/`]);
  assert.match(listing, /^-rw-r--r-- .* 2097169 .* src\.bin\r?\n$/);
  assert.match(await curl(['--list-only', `${base}/curl/`]), /^src\.bin\r?\n$/);
  for (const [i, extra] of [['pasv', ['--ftp-pasv']], ['port', ['--ftp-port', '127.0.0.1']], ['tls', ['--ssl-reqd', '--cacert', ca]]] as const) {
    const dst = join(work, `curl-${i}.bin`);
    await curl([...extra, '-o', dst, `${base}/curl/src.bin`]);
    assert.equal(sha(dst), sha(src), i);
  }
  const implicit = join(work, 'curl-implicit.bin');
  await curl(['--cacert', ca, '-o', implicit, `ftps://127.0.0.1:${ftpsPort}/curl/src.bin`]);
  assert.equal(sha(implicit), sha(src));
  // TLS upload over explicit FTPS
  await curl(['--ssl-reqd', '--cacert', ca, '-T', src, `${base}/curl/tls-up.bin`]);
  assert.equal(sha(join(home, 'curl', 'tls-up.bin')), sha(src));
  // resume a download: a partial local copy is completed
  const partial = join(work, 'curl-partial.bin');
  writeFileSync(partial, readFileSync(src).subarray(0, 1_000_000));
  await curl(['-C', '-', '-o', partial, `${base}/curl/src.bin`]);
  assert.equal(sha(partial), sha(src));
  // resume an upload: the server's partial copy is completed (REST/APPE)
  writeFileSync(join(home, 'curl', 'half.bin'), readFileSync(src).subarray(0, 700_000));
  await curl(['-C', '-', '-T', src, `${base}/curl/half.bin`]);
  assert.equal(sha(join(home, 'curl', 'half.bin')), sha(src));
});

test('quota with curl: 552 for the upload past it (nothing left), freed space reusable, one counter for ftp and ftps', async () => {
  const q = await startTestWharf({ services: ['ftp', 'ftps'], users: [[USER, PASS]], set: { 'ftp.quota': 100_000 } });
  try {
    const qhome = join(q.dataDir, 'ftp', USER);
    const plain = `ftp://127.0.0.1:${q.port('ftp')}`;
    const implicit = `ftps://127.0.0.1:${q.port('ftps')}`;
    const f60 = join(work, 'q60.bin');
    writeFileSync(f60, randomBytes(60_000));
    const up = (args: string[]) => run('curl', ['-sS', '--max-time', '30', '-u', `${USER}:${PASS}`, '--cacert', q.wharf.tls.certFile, ...args]);
    assert.equal((await up(['-T', f60, `${plain}/a.bin`])).code, 0);
    // 60,000 + 60,000 > 100,000, over the other listener: refused with 552, nothing left behind
    const over = await up(['-T', f60, `${implicit}/b.bin`]);
    // curl's exit 70 (CURLE_REMOTE_DISK_FULL) is its name for a 552 reply
    assert.equal(over.code, 70, over.stderr);
    assert.match(over.stderr, /Exceeded storage allocation/);
    assert.deepEqual(readdirSync(qhome), ['a.bin'], 'no partial or temporary file');
    // DELE frees the space: the same upload fits now
    assert.equal((await up(['-Q', 'DELE a.bin', `${plain}/`, '-o', '/dev/null'])).code, 0);
    assert.equal((await up(['-T', f60, `${implicit}/b.bin`])).code, 0);
    assert.equal(statSync(join(qhome, 'b.bin')).size, 60_000);
  } finally {
    await q.stop();
  }
});

test('lftp: mirror 1,000 files both ways over plain FTP and with TLS forced', async () => {
  const src = join(work, 'tree');
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(src, `d${d}`, 'sub'), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(src, `d${d}`, i % 10 === 0 ? 'sub' : '', `f${i}.txt`), `${d}/${i} ${randomBytes(i * 13).toString('hex')}\n`);
  }
  writeFileSync(join(src, 'd0', 'big.bin'), randomBytes(3 * 1024 * 1024));
  const want = treeSums(src);
  assert.equal(want.size, 1001);
  for (const [name, settings] of [
    ['plain', 'set ftp:ssl-allow false;'],
    ['tls', `set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file ${ca}; set ssl:check-hostname no;`],
  ] as const) {
    const back = join(work, `back-${name}`);
    const r = await run(
      'lftp',
      ['-c', `set net:max-retries 1; set net:timeout 20; set cmd:fail-exit true; ${settings} open -u ${USER},${PASS} ftp://127.0.0.1:${ftpPort}; mirror -R --parallel=4 ${src} mirror-${name}; mirror --parallel=4 mirror-${name} ${back}`],
      { timeoutMs: 240_000 },
    );
    assert.equal(r.code, 0, `lftp ${name}: ${r.stderr}`);
    assert.deepEqual(treeSums(join(home, `mirror-${name}`)), want, `${name}: uploaded tree`);
    assert.deepEqual(treeSums(back), want, `${name}: downloaded tree`);
  }
});

/** A raw control connection for bad input. */
class Raw {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.waiters.splice(0).forEach((w) => w());
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    sock.on('error', () => {});
  }
  static async open(port = ftpPort): Promise<Raw> {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    const r = new Raw(s);
    await r.line();
    return r;
  }
  async line(timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.closed) throw new Error('closed');
      if (Date.now() > end) throw new Error('timeout');
      await new Promise<void>((r) => {
        const tm = setTimeout(r, end - Date.now());
        this.waiters.push(() => {
          clearTimeout(tm);
          r();
        });
      });
    }
  }
  async cmd(c: string | Buffer): Promise<string> {
    this.sock.write(typeof c === 'string' ? c + '\r\n' : c);
    return this.line();
  }
  async login(): Promise<void> {
    assert.match(await this.cmd(`USER ${USER}`), /^331/);
    assert.match(await this.cmd(`PASS ${PASS}`), /^230/);
  }
}

test('bad input over real sockets: traversal list, garbage, 1 MB line, PORT bounce; the server keeps serving', async () => {
  const r = await Raw.open();
  await r.login();
  for (const attack of ['..', '../..', '../../etc/passwd', '/..', '/../../etc', '%2e%2e/%2e%2e', '..\\..\\etc', '....//....//etc', '/etc/passwd', '../' + USER]) {
    const a = await r.cmd(`SIZE ${attack}`);
    assert.match(a, /^55[03] /, attack);
    const c = await r.cmd(`CWD ${attack}`);
    assert.match(c, /^(550 |250 Directory changed to \/\.)/, attack);
  }
  assert.equal(await r.cmd('PWD'), '257 "/" is the current directory.');
  assert.equal(await r.cmd('XYZZY plugh'), '500 Syntax error, command unrecognized.');
  assert.equal(await r.cmd(Buffer.from([0x00, 0x01, 0xfe, 0x0d, 0x0a])), '500 Syntax error, command unrecognized.');
  assert.equal(await r.cmd('TYPE Q'), '501 Syntax error in parameters or arguments.');
  assert.equal(await r.cmd('PORT 1,2'), '501 Syntax error in parameters or arguments.');
  assert.equal(await r.cmd('PORT 192,0,2,1,20,20'), '501 Refused: the data address must be your own, on port 1024 or above.');
  assert.equal(await r.cmd('EPRT |1|192.0.2.1|5000|'), '501 Refused: the data address must be your own, on port 1024 or above.');
  r.sock.write('STOR ' + 'A'.repeat(1024 * 1024) + '\r\n');
  assert.equal(await r.line(), '500 Command line too long.');
  assert.equal(await r.cmd('NOOP'), '200 NOOP ok.');
  assert.equal(await r.cmd('QUIT'), '221 Goodbye.');
  // a data connection that never comes
  const d = await Raw.open();
  await d.login();
  assert.match(await d.cmd('EPSV'), /^229 /);
  assert.match(await d.cmd('NLST'), /^150 /);
  assert.equal(await d.line(), "425 Can't open data connection.");
  d.sock.destroy();
  // still serving
  const again = await py(`f = ftplib.FTP(); f.connect('127.0.0.1', PORT, timeout=10); f.login(USER, PASS); print(f.pwd()); f.quit()`);
  assert.equal(again, '/\n');
});

test('a client killed in mid-STOR leaves no file under the final name', async () => {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'precious.bin'), 'original');
  const script = `
import ftplib, os, sys
f = ftplib.FTP(); f.connect('127.0.0.1', ${ftpPort}, timeout=10); f.login(${JSON.stringify(USER)}, ${JSON.stringify(PASS)})
f.voidcmd('TYPE I')
conn = f.transfercmd('STOR precious.bin')
conn.sendall(b'x' * 500000)
print('sent', flush=True)
os._exit(3)
`;
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 3);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(readFileSync(join(home, 'precious.bin'), 'utf8'), 'original');
  assert.deepEqual(
    readdirSync(home).filter((n) => n.includes('precious')),
    ['precious.bin'],
    'no temporary file left',
  );
  assert.ok(statSync(join(home, 'precious.bin')).size === 8);
});

test('ABOR in mid-RETR (IAC IP, Synch, ABOR) gives 426 then 226', async () => {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'huge.bin'), Buffer.alloc(64 * 1024 * 1024));
  const r = await Raw.open();
  await r.login();
  const m = /\(\|\|\|(\d+)\|\)/.exec(await r.cmd('EPSV'));
  assert.ok(m);
  const data = net.connect(Number(m[1]), '127.0.0.1');
  data.on('error', () => {});
  data.pause();
  await new Promise((res) => data.once('connect', res));
  assert.match(await r.cmd('RETR huge.bin'), /^150 /);
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(await r.cmd(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')])), '426 Connection closed; transfer aborted.');
  assert.equal(await r.line(), '226 ABOR command successful.');
  assert.equal(await r.cmd('NOOP'), '200 NOOP ok.');
  data.destroy();
  assert.equal(await r.cmd('QUIT'), '221 Goodbye.');
});

test('python ftplib abort() in mid-RETR (ABOR sent as TCP urgent data) gives 426, 226, and the session goes on', async () => {
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'urgent.bin'), Buffer.alloc(32 * 1024 * 1024));
  const out = await py(`
f = ftplib.FTP(); f.connect('127.0.0.1', PORT, timeout=10); f.login(USER, PASS)
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR urgent.bin')
conn.recv(1000)
print(f.abort())
conn.close()
print(f.getresp())
print(f.voidcmd('NOOP'))
print(f.size('urgent.bin'))
f.quit()
`);
  assert.equal(out, ['426 Connection closed; transfer aborted.', '226 ABOR command successful.', '200 NOOP ok.', String(32 * 1024 * 1024), ''].join('\n'));
});
