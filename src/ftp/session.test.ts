// Session tests: S:/C: transcripts over an in-memory control connection; data connections are
// real loopback sockets (the session's passive listener binds 127.0.0.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuthenticator } from '../auth/authenticator.js';
import { hashPassword } from '../auth/password.js';
import { LoginThrottle } from '../auth/throttle.js';
import { Connection } from '../core/connection.js';
import { EventBus, Transcript } from '../core/events.js';
import { silentLogger } from '../core/logger.js';
import { playTranscript, socketPair } from '../core/testing.js';
import type { TestClient } from '../core/testing.js';
import { selfSignedCertificate } from '../core/tls.js';
import type { QuotaLedger } from './quota.js';
import { FtpShared } from './shared.js';
import { SEND_CHUNK } from './transfer.js';
import { FtpSession } from './session.js';
import type { FtpSettings } from './session.js';

let base: string;
let hash: string;
let cert: { cert: string; key: string };
let context: tls.SecureContext;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'ftp-session-'));
  hash = await hashPassword('hungry', { cost: 10 });
  cert = selfSignedCertificate(['localhost', '127.0.0.1']);
  context = tls.createSecureContext({ cert: cert.cert, key: cert.key });
});
after(() => rmSync(base, { recursive: true, force: true }));

interface Harness {
  client: TestClient;
  root: string;
  home: string;
  transcript: string[];
  done: Promise<void>;
  session: FtpSession;
  ledger: QuotaLedger;
  shared: FtpShared;
}

let n = 0;
function start(over: Partial<FtpSettings> = {}, opts: { localAddress?: string; remoteAddress?: string; quota?: number; shared?: FtpShared } = {}): Harness {
  const root = join(base, `t${++n}`);
  mkdirSync(root);
  const settings: FtpSettings = {
    hostname: 'ftp.test',
    homesRoot: join(root, 'homes'),
    anonymous: false,
    anonymousRoot: join(root, 'public'),
    quota: 0,
    passivePorts: null,
    passiveAddress: '',
    allowForeignDataAddress: false,
    dataTimeoutMs: 3000,
    requireTls: false,
    allowInsecure: false,
    idleTimeoutMs: 0,
    fsync: true,
    ...over,
  };
  const { server, client } = socketPair();
  if (opts.localAddress) (server as unknown as { localAddress: string }).localAddress = opts.localAddress;
  if (opts.remoteAddress) (server as unknown as { remoteAddress: string }).remoteAddress = opts.remoteAddress;
  const shared = opts.shared ?? new FtpShared();
  const bus = new EventBus();
  const lines: string[] = [];
  bus.on('transcript', (e) => lines.push(`${e.dir}: ${e.text}`));
  const transcript = new Transcript(bus, 'ftp', 'ftp-t', '127.0.0.1:1');
  const conn = new Connection(server, { maxLine: 8192, idleTimeoutMs: settings.idleTimeoutMs, transcript });
  const authenticator = createAuthenticator({
    findAccount: async (a) => (a.toLowerCase() === 'bob@hamburger.edu' ? { id: 7, address: 'bob@hamburger.edu', passwordHash: hash, disabled: false } : null),
    throttle: new LoginThrottle({ freeAttempts: 100, baseDelayMs: 0, maxDelayMs: 0, windowMs: 1000 }),
    defaultDomain: 'hamburger.edu',
    dummyCost: 10,
  });
  const session = new FtpSession(conn, {
    settings,
    authenticator,
    accountQuota: async () => opts.quota ?? 0,
    shared,
    tls: () => context,
    logger: silentLogger(),
    transcript,
  });
  const done = session.run();
  return { client, root, home: join(settings.homesRoot, 'bob@hamburger.edu'), transcript: lines, done, session, ledger: shared.quota, shared };
}

async function login(c: TestClient): Promise<void> {
  await playTranscript(c, `
    S: 220 ftp.test FTP server (Wharf) ready.
    C: USER bob
    S: 331 User name okay, need password.
    C: PASS hungry
    S: 230 User logged in, proceed.`);
}

async function pasv(c: TestClient): Promise<number> {
  c.send('EPSV');
  const line = await c.readLine();
  const m = /^229 .*\(\|\|\|(\d+)\|\)$/.exec(line);
  assert.ok(m, line);
  return Number(m[1]);
}

