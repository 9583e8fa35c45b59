// Session tests: real SmtpSession objects over in-memory sockets, against a real (temporary)
// store, written as S:/C: transcripts where the exact texts matter.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { playTranscript, socketPair } from '../core/testing.js';
import type { TestClient } from '../core/testing.js';
import type { TranscriptEvent } from '../core/events.js';
import { startTestWharf } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import type { Duplex } from 'node:stream';
import { Connection } from '../core/connection.js';
import { Transcript } from '../core/events.js';
import { isLoopback } from '../core/net.js';
import { SmtpSession } from './session.js';
import type { SmtpRole } from './session.js';
import { inboxMessages } from '../../test/helpers/mail.js';

let t: TestWharf;

before(async () => {
  t = await startTestWharf({
    hostname: 'hamburger.edu',
    users: [
      ['bob@hamburger.edu', 'hungry'],
      ['alice@crepes.fr', 'crepes'],
    ],
    set: { 'store.fsync': false, 'smtp.max_message_size': 20_000 },
  });
});
after(async () => {
  await t?.stop();
});

/** What SessionServer gives a session (src/core/session-server.ts), over an in-memory socket. */
function context(server: Duplex, service: string) {
  const sessionId = t.wharf.ids.next(service);
  const transcript = new Transcript(t.wharf.bus, service, sessionId, '127.0.0.1:40000');
  const cfg = t.wharf.config.smtp;
  const conn = new Connection(server, { maxLine: cfg.max_line, idleTimeoutMs: cfg.idle_timeout, transcript });
  return { conn, sessionId, transcript, cleartextAllowed: () => conn.secure || isLoopback(conn.localAddress) };
}

function open(role: SmtpRole = 'mx'): { client: TestClient; done: Promise<void>; session: SmtpSession } {
  const { server, client } = socketPair();
  const service = role === 'mx' ? 'smtp' : 'submission';
  const session = new SmtpSession(t.wharf, context(server, service), { role, service });
  const done = session.run();
  return { client, done, session };
}

const inbox = (address: string): Promise<string[]> => inboxMessages(t.wharf, address);

async function clearInbox(address: string): Promise<void> {
  const store = t.wharf.store;
  const acc = (await store.getAccount(address))!;
  const box = (await store.getMailbox(acc.id, 'INBOX'))!;
  const list = await store.listMessages(box.id);
  await store.expunge(box.id, list.map((m) => m.uid));
}

async function clearQueue(): Promise<void> {
  for (const m of await t.wharf.store.listQueue()) await t.wharf.store.deleteQueueMessage(m.id);
}

const plain = (u: string, p: string) => Buffer.from(`\0${u}\0${p}`).toString('base64');

