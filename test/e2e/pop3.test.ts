// POP3 end to end, over real sockets, with clients nobody here wrote: Python's poplib (plain,
// STLS, POP3_SSL), curl (pop3://, pop3s://) and fetchmail pulling the maildrop into an mbox.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, inboxUids, sampleMessage } from '../helpers/mail.js';

const run = promisify(execFile);
const BOB = 'bob@hamburger.edu';
let t: TestWharf;

const inbox = (): Promise<number[]> => inboxUids(t.wharf, BOB);

async function resetInbox(n: number): Promise<void> {
  const a = (await t.wharf.store.getAccount(BOB))!;
  const mb = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
  await t.wharf.store.expunge(mb.id, await inbox());
  for (let i = 1; i <= n; i++) {
    await deliverRaw(t.wharf, BOB, sampleMessage(`message ${i}`, `Line one of ${i}.\n.dotted line\nlast line\n`));
  }
}

async function python(script: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run('python3', ['-c', script, ...args], { timeout: 20_000 });
  return JSON.parse(stdout);
}

const POPLIB = `
import json, poplib, ssl, sys
mode, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'ssl':
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=10)
else:
    p = poplib.POP3('127.0.0.1', port, timeout=10)
    if mode == 'stls':
        p.stls(ctx)
out = {'welcome': p.getwelcome().decode(), 'caps': sorted(p.capa().keys())}
p.user('${BOB}')
out['pass'] = p.pass_('hungry').decode()
out['stat'] = list(p.stat())
resp, listing, _ = p.list()
out['list'] = [l.decode() for l in listing]
resp, lines, octets = p.retr(1)
out['retr'] = [l.decode() for l in lines]
out['retr_octets'] = octets
resp, top, _ = p.top(2, 1)
out['top'] = [l.decode() for l in top]
resp, uidl, _ = p.uidl()
out['uidl'] = [l.decode() for l in uidl]
out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

before(async () => {
  t = await startTestWharf({
    services: ['pop3', 'pop3s'],
    users: [[BOB, 'hungry']],
    set: { 'auth.throttle.base_delay': 5, 'auth.throttle.max_delay': 20 },
  });
});
after(() => t.stop());

describe('POP3 with poplib', () => {
  beforeEach(() => resetInbox(2));

  for (const mode of ['plain', 'stls', 'ssl'] as const) {
    it(`${mode}: USER/PASS, STAT, LIST, RETR, TOP, UIDL, DELE, QUIT`, async () => {
      const port = mode === 'ssl' ? t.port('pop3s') : t.port('pop3');
      const before = await inbox();
      const out = (await python(POPLIB, mode, String(port))) as Record<string, unknown>;
      assert.match(out.welcome as string, /^\+OK POP3 server ready/);
      assert.ok((out.caps as string[]).includes('UIDL'));
      if (mode === 'plain') assert.ok((out.caps as string[]).includes('STLS'));
      assert.equal(out.pass, '+OK user successfully logged on');
      const [count, size] = out.stat as [number, number];
      assert.equal(count, 2);
      const sizes = (out.list as string[]).map((l) => Number(l.split(' ')[1]));
      assert.equal(size, sizes[0]! + sizes[1]!);
      const retr = out.retr as string[];
      assert.ok(retr.includes('Subject: message 1'));
      assert.ok(retr.includes('.dotted line'), 'poplib un-stuffs the dotted line');
      assert.equal(retr[0], 'Return-Path: <alice@crepes.fr>');
      assert.deepEqual((out.top as string[]).slice(-2), ['', 'Line one of 2.']);
      assert.equal((out.uidl as string[]).length, 2);
      assert.match(out.quit as string, /^\+OK/);
      assert.deepEqual(await inbox(), before.slice(1), 'DELE 1 then QUIT removed exactly message 1');
    });
  }

  it('the size in LIST is what RETR delivers', async () => {
    const out = (await python(POPLIB, 'plain', String(t.port('pop3')))) as Record<string, unknown>;
    const size1 = Number((out.list as string[])[0]!.split(' ')[1]);
    // poplib counts each line plus CRLF, after un-stuffing.
    assert.equal(out.retr_octets, size1);
  });
});

describe('POP3 with curl', () => {
  beforeEach(() => resetInbox(2));

  it('pop3:// lists and retrieves', async () => {
    const url = `pop3://127.0.0.1:${t.port('pop3')}`;
    const list = await run('curl', ['-sS', '--max-time', '10', '-u', `${BOB}:hungry`, `${url}/`]);
    const lines = list.stdout.trim().split(/\r?\n/);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^1 \d+$/);
    const msg = await run('curl', ['-sS', '--max-time', '10', '-u', `${BOB}:hungry`, `${url}/2`]);
    assert.match(msg.stdout, /Subject: message 2\r\n/);
    assert.match(msg.stdout, /\r\n\.dotted line\r\n/);
    assert.equal(Buffer.byteLength(msg.stdout), Number(lines[1]!.split(' ')[1]));
  });

  it('pop3s:// (implicit TLS) retrieves', async () => {
    const msg = await run('curl', ['-sS', '-k', '--max-time', '10', '-u', `${BOB}:hungry`, `pop3s://127.0.0.1:${t.port('pop3s')}/1`]);
    assert.match(msg.stdout, /Subject: message 1\r\n/);
  });

  it('a wrong password is refused with -ERR [AUTH]', async () => {
    const r = await run('curl', ['-sS', '--max-time', '10', '-u', `${BOB}:wrong`, `pop3://127.0.0.1:${t.port('pop3')}/`]).catch((e: { code: number; stderr: string }) => e);
    assert.equal((r as { code: number }).code, 67, 'curl exit 67: login denied');
  });
});

