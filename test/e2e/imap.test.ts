// IMAP end to end, over real sockets, with clients nobody here wrote: Python's imaplib (plain,
// STARTTLS, IMAP4_SSL), curl (imap://) and imapflow (IDLE included), plus raw sockets for bad
// input.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage } from '../helpers/mail.js';

const run = promisify(execFile);
const BOB = 'bob@hamburger.edu';
let t: TestWharf;

async function python(script: string, ...args: string[]): Promise<any> {
  const { stdout } = await run('python3', ['-c', script, ...args], { timeout: 30_000 });
  return JSON.parse(stdout);
}

const MULTIPART = [
  'From: "Alice Crepes" <alice@crepes.fr>',
  'To: bob@hamburger.edu, carol@hamburger.edu',
  'Subject: =?UTF-8?Q?Cr=C3=AApes?= recipe',
  'Date: Mon, 23 Nov 2026 10:00:00 +0000',
  'Message-ID: <recipe@crepes.fr>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Mix flour and eggs. Caf=C3=A9 au lait.',
  '--XX',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Disposition: attachment; filename="a.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQ=',
  '--XX--',
  '',
].join('\r\n');

const IMAPLIB = `
import imaplib, json, ssl, sys, re
mode, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if mode == 'ssl':
    M = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx, timeout=10)
else:
    M = imaplib.IMAP4('127.0.0.1', port, timeout=10)
    if mode == 'starttls':
        M.starttls(ctx)
out = {'caps': sorted(M.capabilities)}
def d(x):
    if isinstance(x, bytes): return x.decode('utf-8', 'replace')
    if isinstance(x, tuple): return [d(y) for y in x]
    if isinstance(x, list): return [d(y) for y in x]
    return x
out['login'] = d(M.login('${BOB}', 'hungry'))
out['list'] = d(M.list()[1])
out['create'] = d(M.create('Recipes/Sweet'))
out['select'] = d(M.select('INBOX'))
out['search_all'] = d(M.search(None, 'ALL'))
out['search_subject'] = d(M.search('UTF-8', 'SUBJECT', 'recipe'))
out['search_body'] = d(M.search(None, 'BODY', 'flour'))
out['search_text_cafe'] = d(M.uid('SEARCH', 'TEXT', '"au lait"'))
out['fetch_env'] = d(M.fetch('1:*', '(UID FLAGS RFC822.SIZE ENVELOPE)'))
out['fetch_bs'] = d(M.fetch('2', '(BODYSTRUCTURE)'))
out['fetch_part'] = d(M.fetch('2', '(BODY.PEEK[1] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BINARY.PEEK[2] BODY.PEEK[2.MIME])'))
out['fetch_partial'] = d(M.fetch('1', '(BODY.PEEK[TEXT]<0.4>)'))
out['flags_before'] = d(M.fetch('1', '(FLAGS)'))
out['fetch_full'] = d(M.fetch('1', '(RFC822)'))
out['flags_after'] = d(M.fetch('1', '(FLAGS)'))
out['store'] = d(M.store('1', '+FLAGS', '(\\\\Flagged $Label1)'))
out['uid_store'] = d(M.uid('STORE', '1', '-FLAGS.SILENT', '(\\\\Flagged)'))
out['copy'] = d(M.copy('1:2', 'Recipes/Sweet'))
out['append'] = d(M.append('INBOX', '(\\\\Seen)', imaplib.Time2Internaldate(1700000000), b'From: me@x\\r\\nSubject: appended\\r\\n\\r\\nhello appended\\r\\n'))
out['noop'] = d(M.noop())
out['move'] = d(M._simple_command('MOVE', '3', 'Trash'))
out['status'] = d(M.status('Recipes/Sweet', '(MESSAGES UIDNEXT UNSEEN)'))
out['store_del'] = d(M.store('1', '+FLAGS', '\\\\Deleted'))
out['expunge'] = d(M.expunge())
out['search_after'] = d(M.search(None, 'ALL'))
out['examine'] = d(M.select('Recipes/Sweet', readonly=True))
out['examine_fetch'] = d(M.fetch('1:*', '(UID FLAGS)'))
out['close'] = d(M.close())
out['rename'] = d(M.rename('Recipes/Sweet', 'Recipes/Savory'))
out['list2'] = d(M.list('""', 'Recipes*')[1])
out['delete'] = d(M.delete('Recipes/Savory'))
out['logout'] = d(M.logout())
print(json.dumps(out))
`;