describe('SMTP session', () => {
  it("plays the slides' session and stores the message in Bob's INBOX", async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(
      client,
      `S: 220 hamburger.edu*
       C: HELO crepes.fr
       S: 250 Hello crepes.fr, pleased to meet you
       C: MAIL FROM: <alice@crepes.fr>
       S: 250 alice@crepes.fr... Sender ok
       C: RCPT TO: <bob@hamburger.edu>
       S: 250 bob@hamburger.edu ... Recipient ok
       C: DATA
       S: 354 Enter mail, end with "." on a line by itself
       C: Do you like ketchup?
       C: How about pickles?
       C: .
       S: 250 Message accepted for delivery
       C: QUIT
       S: 221 hamburger.edu closing connection`,
    );
    await done;
    const [msg, ...rest] = await inbox('bob@hamburger.edu');
    assert.equal(rest.length, 0);
    assert.match(msg!, /^Return-Path: <alice@crepes.fr>\r\nDelivered-To: bob@hamburger.edu\r\nReceived: from crepes.fr \(\[127.0.0.1\]\)\r\n\tby hamburger.edu \(Wharf\) with SMTP id \w+\r\n\tfor <bob@hamburger.edu>;\r\n\t\w{3}, /);
    assert.ok(msg!.endsWith('\r\nDo you like ketchup?\r\nHow about pickles?\r\n'), JSON.stringify(msg));
  });

  it('announces the extensions after EHLO and uses enhanced status codes', async () => {
    const { client, done } = open();
    await playTranscript(
      client,
      `S: 220 *
       C: EHLO crepes.fr
       S: 250-hamburger.edu Hello crepes.fr
       S: 250-PIPELINING
       S: 250-SIZE 20000
       S: 250-8BITMIME
       S: 250-ENHANCEDSTATUSCODES
       S: 250-STARTTLS
       S: 250-AUTH PLAIN LOGIN
       S: 250-DSN
       S: 250-SMTPUTF8
       S: 250-CHUNKING
       S: 250 HELP
       C: VRFY bob
       S: 252 2.1.5 *
       C: EXPN staff
       S: 502 5.5.1 *
       C: NOOP
       S: 250 2.0.0 OK
       C: QUIT
       S: 221 2.0.0 hamburger.edu closing connection`,
    );
    await done;
  });

  it('answers commands out of sequence with 503 and an empty HELO with 501', async () => {
    const { client, done } = open();
    await playTranscript(
      client,
      `S: 220 *
       C: MAIL FROM:<alice@crepes.fr>
       S: 503 Send HELO/EHLO first
       C: HELO
       S: 501 Syntax: HELO hostname
       C: EHLO crepes.fr
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250-*
       S: 250 HELP
       C: RCPT TO:<bob@hamburger.edu>
       S: 503 5.5.1 Need MAIL command
       C: DATA
       S: 503 5.5.1 Need MAIL command
       C: MAIL FROM:<alice@crepes.fr>
       S: 250 2.1.0 *
       C: MAIL FROM:<alice@crepes.fr>
       S: 503 5.5.1 Nested MAIL command
       C: DATA
       S: 554 5.5.1 No valid recipients
       C: RSET
       S: 250 2.0.0 OK
       C: RCPT TO:<bob@hamburger.edu>
       S: 503 5.5.1 Need MAIL command
       C: FOO bar
       S: 500 5.5.2 Command not recognized
       C: QUIT
       S: 221 *`,
    );
    await done;
  });

  it('refuses unknown local users (550 5.1.1) and relaying (554 5.7.1)', async () => {
    const { client, done } = open();
    await playTranscript(
      client,
      `S: 220 *
       C: HELO crepes.fr
       S: 250 *
       C: MAIL FROM:<alice@crepes.fr>
       S: 250 *
       C: RCPT TO:<nobody@hamburger.edu>
       S: 550 <nobody@hamburger.edu>: Recipient address rejected: User unknown
       C: RCPT TO:<someone@elsewhere.example>
       S: 554 <someone@elsewhere.example>: Relay access denied
       C: DATA
       S: 554 No valid recipients
       C: QUIT
       S: 221 *`,
    );
    await done;
    assert.equal((await t.wharf.store.listQueue()).length, 0);
  });

  it('handles a pipelined transaction (RFC 2920) sent in one write', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await client.readLine();
    client.sendRaw(
      'EHLO crepes.fr\r\nMAIL FROM:<alice@crepes.fr>\r\nRCPT TO:<nobody@hamburger.edu>\r\nRCPT TO:<bob@hamburger.edu>\r\nDATA\r\nSubject: piped\r\n\r\nhello\r\n.\r\nQUIT\r\n',
    );
    const lines = await client.readUntil((l) => l.startsWith('221'));
    const codes = lines.filter((l) => !l.startsWith('250-')).map((l) => l.slice(0, 3));
    assert.deepEqual(codes, ['250', '250', '550', '250', '354', '250', '221']);
    await done;
    const msgs = await inbox('bob@hamburger.edu');
    assert.equal(msgs.length, 1);
    assert.match(msgs[0]!, /Subject: piped\r\n\r\nhello\r\n$/);
  });

  it('never ends DATA at <LF>.<LF>, <CR>.<LF> or <LF>.<CR><LF> (SMTP smuggling)', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await client.readLine();
    client.send('HELO crepes.fr');
    client.send('MAIL FROM:<alice@crepes.fr>');
    client.send('RCPT TO:<bob@hamburger.edu>');
    client.send('DATA');
    const smuggled = 'MAIL FROM:<evil@crepes.fr>\r\nRCPT TO:<bob@hamburger.edu>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n';
    client.sendRaw('Subject: one\r\n\r\nfirst\n.\n' + 'x\r.\r\n' + 'y\n.\r\n' + smuggled);
    client.send('QUIT');
    const lines = await client.readUntil((l) => l.startsWith('221'));
    assert.deepEqual(
      lines.map((l) => l.slice(0, 3)),
      ['250', '250', '250', '354', '250', '221'],
      'exactly one message, the smuggled commands were data',
    );
    await done;
    const msgs = await inbox('bob@hamburger.edu');
    assert.equal(msgs.length, 1);
    assert.ok(msgs[0]!.includes('MAIL FROM:<evil@crepes.fr>'), 'the smuggled text is inside the one message');
  });

  it('accepts bare LF line ends and 8-bit data without 8BITMIME, normalising to CRLF', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: HELO crepes.fr\nS: 250 *\nC: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    client.sendRaw(Buffer.from('Subject: caf\xc3\xa9\nline two\n\nbody \xc3\xa9t\xc3\xa9\r\n.\r\n', 'latin1'));
    assert.match(await client.readLine(), /^250 /);
    client.send('QUIT');
    await client.readLine();
    await done;
    const [msg] = await inbox('bob@hamburger.edu');
    assert.ok(msg!.endsWith('Subject: café\r\nline two\r\n\r\nbody été\r\n'), JSON.stringify(msg));
  });

  it('refuses NUL in data (554 5.6.0) and in commands (500), storing nothing', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    client.sendRaw('NO\0OP\r\n');
    assert.equal(await client.readLine(), '500 5.5.2 Command contains invalid characters');
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    client.sendRaw('Subject: nul\r\n\r\na\0b\r\n.\r\n');
    assert.equal(await client.readLine(), '554 5.6.0 Message contains NUL characters');
    await playTranscript(client, 'C: QUIT\nS: 221 *');
    await done;
    assert.equal((await inbox('bob@hamburger.edu')).length, 0);
  });

  it('refuses an oversized message with 552 5.3.4 after reading it, then goes on', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(
      client,
      `S: 220 *
       C: EHLO crepes.fr
       S: 250-*`,
    );
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr> SIZE=999999\nS: 552 5.3.4 *');
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    const line = 'x'.repeat(998) + '\r\n';
    for (let i = 0; i < 100; i++) client.sendRaw(line);
    client.sendRaw('.\r\n');
    assert.equal(await client.readLine(), '552 5.3.4 Message size exceeds fixed maximum message size');
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: QUIT\nS: 221 *');
    await done;
    assert.equal((await inbox('bob@hamburger.edu')).length, 0);
  });

  it('caps recipients at max_recipients with 452 4.5.3 over 1,000 RCPTs', async () => {
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    client.send('MAIL FROM:<alice@crepes.fr>');
    let batch = '';
    for (let i = 0; i < 1000; i++) batch += 'RCPT TO:<bob@hamburger.edu>\r\n';
    client.sendRaw(batch);
    client.send('RSET');
    client.send('QUIT');
    const lines = await client.readUntil((l) => l.startsWith('221'), 20_000);
    const rcpt = lines.slice(1, 1001);
    assert.equal(rcpt.filter((l) => l.startsWith('250 2.1.5')).length, 100);
    assert.equal(rcpt.filter((l) => l === '452 4.5.3 Too many recipients').length, 900);
    await done;
  });

  it('answers an over-long line with 500 5.5.2 and keeps the session', async () => {
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: HELO crepes.fr\nS: 250 *');
    client.send('NOOP ' + 'a'.repeat(10_000));
    assert.equal(await client.readLine(), '500 Line too long');
    await playTranscript(client, 'C: NOOP\nS: 250 OK\nC: QUIT\nS: 221 *');
    await done;
  });

  it('closes with 421 after too many errors (pipelined garbage)', async () => {
    const { client, done } = open();
    await client.readLine();
    let junk = '';
    for (let i = 0; i < 50; i++) junk += `\x01\x02garbage ${i} \xff\r\n`;
    client.sendRaw(Buffer.from(junk, 'latin1'));
    const lines = await client.readUntil((l) => l.startsWith('421'));
    assert.equal(lines.filter((l) => l.startsWith('500')).length, 20);
    await done;
    await client.closed;
  });

  it('stores nothing when the client disconnects in the middle of DATA', async () => {
    await clearInbox('bob@hamburger.edu');
    const blobsBefore: string[] = [];
    for await (const id of t.wharf.store.blobs.list()) blobsBefore.push(id);
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: HELO crepes.fr\nS: 250 *\nC: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    client.sendRaw('Subject: cut\r\n\r\nhalf a messa');
    await new Promise((r) => setTimeout(r, 50));
    client.destroy();
    await done;
    assert.equal((await inbox('bob@hamburger.edu')).length, 0);
    const blobsAfter: string[] = [];
    for await (const id of t.wharf.store.blobs.list()) blobsAfter.push(id);
    assert.deepEqual(blobsAfter.sort(), blobsBefore.sort());
  });

  it('takes BDAT chunks (RFC 3030), refuses BDAT out of sequence and DATA after BDAT', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    client.sendRaw('BDAT 5\r\nhello');
    assert.equal(await client.readLine(), '503 5.5.1 Need MAIL command');
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *');
    const part1 = 'Subject: chunks\r\n\r\n';
    const part2 = 'one\r\n.\r\ntwo\r\n';
    client.sendRaw(`BDAT ${part1.length}\r\n${part1}`);
    assert.equal(await client.readLine(), `250 2.0.0 ${part1.length} octets received`);
    client.send('DATA');
    assert.equal(await client.readLine(), '503 5.5.1 DATA cannot be mixed with BDAT');
    client.sendRaw(`BDAT ${part2.length} LAST\r\n${part2}`);
    assert.equal(await client.readLine(), '250 2.0.0 Message accepted for delivery');
    await playTranscript(client, 'C: QUIT\nS: 221 *');
    await done;
    const [msg] = await inbox('bob@hamburger.edu');
    assert.ok(msg!.endsWith('Subject: chunks\r\n\r\none\r\n.\r\ntwo\r\n'), JSON.stringify(msg));
    assert.match(msg!, /with ESMTP id/);
  });

  it('takes UTF-8 addresses with SMTPUTF8 (RFC 6531) and records UTF8SMTP in Received', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(
      client,
      `C: MAIL FROM:<jösé@crêpes.fr>
       S: 553 5.6.7 Non-ASCII address requires SMTPUTF8
       C: MAIL FROM:<jösé@crêpes.fr> SMTPUTF8 BODY=8BITMIME
       S: 250 2.1.0 jösé@crêpes.fr... Sender ok
       C: RCPT TO:<bob@hamburger.edu>
       S: 250 *
       C: DATA
       S: 354 *
       C: Subject: ünïcödé
       C:
       C: ok
       C: .
       S: 250 *
       C: QUIT
       S: 221 *`,
    );
    await done;
    const [msg] = await inbox('bob@hamburger.edu');
    assert.match(msg!, /^Return-Path: <jösé@crêpes.fr>/);
    assert.match(msg!, /with UTF8SMTP id/);
  });

  it('refuses an oversized BDAT message with 552 at each chunk and at LAST', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *');
    const chunk = 'z'.repeat(15_000);
    client.sendRaw(`BDAT ${chunk.length}\r\n${chunk}`);
    assert.match(await client.readLine(), /^250 /);
    client.sendRaw(`BDAT ${chunk.length}\r\n${chunk}`);
    assert.match(await client.readLine(), /^552 5\.3\.4 /);
    client.sendRaw(`BDAT ${chunk.length} LAST\r\n${chunk}`);
    assert.match(await client.readLine(), /^552 5\.3\.4 /);
    await playTranscript(client, 'C: NOOP\nS: 250 *\nC: QUIT\nS: 221 *');
    await done;
    assert.equal((await inbox('bob@hamburger.edu')).length, 0);
  });

  it('refuses a looping message (50 Received fields) with 554 5.4.6 (RFC 5321 §6.3)', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(client, 'C: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    client.sendRaw('Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000\r\n'.repeat(50) + 'Subject: loop\r\n\r\nx\r\n.\r\n');
    assert.equal(await client.readLine(), '554 5.4.6 Too many hops: mail loop detected');
    client.sendRaw('MAIL FROM:<alice@crepes.fr>\r\nRCPT TO:<bob@hamburger.edu>\r\nDATA\r\n');
    await client.readUntil((l) => l.startsWith('354'));
    client.sendRaw('Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000\r\n'.repeat(48) + 'Subject: no loop\r\n\r\nx\r\n.\r\n');
    assert.match(await client.readLine(), /^250 /);
    await playTranscript(client, 'C: QUIT\nS: 221 *');
    await done;
    assert.equal((await inbox('bob@hamburger.edu')).length, 1);
  });

  it('smtp.require_tls refuses MAIL before STARTTLS on the MX listener', async () => {
    const cfg = t.wharf.config.smtp as { require_tls: boolean };
    cfg.require_tls = true;
    try {
      const { client, done } = open();
      await playTranscript(client, 'S: 220 *\nC: HELO crepes.fr\nS: 250 *\nC: MAIL FROM:<alice@crepes.fr>\nS: 530 Must issue a STARTTLS command first\nC: QUIT\nS: 221 *');
      await done;
    } finally {
      cfg.require_tls = false;
    }
  });

  it('says 421 4.4.2 and closes after the idle timeout', async () => {
    const cfg = t.wharf.config.smtp as { idle_timeout: number };
    const old = cfg.idle_timeout;
    cfg.idle_timeout = 150;
    try {
      const { client, done } = open();
      await client.readLine();
      assert.equal(await client.readLine(1000), '421 Idle timeout, closing connection');
      await done;
    } finally {
      cfg.idle_timeout = old;
    }
  });
});

