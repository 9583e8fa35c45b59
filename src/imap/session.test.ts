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
       S: * 2 FETCH (FLAGS (\\Deleted \\Flagged) MODSEQ (*))
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
});
