import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Connection } from '../core/connection.js';
import { EventBus, Transcript } from '../core/events.js';
import type { TranscriptEvent } from '../core/events.js';
import { playTranscript, socketPair } from '../core/testing.js';
import type { TestClient } from '../core/testing.js';
import { startTestWharf } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import { deliverRaw, inboxMessages, inboxUids as uidsOf, sampleMessage } from '../../test/helpers/mail.js';
import { dotStuffAll } from '../core/dot-codec.js';
import type { Store } from '../store/store.js';
import { Pop3Session } from './session.js';
import type { Pop3SessionOptions } from './session.js';

const BOB = 'bob@hamburger.edu';

let t: TestWharf;
let sessions = 0;

before(async () => {
  t = await startTestWharf({
    users: [[BOB, 'hungry'], ['carol@hamburger.edu', 'pie']],
    set: { 'auth.default_domain': 'hamburger.edu', 'auth.throttle.free_attempts': 100 },
  });
});
after(() => t.stop());

/** Runs a session over an in-memory pair; returns the client and the session's end. */
function open(over: Partial<Pop3SessionOptions> = {}, bus?: EventBus): { client: TestClient; done: Promise<void>; session: Pop3Session } {
  const { server, client } = socketPair();
  const id = `pop3-test-${++sessions}`;
  const transcript = bus ? new Transcript(bus, 'pop3', id, '127.0.0.1:40000') : undefined;
  const conn = new Connection(server, { maxLine: 8192, idleTimeoutMs: 5000, ...(transcript ? { transcript } : {}) });
  const session = new Pop3Session(conn, {
    store: t.wharf.store,
    authenticator: t.wharf.authenticator,
    logger: t.wharf.logger,
    ...(transcript ? { transcript } : {}),
    hostname: 'hamburger.edu',
    owner: id,
    cleartextAllowed: () => true,
    apop: false,
    loginDelayMs: 0,
    ...over,
  });
  return { client, done: session.run(), session };
}

const inboxUids = (address: string): Promise<number[]> => uidsOf(t.wharf, address);

async function clearInbox(address: string): Promise<void> {
  const a = (await t.wharf.store.getAccount(address))!;
  const mb = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
  await t.wharf.store.expunge(mb.id, await inboxUids(address));
}