function connectData(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

function readAll(s: net.Socket | tls.TLSSocket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** RETR/LIST/…: returns the data; expects 150 then 226. */
async function download(c: TestClient, cmd: string): Promise<Buffer> {
  const port = await pasv(c);
  const s = await connectData(port);
  const data = readAll(s);
  c.send(cmd);
  assert.match(await c.readLine(), /^150 /);
  const out = await data;
  assert.equal(await c.readLine(), '226 Transfer complete.');
  return out;
}

async function upload(c: TestClient, cmd: string, body: Buffer | string): Promise<string> {
  const port = await pasv(c);
  const s = await connectData(port);
  c.send(cmd);
  assert.match(await c.readLine(), /^150 /);
  s.end(body);
  return c.readLine();
}

async function realHome(h: Harness): Promise<string> {
  return realpathSync(h.home);
}

async function bye(h: Harness): Promise<void> {
  h.client.send('QUIT');
  assert.equal(await h.client.readLine(), '221 Goodbye.');
  await h.done;
}

test('login, navigation, replies of the simple commands', async () => {
  const h = start();
  const c = h.client;
  assert.ok(!existsSync(h.home), 'no home before the first login');
  await playTranscript(c, `
    S: 220 ftp.test FTP server (Wharf) ready.
    C: PWD
    S: 530 Not logged in.
    C: PASS nothing
    S: 503 Login with USER first.
    C: USER bob
    S: 331 User name okay, need password.
    C: PASS wrong
    S: 530 Login incorrect.
    C: USER bob@hamburger.edu
    S: 331 User name okay, need password.
    C: PWD
    S: 530 Not logged in.
    C: USER bob
    S: 331 User name okay, need password.
    C: PASS hungry
    S: 230 User logged in, proceed.
    C: PWD
    S: 257 "/" is the current directory.
    C: MKD docs
    S: 257 "/docs" created.
    C: MKD docs
    S: 550 File exists.
    C: CWD docs
    S: 250 Directory changed to /docs.
    C: MKD "quoted"
    S: 257 "/docs/""quoted""" created.
    C: CWD ../../..
    S: 250 Directory changed to /.
    C: CWD /docs/"quoted"
    S: 250 Directory changed to /docs/"quoted".
    C: CDUP
    S: 250 Directory changed to /docs.
    C: XPWD
    S: 257 "/docs" is the current directory.
    C: CWD nowhere
    S: 550 Requested action not taken: file unavailable.
    C: SYST
    S: 215 UNIX Type: L8
    C: TYPE A
    S: 200 Switching to ASCII mode.
    C: TYPE L 8
    S: 200 Switching to Binary mode.
    C: TYPE E
    S: 504 Command not implemented for that parameter.
    C: TYPE X
    S: 501 Syntax error in parameters or arguments.
    C: MODE S
    S: 200 Mode set to S.
    C: MODE B
    S: 504 Command not implemented for that parameter.
    C: STRU F
    S: 200 Structure set to F.
    C: STRU R
    S: 504 Command not implemented for that parameter.
    C: ALLO 100
    S: 202 Command not implemented, superfluous at this site.
    C: ACCT x
    S: 502 Command not implemented.
    C: SITE CHMOD 777 x
    S: 502 Command not implemented.
    C: FOO bar
    S: 500 Syntax error, command unrecognized.
    C: 12 garbage
    S: 500 Syntax error, command unrecognized.
    C: RNTO x
    S: 503 Bad sequence of commands.
    C: NOOP
    S: 200 NOOP ok.
    C: OPTS UTF8 ON
    S: 200 UTF8 mode enabled.
    C: OPTS MLST type;size;
    S: 200 MLST OPTS type;size;
    C: OPTS BOGUS
    S: 501 Syntax error in parameters or arguments.
    C: PBSZ 0
    S: 503 Bad sequence of commands.
    C: AUTH KERBEROS
    S: 504 Command not implemented for that parameter.
    C: RMD /docs
    S: 550 Directory not empty.
    C: RMD /docs/"quoted"
    S: 250 Directory removed.
    C: RMD /
    S: 553 Requested action not taken: file name not allowed.
  `);
  await bye(h);
  assert.ok(existsSync(join(h.home, 'docs')));
  assert.ok(h.transcript.includes('C: PASS ****'), 'PASS is redacted');
  assert.ok(!h.transcript.some((l) => l.includes('hungry')), 'no password in the transcript');
});

test('FEAT, HELP and STAT are multi-line replies (RFC 959 §4.2, RFC 2389)', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  await playTranscript(c, `
    C: FEAT
    S: 211-Features:
    S:  EPRT
    S:  EPSV
    S:  MDTM
    S:  MFMT
    S:  PASV
    S:  SIZE
    S:  REST STREAM
    S:  MLST Type*;Size*;Modify*;Perm*;Unique*;UNIX.mode;
    S:  TVFS
    S:  UTF8
    S:  AUTH TLS
    S:  PBSZ
    S:  PROT
    S: 211 End
    C: STAT
    S: 211-ftp.test FTP server status:
    S:  Connected to 127.0.0.1
    S:  Logged in as bob@hamburger.edu
    S:  TYPE: BINARY, STRUcture: File, MODE: Stream
    S:  Control connection: plain; data protection: clear
    S:  No data connection
    S: 211 End of status
    C: HELP
    S: 214-The following commands are recognized:
  `);
  const rest = await c.readUntil((l) => /^214 /.test(l));
  assert.equal(rest.at(-1), '214 Help OK.');
  assert.ok(rest.some((l) => /\bEPSV\b/.test(l)));
  await playTranscript(c, `
    C: HELP RETR
    S: 214 RETR is supported.
  `);
  writeFileSync(join(h.home, 'f.txt'), 'hello');
  await playTranscript(c, `
    C: STAT f.txt
    S: 213-Status of /f.txt:
    S:  -rw-r--r--   1 ftp      ftp                 5 * f.txt
    S: 213 End of status
  `);
  await bye(h);
});

test('STOR, RETR, SIZE, MDTM, MLST, LIST, NLST, MLSD, rename, delete', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  assert.equal(await upload(c, 'STOR caf\u00e9 notes.txt', 'hello\nworld\n'), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 'caf\u00e9 notes.txt'), 'utf8'), 'hello\nworld\n');
  assert.deepEqual(readdirSync(h.home), ['caf\u00e9 notes.txt'], 'no temporary file left');
  assert.equal((await download(c, 'RETR caf\u00e9 notes.txt')).toString(), 'hello\nworld\n');
  await playTranscript(c, `
    C: SIZE caf\u00e9 notes.txt
    S: 213 12
    C: MDTM caf\u00e9 notes.txt
    S: 213 20*
    C: MFMT 20200102030405 caf\u00e9 notes.txt
    S: 213 Modify=20200102030405; /caf\u00e9 notes.txt
    C: MDTM caf\u00e9 notes.txt
    S: 213 20200102030405
    C: MLST caf\u00e9 notes.txt
    S: 250-Listing /caf\u00e9 notes.txt
    S:  type=file;size=12;modify=20200102030405;perm=adfrw;unique=*; /caf\u00e9 notes.txt
    S: 250 End
    C: SIZE /
    S: 550 Not a plain file.
    C: MKD sub
    S: 257 "/sub" created.
  `);
  assert.match((await download(c, 'LIST')).toString(), /^-rw-r--r-- +1 ftp +ftp +12 Jan  2  2020 caf\u00e9 notes.txt\r\ndrwx.* sub\r\n$/);
  assert.equal((await download(c, 'LIST -la')).toString().split('\r\n').length, 3);
  assert.equal((await download(c, 'NLST')).toString(), 'caf\u00e9 notes.txt\r\nsub\r\n');
  const mlsd = (await download(c, 'MLSD')).toString();
  assert.match(mlsd, /^type=file;size=12;modify=20200102030405;perm=adfrw;unique=[0-9a-f]+g[0-9a-f]+; caf\u00e9 notes.txt\r\ntype=dir;modify=\d{14};perm=cdeflmp;unique=\w+; sub\r\n$/);
  assert.equal((await download(c, 'LIST caf\u00e9 notes.txt')).toString().split('\r\n').length, 2);
  await playTranscript(c, `
    C: PASV
    S: 227 Entering Passive Mode (127,0,0,1,*).
    C: MLSD caf\u00e9 notes.txt
    S: 501 Not a directory.
    C: RNFR caf\u00e9 notes.txt
    S: 350 File exists, ready for destination name.
    C: RNTO sub/moved.txt
    S: 250 Rename successful.
    C: RNFR nothing
    S: 550 Requested action not taken: file unavailable.
    C: DELE sub
    S: 550 Not a plain file.
    C: DELE sub/moved.txt
    S: 250 File deleted.
    C: DELE sub/moved.txt
    S: 550 Requested action not taken: file unavailable.
    C: RETR nothing
    S: 550 Requested action not taken: file unavailable.
  `);
  await bye(h);
});

