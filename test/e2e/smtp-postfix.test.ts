// Postfix (Debian `postfix`) as a peer on loopback, both ways, with STARTTLS on both sides:
//
//   alice@crepes.fr --submission--> Wharf (crepes.fr) --queue, relay_host--> Postfix (hamburger.edu) --> bob's Maildir
//   bob@hamburger.edu --smtplib--> Postfix --relayhost--> Wharf MX --> alice's INBOX
//
// and the failures each way: Postfix refuses an unknown user (550 5.1.1 at RCPT) and Wharf puts a
// DSN in Alice's INBOX; Wharf refuses an unknown user and Postfix bounces to Bob's Maildir.
// The Postfix instance (bench/lib/postfix.ts) lives in a temp dir and is stopped in `after`.
// A missing /usr/sbin/postfix fails the test unless WHARF_SKIP_PEERS=1.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../bench/lib/util.js';
import { havePostfix, POSTFIX, POSTFIX_PACKAGES, startPostfix } from '../../bench/lib/postfix.js';
import type { PostfixInstance } from '../../bench/lib/postfix.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { inboxMessages } from '../helpers/mail.js';

const SKIP = process.env.WHARF_SKIP_PEERS === '1' && !havePostfix();
if (SKIP) console.log(`# skipping the Postfix peer tests: ${POSTFIX} is missing and WHARF_SKIP_PEERS=1`);

let w: TestWharf;
let pf: PostfixInstance;

function py(script: string, env: Record<string, string>, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('python3', ['-c', script], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    child.stdin!.end(input);
  });
}

