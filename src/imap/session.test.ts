import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Connection } from '../core/connection.js';
import { EventBus, Transcript } from '../core/events.js';
import type { TranscriptEvent } from '../core/events.js';
import { playTranscript, socketPair } from '../core/testing.js';
import type { TestClient } from '../core/testing.js';
import { startTestWharf } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import { deliverRaw, sampleMessage } from '../../test/helpers/mail.js';
import { ImapSession } from './session.js';
import type { ImapSessionOptions } from './session.js';

const CAROL = 'carol@hamburger.edu';
let t: TestWharf;

before(async () => {
  t = await startTestWharf({
    users: [
      ['bob@hamburger.edu', 'hungry'],
      [CAROL, 'pie'],
      ['dave@hamburger.edu', 'x'],
    ],
    set: { 'auth.default_domain': 'hamburger.edu', 'auth.throttle.free_attempts': 100 },
  });
});
after(() => t.stop());

function open(over: Partial<ImapSessionOptions> = {}): { client: TestClient; done: Promise<void> } {
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 8192, idleTimeoutMs: 5000, ...(over.transcript ? { transcript: over.transcript } : {}) });
  const session = new ImapSession(conn, {
    store: t.wharf.store,
    authenticator: t.wharf.authenticator,
    logger: t.wharf.logger,
    hostname: 'hamburger.edu',
    cleartextAllowed: () => true,
    maxLiteral: 10_000,
    ...over,
  });
  return { client, done: session.run() };
}