test('a transfer command without PORT/PASV gets 425', async () => {
  const h = start();
  await login(h.client);
  writeFileSync(join(h.home, 'a'), 'a');
  await playTranscript(h.client, `
    C: RETR a
    S: 425 Use PORT, EPRT, PASV or EPSV first.
    C: STOR b
    S: 425 Use PORT, EPRT, PASV or EPSV first.
  `);
  await bye(h);
  assert.ok(!existsSync(join(h.home, 'b')));
});

test('REST resumes RETR and STOR; APPE appends; STOU picks a new name', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  writeFileSync(join(h.home, 'data.bin'), '0123456789');
  await playTranscript(c, `
    C: REST 4
    S: 350 Restarting at 4. Send STOR or RETR.`);
  assert.equal((await download(c, 'RETR data.bin')).toString(), '456789');
  await playTranscript(c, `
    C: REST 6
    S: 350 Restarting at 6. Send STOR or RETR.`);
  assert.equal(await upload(c, 'STOR data.bin', 'abc'), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 'data.bin'), 'utf8'), '012345abc');
  // a REST not followed by its transfer is forgotten
  await playTranscript(c, `
    C: REST 3
    S: 350 Restarting at 3. Send STOR or RETR.
    C: PWD
    S: 257 "/" is the current directory.`);
  assert.equal((await download(c, 'RETR data.bin')).toString(), '012345abc');
  assert.equal(await upload(c, 'APPE data.bin', 'XY'), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 'data.bin'), 'utf8'), '012345abcXY');
  assert.equal(await upload(c, 'APPE fresh.txt', 'new'), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 'fresh.txt'), 'utf8'), 'new');
  await playTranscript(c, `
    C: REST 100
    S: 350 Restarting at 100. Send STOR or RETR.
    C: EPSV
    S: 229 *
    C: RETR data.bin
    S: 554 Requested action not taken: invalid REST parameter.
  `);
  const port = await pasv(c);
  const s = await connectData(port);
  c.send('STOU fresh.txt');
  const r150 = await c.readLine();
  const m = /^150 .*FILE: (fresh\.txt\.[0-9a-f]+)\.$/.exec(r150);
  assert.ok(m, r150);
  s.end('unique');
  assert.equal(await c.readLine(), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, m[1]!), 'utf8'), 'unique');
  await bye(h);
});

