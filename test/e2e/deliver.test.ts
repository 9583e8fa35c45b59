// `wharf deliver` as an MTA uses it: a second process on the data directory of a running server,
// exit statuses from sysexits(3), and the delivered message readable over POP3 (curl).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runWharf, spawnWharf } from '../helpers/cli.js';
import { listenerSections } from '../helpers/instance.js';

const run = promisify(execFile);

describe('wharf deliver', () => {
  let data: string;
  let server: ChildProcess;
  let pop3Port = 0;
  const common = () => ['--data', data, '--set', 'auth.scrypt_cost=10', '--set', 'log.level=warn'];

  before(async () => {
    data = mkdtempSync(join(tmpdir(), 'wharf-deliver-'));
    assert.equal((await runWharf(['domain', 'add', 'hamburger.edu', ...common()])).status, 0);
    for (const u of ['bob@hamburger.edu', 'carol@hamburger.edu']) {
      const r = await runWharf(['user', 'add', u, '--password', 'hungry', ...common()]);
      assert.equal(r.status, 0, r.stderr);
    }
    const sets = listenerSections().flatMap((s) => ['--set', `${s}.enabled=${s === 'pop3'}`, '--set', `${s}.port=0`]);
    server = spawnWharf(['start', ...common(), ...sets, '--set', 'queue.enabled=false'], { stdio: ['ignore', 'pipe', 'pipe'] });
    pop3Port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /^pop3\s+tcp\s+\S+:(\d+)/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`wharf start exited ${code}: ${out}`)));
    });
  });

  after(async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(data, { recursive: true, force: true });
  });

  async function pop3(path: string, user = 'bob@hamburger.edu'): Promise<string> {
    const r = await run('curl', ['-sS', '--max-time', '10', '-u', `${user}:hungry`, `pop3://127.0.0.1:${pop3Port}/${path}`]);
    return r.stdout;
  }

  test('stores a bare-LF message with CRLF line ends, Return-Path and Delivered-To, while the server runs', async () => {
    const msg = 'From: alice@crepes.fr\nTo: bob@hamburger.edu\nSubject: by deliver\n\nHello Bob.\n.a dotted line\n';
    const r = await runWharf(['deliver', '--to', 'bob@hamburger.edu', '--from', 'alice@crepes.fr', ...common()], { input: msg });
    assert.equal(r.status, 0, r.stderr);
    const list = (await pop3('')).trim().split(/\r?\n/);
    assert.equal(list.length, 1);
    const got = await pop3('1');
    assert.equal(
      got,
      'Return-Path: <alice@crepes.fr>\r\nDelivered-To: bob@hamburger.edu\r\n' + msg.replace(/\n/g, '\r\n'),
    );
    assert.equal(Number(list[0]!.split(' ')[1]), Buffer.byteLength(got), 'LIST size = octets as transmitted');
  });

  test('several recipients each get the message; $SENDER is the default sender', async () => {
    const msg = 'Subject: to two\r\n\r\nbody\r\n';
    const r = await runWharf(['deliver', '--to', 'bob@hamburger.edu', '--to', 'carol@hamburger.edu', ...common()], { input: msg, env: { SENDER: 'postmaster@crepes.fr' } });
    assert.equal(r.status, 0, r.stderr);
    const carol = await pop3('1', 'carol@hamburger.edu');
    assert.match(carol, /^Return-Path: <postmaster@crepes.fr>\r\nDelivered-To: carol@hamburger.edu\r\nSubject: to two\r\n/);
  });

  test('an unknown recipient exits 67 (EX_NOUSER) and delivers to nobody', async () => {
    const before = (await pop3('', 'carol@hamburger.edu')).trim().split(/\r?\n/).length;
    const r = await runWharf(['deliver', '--to', 'carol@hamburger.edu', '--to', 'nobody@hamburger.edu', ...common()], { input: 'Subject: x\r\n\r\ny\r\n' });
    assert.equal(r.status, 67, r.stderr);
    assert.match(r.stderr, /nobody@hamburger\.edu/);
    assert.equal((await pop3('', 'carol@hamburger.edu')).trim().split(/\r?\n/).length, before);
  });

  test('input that is not a message exits 65 (EX_DATAERR)', async () => {
    for (const input of ['', 'this is not a header line\nbody\n']) {
      const r = await runWharf(['deliver', '--to', 'bob@hamburger.edu', ...common()], { input });
      assert.equal(r.status, 65, `${JSON.stringify(input)}: ${r.stderr}`);
    }
  });

  test('a store that cannot be reached exits 75 (EX_TEMPFAIL)', async () => {
    const r = await runWharf(['deliver', '--to', 'bob@hamburger.edu', ...common(), '--set', 'store.engine=postgres', '--set', 'store.url=postgres://127.0.0.1:1/nowhere'], { input: 'Subject: x\r\n\r\ny\r\n' });
    assert.equal(r.status, 75, r.stderr);
  });

  test('usage errors exit 64', async () => {
    const r = await runWharf(['deliver', ...common()], { input: 'Subject: x\r\n\r\ny\r\n' });
    assert.equal(r.status, 64, r.stderr);
  });
});