describe('POP3 session', () => {
  it("plays the slides' session: list, retr, dele, quit deletes both", async () => {
    await clearInbox(BOB);
    await deliverRaw(t.wharf, BOB, sampleMessage('one', 'Do you like ketchup?\r\nHow about pickles?\r\n'));
    await deliverRaw(t.wharf, BOB, sampleMessage('two', '.leading dot line\r\nbye\r\n'));
    const bus = new EventBus();
    const lines: TranscriptEvent[] = [];
    bus.on('transcript', (e) => lines.push(e));
    const { client, done } = open({}, bus);
    await playTranscript(
      client,
      `
      S: +OK POP3 server ready
      C: user bob
      S: +OK
      C: pass hungry
      S: +OK user successfully logged on
      C: list
      S: +OK 2 messages (* octets)
      S: 1 *
      S: 2 *
      S: .
      C: retr 1
      S: +OK * octets
      S: Return-Path: <alice@crepes.fr>
      S: Delivered-To: bob@hamburger.edu
      S: From: alice@crepes.fr
      S: To: bob@hamburger.edu
      S: Subject: one
      S: Date: *
      S: Message-ID: <one@crepes.fr>
      S:
      S: Do you like ketchup?
      S: How about pickles?
      S: .
      C: dele 1
      S: +OK message 1 deleted
      C: retr 2
      S: +OK * octets
      `,
    );
    const rest = await client.readUntil((l) => l === '.');
    assert.ok(rest.includes('..leading dot line'), 'a line starting with a dot is stuffed');
    await playTranscript(
      client,
      `
      C: dele 2
      S: +OK message 2 deleted
      C: quit
      S: +OK POP3 server signing off
      `,
    );
    await done;
    assert.deepEqual(await inboxUids(BOB), []);
    // The password never reaches the transcript.
    const text = lines.map((l) => `${l.dir}: ${l.text}`).join('\n');
    assert.match(text, /C: pass \*\*\*\*/);
    assert.doesNotMatch(text, /hungry/);
  });

  it('LIST sizes add up to STAT and equal the RETR octets; UIDL is stable across sessions', async () => {
    await clearInbox(BOB);
    await deliverRaw(t.wharf, BOB, sampleMessage('a', 'x\r\n'));
    await deliverRaw(t.wharf, BOB, sampleMessage('b', 'y\ny\n'));
    const uidl = async () => {
      const { client, done } = open();
      await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: UIDL\nS: +OK*');
      const ids = (await client.readUntil((l) => l === '.')).slice(0, -1);
      client.send('STAT');
      const stat = await client.readLine();
      client.send('LIST');
      const list = (await client.readUntil((l) => l === '.')).slice(1, -1);
      client.send('RETR 2');
      const head = await client.readLine();
      const body = await client.readUntil((l) => l === '.');
      client.send('QUIT');
      await client.readLine();
      await done;
      return { ids, stat, list, head, body };
    };
    const a = await uidl();
    const b = await uidl();
    assert.deepEqual(a.ids, b.ids);
    assert.equal(a.ids.length, 2);
    assert.match(a.ids[0]!, /^1 [\x21-\x7e]{1,70}$/);
    const sizes = a.list.map((l) => Number(l.split(' ')[1]));
    assert.equal(a.stat, `+OK 2 ${sizes[0]! + sizes[1]!}`);
    assert.equal(a.head, `+OK ${sizes[1]} octets`);
    // Octets as transmitted: each line plus CRLF (bare LF input was stored as CRLF).
    const octets = a.body.slice(0, -1).reduce((n, l) => n + Buffer.byteLength(l) + 2, 0);
    assert.equal(octets, sizes[1]);
  });

  it('TOP sends the header, the blank line and n body lines', async () => {
    await clearInbox(BOB);
    await deliverRaw(t.wharf, BOB, sampleMessage('top', 'l1\r\nl2\r\nl3\r\n'));
    const { client, done } = open();
    await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: TOP 1 2\nS: +OK*');
    const lines = await client.readUntil((l) => l === '.');
    assert.deepEqual(lines.slice(-4), ['', 'l1', 'l2', '.']);
    client.send('TOP 1 0');
    await client.readLine();
    const zero = await client.readUntil((l) => l === '.');
    assert.deepEqual(zero.slice(-2), ['', '.']);
    assert.equal(zero[0], 'Return-Path: <alice@crepes.fr>');
    client.send('QUIT');
    await client.readLine();
    await done;
  });

  it('a dropped connection deletes nothing; RSET undoes DELE', async () => {
    await clearInbox(BOB);
    await deliverRaw(t.wharf, BOB, sampleMessage('keep', 'x\r\n'));
    const before = await inboxUids(BOB);
    {
      const { client, done } = open();
      await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: DELE 1\nS: +OK message 1 deleted\nC: DELE 1\nS: -ERR message 1 already deleted\nC: RETR 1\nS: -ERR message 1 already deleted');
      client.destroy();
      await done;
    }
    assert.deepEqual(await inboxUids(BOB), before);
    {
      const { client, done } = open();
      await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: DELE 1\nS: +OK*\nC: RSET\nS: +OK maildrop has 1 messages (* octets)\nC: QUIT\nS: +OK*');
      await done;
    }
    assert.deepEqual(await inboxUids(BOB), before);
  });

  it('a second session on the same maildrop gets [IN-USE]; the lock is released at QUIT', async () => {
    const first = open();
    await playTranscript(first.client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK user successfully logged on');
    const second = open();
    await playTranscript(second.client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: -ERR [IN-USE] *\nC: STAT\nS: -ERR command not valid in this state');
    await playTranscript(first.client, 'C: QUIT\nS: +OK*');
    await first.done;
    await playTranscript(second.client, 'C: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK user successfully logged on\nC: QUIT\nS: +OK*');
    await second.done;
  });

  it('mail delivered during a session shows in the next one', async () => {
    await clearInbox(BOB);
    const { client, done } = open();
    await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: STAT\nS: +OK 0 0');
    await deliverRaw(t.wharf, BOB, sampleMessage('late', 'x\r\n'));
    await playTranscript(client, 'C: STAT\nS: +OK 0 0\nC: QUIT\nS: +OK*');
    await done;
    const next = open();
    await playTranscript(next.client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*\nC: STAT\nS: +OK 1 *\nC: QUIT\nS: +OK*');
    await next.done;
  });

  it('answers bad input with -ERR and keeps serving', async () => {
    const { client, done } = open();
    await playTranscript(
      client,
      `
      S: +OK*
      C: STAT
      S: -ERR command not valid in this state
      C: PASS hungry
      S: -ERR give USER first
      C: FOO
      S: -ERR unknown command
      C: \u0001\u0002\u00ff
      S: -ERR unknown command
      C: USER bob
      S: +OK
      C: PASS wrong
      S: -ERR [AUTH] invalid user name or password
      C: USER bob
      S: +OK
      C: PASS hungry
      S: +OK*
      C: RETR
      S: -ERR syntax: RETR msg
      C: RETR 0
      S: -ERR no such message
      C: RETR 99
      S: -ERR no such message
      C: RETR 1x
      S: -ERR no such message
      C: LIST -1
      S: -ERR no such message
      C: TOP 1 x
      S: -ERR*
      C: USER bob
      S: -ERR command not valid in this state
      `,
    );
    client.sendRaw(Buffer.alloc(20_000, 0x41));
    client.sendRaw('\r\n');
    assert.equal(await client.readLine(), '-ERR line too long');
    await playTranscript(client, 'C: NOOP\nS: +OK\nC: QUIT\nS: +OK*');
    await done;
  });

  it('closes after too many failed logins in one session', async () => {
    const { client, done } = open();
    await client.readLine();
    for (let i = 0; i < 4; i++) {
      await playTranscript(client, 'C: USER bob\nS: +OK\nC: PASS nope\nS: -ERR [AUTH] invalid user name or password');
    }
    await playTranscript(client, 'C: USER bob\nS: +OK\nC: PASS nope\nS: -ERR [AUTH] too many failed logins, closing');
    await done;
    await client.closed;
  });

  it('AUTH PLAIN and LOGIN (RFC 5034), cancel with *, list with bare AUTH', async () => {
    const plain = Buffer.from('\0bob@hamburger.edu\0hungry').toString('base64');
    const { client, done } = open();
    await playTranscript(
      client,
      `
      S: +OK*
      C: AUTH
      S: +OK*
      S: PLAIN
      S: LOGIN
      S: .
      C: AUTH PLAIN
      S: +*
      C: *
      S: -ERR authentication cancelled
      C: AUTH CRAM-MD5
      S: -ERR unsupported authentication mechanism
      C: AUTH PLAIN ${plain}
      S: +OK user successfully logged on
      C: QUIT
      S: +OK*
      `,
    );
    await done;
    const login = open();
    await playTranscript(
      login.client,
      `
      S: +OK*
      C: AUTH LOGIN
      S: + VXNlcm5hbWU6
      C: ${Buffer.from('bob').toString('base64')}
      S: + UGFzc3dvcmQ6
      C: ${Buffer.from('hungry').toString('base64')}
      S: +OK user successfully logged on
      C: QUIT
      S: +OK*
      `,
    );
    await login.done;
  });

  it('CAPA reflects whether cleartext logins are allowed', async () => {
    const { client, done } = open({ cleartextAllowed: () => false, tls: () => t.wharf.tls.context });
    await client.readLine();
    client.send('CAPA');
    const caps = await client.readUntil((l) => l === '.');
    assert.ok(caps.includes('STLS'));
    assert.ok(caps.includes('UIDL') && caps.includes('TOP') && caps.includes('RESP-CODES'));
    assert.ok(!caps.includes('USER'), 'USER is not offered without TLS on a non-loopback listener');
    await playTranscript(client, 'C: USER bob\nS: -ERR [AUTH] cleartext login refused*\nC: AUTH PLAIN AGJvYgBodW5ncnk=\nS: -ERR [AUTH] cleartext*\nC: QUIT\nS: +OK*');
    await done;
  });

  it('APOP with the greeting timestamp (RFC 1939 §7)', async () => {
    const { createHash } = await import('node:crypto');
    const apopWharf = await startTestWharf({ users: [[BOB, 'hungry']], set: { 'pop3.apop': true } });
    try {
      const { server, client } = socketPair();
      const conn = new Connection(server, { maxLine: 8192, idleTimeoutMs: 5000 });
      const done = new Pop3Session(conn, {
        store: apopWharf.wharf.store,
        authenticator: apopWharf.wharf.authenticator,
        logger: apopWharf.wharf.logger,
        hostname: 'hamburger.edu',
        owner: 'apop-test',
        cleartextAllowed: () => true,
        apop: true,
        loginDelayMs: 0,
      }).run();
      const greeting = await client.readLine();
      const ts = /(<[^>]+>)$/.exec(greeting)![1]!;
      const digest = createHash('md5').update(ts + 'hungry').digest('hex');
      await playTranscript(client, `C: APOP ${BOB} 0123456789abcdef0123456789abcdef\nS: -ERR [AUTH]*\nC: APOP ${BOB} ${digest}\nS: +OK*\nC: QUIT\nS: +OK*`);
      await done;
    } finally {
      await apopWharf.stop();
    }
  });

  it('LOGIN-DELAY refuses a second login too soon (RFC 2449 §8.1.1)', async () => {
    let now = 1_000_000;
    const over = { loginDelayMs: 60_000, now: () => now };
    const a = open(over);
    await playTranscript(a.client, 'S: +OK*\nC: CAPA\nS: +OK*');
    const caps = await a.client.readUntil((l) => l === '.');
    assert.ok(caps.includes('LOGIN-DELAY 60'));
    await playTranscript(a.client, 'C: USER carol\nS: +OK\nC: PASS pie\nS: +OK*\nC: QUIT\nS: +OK*');
    await a.done;
    now += 10_000;
    const b = open(over);
    await playTranscript(b.client, 'S: +OK*\nC: USER carol\nS: +OK\nC: PASS pie\nS: -ERR [LOGIN-DELAY] wait 50 s*\nC: QUIT\nS: +OK*');
    await b.done;
  });

  it('RETR is byte-exact and dot-stuffed across read-ahead windows, large messages and DELE; \\Seen is written once', async () => {
    await clearInbox(BOB);
    const big = `${'.dot first\r\nplain line of text\r\n'.repeat(3000)}..two\r\n.`;
    for (let i = 1; i <= 40; i++) {
      await deliverRaw(t.wharf, BOB, sampleMessage(`w${i}`, i === 37 ? big : i % 3 ? `.a ${i}\r\nb\r\n..\r\n.\r\n` : `no dots ${i}\r\n`));
    }
    const want = await inboxMessages(t.wharf, BOB);
    const writes: string[] = [];
    const store = new Proxy(t.wharf.store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...a: unknown[]) => {
          if (prop === 'updateFlags' || prop === 'expunge') writes.push(String(prop));
          return (v as (...x: unknown[]) => unknown).apply(target, a);
        };
      },
    }) as Store;
    const session = async (dele: number[]) => {
      const { client, done } = open({ store });
      await playTranscript(client, 'S: +OK*\nC: USER bob\nS: +OK*\nC: PASS hungry\nS: +OK*');
      for (const n of dele) await playTranscript(client, `C: DELE ${n}\nS: +OK*`);
      for (let n = 1; n <= 40; n++) {
        if (dele.includes(n)) continue;
        client.send(`RETR ${n}`);
        const head = await client.readLine();
        assert.equal(head, `+OK ${Buffer.byteLength(want[n - 1]!)} octets`);
        const lines = await client.readUntil((l) => l === '.');
        const got = lines.map((l) => `${l}\r\n`).join('');
        assert.equal(got, dotStuffAll(want[n - 1]!).toString(), `message ${n}`);
      }
      await playTranscript(client, 'C: QUIT\nS: +OK*');
      await done;
    };
    await session([]);
    assert.deepEqual(writes, ['updateFlags']);
    const box = (await t.wharf.store.getMailbox((await t.wharf.store.getAccount(BOB))!.id, 'INBOX'))!;
    assert.ok((await t.wharf.store.listMessages(box.id)).every((m) => m.flags.includes('\\Seen')));
    writes.length = 0;
    await session([2, 33]);
    assert.deepEqual(writes, ['expunge'], 'all were \\Seen already: only the deletions are written');
    assert.equal((await inboxUids(BOB)).length, 38);
  });
});