test('RETR: empty file, REST at the end, a file of several chunks, a folder, a FIFO; download buffers are reused', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  writeFileSync(join(h.home, 'empty'), '');
  assert.equal((await download(c, 'RETR empty')).length, 0);
  writeFileSync(join(h.home, 'ten'), '0123456789');
  await playTranscript(c, `
    C: REST 10
    S: 350 Restarting at 10. Send STOR or RETR.`);
  assert.equal((await download(c, 'RETR ten')).length, 0);
  const big = randomBytes(SEND_CHUNK * 3 + 5);
  writeFileSync(join(h.home, 'big'), big);
  assert.ok((await download(c, 'RETR big')).equals(big));
  await playTranscript(c, `
    C: REST 100
    S: 350 Restarting at 100. Send STOR or RETR.`);
  assert.ok((await download(c, 'RETR big')).equals(big.subarray(100)));
  // the pool hands out the same buffers again: no allocation per download
  const pool = h.shared.buffers;
  const taken: Buffer[] = [];
  const take = pool.take.bind(pool);
  pool.take = () => {
    const b = take();
    taken.push(b);
    return b;
  };
  assert.ok((await download(c, 'RETR big')).equals(big));
  assert.ok((await download(c, 'RETR big')).equals(big));
  assert.equal(taken.length, 4);
  assert.equal(new Set(taken).size, 2, 'two buffers, reused');
  mkdirSync(join(h.home, 'dir'));
  execFileSync('mkfifo', [join(h.home, 'fifo')]);
  await playTranscript(c, `
    C: EPSV
    S: 229 *
    C: RETR dir
    S: 550 Not a plain file.
    C: RETR fifo
    S: 550 Not a plain file.
    C: NOOP
    S: 200 NOOP ok.`);
  await bye(h);
});

test('TYPE A converts line ends both ways (RFC 959 §3.1.1.1)', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  await playTranscript(c, `
    C: TYPE A
    S: 200 Switching to ASCII mode.`);
  assert.equal(await upload(c, 'STOR t.txt', 'one\r\ntwo\r\nlone\rcr\r\n'), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 't.txt'), 'latin1'), 'one\ntwo\nlone\rcr\n');
  writeFileSync(join(h.home, 'u.txt'), 'a\nb\r\nc\n');
  assert.equal((await download(c, 'RETR u.txt')).toString(), 'a\r\nb\r\nc\r\n');
  await playTranscript(c, `
    C: TYPE I
    S: 200 Switching to Binary mode.`);
  assert.equal((await download(c, 'RETR u.txt')).toString(), 'a\nb\r\nc\n');
  await bye(h);
});

test('ABOR in mid-transfer gives 426 then 226; STAT shows progress; the session goes on', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  writeFileSync(join(h.home, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 7));
  const port = await pasv(c);
  const s = await connectData(port);
  s.pause(); // do not read: the server is held back by TCP flow control
  c.send('RETR big.bin');
  assert.match(await c.readLine(), /^150 /);
  await new Promise((r) => setTimeout(r, 200));
  await playTranscript(c, `
    C: STAT
    S: 213-Status:
    S:  RETR /big.bin: * bytes transferred in * s
    S: 213 End of status`);
  c.sendRaw(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
  await playTranscript(c, `
    S: 426 Connection closed; transfer aborted.
    S: 226 ABOR command successful.
    C: NOOP
    S: 200 NOOP ok.
    C: ABOR
    S: 226 ABOR command successful.`);
  s.destroy();
  assert.ok(h.transcript.some((l) => /^\*: data: RETR \/big\.bin \d+ bytes -> 426$/.test(l)));
  await bye(h);
});

test('425 when the data connection never comes (data_timeout)', async () => {
  const h = start({ dataTimeoutMs: 300 });
  const c = h.client;
  await login(c);
  writeFileSync(join(h.home, 'a'), 'a');
  await pasv(c);
  await playTranscript(c, `
    C: RETR a
    S: 150 *
    S: 425 Can't open data connection.
    C: NOOP
    S: 200 NOOP ok.`);
  await pasv(c);
  await playTranscript(c, `
    C: STOR never.txt
    S: 150 *
    S: 425 Can't open data connection.`);
  assert.deepEqual(readdirSync(h.home).sort(), ['a'], 'no file, no temporary file');
  await bye(h);
});

