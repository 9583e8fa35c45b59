// SMTP end to end with clients nobody here wrote: Python's smtplib (plain, STARTTLS, SMTP_SSL,
// AUTH), a pipelined send over a raw socket, curl smtp:// and swaks. Every listener on 127.0.0.1
// port 0.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { inboxMessages, waitFor } from '../helpers/mail.js';

let t: TestWharf;

function run(cmd: string, args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      if (typeof code !== 'number') return reject(err);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

async function py(script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await run('python3', ['-c', script], { env });
  assert.equal(r.code, 0, `python failed:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const inbox = (address: string): Promise<string[]> => inboxMessages(t.wharf, address);


async function findMessage(address: string, marker: string): Promise<string> {
  return waitFor(async () => (await inbox(address)).find((m) => m.includes(marker)));
}

before(async () => {
  t = await startTestWharf({
    services: ['smtp', 'submission', 'submissions'],
    hostname: 'hamburger.edu',
    users: [
      ['bob@hamburger.edu', 'hungry'],
      ['alice@hamburger.edu', 'wonderland'],
    ],
    // The queue must not try to deliver to the outside world from a test.
    set: { 'queue.enabled': false },
  });
});
after(async () => {
  await t?.stop();
});

const env = () => ({ SMTP_PORT: String(t.port('smtp')), SUB_PORT: String(t.port('submission')), SUBS_PORT: String(t.port('submissions')), CAFILE: t.wharf.tls.certFile });

describe('SMTP with real clients', () => {
  it('smtplib sends in clear text to the MX listener', async () => {
    const stored: { accountId: number; mailboxId: number; uid: number }[] = [];
    const off = t.wharf.bus.on('mail-stored', (ev) => stored.push(ev));
    const out = await py(
      `
import os, smtplib
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), local_hostname='crepes.fr')
code, msg = s.ehlo()
assert code == 250 and b'PIPELINING' in msg, msg
refused = s.sendmail('alice@crepes.fr', ['bob@hamburger.edu'], 'From: alice@crepes.fr\\r\\nTo: bob@hamburger.edu\\r\\nSubject: plain smtplib\\r\\n\\r\\nDo you like ketchup?\\r\\n')
print(refused)
try:
    s.sendmail('alice@crepes.fr', ['nobody@hamburger.edu'], 'x')
    print('accepted?!')
except smtplib.SMTPRecipientsRefused as e:
    print(e.recipients['nobody@hamburger.edu'][0])
s.quit()
`,
      env(),
    );
    assert.deepEqual(out.trim().split('\n'), ['{}', '550']);
    const msg = await findMessage('bob@hamburger.edu', 'Subject: plain smtplib');
    off();
    // The console counts deliveries from this event.
    const bob = (await t.wharf.store.getAccount('bob@hamburger.edu'))!;
    const bobInbox = (await t.wharf.store.getMailbox(bob.id, 'INBOX'))!;
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.accountId, bob.id);
    assert.equal(stored[0]!.mailboxId, bobInbox.id);
    assert.match(msg, /Received: from crepes\.fr \(\[127\.0\.0\.1\]\)\r\n\tby hamburger\.edu \(Wharf\) with ESMTP id/);
  });

  it('smtplib uses STARTTLS and AUTH on the submission port', async () => {
    const out = await py(
      `
import os, smtplib, ssl
from email.message import EmailMessage
ctx = ssl.create_default_context(cafile=os.environ['CAFILE'])
ctx.check_hostname = False
s = smtplib.SMTP('127.0.0.1', int(os.environ['SUB_PORT']))
s.ehlo()
try:
    s.sendmail('alice@hamburger.edu', ['bob@hamburger.edu'], 'x')
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code)
s.starttls(context=ctx)
s.ehlo()
try:
    s.login('alice@hamburger.edu', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code)
s.login('alice@hamburger.edu', 'wonderland')
m = EmailMessage()
m['From'] = 'alice@hamburger.edu'
m['To'] = 'bob@hamburger.edu'
m['Subject'] = 'starttls smtplib'
m.set_content('over TLS')
print(s.send_message(m))
s.quit()
`,
      env(),
    );
    assert.deepEqual(out.trim().split('\n'), ['530', '535', '{}']);
    const msg = await findMessage('bob@hamburger.edu', 'Subject: starttls smtplib');
    assert.match(msg, /with ESMTPSA id/);
    assert.match(msg, /^Message-ID: <[^>]+@hamburger\.edu>/m, 'Message-ID added on submission');
    assert.match(msg, /^Date: /m);
  });

  it('smtplib SMTP_SSL with AUTH on the implicit-TLS submissions port', async () => {
    await py(
      `