describe('submission session', () => {
  it('requires AUTH, checks the sender, queues remote mail and adds Message-ID and Date', async () => {
    await clearQueue();
    await clearInbox('bob@hamburger.edu');
    const events: TranscriptEvent[] = [];
    const off = t.wharf.bus.on('transcript', (e) => events.push(e));
    const { client, done } = open('submission');
    try {
      await playTranscript(client, 'S: 220 *\nC: EHLO client.crepes.fr\nS: 250-*');
      await client.readUntil((l) => l.startsWith('250 '));
      await playTranscript(
        client,
        `C: MAIL FROM:<alice@crepes.fr>
         S: 530 5.7.0 Authentication required
         C: AUTH PLAIN ${plain('alice@crepes.fr', 'wrong')}
         S: 535 5.7.8 Authentication credentials invalid
         C: AUTH PLAIN ${plain('alice@crepes.fr', 'crepes')}
         S: 235 2.7.0 Authentication successful
         C: MAIL FROM:<bob@hamburger.edu>
         S: 553 5.7.1 <bob@hamburger.edu>: Sender address rejected: not owned by user alice@crepes.fr
         C: MAIL FROM:<alice@crepes.fr>
         S: 250 2.1.0 *
         C: RCPT TO:<carol@far.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;carol@far.example
         S: 250 2.1.5 *
         C: RCPT TO:<bob@hamburger.edu>
         S: 250 2.1.5 *
         C: DATA
         S: 354 *
         C: From: alice@crepes.fr
         C: Subject: hi
         C:
         C: body
         C: .
         S: 250 2.0.0 *
         C: QUIT
         S: 221 *`,
      );
      await done;
    } finally {
      off();
    }
    const q = await t.wharf.store.listQueue();
    assert.equal(q.length, 1);
    assert.equal(q[0]!.sender, 'alice@crepes.fr');
    assert.deepEqual(q[0]!.recipients.map((r) => [r.address, r.notify, r.orcpt]), [['carol@far.example', ['FAILURE', 'DELAY'], 'rfc822;carol@far.example']]);
    const blob = (await t.wharf.store.blobs.get(q[0]!.blobId)).toString('utf8');
    assert.match(blob, /^Received: from client.crepes.fr \(\[127.0.0.1\]\)\r\n\tby hamburger.edu \(Wharf\) with ESMTPA id \w+;\r\n\t.*\r\nMessage-ID: <[^>]+@hamburger.edu>\r\nDate: .*\r\nFrom: alice@crepes.fr\r\nSubject: hi\r\n\r\nbody\r\n$/);
    const [local] = await inbox('bob@hamburger.edu');
    assert.ok(local!.includes('Subject: hi'));
    await clearQueue();
    // The password never reaches the transcript.
    const text = events.map((e) => e.text).join('\n');
    assert.ok(!text.includes(plain('alice@crepes.fr', 'crepes')), 'AUTH payload redacted');
    assert.ok(text.includes('AUTH PLAIN ****'));
  });

  it('supports AUTH LOGIN and keeps Message-ID/Date that are present', async () => {
    await clearInbox('bob@hamburger.edu');
    const { client, done } = open('submission');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    await playTranscript(client, 'S: 220 *\nC: EHLO c\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(
      client,
      `C: AUTH LOGIN
       S: 334 VXNlcm5hbWU6
       C: ${b64('alice@crepes.fr')}
       S: 334 UGFzc3dvcmQ6
       C: ${b64('crepes')}
       S: 235 *
       C: AUTH PLAIN
       S: 503 5.5.1 Already authenticated
       C: MAIL FROM:<alice@crepes.fr>
       S: 250 *
       C: RCPT TO:<bob@hamburger.edu>
       S: 250 *
       C: DATA
       S: 354 *
       C: Message-ID: <given@crepes.fr>
       C: Date: Mon, 23 Nov 2026 10:00:00 +0000
       C:
       C: x
       C: .
       S: 250 *
       C: QUIT
       S: 221 *`,
    );
    await done;
    const [msg] = await inbox('bob@hamburger.edu');
    assert.equal(msg!.match(/^Message-ID:/gim)?.length, 1);
    assert.equal(msg!.match(/^Date:/gim)?.length, 1);
  });

  it('offers AUTH to a non-loopback client only over TLS (538 5.7.11 before)', async () => {
    const { server, client } = socketPair();
    (server as unknown as { remoteAddress: string; localAddress: string }).remoteAddress = '192.0.2.7';
    (server as unknown as { localAddress: string }).localAddress = '192.0.2.1';
    const done = new SmtpSession(t.wharf, context(server, 'submission'), { role: 'submission', service: 'submission' }).run();
    await playTranscript(client, 'S: 220 *\nC: EHLO c\nS: 250-*');
    const ext = await client.readUntil((l) => l.startsWith('250 '));
    assert.ok(!ext.some((l) => l.includes('AUTH')), 'no AUTH offered in clear text');
    await playTranscript(client, `C: AUTH PLAIN ${plain('alice@crepes.fr', 'crepes')}\nS: 538 5.7.11 *\nC: STARTTLS\nS: 220 *`);
    const tlsClient = await client.startTls({ ca: t.wharf.tls.cert, servername: 'hamburger.edu' });
    await playTranscript(tlsClient, 'C: EHLO c\nS: 250-*');
    const ext2 = await tlsClient.readUntil((l) => l.startsWith('250 '));
    assert.ok(ext2.includes('250-AUTH PLAIN LOGIN'));
    await playTranscript(tlsClient, `C: AUTH PLAIN ${plain('alice@crepes.fr', 'crepes')}\nS: 235 *\nC: QUIT\nS: 221 *`);
    await done;
  });

  it('NOTIFY=SUCCESS on a local recipient sends a "delivered" DSN to the sender', async () => {
    await clearInbox('alice@crepes.fr');
    const { client, done } = open();
    await playTranscript(client, 'S: 220 *\nC: EHLO crepes.fr\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(
      client,
      `C: MAIL FROM:<alice@crepes.fr> RET=FULL ENVID=env+2B1
       S: 250 *
       C: RCPT TO:<bob@hamburger.edu> NOTIFY=SUCCESS
       S: 250 *
       C: DATA
       S: 354 *
       C: Subject: tell me
       C:
       C: x
       C: .
       S: 250 *
       C: QUIT
       S: 221 *`,
    );
    await done;
    const [dsn] = await inbox('alice@crepes.fr');
    assert.ok(dsn, 'a DSN came back');
    assert.match(dsn!, /^Action: delivered$/m);
    assert.match(dsn!, /^Status: 2\.0\.0$/m);
    assert.match(dsn!, /^Original-Envelope-Id: env\+1$/m);
    assert.match(dsn!, /Content-Type: text\/rfc822-headers/, 'success reports return only the header');
  });

  it('STARTTLS resets the session and the transaction goes on over TLS', async () => {
    const { client, done } = open('submission');
    await playTranscript(client, 'S: 220 *\nC: EHLO c\nS: 250-*');
    await client.readUntil((l) => l.startsWith('250 '));
    await playTranscript(client, 'C: STARTTLS\nS: 220 2.0.0 Ready to start TLS');
    const tlsClient = await client.startTls({ ca: t.wharf.tls.cert, servername: 'hamburger.edu' });
    await playTranscript(tlsClient, `C: MAIL FROM:<alice@crepes.fr>\nS: 503 Send HELO/EHLO first\nC: EHLO c\nS: 250-hamburger.edu Hello c`);
    const ext = await tlsClient.readUntil((l) => l.startsWith('250 '));
    assert.ok(!ext.includes('250-STARTTLS'), 'STARTTLS is not offered again');
    await playTranscript(tlsClient, `C: STARTTLS\nS: 503 5.5.1 TLS already active\nC: AUTH PLAIN ${plain('alice@crepes.fr', 'crepes')}\nS: 235 *\nC: QUIT\nS: 221 *`);
    await done;
  });
});