test('421 after the idle timeout', async () => {
  const h = start({ idleTimeoutMs: 200 });
  await login(h.client);
  assert.equal(await h.client.readLine(1000), '421 Timeout: closing control connection.');
  await h.client.closed;
  await h.done;
});

test('a 1 MB command line gets 500 and the session goes on', async () => {
  const h = start();
  await login(h.client);
  h.client.send('NLST ' + 'x'.repeat(1024 * 1024));
  await playTranscript(h.client, `
    S: 500 Command line too long.
    C: NOOP
    S: 200 NOOP ok.`);
  await bye(h);
});

test('RFC 2577: PORT/EPRT to another host or a privileged port is refused; own address works', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  await playTranscript(c, `
    C: PORT 10,0,0,1,200,10
    S: 501 Refused: the data address must be your own, on port 1024 or above.
    C: EPRT |1|192.0.2.7|5000|
    S: 501 Refused: the data address must be your own, on port 1024 or above.
    C: PORT 127,0,0,1,0,25
    S: 501 Refused: the data address must be your own, on port 1024 or above.
    C: EPRT |2|::1|5000|
    S: 522 Network protocol not supported, use (1)
    C: EPRT garbage
    S: 501 Syntax error in parameters or arguments.
    C: PORT 1,2,3
    S: 501 Syntax error in parameters or arguments.
  `);
  // Active mode to our own address: the server connects to us.
  writeFileSync(join(h.home, 'a.txt'), 'active!');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (s) => resolve(readAll(s))));
  await playTranscript(c, `
    C: PORT 127,0,0,1,${port >> 8},${port & 255}
    S: 200 PORT command successful.
    C: RETR a.txt
    S: 150 *
    S: 226 Transfer complete.
  `);
  assert.equal((await got).toString(), 'active!');
  const got2 = new Promise<Buffer>((resolve) => srv.once('connection', (s) => resolve(readAll(s))));
  await playTranscript(c, `
    C: EPRT |1|127.0.0.1|${port}|
    S: 200 EPRT command successful.
    C: NLST
    S: 150 *
    S: 226 Transfer complete.
  `);
  assert.equal((await got2).toString(), 'a.txt\r\n');
  srv.close();
  await bye(h);
});

test('foreign data addresses pass when ftp.allow_foreign_data_address is set', async () => {
  const h = start({ allowForeignDataAddress: true });
  await login(h.client);
  await playTranscript(h.client, `
    C: PORT 10,0,0,1,200,10
    S: 200 PORT command successful.
    C: EPSV ALL
    S: 200 EPSV ALL ok.
    C: PORT 10,0,0,1,200,10
    S: 503 EPSV ALL given: only EPSV is allowed.
    C: PASV
    S: 503 EPSV ALL given: only EPSV is allowed.
    C: EPSV
    S: 229 Entering Extended Passive Mode (|||*|)
  `);
  await bye(h);
});

test('a passive port refuses a connection from another address (RFC 2577 port stealing)', async () => {
  const h = start();
  await login(h.client);
  writeFileSync(join(h.home, 'a.txt'), 'mine');
  const port = await pasv(h.client);
  // Another local address (127.0.0.2) is "another host" here.
  const thief = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
  const stolen = readAll(thief).catch(() => Buffer.alloc(0));
  await new Promise((r) => setTimeout(r, 100));
  const s = await connectData(port);
  const data = readAll(s);
  h.client.send('RETR a.txt');
  assert.match(await h.client.readLine(), /^150 /);
  assert.equal(await h.client.readLine(), '226 Transfer complete.');
  assert.equal((await data).toString(), 'mine');
  assert.equal((await stolen).length, 0);
  await bye(h);
});

test('cleartext logins: refused off loopback without TLS, allowed with auth.allow_insecure, refused before AUTH TLS with require_tls', async () => {
  const a = start({}, { localAddress: '192.0.2.1' });
  await playTranscript(a.client, `
    S: 220 *
    C: USER bob
    S: 530 Use AUTH TLS first: cleartext logins are refused here.
    C: PASS hungry
    S: 503 Login with USER first.`);
  await bye(a);
  const b = start({ allowInsecure: true }, { localAddress: '192.0.2.1' });
  await login(b.client);
  await bye(b);
  const c = start({ requireTls: true });
  await playTranscript(c.client, `
    S: 220 *
    C: USER bob
    S: 530 Use AUTH TLS first: cleartext logins are refused here.`);
  await bye(c);
});

