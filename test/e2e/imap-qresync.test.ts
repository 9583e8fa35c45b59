// QRESYNC (RFC 7162 §3.2) end to end with imapflow, a client nobody here wrote: it enables
// QRESYNC, reopens a mailbox with (QRESYNC (uidvalidity modseq)) and must learn of the expunge
// (VANISHED (EARLIER)) and the flag change made meanwhile by another client, then of a live
// expunge as a plain VANISHED, and UID FETCH (CHANGEDSINCE n VANISHED) must name the vanished UIDs.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage } from '../helpers/mail.js';

const BOB = 'bob@hamburger.edu';
let t: TestWharf;

before(async () => {
  t = await startTestWharf({ services: ['imap'], users: [[BOB, 'hungry']] });
});
after(() => t.stop());

function flow(qresync: boolean): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: t.port('imap'), secure: false, auth: { user: BOB, pass: 'hungry' }, logger: false, disableAutoIdle: true, qresync, tls: { rejectUnauthorized: false } } as ConstructorParameters<typeof ImapFlow>[0]);
}

interface ExpungeEvent {
  uid?: number;
  seq?: number;
  vanished: boolean;
  earlier?: boolean;
}

describe('QRESYNC with imapflow', () => {
  it('resynchronises a mailbox: VANISHED (EARLIER) and changed flags on SELECT, VANISHED live, UID FETCH VANISHED', async () => {
    for (const s of ['r1', 'r2', 'r3', 'r4']) await deliverRaw(t.wharf, BOB, sampleMessage(s, `${s}\r\n`));
    // First visit: remember UIDVALIDITY and HIGHESTMODSEQ.
    const a = flow(true);
    await a.connect();
    assert.ok(a.enabled.has('QRESYNC'), 'QRESYNC enabled');
    const first = await a.mailboxOpen('INBOX');
    const uidValidity = first.uidValidity;
    const modseq = first.highestModseq!;
    assert.equal(first.exists, 4);
    await a.logout();

    // Meanwhile another client flags 2 and expunges 3.
    const b = flow(false);
    await b.connect();
    await b.mailboxOpen('INBOX');
    await b.messageFlagsAdd('2', ['\\Flagged'], { uid: true });
    await b.messageDelete('3', { uid: true });

    // Second visit with QRESYNC.
    const c = flow(true);
    const expunges: ExpungeEvent[] = [];
    const flags: { uid?: number; flags: Set<string> }[] = [];
    c.on('expunge', (e: ExpungeEvent) => expunges.push(e));
    c.on('flags', (e: { uid?: number; flags: Set<string> }) => flags.push(e));
    await c.connect();
    try {
      const mb = await c.mailboxOpen('INBOX', { uidValidity, changedSince: modseq } as Parameters<ImapFlow['mailboxOpen']>[1]);
      assert.equal(mb.exists, 3);
      assert.deepEqual(expunges.map((e) => [e.uid, e.vanished, e.earlier]), [[3, true, true]]);
      assert.deepEqual(flags.map((f) => [f.uid, [...f.flags]]), [[2, ['\\Flagged']]]);

      // A live expunge by the other client: a plain VANISHED at the next command.
      expunges.length = 0;
      await b.messageDelete('4', { uid: true });
      await c.noop();
      assert.deepEqual(expunges.map((e) => [e.uid, e.vanished, e.earlier]), [[4, true, false]]);
      assert.equal(c.mailbox && c.mailbox.exists, 2);

      // UID FETCH (CHANGEDSINCE modseq VANISHED): 3 and 4 vanished, 2 changed.
      expunges.length = 0;
      const changed = await c.fetchAll('1:*', { uid: true, flags: true }, { uid: true, changedSince: modseq } as Parameters<ImapFlow['fetchAll']>[2]);
      assert.deepEqual(changed.map((m) => m.uid), [2]);
      assert.deepEqual(expunges.map((e) => [e.uid, e.earlier]).sort(), [[3, true], [4, true]]);
    } finally {
      await c.logout();
      await b.logout();
    }
  });
});