before(async () => {
  t = await startTestWharf({ services: ['imap', 'imaps'], users: [[BOB, 'hungry']] });
});
after(() => t.stop());

describe('IMAP with imaplib', () => {
  for (const mode of ['plain', 'starttls', 'ssl'] as const) {
    it(`runs a full session (${mode})`, async () => {
      const a = (await t.wharf.store.getAccount(BOB))!;
      for (const mb of await t.wharf.store.listMailboxes(a.id)) {
        if (mb.name !== 'INBOX' && !mb.specialUse) await t.wharf.store.deleteMailbox(mb.id);
        else await t.wharf.store.expunge(mb.id, (await t.wharf.store.listMessages(mb.id)).map((m) => m.uid));
      }
      await deliverRaw(t.wharf, BOB, sampleMessage('hello', 'First body line.\r\nsecond line\r\n'));
      await deliverRaw(t.wharf, BOB, MULTIPART);
      const out = await python(IMAPLIB, mode, String(t.port(mode === 'ssl' ? 'imaps' : 'imap')));
      assert.equal(out.login[0], 'OK');
      assert.ok(out.caps.includes('IMAP4REV1'));
      if (mode === 'plain') assert.ok(out.caps.includes('STARTTLS'));
      const names = (out.list as string[]).map((l) => l.replace(/^.*"\/" /, ''));
      for (const n of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive']) assert.ok(names.includes(n), `${n} in ${names}`);
      assert.ok((out.list as string[]).some((l) => l.includes('\\Sent') && l.endsWith('Sent')));
      assert.deepEqual(out.select, ['OK', ['2']]);
      assert.deepEqual(out.search_all, ['OK', ['1 2']]);
      assert.deepEqual(out.search_subject, ['OK', ['2']]);
      assert.deepEqual(out.search_body, ['OK', ['2']]);
      assert.equal(out.search_text_cafe[0], 'OK');
      assert.match(out.search_text_cafe[1][0], /^\d+$/);
      const env = JSON.stringify(out.fetch_env);
      assert.match(env, /ENVELOPE \(\\"Mon, 23 Nov 2026 10:00:00 \+0000\\" \\"hello\\"/);
      assert.match(env, /\(\(\\"Alice Crepes\\" NIL \\"alice\\" \\"crepes.fr\\"\)\)/);
      const bs = JSON.stringify(out.fetch_bs);
      assert.match(bs, /BODYSTRUCTURE \(\(\\"TEXT\\" \\"PLAIN\\" \(\\"CHARSET\\" \\"utf-8\\"\) NIL NIL \\"QUOTED-PRINTABLE\\" \d+ 0 /); // its one line ends at the boundary: 0 line ends, as Dovecot counts
      assert.match(bs, /\\"MIXED\\" \(\\"BOUNDARY\\" \\"XX\\"\)/);
      const part = JSON.stringify(out.fetch_part);
      assert.match(part, /Mix flour and eggs/);
      assert.match(part, /Subject: =\?UTF-8\?Q\?Cr=C3=AApes\?= recipe/);
      assert.match(part, /\\u0000\\u0001\\u0002\\u0003\\u0004/);
      assert.match(part, /Content-Disposition: attachment/);
      assert.match(JSON.stringify(out.fetch_partial), /BODY\[TEXT\]<0> \{4\}","Firs"/);
      assert.doesNotMatch(JSON.stringify(out.flags_before), /Seen/);
      assert.match(JSON.stringify(out.fetch_full), /Return-Path/);
      assert.match(JSON.stringify(out.flags_after), /\\\\Seen/);
      assert.match(JSON.stringify(out.store), /\\\\Flagged/);
      assert.match(JSON.stringify(out.store), /\$Label1/);
      assert.equal(out.uid_store[0], 'OK');
      assert.equal(out.copy[0], 'OK');
      assert.equal(out.append[0], 'OK');
      assert.match(JSON.stringify(out.append), /APPENDUID \d+ \d+/);
      assert.match(JSON.stringify(out.status), /MESSAGES 2 UIDNEXT \d+ UNSEEN 1/);
      // imaplib keeps the MOVE's EXPUNGE (of message 3) until the next EXPUNGE call.
      assert.deepEqual(out.expunge, ['OK', ['3', '1']]);
      assert.deepEqual(out.search_after, ['OK', ['1']]);
      assert.equal(out.examine[0], 'OK');
      assert.equal(out.close[0], 'OK');
      assert.equal(out.rename[0], 'OK');
      assert.ok((out.list2 as string[]).some((l) => l.endsWith('Recipes/Savory')), JSON.stringify(out.list2));
      assert.equal(out.delete[0], 'OK');
      assert.equal(out.logout[0], 'BYE');
      // The store agrees: INBOX keeps the multipart message; Trash got the appended one.
      const inbox = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
      assert.equal((await t.wharf.store.listMessages(inbox.id)).length, 1);
      const trash = (await t.wharf.store.getMailbox(a.id, 'Trash'))!;
      assert.equal((await t.wharf.store.listMessages(trash.id)).length, 1);
    });
  }
});

/** A raw line client for bad input and IDLE. */
async function raw(port: number): Promise<{ send(s: string | Buffer): void; line(re: RegExp, ms?: number): Promise<string>; lines: string[]; close(): void; closed: Promise<void> }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const lines: string[] = [];
  let partial = '';
  let waiters: Array<() => void> = [];
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  sock.on('data', (d) => {
    partial += d.toString('latin1');
    let i;
    while ((i = partial.indexOf('\r\n')) >= 0) {
      lines.push(partial.slice(0, i));
      partial = partial.slice(i + 2);
    }
    for (const w of waiters) w();
    waiters = [];
  });
  sock.on('error', () => {});
  let seen = 0;
  return {
    lines,
    closed,
    send: (s) => sock.write(s),
    close: () => sock.destroy(),
    async line(re, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        while (seen < lines.length) {
          const l = lines[seen++]!;
          if (re.test(l)) return l;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no line matching ${re}; got:\n${lines.join('\n')}`);
        await new Promise<void>((r) => {
          const tm = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(tm);
            r();
          });
        });
      }
    },
  };
}

describe('IMAP over a raw socket', () => {
  it('refuses bad input and wrong-state commands without dropping the session', async () => {
    const c = await raw(t.port('imap'));
    await c.line(/^\* OK/);
    c.send('a1 SELECT INBOX\r\n');
    assert.match(await c.line(/^a1 /), /^a1 BAD/);
    c.send('garbage\r\n');
    await c.line(/BAD/);
    c.send('a2 FOO\r\n');
    assert.match(await c.line(/^a2 /), /^a2 BAD/);
    c.send(`a3 LOGIN ${BOB} hungry\r\n`);
    assert.match(await c.line(/^a3 /), /^a3 OK/);
    c.send('a4 SELECT INBOX\r\n');
    assert.match(await c.line(/^a4 /), /^a4 OK \[READ-WRITE\]/);
    c.send('a5 FETCH 1:4294967295 (UID\r\n');
    assert.match(await c.line(/^a5 /), /^a5 BAD/);
    c.send('a6 UID FETCH 1:4294967295 (UID)\r\n');
    assert.match(await c.line(/^a6 /), /^a6 OK/);
    c.send('a7 UID FETCH *:* (UID)\r\n');
    assert.match(await c.line(/^a7 /), /^a7 OK/);
    c.send(`a8 SEARCH ${'NOT '.repeat(200)}ALL\r\n`);
    assert.match(await c.line(/^a8 /), /^a8 BAD/);
    c.send(`a9 SEARCH ${'('.repeat(100)}ALL${')'.repeat(100)}\r\n`);
    assert.match(await c.line(/^a9 /), /^a9 BAD/);
    // A synchronising literal over the limit is refused before "+".
    c.send('b1 APPEND INBOX {999999999999}\r\n');
    assert.match(await c.line(/^b1 /), /^b1 NO \[TOOBIG\]/);
    c.send('b2 APPEND Nowhere {5}\r\n');
    assert.match(await c.line(/^b2 /), /^b2 NO \[TRYCREATE\]/);
    c.send('b3 NOOP\r\n');
    assert.match(await c.line(/^b3 /), /^b3 OK/);
    // A non-synchronising literal over the limit: BYE.
    c.send('b4 APPEND INBOX {999999999999+}\r\n');
    await c.line(/^\* BYE/);
    await c.closed;
  });

  it('takes LITERAL+ APPEND and a disconnect mid-literal leaves nothing', async () => {
    const a = (await t.wharf.store.getAccount(BOB))!;
    const inbox = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
    const before = (await t.wharf.store.listMessages(inbox.id)).length;
    const c = await raw(t.port('imap'));
    await c.line(/^\* OK/);
    c.send(`a1 LOGIN ${BOB} hungry\r\n`);
    await c.line(/^a1 OK/);
    const msg = 'Subject: plus\r\n\r\nbody\r\n';
    c.send(`a2 APPEND INBOX (\\Flagged) {${msg.length}+}\r\n${msg}\r\n`);
    assert.match(await c.line(/^a2 /), /^a2 OK \[APPENDUID \d+ \d+\]/);
    c.send('a3 APPEND INBOX {100}\r\n');
    await c.line(/^\+ /);
    c.send('Subject: cut');
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await t.wharf.store.listMessages(inbox.id)).length, before + 1);
  });

  it('IDLE reports new mail and expunges from another session', async () => {
    const c = await raw(t.port('imap'));
    await c.line(/^\* OK/);
    c.send(`a1 LOGIN ${BOB} hungry\r\na2 SELECT INBOX\r\n`);
    const exists = Number(/^\* (\d+) EXISTS/.exec(await c.line(/EXISTS$/))![1]);
    await c.line(/^a2 OK/);
    c.send('a3 IDLE\r\n');
    await c.line(/^\+ /);
    const started = Date.now();
    await deliverRaw(t.wharf, BOB, sampleMessage('during idle', 'hi\r\n'));
    assert.equal(await c.line(/EXISTS$/, 3000), `* ${exists + 1} EXISTS`);
    assert.ok(Date.now() - started < 1500, 'within a second or so');
    c.send('DONE\r\n');
    assert.match(await c.line(/^a3 /), /^a3 OK/);
    c.send('a4 LOGOUT\r\n');
    await c.line(/^a4 OK/);
  });

  it('concurrent EXPUNGE and FETCH from two sessions: well-formed answers, no lost message', async () => {
    const a = (await t.wharf.store.getAccount(BOB))!;
    const inbox = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
    await t.wharf.store.expunge(inbox.id, (await t.wharf.store.listMessages(inbox.id)).map((m) => m.uid));
    for (let i = 0; i < 40; i++) await deliverRaw(t.wharf, BOB, sampleMessage(`c${i}`, `body ${i}\r\n`));
    const x = await raw(t.port('imap'));
    const y = await raw(t.port('imap'));
    for (const c of [x, y]) {
      await c.line(/^\* OK/);
      c.send(`l LOGIN ${BOB} hungry\r\ns SELECT INBOX\r\n`);
      await c.line(/^s OK/);
    }
    // x deletes the even ones while y keeps fetching everything.
    x.send('d1 STORE 2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40 +FLAGS.SILENT (\\Deleted)\r\nd2 EXPUNGE\r\n');
    for (let i = 0; i < 5; i++) y.send(`f${i} FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n`);
    for (let i = 0; i < 5; i++) assert.match(await y.line(new RegExp(`^f${i} `)), new RegExp(`^f${i} (OK|NO \\[EXPUNGEISSUED\\])`));
    assert.match(await x.line(/^d2 /), /^d2 OK/);
    // During FETCH no EXPUNGE went to y; the NOOP brings them.
    const fetchPart = y.lines.slice(0, y.lines.findIndex((l) => l.startsWith('f4 ')));
    assert.ok(!fetchPart.some((l) => / EXPUNGE$/.test(l)), 'no EXPUNGE during FETCH');
    y.send('n NOOP\r\n');
    await y.line(/^n OK/);
    assert.equal(y.lines.filter((l) => / EXPUNGE$/.test(l)).length, 20);
    y.send('c SEARCH ALL\r\n');
    assert.equal((await y.line(/^\* SEARCH/)).split(' ').length - 2, 20);
    assert.equal((await t.wharf.store.listMessages(inbox.id)).length, 20);
    x.close();
    y.close();
  });

  it('a stopping server tells a session in IDLE goodbye', async () => {
    const t2 = await startTestWharf({ services: ['imap'], users: [[BOB, 'hungry']] });
    const c = await raw(t2.port('imap'));
    await c.line(/^\* OK/);
    c.send(`a LOGIN ${BOB} hungry\r\nb SELECT INBOX\r\nc IDLE\r\n`);
    await c.line(/^\+ idling/);
    const stopping = t2.stop();
    assert.match(await c.line(/^\* BYE/), /UNAVAILABLE/);
    await c.closed;
    await stopping;
  });
});