test('AUTH TLS, PBSZ, PROT P: the data channel is TLS and resumes the control session', async () => {
  const h = start({ requireTls: true });
  await playTranscript(h.client, `
    S: 220 *
    C: USER bob
    S: 530 Use AUTH TLS first: cleartext logins are refused here.
    C: AUTH TLS
    S: 234 AUTH TLS successful.`);
  const c = await h.client.startTls({ ca: cert.cert, servername: 'localhost' });
  const controlSocket = c.stream as tls.TLSSocket;
  let session: Buffer | undefined;
  controlSocket.on('session', (s: Buffer) => (session = s));
  await playTranscript(c, `
    C: AUTH TLS
    S: 503 Bad sequence of commands.
    C: USER bob
    S: 331 User name okay, need password.
    C: PASS hungry
    S: 230 User logged in, proceed.
    C: PROT S
    S: 536 Requested PROT level not supported.
    C: PBSZ 0
    S: 200 PBSZ=0
    C: PROT P
    S: 200 Protection level set to P.
    C: STAT
    S: 211-*
    S:  *
    S:  *
    S:  *
    S:  Control connection: TLS; data protection: private
    S:  *
    S: 211 End of status`);
  assert.ok(session, 'a TLS session ticket came on the control connection');
  const port = await pasv(c);
  const raw = await connectData(port);
  c.send('STOR secret.txt');
  assert.match(await c.readLine(), /^150 /);
  const t = tls.connect({ socket: raw, ca: cert.cert, servername: 'localhost', session });
  await new Promise<void>((r) => t.once('secureConnect', () => r()));
  assert.equal(t.isSessionReused(), true, 'the data connection resumed the control session');
  t.end('top secret');
  assert.equal(await c.readLine(), '226 Transfer complete.');
  assert.equal(readFileSync(join(h.home, 'secret.txt'), 'utf8'), 'top secret');
  assert.ok(h.transcript.includes('*: data connection TLS, session resumed'));
  c.send('QUIT');
  assert.equal(await c.readLine(), '221 Goodbye.');
  await h.done;
});

test('a client that drops in mid-STOR leaves no file under the final name', async () => {
  const h = start();
  await login(h.client);
  writeFileSync(join(h.home, 'keep.txt'), 'old content');
  const port = await pasv(h.client);
  const s = await connectData(port);
  h.client.send('STOR keep.txt');
  assert.match(await h.client.readLine(), /^150 /);
  s.write(Buffer.alloc(100_000, 1));
  await new Promise((r) => setTimeout(r, 100));
  h.client.destroy();
  s.end();
  await h.done;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(readFileSync(join(h.home, 'keep.txt'), 'utf8'), 'old content');
  assert.deepEqual(readdirSync(h.home), ['keep.txt'], 'no temporary file left behind');
});

test('quota: an upload past it gets 552 and leaves nothing', async () => {
  const h = start({ quota: 1000 });
  await login(h.client);
  assert.equal(await upload(h.client, 'STOR small', Buffer.alloc(600)), '226 Transfer complete.');
  assert.equal(await upload(h.client, 'STOR big', Buffer.alloc(600)), '552 Requested file action aborted: quota exceeded.');
  assert.deepEqual(readdirSync(h.home), ['small'], 'nothing partial left');
  // overwriting frees the old bytes
  assert.equal(await upload(h.client, 'STOR small', Buffer.alloc(900)), '226 Transfer complete.');
  assert.equal(await upload(h.client, 'STOR x', Buffer.alloc(101)), '552 Requested file action aborted: quota exceeded.');
  await bye(h);
  // the account's own quota wins over the default
  const k = start({ quota: 0 }, { quota: 10 });
  await login(k.client);
  assert.equal(await upload(k.client, 'STOR x', Buffer.alloc(11)), '552 Requested file action aborted: quota exceeded.');
  await bye(k);
});

test('quota: a running counter (one walk per home), freed by DELE, RNTO over a file, APPE and REST counted', async () => {
  const h = start({ quota: 1000 });
  mkdirSync(join(h.home, 'sub'), { recursive: true });
  writeFileSync(join(h.home, 'sub', 'old'), Buffer.alloc(300)); // there before: found by the walk
  await login(h.client);
  assert.equal(h.ledger.walks, 0, 'no walk before the first upload');
  assert.equal(await upload(h.client, 'STOR a', Buffer.alloc(400)), '226 Transfer complete.');
  assert.equal(h.ledger.walks, 1);
  assert.equal((await h.ledger.tracked(await realHome(h)))!.used, 700);
  assert.equal(await upload(h.client, 'STOR b', Buffer.alloc(400)), '552 Requested file action aborted: quota exceeded.');
  // DELE frees: the same upload fits now
  await playTranscript(h.client, `
    C: DELE sub/old
    S: 250 File deleted.`);
  assert.equal(await upload(h.client, 'STOR b', Buffer.alloc(400)), '226 Transfer complete.');
  // RNTO over an existing file frees the replaced one
  await playTranscript(h.client, `
    C: RNFR b
    S: 350 File exists, ready for destination name.
    C: RNTO a
    S: 250 Rename successful.`);
  assert.equal((await h.ledger.tracked(await realHome(h)))!.used, 400);
  // APPE adds; REST+STOR truncates at the offset first
  assert.equal(await upload(h.client, 'APPE a', Buffer.alloc(500)), '226 Transfer complete.');
  assert.equal(await upload(h.client, 'APPE a', Buffer.alloc(101)), '552 Requested file action aborted: quota exceeded.');
  assert.equal(statSync(join(h.home, 'a')).size, 900, 'APPE keeps what fitted (it appends by design)');
  h.client.send('REST 100');
  assert.match(await h.client.readLine(), /^350 /);
  assert.equal(await upload(h.client, 'STOR a', Buffer.alloc(850)), '226 Transfer complete.');
  assert.equal(statSync(join(h.home, 'a')).size, 950);
  assert.equal((await h.ledger.tracked(await realHome(h)))!.used, 950);
  assert.equal(h.ledger.walks, 1, 'no walk per upload');
  await bye(h);
});