const inbox = (address: string): Promise<string[]> => inboxMessages(w.wharf, address);

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- postfix log ---\n${pf?.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A body with a leading-dot line (dot-stuffing both ways), 8-bit text and ~200 KiB of lines. */
function body(marker: string): string {
  const filler = Array.from({ length: 3000 }, (_, i) => `line ${i} of ${marker}: the quick brown fox jumps over the lazy dog`).join('\r\n');
  return `.a line starting with a dot\r\n..two dots\r\n.\r\nCrêpes au sucre\r\n${filler}\r\nend of ${marker}\r\n`;
}

const SEND = `
import os, smtplib, sys
host, port = '127.0.0.1', int(os.environ['PORT'])
s = smtplib.SMTP(host, port, local_hostname=os.environ['HELO'])
if os.environ.get('USER_'):
    s.starttls()
    s.login(os.environ['USER_'], os.environ['PASS'])
msg = ('From: ' + os.environ['FROM'] + '\\r\\nTo: ' + os.environ['TO'] + '\\r\\nSubject: ' + os.environ['SUBJECT'] +
       '\\r\\nMIME-Version: 1.0\\r\\nContent-Type: text/plain; charset=utf-8\\r\\nContent-Transfer-Encoding: 8bit\\r\\n\\r\\n' + sys.stdin.buffer.read().decode('utf-8'))
refused = s.sendmail(os.environ['FROM'], [os.environ['TO']], msg.encode('utf-8'), mail_options=['BODY=8BITMIME'])
print('refused', refused)
s.quit()
`;

function send(port: number, from: string, to: string, subject: string, opts: { login?: [string, string]; helo?: string } = {}): Promise<string> {
  return py(SEND, {
    PORT: String(port),
    HELO: opts.helo ?? 'client.test',
    FROM: from,
    TO: to,
    SUBJECT: subject,
    ...(opts.login ? { USER_: opts.login[0], PASS: opts.login[1] } : {}),
  }, body(subject));
}

/** The body as the receiver should have it (CRLF or LF line ends, dots unstuffed). */
function assertBodyIntact(msg: string, marker: string): void {
  const norm = msg.replace(/\r\n/g, '\n');
  const want = body(marker).replace(/\r\n/g, '\n');
  assert.ok(norm.endsWith(want), `body of ${marker} altered in transit (got ${norm.length} octets)`);
}

before(async () => {
  if (SKIP) return;
  if (!havePostfix()) assert.fail(`${POSTFIX} is missing: apt-get install ${POSTFIX_PACKAGES.join(' ')} (or set WHARF_SKIP_PEERS=1)`);
  const pfPort = await freePort();
  w = await startTestWharf({
    services: ['smtp', 'submission'],
    hostname: 'crepes.fr',
    users: [['alice@crepes.fr', 'wonderland']],
    set: { 'queue.relay_host': `[127.0.0.1]:${pfPort}`, 'queue.retry_base': 500, 'queue.retry_max': 1000, 'queue.connect_timeout': 2000 },
  });
  pf = await startPostfix({ domain: 'hamburger.edu', users: ['bob'], port: pfPort, relayTo: { host: '127.0.0.1', port: w.port('smtp') }, tls: true });
});

after(async () => {
  await pf?.stop();
  await w?.stop();
});

describe('Postfix as a peer', { skip: SKIP }, () => {
  it('Wharf relays to Postfix (STARTTLS, 8BITMIME, dot-stuffing) and Postfix stores the message in Bob\'s Maildir', async () => {
    const out = await send(w.port('submission'), 'alice@crepes.fr', 'bob@hamburger.edu', 'wharf-to-postfix', { login: ['alice@crepes.fr', 'wonderland'] });
    assert.match(out, /refused \{\}/);
    const msg = await waitFor('the message in Bob\'s Maildir', () => pf.messages('bob').find((m) => m.includes('Subject: wharf-to-postfix')));
    assert.match(msg, /^Return-Path: <alice@crepes\.fr>$/m);
    // Postfix's Received on top (from Wharf's EHLO name, over TLS), Wharf's submission Received below.
    const received = msg.match(/^Received: .*(?:\n[ \t].*)*/gm) ?? [];
    assert.equal(received.length, 2, msg.slice(0, 2000));
    assert.match(received[0]!, /from crepes\.fr .*by mx\.hamburger\.edu \(Postfix\) with ESMTPS/s);
    assert.match(received[1]!, /by crepes\.fr \(Wharf\) with ESMTPSA/s);
    assert.match(msg, /^Message-ID: <[^>]+@crepes\.fr>$/im, 'submission added a Message-ID');
    assertBodyIntact(msg, 'wharf-to-postfix');
    assert.match(pf.log(), /to=<bob@hamburger\.edu>, relay=virtual.*status=sent/);
    await waitFor('an empty Wharf queue', async () => (await w.wharf.store.listQueue()).length === 0);
  });

  it('Postfix relays to Wharf (STARTTLS) and the message lands in Alice\'s INBOX', async () => {
    const out = await send(pf.port, 'bob@hamburger.edu', 'alice@crepes.fr', 'postfix-to-wharf');
    assert.match(out, /refused \{\}/);
    const msg = await waitFor('the message in Alice\'s INBOX', async () => (await inbox('alice@crepes.fr')).find((m) => m.includes('Subject: postfix-to-wharf')));
    assert.match(msg, /^Return-Path: <bob@hamburger\.edu>/);
    const received = msg.match(/^Received: .*(?:\r\n[ \t].*)*/gm) ?? [];
    assert.equal(received.length, 2, msg.slice(0, 2000));
    assert.match(received[0]!, /from mx\.hamburger\.edu .*by crepes\.fr \(Wharf\) with ESMTPS/s);
    assert.match(received[1]!, /by mx\.hamburger\.edu \(Postfix\)/s);
    assertBodyIntact(msg, 'postfix-to-wharf');
    await waitFor('Postfix to log the relay', () => /to=<alice@crepes\.fr>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+.*status=sent \(250/.test(pf.log()));
  });

  it('Postfix refuses an unknown user: Wharf bounces a DSN to Alice', async () => {
    await send(w.port('submission'), 'alice@crepes.fr', 'nobody@hamburger.edu', 'to-nobody-at-postfix', { login: ['alice@crepes.fr', 'wonderland'] });
    const dsn = await waitFor('a DSN in Alice\'s INBOX', async () => (await inbox('alice@crepes.fr')).find((m) => m.includes('Final-Recipient: rfc822; nobody@hamburger.edu')));
    assert.match(dsn, /^Return-Path: <>/);
    assert.match(dsn, /^Action: failed$/m);
    assert.match(dsn, /^Status: 5\.1\.1$/m);
    assert.match(dsn, /^Diagnostic-Code: smtp; 550 5\.1\.1/m);
    assert.match(dsn, /Subject: to-nobody-at-postfix/);
    await waitFor('an empty Wharf queue', async () => (await w.wharf.store.listQueue()).length === 0);
  });

  it('Wharf refuses an unknown user: Postfix bounces to Bob', async () => {
    await send(pf.port, 'bob@hamburger.edu', 'ghost@crepes.fr', 'to-ghost-at-wharf');
    const dsn = await waitFor('a bounce in Bob\'s Maildir', () => pf.messages('bob').find((m) => m.includes('ghost@crepes.fr') && /multipart\/report/.test(m)));
    assert.match(dsn, /^Status: 5\.1\.1$/m);
    assert.match(dsn, /^Diagnostic-Code: smtp; 550 5\.1\.1/m);
    assert.match(dsn, /^Remote-MTA: dns; 127\.0\.0\.1$/m);
  });
});