describe('POP3 with fetchmail', () => {
  it('pulls the maildrop into an mbox and deletes it on the server', async () => {
    await resetInbox(3);
    const dir = mkdtempSync(join(tmpdir(), 'wharf-fetchmail-'));
    try {
      const mbox = join(dir, 'mbox');
      const rc = join(dir, 'fetchmailrc');
      writeFileSync(
        rc,
        `set no syslog\n` +
          `poll 127.0.0.1 with protocol pop3 service ${t.port('pop3')} timeout 10 no envelope\n` +
          `  user "${BOB}" there with password "hungry" is root here\n` +
          `  no keep sslproto '' mda "/bin/sh -c 'echo From fetchmail >> ${mbox}; cat >> ${mbox}; echo >> ${mbox}'"\n`,
      );
      chmodSync(rc, 0o600);
      const r = await run('fetchmail', ['-f', rc, '-i', join(dir, 'ids'), '--pidfile', join(dir, 'pid'), '-v'], { env: { ...process.env, HOME: dir, FETCHMAILHOME: dir }, timeout: 30_000 }).catch(
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      const out = readFileSync(mbox, 'utf8');
      assert.equal(out.match(/^From fetchmail$/gm)?.length, 3, `three messages in the mbox\n${JSON.stringify(r)}`);
      for (const i of [1, 2, 3]) assert.match(out, new RegExp(`Subject: message ${i}`));
      assert.deepEqual(await inbox(), [], 'fetchmail deleted them on the server');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('POP3 robustness over TCP', () => {
  function connect(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
    });
  }

  function reader(s: net.Socket): (pred?: (l: string) => boolean) => Promise<string> {
    let buf = '';
    const waiters: (() => void)[] = [];
    s.on('data', (d) => {
      buf += d.toString('latin1');
      waiters.splice(0).forEach((w) => w());
    });
    s.on('close', () => waiters.splice(0).forEach((w) => w()));
    return async (pred = () => true) => {
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (pred(line)) return line;
          continue;
        }
        if (s.destroyed) return '<closed>';
        await new Promise<void>((r) => waiters.push(r));
      }
    };
  }

  it('a 10 MB line gets -ERR and the session goes on', async () => {
    const s = await connect(t.port('pop3'));
    const read = reader(s);
    assert.match(await read(), /^\+OK/);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 10; i++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
    s.write('\r\nNOOP\r\n');
    assert.equal(await read(), '-ERR line too long');
    assert.equal(await read(), '-ERR command not valid in this state');
    s.end('QUIT\r\n');
    assert.match(await read(), /^\+OK/);
  });

  it('binary garbage gets -ERR, then the server still serves', async () => {
    const s = await connect(t.port('pop3'));
    const read = reader(s);
    await read();
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    s.write(garbage);
    s.write('\r\n');
    const l = await read();
    assert.ok(l.startsWith('-ERR') || l === '<closed>', l);
    s.destroy();
    await resetInbox(1);
    const out = (await python(POPLIB.replace("p.top(2, 1)", "p.top(1, 1)"), 'plain', String(t.port('pop3')))) as Record<string, unknown>;
    assert.equal(out.pass, '+OK user successfully logged on');
  });

  it('a disconnect in the middle of RETR loses nothing', async () => {
    const a = (await t.wharf.store.getAccount(BOB))!;
    const mb = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
    await t.wharf.store.expunge(mb.id, await inbox());
    await deliverRaw(t.wharf, BOB, sampleMessage('big', 'x'.repeat(998) + '\r\n'.repeat(1) + ('y'.repeat(998) + '\r\n').repeat(4000)));
    const before = await inbox();
    const s = await connect(t.port('pop3'));
    const read = reader(s);
    await read();
    s.write(`USER ${BOB}\r\nPASS hungry\r\nDELE 1\r\n`);
    await read((l) => l.startsWith('+OK message 1 deleted'));
    // Not QUIT: retrieve something large and go away in the middle.
    await deliverRaw(t.wharf, BOB, sampleMessage('other', 'z\r\n'));
    s.write('RSET\r\nRETR 1\r\n');
    await read((l) => /^\+OK \d+ octets$/.test(l));
    s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual((await inbox()).slice(0, 1), before, 'nothing was deleted');
    assert.equal((await inbox()).length, 2);
  });

  it('20 wrong passwords: each gets -ERR or a clean close, then the right one works', async () => {
    let errs = 0;
    let closes = 0;
    let s = await connect(t.port('pop3'));
    let read = reader(s);
    await read();
    for (let i = 0; i < 20; i++) {
      s.write(`USER ${BOB}\r\n`);
      let l = await read();
      if (l === '<closed>') {
        closes++;
        s = await connect(t.port('pop3'));
        read = reader(s);
        await read();
        s.write(`USER ${BOB}\r\n`);
        l = await read();
      }
      assert.equal(l, '+OK');
      s.write('PASS wrong\r\n');
      const r = await read();
      assert.match(r, /^-ERR \[AUTH\] /);
      errs++;
    }
    s.destroy();
    assert.equal(errs, 20);
    assert.ok(closes >= 3, 'the session is closed after repeated failures');
    t.wharf.throttle.success('127.0.0.1', BOB);
    await resetInbox(2);
    const out = (await python(POPLIB, 'plain', String(t.port('pop3')))) as Record<string, unknown>;
    assert.equal(out.pass, '+OK user successfully logged on');
  });
});