test('quota: concurrent sessions of one user share the counter', async () => {
  const shared = new FtpShared();
  const ledger = shared.quota;
  const a = start({ quota: 1000 }, { shared });
  const b = start({ quota: 1000, homesRoot: join(a.root, 'homes') }, { shared });
  await login(a.client);
  await login(b.client);
  // Both uploads are under way at once, each 600 bytes: only one may fit.
  const begin = async (h: Harness, name: string) => {
    const port = await pasv(h.client);
    const s = await connectData(port);
    h.client.send(`STOR ${name}`);
    assert.match(await h.client.readLine(), /^150 /);
    return s;
  };
  const sa = await begin(a, 'one');
  const sb = await begin(b, 'two');
  sa.write(Buffer.alloc(500));
  sb.write(Buffer.alloc(500));
  await new Promise((r) => setTimeout(r, 100));
  // 500 + 500 are charged: a's last 100 bytes cross the limit, and its 500 come back for b's.
  sa.end(Buffer.alloc(100));
  assert.equal(await a.client.readLine(), '552 Requested file action aborted: quota exceeded.');
  sb.end(Buffer.alloc(100));
  assert.equal(await b.client.readLine(), '226 Transfer complete.');
  assert.deepEqual(readdirSync(a.home), ['two'], 'only the upload that fitted is left');
  assert.equal(ledger.walks, 1);
  assert.equal((await ledger.tracked(await realHome(a)))!.used, 600);
  await bye(a);
  await bye(b);
});

test('anonymous access is read-only', async () => {
  const h = start({ anonymous: true });
  mkdirSync(join(h.root, 'public'), { recursive: true });
  writeFileSync(join(h.root, 'public', 'readme.txt'), 'welcome');
  await playTranscript(h.client, `
    S: 220 *
    C: USER anonymous
    S: 331 Anonymous login okay, send your e-mail address as password.
    C: PASS guest@example.com
    S: 230 Anonymous access granted, read-only.
    C: MKD x
    S: 550 Permission denied: read-only access.
    C: DELE readme.txt
    S: 550 Permission denied: read-only access.
    C: RNFR readme.txt
    S: 550 Permission denied: read-only access.
    C: STOR up.txt
    S: 550 Permission denied: read-only access.
    C: APPE readme.txt
    S: 550 Permission denied: read-only access.
  `);
  assert.equal((await download(h.client, 'RETR readme.txt')).toString(), 'welcome');
  assert.match((await download(h.client, 'MLSD')).toString(), /perm=r;unique=\w+; readme.txt/);
  await bye(h);
  // off by default: "anonymous" is just an unknown user
  const k = start();
  await playTranscript(k.client, `
    S: 220 *
    C: USER anonymous
    S: 331 User name okay, need password.
    C: PASS x
    S: 530 Login incorrect.`);
  await bye(k);
});

test('traversal through the protocol stays in the home; CR/LF names are refused or hidden', async () => {
  const h = start();
  await login(h.client);
  mkdirSync(join(h.root, 'homes', 'alice@hamburger.edu'));
  writeFileSync(join(h.root, 'homes', 'alice@hamburger.edu', 'private.txt'), 'alice');
  writeFileSync(join(h.home, 'bad\nname'), 'x');
  writeFileSync(join(h.home, 'good'), 'x');
  await playTranscript(h.client, `
    C: CWD ../alice@hamburger.edu
    S: 550 Requested action not taken: file unavailable.
    C: CWD ../../..
    S: 250 Directory changed to /.
    C: SIZE ../alice@hamburger.edu/private.txt
    S: 550 Requested action not taken: file unavailable.
    C: SIZE /../../etc/passwd
    S: 550 Requested action not taken: file unavailable.
  `);
  // RFC 959 §3.2: CR inside a path travels as CR NUL; such names (and NUL) are refused.
  h.client.send('MKD a\r\0b');
  assert.equal(await h.client.readLine(), '553 Requested action not taken: file name not allowed.');
  h.client.send('DELE x\0y');
  assert.equal(await h.client.readLine(), '553 Requested action not taken: file name not allowed.');
  assert.equal((await download(h.client, 'NLST')).toString(), 'good\r\n', 'a name with LF is not listed');
  await bye(h);
});

