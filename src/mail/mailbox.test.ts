import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import { deliverRaw, sampleMessage } from '../../test/helpers/mail.js';
import type { BlobStore, Store, StoredMessage } from '../store/store.js';
import { MailboxSnapshot, messageParts, readMessage, uniqueId } from './mailbox.js';

const USER = 'dora@window.test';
let t: TestWharf;

before(async () => {
  t = await startTestWharf({ users: [[USER, 'secret']] });
});
after(() => t.stop());

async function inbox() {
  const acc = (await t.wharf.store.getAccount(USER))!;
  return (await t.wharf.store.getMailbox(acc.id, 'INBOX'))!;
}

/** The store, counting getMessages calls and the UIDs asked for. */
function counting(store: Store): { store: Store; calls: number[][] } {
  const calls: number[][] = [];
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getMessages') {
        return (id: number, uids: readonly number[]) => {
          calls.push([...uids]);
          return target.getMessages(id, uids);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: wrapped, calls };
}

describe('mailbox model', () => {
  it('reads full rows ahead in windows, skipping unwanted ones', async () => {
    const uids: number[] = [];
    for (let i = 1; i <= 40; i++) uids.push(...(await deliverRaw(t.wharf, USER, sampleMessage(`m${i}`, `body ${i}\r\n`))));
    const { store, calls } = counting(t.wharf.store);
    const snap = await MailboxSnapshot.open(store, await inbox());
    assert.equal(snap.count, 40);
    assert.equal(snap.uniqueId(snap.get(1)!), uniqueId(snap.mailbox.uidValidity, uids[0]!));
    for (let n = 1; n <= 40; n++) {
      const row = await snap.row(store, n, (k) => k !== 3);
      assert.equal(row!.uid, uids[n - 1]);
    }
    // 1..33 without 3 in the first query, then 3..34 (3 was not read ahead), then 35..40.
    assert.deepEqual(calls, [[...uids.slice(0, 2), ...uids.slice(3, 33)], uids.slice(2, 34), uids.slice(34, 40)]);
    assert.equal(await snap.row(store, 41), undefined);
    assert.equal(await snap.row(store, 0), undefined);
  });

  it('a message expunged before it was read ahead is gone, one read ahead is still served', async () => {
    const box = await inbox();
    const snap = await MailboxSnapshot.open(t.wharf.store, box);
    const n = snap.count;
    const first = await snap.row(t.wharf.store, n - 1);
    assert.ok(first);
    await t.wharf.store.expunge(box.id, [snap.get(n - 1)!.uid, snap.get(1)!.uid]);
    assert.ok(await snap.row(t.wharf.store, n), 'in the window read with n-1');
    assert.equal(await snap.row(t.wharf.store, 1), undefined, 'expunged before being read');
  });

  it('messageParts gives headerPrefix and blob without copying, and checks the size', async () => {
    const [uid] = await deliverRaw(t.wharf, USER, sampleMessage('parts', 'hello\r\n'));
    const box = await inbox();
    const [m] = await t.wharf.store.getMessages(box.id, [uid!]);
    const parts = await messageParts(t.wharf.store.blobs, m!);
    assert.equal(parts.length, 2);
    assert.equal(parts[0], m!.headerPrefix);
    assert.match(parts[0]!.toString(), /^Return-Path: <alice@crepes.fr>\r\nDelivered-To: dora@window.test\r\n$/);
    assert.equal(Buffer.concat(parts).length, m!.size);
    assert.deepEqual(await readMessage(t.wharf.store.blobs, m!), Buffer.concat(parts));
    const wrong: StoredMessage = { ...m!, size: m!.size + 5 };
    await assert.rejects(messageParts(t.wharf.store.blobs, wrong), /WHARF_STORE_CORRUPT|octets stored/);
    const bare: StoredMessage = { ...m!, headerPrefix: Buffer.alloc(0), size: m!.size - m!.headerPrefix.length };
    const only = await messageParts(t.wharf.store.blobs, bare);
    assert.equal(only.length, 1);
    const empty: StoredMessage = { ...m!, size: m!.headerPrefix.length };
    const never = { read: () => Promise.reject(new Error('no read for an empty blob')) } as unknown as BlobStore;
    assert.deepEqual(await messageParts(never, empty), [m!.headerPrefix]);
  });
});