async function inboxOf(address: string): Promise<number> {
  const a = (await t.wharf.store.getAccount(address))!;
  return (await t.wharf.store.getMailbox(a.id, 'INBOX'))!.id;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('IMAP session', () => {
  it('greets, lists capabilities and refuses cleartext login when not allowed', async () => {
    const { client, done } = open({ cleartextAllowed: () => false, tls: () => t.wharf.tls.context });
    await playTranscript(
      client,
      `S: * OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE STARTTLS LOGINDISABLED] hamburger.edu Wharf IMAP4rev1 ready
       C: a1 LOGIN bob hungry
       S: a1 NO [PRIVACYREQUIRED] *
       C: a2 AUTHENTICATE PLAIN ${b64('\0bob\0hungry')}
       S: a2 NO [PRIVACYREQUIRED] *
       C: a3 SELECT INBOX
       S: a3 BAD SELECT not allowed before login
       C: a4 LOGOUT
       S: * BYE logging out
       S: a4 OK LOGOUT completed`,
    );
    await done;
  });

  it('logs in with LOGIN, AUTHENTICATE PLAIN (SASL-IR and continuation) and AUTHENTICATE LOGIN', async () => {
    for (const [cmd, steps] of [
      ['a1 LOGIN bob "hungry"', ''],
      [`a1 AUTHENTICATE PLAIN ${b64('\0bob\0hungry')}`, ''],
      ['a1 AUTHENTICATE PLAIN', `S: +*\n C: ${b64('\0bob\0hungry')}`],
      ['a1 AUTHENTICATE LOGIN', `S: + ${b64('Username:')}\n C: ${b64('bob')}\n S: + ${b64('Password:')}\n C: ${b64('hungry')}`],
    ] as const) {
      const { client, done } = open();
      await playTranscript(
        client,
        `S: * OK *
         C: ${cmd}
         ${steps}
         S: a1 OK [CAPABILITY IMAP4rev1 * CONDSTORE *] logged in
         C: a2 LOGOUT
         S: * BYE *
         S: a2 OK *`,
      );
      await done;
    }
    const { client, done } = open();
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN bob wrong
       S: a1 NO [AUTHENTICATIONFAILED] invalid user name or password
       C: a2 AUTHENTICATE PLAIN
       S: +*
       C: *
       S: a2 BAD authentication cancelled
       C: a3 LOGOUT
       S: * BYE *
       S: a3 OK *`,
    );
    await done;
  });

  it('selects a mailbox and answers ENABLE, NAMESPACE, ID, STATUS, LIST, CREATE, RENAME', async () => {
    await deliverRaw(t.wharf, CAROL, sampleMessage('one', 'body one\r\n'), 'alice@crepes.fr');
    await deliverRaw(t.wharf, CAROL, sampleMessage('two', 'body two\r\n'), 'alice@crepes.fr');
    const { client, done } = open();
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN carol pie
       S: a1 OK *
       C: a2 ENABLE CONDSTORE X-UNKNOWN
       S: * ENABLED CONDSTORE
       S: a2 OK ENABLE completed
       C: a3 NAMESPACE
       S: * NAMESPACE (("" "/")) NIL NIL
       S: a3 OK *
       C: a4 ID ("name" "test")
       S: * ID ("name" "Wharf" "vendor" "Wharf")
       S: a4 OK *
       C: a5 SELECT INBOX
       S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
       S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted
       S: * 2 EXISTS
       S: * 0 RECENT
       S: * OK [UNSEEN 1] first unseen
       S: * OK [UIDVALIDITY *] UIDs valid
       S: * OK [UIDNEXT 3] predicted next UID
       S: * OK [HIGHESTMODSEQ *] highest
       S: a5 OK [READ-WRITE] SELECT completed
       C: a6 STATUS INBOX (MESSAGES UNSEEN UIDNEXT RECENT)
       S: * STATUS INBOX (MESSAGES 2 UNSEEN 2 UIDNEXT 3 RECENT 0)
       S: a6 OK *
       C: a7 CREATE Projects/Wharf/
       S: a7 OK *
       C: a8 LIST "" Projects*
       S: * LIST (\\HasChildren) "/" Projects
       S: * LIST (\\HasNoChildren) "/" Projects/Wharf
       S: a8 OK *
       C: a9 LIST "" %
       S: * LIST (\\HasNoChildren) "/" INBOX
       S: * LIST (\\HasNoChildren \\Archive) "/" Archive
       S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
       S: * LIST (\\HasNoChildren \\Junk) "/" Junk
       S: * LIST (\\HasChildren) "/" Projects
       S: * LIST (\\HasNoChildren \\Sent) "/" Sent
       S: * LIST (\\HasNoChildren \\Trash) "/" Trash
       S: a9 OK *
       C: b1 CREATE INBOX
       S: b1 NO [ALREADYEXISTS] *
       C: b2 RENAME Projects/Wharf Projects/Dock
       S: b2 OK *
       C: b3 LIST "" Projects/*
       S: * LIST (\\HasNoChildren) "/" Projects/Dock
       S: b3 OK *
       C: b3a CREATE Deep/er/est
       S: b3a OK *
       C: b3b DELETE Deep/er
       S: b3b OK *
       C: b3c LIST "" Deep/%
       S: * LIST (\\Noselect \\HasChildren) "/" Deep/er
       S: b3c OK *
       C: b4 DELETE Nothing
       S: b4 NO [NONEXISTENT] *
       C: b5 SELECT Nothing
       S: * OK [CLOSED] previous mailbox closed
       S: b5 NO [NONEXISTENT] *
       C: b6 FETCH 1 FLAGS
       S: b6 BAD FETCH not allowed without a selected mailbox
       C: b7 LOGOUT
       S: * BYE *
       S: b7 OK *`,
    );
    await done;
  });

  it('FETCH, STORE with CONDSTORE, ESEARCH, and expunges from another session held back during FETCH', async () => {
    const dave = 'dave@hamburger.edu';
    for (const s of ['alpha', 'beta', 'gamma']) await deliverRaw(t.wharf, dave, sampleMessage(s, `text of ${s}\r\n`));
    const one = open();
    const two = open();
    await playTranscript(one.client, `S: * OK *\nC: a1 LOGIN dave x\nS: a1 OK *\nC: a2 SELECT INBOX (CONDSTORE)\nS: * FLAGS *\nS: * OK *\nS: * 3 EXISTS\nS: * 0 RECENT\nS: * OK [UNSEEN 1] *\nS: * OK *\nS: * OK *\nS: * OK [HIGHESTMODSEQ *\nS: a2 OK [READ-WRITE] *`);
    await playTranscript(
      two.client,
      `S: * OK *
       C: a1 LOGIN dave x
       S: a1 OK *
       C: a2 EXAMINE INBOX
       S: * FLAGS *
       S: * OK [PERMANENTFLAGS ()] *
       S: * 3 EXISTS
       S: * 0 RECENT
       S: * OK *
       S: * OK *
       S: * OK *
       S: * OK *
       S: a2 OK [READ-ONLY] EXAMINE completed
       C: a3 STORE 1 +FLAGS (\\Seen)
       S: a3 NO [READ-ONLY] mailbox is read-only`,
    );
    await playTranscript(
      one.client,
      `C: b1 FETCH 1:2 (UID FLAGS MODSEQ)
       S: * 1 FETCH (UID 1 FLAGS () MODSEQ (*))
       S: * 2 FETCH (UID 2 FLAGS () MODSEQ (*))
       S: b1 OK FETCH completed
       C: b2 STORE 2 +FLAGS (\\Deleted \\Flagged)
       S: * 2 FETCH (FLAGS (\\Deleted \\Flagged) UID 2 MODSEQ (*))
       S: b2 OK STORE completed
       C: b3 STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Answered)
       S: b3 OK [MODIFIED 1] *
       C: b4 SEARCH RETURN (MIN MAX COUNT ALL) DELETED
       S: * ESEARCH (TAG "b4") MIN 2 MAX 2 COUNT 1 ALL 2
       S: b4 OK *
       C: b5 UID SEARCH OR SUBJECT alpha BODY gamma
       S: * SEARCH 1 3
       S: b5 OK *
       C: b6 SEARCH CHARSET KOI8-R ALL
       S: b6 NO [BADCHARSET (UTF-8 US-ASCII)] *`,
    );
    // Session two sees the flag change at its next command.
    await playTranscript(two.client, `C: a4 NOOP\nS: * 2 FETCH (FLAGS (\\Deleted \\Flagged))\nS: a4 OK NOOP completed`);
    await playTranscript(one.client, `C: b7 EXPUNGE\nS: * 2 EXPUNGE\nS: b7 OK EXPUNGE completed`);
    // FETCH must not announce the expunge (RFC 3501 §7.4.1); NOOP then does.
    await playTranscript(
      two.client,
      `C: a5 FETCH 1 (FLAGS)
       S: * 1 FETCH (FLAGS ())
       S: a5 OK FETCH completed
       C: a6 NOOP
       S: * 2 EXPUNGE
       S: a6 OK NOOP completed
       C: a7 FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)])
       S: * 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}
       S: Subject: gamma
       S:
       S: )
       S: a7 OK FETCH completed
       C: a8 FETCH 3 FLAGS
       S: a8 BAD invalid message sequence number`,
    );
    // New mail appears as EXISTS at the next command.
    await deliverRaw(t.wharf, dave, sampleMessage('delta', 'x\r\n'));
    await playTranscript(one.client, `C: b8 CHECK\nS: * 3 EXISTS\nS: b8 OK CHECK completed\nC: b9 LOGOUT\nS: * BYE *\nS: b9 OK *`);
    await playTranscript(two.client, `C: a9 LOGOUT\nS: * BYE *\nS: a9 OK *`);
    await Promise.all([one.done, two.done]);
    assert.deepEqual((await t.wharf.store.listMessages(await inboxOf(dave))).map((m) => m.uid), [1, 3, 4]);
  });

  it('ENABLE IMAP4rev2: no RECENT, SEARCH answered with ESEARCH, UTF-8 quoted strings', async () => {
    const erin = 'erin@hamburger.edu';
    await t.wharf.accounts.addUser(erin, 'pw');
    await deliverRaw(t.wharf, erin, 'From: alice@crepes.fr\r\nSubject: Crêpes\r\n\r\nmiam\r\n');
    const { client, done } = open();
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN erin pw
       S: a1 OK *
       C: a2 ENABLE IMAP4rev2
       S: * ENABLED IMAP4rev2
       S: a2 OK *
       C: a3 SELECT INBOX
       S: * FLAGS *
       S: * OK [PERMANENTFLAGS *
       S: * 1 EXISTS
       S: * OK [UNSEEN 1] *
       S: * OK [UIDVALIDITY *
       S: * OK [UIDNEXT 2] *
       S: * OK [HIGHESTMODSEQ *
       S: a3 OK [READ-WRITE] *
       C: a4 SEARCH ALL
       S: * ESEARCH (TAG "a4") ALL 1
       S: a4 OK *
       C: a5 FETCH 1 (ENVELOPE)
       S: * 1 FETCH (ENVELOPE (NIL "Crêpes" ((NIL NIL "alice" "crepes.fr")) ((NIL NIL "alice" "crepes.fr")) ((NIL NIL "alice" "crepes.fr")) NIL NIL NIL NIL NIL))
       S: a5 OK *
       C: a6 LOGOUT
       S: * BYE *
       S: a6 OK *`,
    );
    await done;
  });

  it('keeps passwords out of the transcript', async () => {
    const bus = new EventBus();
    const events: TranscriptEvent[] = [];
    bus.on('transcript', (e: TranscriptEvent) => events.push(e));
    const transcript = new Transcript(bus, 'imap', 'imap-test-redact', '127.0.0.1:40000');
    const { client, done } = open({ transcript });
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN bob hungry
       S: a1 OK *
       C: a2 LOGOUT
       S: * BYE *
       S: a2 OK *`,
    );
    await done;
    const text = events.map((e) => `${e.dir}: ${e.text}`).join('\n');
    assert.match(text, /C: a1 LOGIN bob \*\*\*\*/);
    assert.doesNotMatch(text, /hungry/);
    assert.match(text, /S: a2 OK/);
  });

  it('UID EXPUNGE, MOVE with COPYUID, SEARCHRES, CHANGEDSINCE, APPEND with a literal name, RENAME INBOX, CLOSE', async () => {
    const fay = 'fay@hamburger.edu';
    await t.wharf.accounts.addUser(fay, 'pw');
    for (const s2 of ['m1', 'm2', 'm3', 'm4']) await deliverRaw(t.wharf, fay, sampleMessage(s2, `${s2}\r\n`));
    const { client, done } = open();
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN fay pw
       S: a1 OK *
       C: a2 SELECT INBOX
       S: * FLAGS *
       S: * OK *
       S: * 4 EXISTS
       S: * 0 RECENT
       S: * OK *
       S: * OK [UIDVALIDITY *
       S: * OK [UIDNEXT 5] *
       S: * OK [HIGHESTMODSEQ *
       S: a2 OK *
       C: a3 STORE 1:2 +FLAGS.SILENT (\\Deleted)
       S: a3 OK *
       C: a4 UID EXPUNGE 2:4
       S: * 2 EXPUNGE
       S: a4 OK *
       C: a5 UID SEARCH RETURN (SAVE) SUBJECT m4
       S: a5 OK *
       C: a6 UID MOVE $ Archive
       S: * OK [COPYUID * 4 1] moved
       S: * 3 EXPUNGE
       S: a6 OK MOVE completed
       C: a7 FETCH 1:* (UID BINARY.SIZE[1]) (CHANGEDSINCE 1)
       S: * 1 FETCH (UID 1 BINARY.SIZE[1] 4 MODSEQ (*))
       S: * 2 FETCH (UID 3 BINARY.SIZE[1] 4 MODSEQ (*))
       S: a7 OK *
       C: a8 APPEND {7}
       S: + Ready for literal data
       C: Archive (\\Seen) {14+}
       C: Subject: x
       C:
       C:
       S: a8 OK [APPENDUID * 2] APPEND completed
       C: a9 CLOSE
       S: a9 OK CLOSE completed
       C: b1 STATUS INBOX (MESSAGES)
       S: * STATUS INBOX (MESSAGES 1)
       S: b1 OK *
       C: b2 RENAME INBOX Old
       S: b2 OK *
       C: b3 STATUS INBOX (MESSAGES)
       S: * STATUS INBOX (MESSAGES 0)
       S: b3 OK *
       C: b4 STATUS Old (MESSAGES)
       S: * STATUS Old (MESSAGES 1)
       S: b4 OK *
       C: b5 STATUS Archive (MESSAGES UNSEEN)
       S: * STATUS Archive (MESSAGES 2 UNSEEN 1)
       S: b5 OK *
       C: b6 LOGOUT
       S: * BYE *
       S: b6 OK *`,
    );
    await done;
  });

  it('QRESYNC: ENABLE, SELECT (QRESYNC ...) with VANISHED (EARLIER), UID FETCH (CHANGEDSINCE VANISHED), VANISHED for expunges', async () => {
    const gus = 'gus@hamburger.edu';
    await t.wharf.accounts.addUser(gus, 'pw');
    for (const s2 of ['q1', 'q2', 'q3', 'q4', 'q5']) await deliverRaw(t.wharf, gus, sampleMessage(s2, `${s2}\r\n`));
    const store = t.wharf.store;
    const box = await inboxOf(gus);
    const m0 = (await store.getMailboxById(box))!;
    const [V, M0] = [m0.uidValidity, m0.highestModseq];
    // Another agent: flags on 2, expunges 3 and 5.
    await store.updateFlags(box, [2], 'add', ['\\Flagged']);
    await store.expunge(box, [3, 5]);
    const { client, done } = open();
    const head = (n: number) => `S: * FLAGS *
       S: * OK [PERMANENTFLAGS *
       S: * ${n} EXISTS
       S: * 0 RECENT
       S: * OK [UNSEEN 1] *
       S: * OK [UIDVALIDITY ${V}] *
       S: * OK [UIDNEXT 6] *
       S: * OK [HIGHESTMODSEQ *`;
    await playTranscript(
      client,
      `S: * OK [CAPABILITY *] *
       C: a1 LOGIN gus pw
       S: a1 OK [CAPABILITY * CONDSTORE QRESYNC *] logged in
       C: a2 SELECT INBOX (QRESYNC (${V} ${M0}))
       S: a2 BAD QRESYNC parameter without ENABLE QRESYNC
       C: a3 ENABLE QRESYNC
       S: * ENABLED QRESYNC
       S: a3 OK *
       C: a4 SELECT INBOX (QRESYNC (${V} ${M0} 1:5))
       ${head(3)}
       S: * VANISHED (EARLIER) 3,5
       S: * 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (*))
       S: a4 OK [READ-WRITE] SELECT completed
       C: a5 EXAMINE INBOX (QRESYNC (${V + 1} ${M0}))
       S: * OK [CLOSED] previous mailbox closed
       S: * FLAGS *
       S: * OK [PERMANENTFLAGS ()] *
       S: * 3 EXISTS
       S: * 0 RECENT
       S: * OK [UNSEEN 1] *
       S: * OK [UIDVALIDITY ${V}] *
       S: * OK [UIDNEXT 6] *
       S: * OK [HIGHESTMODSEQ *
       S: a5 OK [READ-ONLY] EXAMINE completed
       C: a6 SELECT INBOX (QRESYNC (${V} ${M0} 1:4 (3 4)))
       S: * OK [CLOSED] previous mailbox closed
       ${head(3)}
       S: * 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (*))
       S: a6 OK [READ-WRITE] SELECT completed
       C: a7 SELECT INBOX (QRESYNC (${V} ${M0} 1:4 (1,2 1)))
       S: a7 BAD QRESYNC sequence match sets differ in length
       C: a8 UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${M0} VANISHED)
       S: * VANISHED (EARLIER) 3,5
       S: * 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (*))
       S: a8 OK UID FETCH completed
       C: a9 FETCH 1:* (FLAGS) (CHANGEDSINCE ${M0} VANISHED)
       S: a9 BAD VANISHED is a UID FETCH modifier
       C: b1 UID FETCH 1:* (FLAGS) (VANISHED)
       S: b1 BAD VANISHED needs CHANGEDSINCE`,
    );
    // Another session sets \Seen on 1 and expunges 4: a FETCH with UID and MODSEQ, one VANISHED.
    await store.updateFlags(box, [1], 'add', ['\\Seen']);
    await store.expunge(box, [4]);
    await playTranscript(
      client,
      `C: b2 NOOP
       S: * VANISHED 4
       S: * 1 FETCH (FLAGS (\\Seen) UID 1 MODSEQ (*))
       S: b2 OK NOOP completed
       C: b3 STORE 1:2 +FLAGS.SILENT (\\Deleted)
       S: * 1 FETCH (UID 1 MODSEQ (*))
       S: * 2 FETCH (UID 2 MODSEQ (*))
       S: b3 OK STORE completed
       C: b3a UID MOVE 2 Archive
       S: * OK [COPYUID * 2 1] moved
       S: * VANISHED 2
       S: b3a OK [HIGHESTMODSEQ *] MOVE completed
       C: b4 EXPUNGE
       S: * VANISHED 1
       S: b4 OK [HIGHESTMODSEQ *] EXPUNGE completed
       C: b5 STATUS INBOX (MESSAGES)
       S: * STATUS INBOX (MESSAGES 0)
       S: b5 OK *
       C: b6 LOGOUT
       S: * BYE *
       S: b6 OK *`,
    );
    await done;
    const hm = (await store.getMailboxById(box))!.highestModseq;
    const ch = await store.changesSince(box, M0);
    assert.deepEqual(ch.expunged, [1, 2, 3, 4, 5]);
    assert.ok(hm > M0);
  });

  it('LIST-EXTENDED (RFC 9051 §6.3.9): selection and return options, several patterns, STATUS; names in modified UTF-7 or UTF-8', async () => {
    const hal = 'hal@hamburger.edu';
    await t.wharf.accounts.addUser(hal, 'pw');
    await deliverRaw(t.wharf, hal, sampleMessage('h1', 'x\r\n'));
    const { client, done } = open();
    await playTranscript(
      client,
      `S: * OK *
       C: a1 LOGIN hal pw
       S: a1 OK [CAPABILITY * LIST-EXTENDED LIST-STATUS *] logged in
       C: a2 CREATE Entw&APw-rfe
       S: a2 OK *
       C: a3 CREATE Bad&AGE-
       S: a3 BAD mailbox name is not valid modified UTF-7 (encoded ASCII)
       C: a4 CREATE "Caf\u00e9"
       S: a4 BAD mailbox name is not valid modified UTF-7 (8-bit or control character)
       C: a5 CREATE Fruit/Apple
       S: a5 OK *
       C: a6 CREATE Fruit/Banana
       S: a6 OK *
       C: a7 CREATE Tofu
       S: a7 OK *
       C: a8 UNSUBSCRIBE Fruit/Banana
       S: a8 OK *
       C: a9 CREATE Moon/Base
       S: a9 OK *
       C: b1 DELETE Moon
       S: b1 OK *
       C: b2 LIST (SUBSCRIBED) "" "Fruit*"
       S: * LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Apple
       S: b2 OK LIST completed
       C: b3 LIST (SUBSCRIBED RECURSIVEMATCH) "" "F%"
       S: * LIST (\\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))
       S: b3 OK LIST completed
       C: b4 LIST "" "Fruit/%" RETURN (SUBSCRIBED CHILDREN)
       S: * LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Apple
       S: * LIST (\\HasNoChildren) "/" Fruit/Banana
       S: b4 OK LIST completed
       C: b5 LIST (RECURSIVEMATCH) "" "%"
       S: b5 BAD RECURSIVEMATCH needs another selection option
       C: b6 LIST (FOO) "" "%"
       S: b6 BAD unknown LIST selection option FOO
       C: b7 LIST "" "%" RETURN (FOO)
       S: b7 BAD unknown LIST return option FOO
       C: b8 LIST (SPECIAL-USE REMOTE) "" "*" RETURN (SPECIAL-USE)
       S: * LIST (\\HasNoChildren \\Archive) "/" Archive
       S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
       S: * LIST (\\HasNoChildren \\Junk) "/" Junk
       S: * LIST (\\HasNoChildren \\Sent) "/" Sent
       S: * LIST (\\HasNoChildren \\Trash) "/" Trash
       S: b8 OK LIST completed
       C: b9 LIST "" (inbox "Fruit/Apple" Moon "") RETURN (STATUS (MESSAGES UIDNEXT))
       S: * LIST (\\HasNoChildren) "/" INBOX
       S: * STATUS INBOX (MESSAGES 1 UIDNEXT 2)
       S: * LIST (\\HasNoChildren) "/" Fruit/Apple
       S: * STATUS Fruit/Apple (MESSAGES 0 UIDNEXT 1)
       S: * LIST (\\NonExistent \\HasChildren) "/" Moon
       S: b9 OK LIST completed
       C: c1 LIST "" Moon
       S: * LIST (\\Noselect \\HasChildren) "/" Moon
       S: c1 OK LIST completed
       C: c2 LIST "" Entw*
       S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe
       S: c2 OK LIST completed
       C: c3 STATUS Entw&APw-rfe (MESSAGES)
       S: * STATUS Entw&APw-rfe (MESSAGES 0)
       S: c3 OK *
       C: c4 ENABLE UTF8=ACCEPT
       S: * ENABLED UTF8=ACCEPT
       S: c4 OK *
       C: c5 LIST "" Entw*
       S: * LIST (\\HasNoChildren) "/" "Entw\u00fcrfe"
       S: c5 OK LIST completed
       C: c6 SELECT "Entw\u00fcrfe"
       S: * FLAGS *
       S: * OK *
       S: * 0 EXISTS
       S: * 0 RECENT
       S: * OK *
       S: * OK *
       S: * OK *
       S: c6 OK [READ-WRITE] SELECT completed
       C: c7 STATUS Entw&APw-rfe (MESSAGES)
       S: c7 NO [NONEXISTENT] no such mailbox
       C: c8 LOGOUT
       S: * BYE *
       S: c8 OK *`,
    );
    await done;
    const acct = (await t.wharf.store.getAccount(hal))!;
    assert.ok(await t.wharf.store.getMailbox(acct.id, 'Entwürfe'), 'stored under its Unicode name');
  });

  it('sequence sets resolve by binary search (overlaps, reversed, "*", huge); envelopes and subject searches from the shared cache', async () => {
    const ivy = 'ivy@hamburger.edu';
    await t.wharf.accounts.addUser(ivy, 'pw');
    for (const s2 of ['apple pie', 'banana split', 'cherry tart', 'date cake']) await deliverRaw(t.wharf, ivy, sampleMessage(s2, `${s2}\r\n`));
    await t.wharf.store.expunge(await inboxOf(ivy), [2]);
    const { MessageCache } = await import('./cache.js');
    const cache = new MessageCache(100);
    const env = (subj: string) => `ENVELOPE ("Mon, 23 Nov 2026 10:00:00 +0000" "${subj}" ((NIL NIL "alice" "crepes.fr")) ((NIL NIL "alice" "crepes.fr")) ((NIL NIL "alice" "crepes.fr")) ((NIL NIL "bob" "hamburger.edu")) NIL NIL NIL "<${subj.replace(/\W/g, '')}@crepes.fr>")`;
    const session = `S: * OK *
       C: a1 LOGIN ivy pw
       S: a1 OK *
       C: a2 SELECT INBOX
       S: * FLAGS *
       S: * OK *
       S: * 3 EXISTS
       S: * 0 RECENT
       S: * OK *
       S: * OK *
       S: * OK [UIDNEXT 5] *
       S: * OK *
       S: a2 OK *
       C: a3 UID FETCH 4,1:3,3,2 (FLAGS)
       S: * 1 FETCH (UID 1 FLAGS ())
       S: * 2 FETCH (UID 3 FLAGS ())
       S: * 3 FETCH (UID 4 FLAGS ())
       S: a3 OK *
       C: a4 FETCH 3:2 (UID)
       S: * 2 FETCH (UID 3)
       S: * 3 FETCH (UID 4)
       S: a4 OK *
       C: a5 UID FETCH 4294967295:4,*:* (UID)
       S: * 3 FETCH (UID 4)
       S: a5 OK *
       C: a6 UID FETCH 5:9 (UID)
       S: a6 OK *
       C: a7 FETCH 2,1 (ENVELOPE)
       S: * 1 FETCH (${env('apple pie')})
       S: * 2 FETCH (${env('cherry tart')})
       S: a7 OK *
       C: a8 UID SEARCH OR SUBJECT TART FROM nobody
       S: * SEARCH 3
       S: a8 OK *
       C: a9 UID SEARCH NOT SUBJECT pie
       S: * SEARCH 3 4
       S: a9 OK *
       C: b1 LOGOUT
       S: * BYE *
       S: b1 OK *`;
    // Twice with one cache: the second session answers ENVELOPE and SUBJECT from it.
    const store = t.wharf.store;
    const getMessages = store.getMessages;
    let reads = 0;
    store.getMessages = (...args) => {
      reads++;
      return getMessages.apply(store, args);
    };
    try {
      for (let round = 0; round < 2; round++) {
        reads = 0;
        const { client, done } = open({ cache });
        await playTranscript(client, session);
        await done;
        assert.equal(cache.size, 3);
        assert.equal(reads, round === 0 ? 2 : 0, `store reads in round ${round}`);
      }
    } finally {
      store.getMessages = getMessages;
    }
  });

  it('SELECT from the shared listing plus what changed since: new, flagged and expunged messages', async () => {
    const jo = 'jo@hamburger.edu';
    await t.wharf.accounts.addUser(jo, 'pw');
    for (const s2 of ['k1', 'k2', 'k3']) await deliverRaw(t.wharf, jo, sampleMessage(s2, `${s2}\r\n`));
    const { MessageCache } = await import('./cache.js');
    const cache = new MessageCache(100);
    const box = await inboxOf(jo);
    const select = (n: number, fetch: string) => `S: * OK *
       C: a1 LOGIN jo pw
       S: a1 OK *
       C: a2 EXAMINE INBOX
       S: * FLAGS *
       S: * OK *
       S: * ${n} EXISTS
       S: * 0 RECENT
       S: * OK *
       S: * OK *
       S: * OK *
       S: * OK *
       S: a2 OK *
       C: a3 FETCH 1:* (UID FLAGS)
       ${fetch}
       S: a3 OK *
       C: a4 LOGOUT
       S: * BYE *
       S: a4 OK *`;
    let one = open({ cache });
    await playTranscript(one.client, select(3, 'S: * 1 FETCH (UID 1 FLAGS ())\nS: * 2 FETCH (UID 2 FLAGS ())\nS: * 3 FETCH (UID 3 FLAGS ())'));
    await one.done;
    assert.equal(cache.listing(box, (await t.wharf.store.getMailboxById(box))!.uidValidity)?.msgs.length, 3);
    await t.wharf.store.updateFlags(box, [3], 'add', ['\\Answered']);
    await t.wharf.store.expunge(box, [2]);
    await deliverRaw(t.wharf, jo, sampleMessage('k4', 'k4\r\n'));
    const listMessages = t.wharf.store.listMessages;
    t.wharf.store.listMessages = () => Promise.reject(new Error('SELECT must not list the whole mailbox again'));
    try {
      one = open({ cache });
      await playTranscript(one.client, select(3, 'S: * 1 FETCH (UID 1 FLAGS ())\nS: * 2 FETCH (UID 3 FLAGS (\\Answered))\nS: * 3 FETCH (UID 4 FLAGS ())'));
      await one.done;
    } finally {
      t.wharf.store.listMessages = listMessages;
    }
  });
});