test('a folder with 10,000 entries is listed in full', async () => {
  const h = start();
  await login(h.client);
  const dir = join(h.home, 'many');
  mkdirSync(dir);
  for (let i = 0; i < 10_000; i++) writeFileSync(join(dir, `f${String(i).padStart(5, '0')}`), '');
  const names = (await download(h.client, 'NLST many')).toString().split('\r\n').filter(Boolean);
  assert.equal(names.length, 10_000);
  assert.equal(new Set(names).size, 10_000);
  const mlsd = (await download(h.client, 'MLSD many')).toString().split('\r\n').filter(Boolean);
  assert.equal(mlsd.length, 10_000);
  await bye(h);
});

test('REIN logs out but keeps the connection', async () => {
  const h = start();
  await login(h.client);
  await playTranscript(h.client, `
    C: REIN
    S: 220 ftp.test FTP server (Wharf) ready.
    C: PWD
    S: 530 Not logged in.
    C: USER bob
    S: 331 *
    C: PASS hungry
    S: 230 *`);
  await bye(h);
});

test('PASV announces ftp.passive_address and uses a port from ftp.passive_ports', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const free = (probe.address() as net.AddressInfo).port;
  probe.close();
  const h = start({ passiveAddress: '203.0.113.5', passivePorts: [free, free] });
  await login(h.client);
  await playTranscript(h.client, `
    C: PASV
    S: 227 Entering Passive Mode (203,0,113,5,${free >> 8},${free & 255}).
    C: EPSV
    S: 229 Entering Extended Passive Mode (|||${free}|)
    C: EPSV 2
    S: 522 Network protocol not supported, use (1)`);
  await bye(h);
});

test('IPv6: EPSV and EPRT work on an IPv6 control connection; PASV asks for EPSV', async () => {
  const h = start({}, { localAddress: '::1', remoteAddress: '::1' });
  await login(h.client);
  writeFileSync(join(h.home, 'six.txt'), 'v6');
  await playTranscript(h.client, `
    C: PASV
    S: 425 PASV needs IPv4: use EPSV.
    C: EPRT |1|127.0.0.1|5000|
    S: 522 Network protocol not supported, use (2)`);
  const port = await pasv(h.client);
  const s = net.connect({ port, host: '::1' });
  await new Promise((r) => s.once('connect', r));
  const data = readAll(s);
  h.client.send('RETR six.txt');
  assert.match(await h.client.readLine(), /^150 /);
  assert.equal(await h.client.readLine(), '226 Transfer complete.');
  assert.equal((await data).toString(), 'v6');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '::1', r));
  const aport = (srv.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (c) => resolve(readAll(c))));
  await playTranscript(h.client, `
    C: EPRT |2|::1|${aport}|
    S: 200 EPRT command successful.
    C: RETR six.txt
    S: 150 *
    S: 226 Transfer complete.`);
  assert.equal((await got).toString(), 'v6');
  srv.close();
  await bye(h);
});

test('drain (server stopping): an idle session gets 421 and is closed', async () => {
  const h = start();
  await login(h.client);
  h.session.drain();
  assert.equal(await h.client.readLine(), '421 Service shutting down, closing control connection.');
  await h.client.closed;
  await h.done;
});

test('splitBareCr: a CR not followed by NUL ends a command; CR NUL stays inside a path', async () => {
  const { splitBareCr } = await import('./session.js');
  assert.deepEqual(splitBareCr(Buffer.from('ABOR\rNOOP')).map(String), ['ABOR', 'NOOP']);
  assert.deepEqual(splitBareCr(Buffer.from('MKD a\r\0b')).map(String), ['MKD a\r\0b']);
  assert.deepEqual(splitBareCr(Buffer.from('NOOP')).map(String), ['NOOP']);
  assert.deepEqual(splitBareCr(Buffer.from('\r\rPWD\r')).map(String), ['PWD']);
});

test('an ABOR whose LF never comes (urgent data) is answered at once; its line end is not run twice', async () => {
  const h = start();
  const c = h.client;
  await login(c);
  writeFileSync(join(h.home, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 1));
  const port = await pasv(c);
  const s = await connectData(port);
  s.pause();
  c.send('RETR big.bin');
  assert.match(await c.readLine(), /^150 /);
  await new Promise((r) => setTimeout(r, 100));
  c.sendRaw('ABOR\r');
  await playTranscript(c, `
    S: 426 Connection closed; transfer aborted.
    S: 226 ABOR command successful.
    C: NOOP
    S: 200 NOOP ok.`);
  s.destroy();
  await bye(h);
});

test('drain during a transfer: the transfer finishes (226), then 421', async () => {
  const h = start();
  await login(h.client);
  writeFileSync(join(h.home, 'f.bin'), Buffer.alloc(4 * 1024 * 1024, 3));
  const port = await pasv(h.client);
  const s = await connectData(port);
  s.pause();
  h.client.send('RETR f.bin');
  assert.match(await h.client.readLine(), /^150 /);
  h.session.drain();
  const data = readAll(s);
  s.resume();
  assert.equal((await data).length, 4 * 1024 * 1024);
  await playTranscript(h.client, `
    S: 226 Transfer complete.
    S: 421 Service shutting down, closing control connection.`);
  await h.client.closed;
  await h.done;
});