import os, smtplib, ssl
ctx = ssl.create_default_context(cafile=os.environ['CAFILE'])
ctx.check_hostname = False
s = smtplib.SMTP_SSL('127.0.0.1', int(os.environ['SUBS_PORT']), context=ctx)
s.login('alice@hamburger.edu', 'wonderland')
s.sendmail('alice@hamburger.edu', ['bob@hamburger.edu'], 'Subject: smtps smtplib\\r\\n\\r\\nimplicit TLS\\r\\n')
s.quit()
`,
      env(),
    );
    const msg = await findMessage('bob@hamburger.edu', 'Subject: smtps smtplib');
    assert.match(msg, /with ESMTPSA id/);
  });

  it('a pipelined send (RFC 2920) over a raw socket gets every reply in order', async () => {
    const out = await py(
      `
import os, socket
s = socket.create_connection(('127.0.0.1', int(os.environ['SMTP_PORT'])))
f = s.makefile('rb')
def reply():
    lines = []
    while True:
        l = f.readline().decode().rstrip('\\r\\n')
        lines.append(l)
        if l[3:4] != '-':
            return lines
reply()
s.sendall(b'EHLO crepes.fr\\r\\nMAIL FROM:<alice@crepes.fr>\\r\\nRCPT TO:<bob@hamburger.edu>\\r\\nRCPT TO:<x@elsewhere.example>\\r\\nDATA\\r\\n')
codes = [reply()[-1][:3] for _ in range(5)]
s.sendall(b'Subject: pipelined\\r\\n\\r\\n..leading dot\\r\\n.\\r\\nQUIT\\r\\n')
codes += [reply()[-1][:3] for _ in range(2)]
print(' '.join(codes))
`,
      env(),
    );
    assert.equal(out.trim(), '250 250 250 554 354 250 221');
    const msg = await findMessage('bob@hamburger.edu', 'Subject: pipelined');
    assert.ok(msg.endsWith('\r\n\r\n.leading dot\r\n'), 'dot-unstuffed');
  });

  it('curl smtp:// with --mail-from / --mail-rcpt', async () => {
    const r = await run('curl', ['-sS', `smtp://127.0.0.1:${t.port('smtp')}/crepes.fr`, '--mail-from', 'alice@crepes.fr', '--mail-rcpt', 'bob@hamburger.edu', '-T', '-'], {
      input: 'From: alice@crepes.fr\r\nSubject: via curl\r\n\r\nHow about pickles?\r\n',
    });
    assert.equal(r.code, 0, r.stderr);
    await findMessage('bob@hamburger.edu', 'Subject: via curl');
    const bad = await run('curl', ['-sS', `smtp://127.0.0.1:${t.port('smtp')}`, '--mail-from', 'alice@crepes.fr', '--mail-rcpt', 'carol@elsewhere.example', '-T', '-'], { input: 'x\r\n' });
    assert.notEqual(bad.code, 0, 'relay refused');
    assert.match(bad.stderr, /554/);
  });

  it('curl with STARTTLS and AUTH on submission', async () => {
    const r = await run(
      'curl',
      ['-sS', '--ssl-reqd', '--cacert', t.wharf.tls.certFile, '-k', '--user', 'alice@hamburger.edu:wonderland', `smtp://127.0.0.1:${t.port('submission')}`, '--mail-from', 'alice@hamburger.edu', '--mail-rcpt', 'bob@hamburger.edu', '-T', '-'],
      { input: 'Subject: curl submission\r\n\r\nhi\r\n' },
    );
    assert.equal(r.code, 0, r.stderr);
    await findMessage('bob@hamburger.edu', 'Subject: curl submission');
  });

  it('swaks, plain and with pipelining, STARTTLS and AUTH', async () => {
    const a = await run('swaks', ['--server', '127.0.0.1', '--port', String(t.port('smtp')), '--from', 'alice@crepes.fr', '--to', 'bob@hamburger.edu', '--header', 'Subject: swaks plain', '--pipeline', '--helo', 'crepes.fr']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    await findMessage('bob@hamburger.edu', 'Subject: swaks plain');
    const b = await run('swaks', [
      '--server', '127.0.0.1', '--port', String(t.port('submission')), '--tls',
      '--auth', 'PLAIN', '--auth-user', 'alice@hamburger.edu', '--auth-password', 'wonderland',
      '--from', 'alice@hamburger.edu', '--to', 'bob@hamburger.edu', '--header', 'Subject: swaks auth',
    ]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.ok(!b.stdout.includes('wonderland') || b.stdout.includes('AUTH PLAIN'), 'swaks ran');
    await findMessage('bob@hamburger.edu', 'Subject: swaks auth');
    const c = await run('swaks', ['--server', '127.0.0.1', '--port', String(t.port('smtp')), '--from', 'alice@crepes.fr', '--to', 'nobody@hamburger.edu']);
    assert.notEqual(c.code, 0);
    assert.match(c.stdout, /<\*\* 550 5\.1\.1/);
  });
});
