// The store contract: one node:test suite that every Store engine must pass (SQLite, PostgreSQL).
// It checks the invariants documented in store.ts and pins the behaviour where the interface
// leaves a choice, so both engines answer alike:
//  - addresses and domain names compare case-insensitively and keep their case;
//  - errors are WharfError with the codes of StoreErrors (EXISTS, NOT_FOUND, NO_DOMAIN, NOT_EMPTY,
//    INVALID); a missing row read returns null / false, a write to a missing row rejects NOT_FOUND;
//  - UIDs strictly ascending and never reused; UIDVALIDITY fixed for a mailbox's life, larger for
//    a re-created one; every mailbox change gets a MODSEQ above every earlier one (RFC 7162 §3.1);
//    setting a flag already set changes nothing and bumps no MODSEQ (RFC 7162 §3.1);
//    `updateFlags().updated` lists only messages whose flags changed;
//  - the queue: one job per (message, destination domain); a job is held by one owner at a time;
//    deliverAndEnqueue stores local copies and the queued message together or not at all;
//    renewJobs extends only the caller's own leases;
//    finishJob by an owner that does not hold the job rejects NOT_FOUND and changes nothing.
//
// Usage: storeContract('sqlite', async () => initialisedStore, async (s) => removeFiles(s)).
// `make` returns a store on which init() has run, empty. Each group of tests gets its own store;
// after the group the suite calls `s.close()` and then `cleanup(s)` when given.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isWharfError } from '../core/errors.js';
import type { Store, NewMessage, Mailbox, Account } from './store.js';

type Make = () => Promise<Store>;
type Cleanup = (s: Store) => Promise<void>;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWharfError(err), `expected a WharfError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until pred() is true, polling; fails after `ms`. */
async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function storeContract(name: string, make: Make, cleanup?: Cleanup): void {
  /** A describe block with its own fresh store. */
  function group(title: string, body: (get: () => Store) => void): void {
    describe(title, () => {
      let s: Store | undefined;
      before(async () => {
        s = await make();
      });
      after(async () => {
        if (!s) return;
        await s.close();
        await cleanup?.(s);
      });
      body(() => {
        if (!s) throw new Error('store not made');
        return s;
      });
    });
  }

  let seq = 0;
  const uniq = (p: string) => `${p}${++seq}`;

  async function newAccount(s: Store, domain?: string): Promise<Account> {
    const d = domain ?? `${uniq('dom')}.example`;
    if (!(await s.getDomain(d))) await s.addDomain(d);
    return s.addAccount({ address: `${uniq('user')}@${d}`, passwordHash: 'x' });
  }

  async function newMailbox(s: Store): Promise<{ account: Account; inbox: Mailbox }> {
    const account = await newAccount(s);
    const inbox = await s.getMailbox(account.id, 'INBOX');
    assert.ok(inbox);
    return { account, inbox };
  }

  async function msg(s: Store, text: string, extra: Partial<NewMessage> = {}): Promise<NewMessage> {
    const body = Buffer.from(text);
    const { id, size } = await s.blobs.put(body);
    const prefix = extra.headerPrefix ?? Buffer.alloc(0);
    return { blobId: id, size: size + prefix.length, meta: { subject: text }, ...extra };
  }

  describe(`store contract: ${name}`, () => {
    group('init and engine', (get) => {
      it('init() is idempotent and keeps data', async () => {
        const s = get();
        assert.ok(s.engine === 'sqlite' || s.engine === 'postgres');
        await s.addDomain('keep.example');
        await s.init();
        await s.init();
        assert.equal((await s.getDomain('keep.example'))?.name, 'keep.example');
      });
    });

    group('domains', (get) => {
      it('keeps case, compares case-insensitively', async () => {
        const s = get();
        const d = await s.addDomain('Crepes.FR');
        assert.equal(d.name, 'Crepes.FR');
        assert.ok(d.createdAt instanceof Date && !Number.isNaN(d.createdAt.getTime()));
        assert.equal((await s.getDomain('crepes.fr'))?.name, 'Crepes.FR');
        assert.equal((await s.getDomain('CREPES.FR'))?.name, 'Crepes.FR');
        await rejectsWith(s.addDomain('crepes.fr'), 'WHARF_EXISTS');
        assert.ok((await s.listDomains()).some((x) => x.name === 'Crepes.FR'));
      });

      it('getDomain of an unknown domain is null; bad names are refused', async () => {
        const s = get();
        assert.equal(await s.getDomain('nowhere.example'), null);
        await rejectsWith(s.addDomain(''), 'WHARF_INVALID');
        await rejectsWith(s.addDomain('   '), 'WHARF_INVALID');
      });

      it('deleteDomain refuses while accounts exist unless force', async () => {
        const s = get();
        assert.equal(await s.deleteDomain('never.example'), false);
        await s.addDomain('Busy.example');
        const a = await s.addAccount({ address: 'u@busy.example', passwordHash: 'h' });
        await rejectsWith(s.deleteDomain('busy.example'), 'WHARF_NOT_EMPTY');
        assert.ok(await s.getAccount('u@busy.example'));
        assert.equal(await s.deleteDomain('BUSY.example', { force: true }), true);
        assert.equal(await s.getDomain('busy.example'), null);
        assert.equal(await s.getAccount('u@busy.example'), null);
        assert.equal(await s.getAccountById(a.id), null);
        await s.addDomain('empty.example');
        assert.equal(await s.deleteDomain('empty.example'), true);
        assert.equal(await s.deleteDomain('empty.example'), false);
      });
    });

    group('accounts and aliases', (get) => {
      it('addAccount creates INBOX and the listed mailboxes; defaults', async () => {
        const s = get();
        await s.addDomain('Hamburger.EDU');
        const a = await s.addAccount({
          address: 'Bob@Hamburger.edu',
          passwordHash: 'hash1',
          mailboxes: [{ name: 'Sent', specialUse: '\\Sent', subscribed: true }, { name: 'Trash', specialUse: '\\Trash' }],
        });
        assert.equal(a.address, 'Bob@Hamburger.edu');
        assert.equal(a.domain.toLowerCase(), 'hamburger.edu');
        assert.equal(a.passwordHash, 'hash1');
        assert.equal(a.apopSecret, null);
        assert.equal(a.admin, false);
        assert.equal(a.disabled, false);
        assert.equal(a.quota, 0);
        assert.ok(a.createdAt instanceof Date);
        assert.ok(Number.isInteger(a.id) && a.id > 0);
        const boxes = await s.listMailboxes(a.id);
        const names = boxes.map((b) => b.name).sort();
        assert.deepEqual(names, ['INBOX', 'Sent', 'Trash']);
        const sent = boxes.find((b) => b.name === 'Sent');
        assert.equal(sent?.specialUse, '\\Sent');
        assert.equal(sent?.subscribed, true);
        assert.equal(boxes.find((b) => b.name === 'INBOX')?.specialUse, null);
      });

      it('looks accounts up case-insensitively, keeps case', async () => {
        const s = get();
        const a = await s.getAccount('bob@hamburger.EDU');
        assert.equal(a?.address, 'Bob@Hamburger.edu');
        assert.equal((await s.getAccountById(a!.id))?.address, 'Bob@Hamburger.edu');
        assert.equal(await s.getAccount('nobody@hamburger.edu'), null);
        assert.equal(await s.getAccountById(999999), null);
        assert.equal((await s.resolveAddress('BOB@hamburger.edu'))?.id, a!.id);
        assert.equal(await s.resolveAddress('nobody@hamburger.edu'), null);
      });

      it('refuses taken addresses, unknown domains and bad addresses', async () => {
        const s = get();
        await rejectsWith(s.addAccount({ address: 'bob@HAMBURGER.edu', passwordHash: 'x' }), 'WHARF_EXISTS');
        await rejectsWith(s.addAccount({ address: 'alice@crepes.fr', passwordHash: 'x' }), 'WHARF_NO_DOMAIN');
        await rejectsWith(s.addAccount({ address: 'no-at-sign', passwordHash: 'x' }), 'WHARF_INVALID');
        await rejectsWith(s.addAccount({ address: '@hamburger.edu', passwordHash: 'x' }), 'WHARF_INVALID');
      });

      it('updateAccount patches; false for an unknown account', async () => {
        const s = get();
        assert.equal(await s.updateAccount('BOB@hamburger.edu', { passwordHash: 'hash2', apopSecret: 'tanstaaf', admin: true, quota: 1000 }), true);
        let a = await s.getAccount('bob@hamburger.edu');
        assert.equal(a?.passwordHash, 'hash2');
        assert.equal(a?.apopSecret, 'tanstaaf');
        assert.equal(a?.admin, true);
        assert.equal(a?.quota, 1000);
        assert.equal(a?.disabled, false);
        assert.equal(await s.updateAccount('bob@hamburger.edu', { disabled: true, apopSecret: null }), true);
        a = await s.getAccount('bob@hamburger.edu');
        assert.equal(a?.disabled, true);
        assert.equal(a?.apopSecret, null);
        assert.equal(a?.passwordHash, 'hash2');
        assert.equal(await s.updateAccount('ghost@hamburger.edu', { admin: true }), false);
      });

      it('listAccounts filters by domain case-insensitively', async () => {
        const s = get();
        await s.addDomain('other.example');
        await s.addAccount({ address: 'x@other.example', passwordHash: 'x' });
        const all = await s.listAccounts();
        assert.ok(all.some((a) => a.address === 'x@other.example'));
        assert.ok(all.some((a) => a.address === 'Bob@Hamburger.edu'));
        const some = await s.listAccounts('OTHER.example');
        assert.deepEqual(some.map((a) => a.address), ['x@other.example']);
      });

      it('aliases resolve, compare case-insensitively and collide with accounts', async () => {
        const s = get();
        const bob = (await s.getAccount('bob@hamburger.edu'))!;
        await s.addAlias('Postmaster@Hamburger.edu', bob.id);
        assert.equal((await s.resolveAddress('postmaster@HAMBURGER.EDU'))?.id, bob.id);
        await rejectsWith(s.addAlias('POSTMASTER@hamburger.edu', bob.id), 'WHARF_EXISTS');
        await rejectsWith(s.addAlias('bob@hamburger.edu', bob.id), 'WHARF_EXISTS');
        await rejectsWith(s.addAccount({ address: 'postmaster@hamburger.edu', passwordHash: 'x' }), 'WHARF_EXISTS');
        await rejectsWith(s.addAlias('ghost@hamburger.edu', 999999), 'WHARF_NOT_FOUND');
        const list = await s.listAliases(bob.id);
        assert.deepEqual(list, [{ address: 'Postmaster@Hamburger.edu', accountId: bob.id }]);
        assert.ok((await s.listAliases()).some((x) => x.address === 'Postmaster@Hamburger.edu'));
        assert.equal(await s.deleteAlias('postmaster@hamburger.edu'), true);
        assert.equal(await s.deleteAlias('postmaster@hamburger.edu'), false);
        assert.equal(await s.resolveAddress('postmaster@hamburger.edu'), null);
      });

      it('deleteAccount removes its mailboxes, messages and aliases', async () => {
        const s = get();
        const a = await s.addAccount({ address: 'gone@hamburger.edu', passwordHash: 'x' });
        await s.addAlias('gone-alias@hamburger.edu', a.id);
        const inbox = (await s.getMailbox(a.id, 'INBOX'))!;
        await s.appendMessage(inbox.id, await msg(s, 'bye'));
        assert.equal(await s.deleteAccount('GONE@hamburger.edu'), true);
        assert.equal(await s.getAccount('gone@hamburger.edu'), null);
        assert.equal(await s.getMailboxById(inbox.id), null);
        assert.deepEqual(await s.listMailboxes(a.id), []);
        assert.equal(await s.resolveAddress('gone-alias@hamburger.edu'), null);
        assert.equal(await s.deleteAccount('gone@hamburger.edu'), false);
        // the address is free again
        const again = await s.addAccount({ address: 'gone@hamburger.edu', passwordHash: 'y' });
        assert.notEqual(again.id, a.id);
      });
    });

    group('mailboxes', (get) => {
      it('INBOX exists, matches case-insensitively and is spelt INBOX', async () => {
        const s = get();
        const { account, inbox } = await newMailbox(s);
        assert.equal(inbox.name, 'INBOX');
        assert.equal(inbox.accountId, account.id);
        assert.equal(inbox.uidNext, 1);
        assert.ok(inbox.uidValidity > 0);
        assert.ok(inbox.highestModseq >= 0);
        assert.equal((await s.getMailbox(account.id, 'inbox'))?.id, inbox.id);
        assert.equal((await s.getMailbox(account.id, 'InBoX'))?.name, 'INBOX');
        assert.deepEqual(await s.getMailboxById(inbox.id), inbox);
        await rejectsWith(s.createMailbox(account.id, 'inbox'), 'WHARF_EXISTS');
      });

      it('other names are exact; duplicates refused; bad input refused', async () => {
        const s = get();
        const { account } = await newMailbox(s);
        const work = await s.createMailbox(account.id, 'Work', { specialUse: '\\Archive', subscribed: true });
        assert.equal(work.name, 'Work');
        assert.equal(work.specialUse, '\\Archive');
        assert.equal(work.subscribed, true);
        assert.equal(work.uidNext, 1);
        const lower = await s.createMailbox(account.id, 'work');
        assert.notEqual(lower.id, work.id);
        assert.equal(lower.subscribed, false);
        assert.equal(lower.specialUse, null);
        assert.equal((await s.getMailbox(account.id, 'Work'))?.id, work.id);
        assert.equal((await s.getMailbox(account.id, 'work'))?.id, lower.id);
        assert.equal(await s.getMailbox(account.id, 'WORK'), null);
        await rejectsWith(s.createMailbox(account.id, 'Work'), 'WHARF_EXISTS');
        await rejectsWith(s.createMailbox(account.id, ''), 'WHARF_INVALID');
        await rejectsWith(s.createMailbox(999999, 'X'), 'WHARF_NOT_FOUND');
        assert.equal(await s.getMailboxById(999999), null);
      });

      it('a re-created mailbox gets a larger UIDVALIDITY and no messages', async () => {
        const s = get();
        const { account } = await newMailbox(s);
        const a = await s.createMailbox(account.id, 'Again');
        await s.appendMessage(a.id, await msg(s, 'one'));
        await s.deleteMailbox(a.id);
        assert.equal(await s.getMailbox(account.id, 'Again'), null);
        assert.equal(await s.getMailboxById(a.id), null);
        const b = await s.createMailbox(account.id, 'Again');
        assert.ok(b.uidValidity > a.uidValidity, `${b.uidValidity} > ${a.uidValidity}`);
        assert.equal(b.uidNext, 1);
        assert.deepEqual(await s.listMessages(b.id), []);
        await rejectsWith(s.deleteMailbox(a.id), 'WHARF_NOT_FOUND');
      });

      it('renameMailbox renames children, keeps UIDVALIDITY and messages', async () => {
        const s = get();
        const { account } = await newMailbox(s);
        const a = await s.createMailbox(account.id, 'a');
        const ab = await s.createMailbox(account.id, 'a/b');
        const abc = await s.createMailbox(account.id, 'a/b/c');
        const other = await s.createMailbox(account.id, 'ab');
        await s.appendMessage(ab.id, await msg(s, 'child'));
        await s.renameMailbox(a.id, 'x/y');
        const names = (await s.listMailboxes(account.id)).map((m) => m.name).sort();
        assert.deepEqual(names, ['INBOX', 'ab', 'x/y', 'x/y/b', 'x/y/b/c']);
        const xb = (await s.getMailbox(account.id, 'x/y/b'))!;
        assert.equal(xb.id, ab.id);
        assert.equal(xb.uidValidity, ab.uidValidity);
        assert.equal((await s.listMessages(xb.id)).length, 1);
        assert.equal((await s.getMailboxById(abc.id))?.name, 'x/y/b/c');
        assert.equal((await s.getMailboxById(other.id))?.name, 'ab');
        await rejectsWith(s.renameMailbox(other.id, 'x/y'), 'WHARF_EXISTS');
        await rejectsWith(s.renameMailbox(other.id, 'inbox'), 'WHARF_EXISTS');
        await rejectsWith(s.renameMailbox(other.id, ''), 'WHARF_INVALID');
        await rejectsWith(s.renameMailbox(999999, 'z'), 'WHARF_NOT_FOUND');
        assert.equal((await s.getMailboxById(other.id))?.name, 'ab');
      });

      it('setSubscribed', async () => {
        const s = get();
        const { account } = await newMailbox(s);
        const m = await s.createMailbox(account.id, 'Sub');
        await s.setSubscribed(m.id, true);
        assert.equal((await s.getMailboxById(m.id))?.subscribed, true);
        await s.setSubscribed(m.id, false);
        assert.equal((await s.getMailboxById(m.id))?.subscribed, false);
        await rejectsWith(s.setSubscribed(999999, true), 'WHARF_NOT_FOUND');
      });
    });

    group('messages', (get) => {
      it('appendMessage assigns ascending UIDs and MODSEQs', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const r1 = await s.appendMessage(inbox.id, await msg(s, 'one'));
        const r2 = await s.appendMessage(inbox.id, await msg(s, 'two'));
        const r3 = await s.appendMessage(inbox.id, await msg(s, 'three'));
        assert.deepEqual([r1.uid, r2.uid, r3.uid], [1, 2, 3]);
        assert.ok(r1.modseq > inbox.highestModseq && r2.modseq > r1.modseq && r3.modseq > r2.modseq);
        const box = (await s.getMailboxById(inbox.id))!;
        assert.equal(box.uidNext, 4);
        assert.equal(box.highestModseq, r3.modseq);
        assert.equal(box.uidValidity, inbox.uidValidity);
        await rejectsWith(s.appendMessage(999999, await msg(s, 'x')), 'WHARF_NOT_FOUND');
      });

      it('stores and returns every field', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const date = new Date('2024-02-29T12:34:56.789Z');
        const prefix = Buffer.from('Return-Path: <alice@crepes.fr>\r\nDelivered-To: bob@hamburger.edu\r\n');
        const m = await msg(s, 'Subject: hi\r\n\r\nbody\r\n', { internalDate: date, flags: ['\\Seen', '$Forwarded'], headerPrefix: prefix, meta: { a: [1, 'two', { three: null }], n: 3.5 } });
        const { uid, modseq } = await s.appendMessage(inbox.id, m);
        const list = await s.listMessages(inbox.id);
        assert.equal(list.length, 1);
        assert.deepEqual(list[0], { uid, modseq, size: m.size, flags: ['\\Seen', '$Forwarded'], internalDate: date });
        const [full] = await s.getMessages(inbox.id, [uid]);
        assert.ok(full);
        assert.equal(full.mailboxId, inbox.id);
        assert.equal(full.blobId, m.blobId);
        assert.ok(Buffer.isBuffer(full.headerPrefix));
        assert.ok(full.headerPrefix.equals(prefix));
        assert.deepEqual(full.meta, { a: [1, 'two', { three: null }], n: 3.5 });
        assert.equal(full.internalDate.getTime(), date.getTime());
        assert.equal(full.size, m.size);
        // defaults: no flags, empty prefix, internal date about now
        const before = Date.now() - 1000;
        const r = await s.appendMessage(inbox.id, await msg(s, 'plain'));
        const [plain] = await s.getMessages(inbox.id, [r.uid]);
        assert.deepEqual(plain!.flags, []);
        assert.equal(plain!.headerPrefix.length, 0);
        assert.ok(plain!.internalDate.getTime() >= before && plain!.internalDate.getTime() <= Date.now() + 1000);
      });

      it('getMessages: ascending, missing UIDs left out', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        for (const t of ['a', 'b', 'c', 'd']) await s.appendMessage(inbox.id, await msg(s, t));
        const got = await s.getMessages(inbox.id, [4, 2, 99, 0, 2]);
        assert.deepEqual(got.map((m) => m.uid), [2, 4]);
        assert.deepEqual(await s.getMessages(inbox.id, []), []);
        assert.deepEqual(await s.getMessages(999999, [1]), []);
        assert.deepEqual(await s.listMessages(999999), []);
      });

      it('duplicate flags on append are stored once (case-insensitive)', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const { uid } = await s.appendMessage(inbox.id, await msg(s, 'dup', { flags: ['\\Seen', '\\SEEN', 'Junk', 'junk'] }));
        const [m] = await s.getMessages(inbox.id, [uid]);
        assert.equal(m!.flags.length, 2);
        assert.equal(m!.flags[0], '\\Seen');
      });

      it('updateFlags add/remove/set: case kept, compared case-insensitively, MODSEQ only on change', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const a = await s.appendMessage(inbox.id, await msg(s, 'a', { flags: ['\\Seen'] }));
        const b = await s.appendMessage(inbox.id, await msg(s, 'b'));
        const r1 = await s.updateFlags(inbox.id, [a.uid, b.uid], 'add', ['\\seen', '\\Flagged']);
        assert.deepEqual(r1.failed, []);
        assert.deepEqual(r1.updated.map((u) => u.uid), [a.uid, b.uid]);
        const ua = r1.updated[0]!;
        const ub = r1.updated[1]!;
        assert.deepEqual(ua.flags, ['\\Seen', '\\Flagged']);
        assert.equal(ub.flags.length, 2);
        assert.ok(ub.flags.some((f) => f.toLowerCase() === '\\seen'));
        assert.ok(ub.flags.includes('\\Flagged'));
        assert.ok(ua.modseq > b.modseq && ub.modseq > b.modseq);
        let box = (await s.getMailboxById(inbox.id))!;
        assert.equal(box.highestModseq, Math.max(ua.modseq, ub.modseq));

        // no change: nothing updated, no MODSEQ
        const r2 = await s.updateFlags(inbox.id, [a.uid], 'add', ['\\FLAGGED']);
        assert.deepEqual(r2, { updated: [], failed: [] });
        assert.equal((await s.getMailboxById(inbox.id))!.highestModseq, box.highestModseq);

        const r3 = await s.updateFlags(inbox.id, [a.uid, 77], 'remove', ['\\SEEN', 'NotThere']);
        assert.deepEqual(r3.updated.map((u) => [u.uid, u.flags]), [[a.uid, ['\\Flagged']]]);
        assert.ok(r3.updated[0]!.modseq > box.highestModseq);

        const r4 = await s.updateFlags(inbox.id, [a.uid, b.uid], 'set', ['$Label1', '\\Answered']);
        assert.deepEqual(r4.updated.map((u) => u.flags), [['$Label1', '\\Answered'], ['$Label1', '\\Answered']]);
        const r5 = await s.updateFlags(inbox.id, [a.uid], 'set', ['\\answered', '$label1']);
        assert.deepEqual(r5.updated, []);
        const list = await s.listMessages(inbox.id);
        assert.deepEqual(list.map((m) => m.flags), [['$Label1', '\\Answered'], ['$Label1', '\\Answered']]);
        box = (await s.getMailboxById(inbox.id))!;
        assert.equal(box.highestModseq, Math.max(...list.map((m) => m.modseq)));
        const r6 = await s.updateFlags(inbox.id, [b.uid], 'set', []);
        assert.deepEqual(r6.updated.map((u) => u.flags), [[]]);
      });

      it('updateFlags with unchangedSince (RFC 7162 §3.1.3)', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const a = await s.appendMessage(inbox.id, await msg(s, 'a'));
        const b = await s.appendMessage(inbox.id, await msg(s, 'b'));
        const c = await s.appendMessage(inbox.id, await msg(s, 'c'));
        // b changes after the client's snapshot (modseq of c)
        const snapshot = c.modseq;
        await s.updateFlags(inbox.id, [b.uid], 'add', ['\\Seen']);
        const r = await s.updateFlags(inbox.id, [a.uid, b.uid, c.uid], 'add', ['\\Deleted'], { unchangedSince: snapshot });
        assert.deepEqual(r.failed, [b.uid]);
        assert.deepEqual(r.updated.map((u) => u.uid), [a.uid, c.uid]);
        const [mb] = await s.getMessages(inbox.id, [b.uid]);
        assert.deepEqual(mb!.flags, ['\\Seen']);
        // unchangedSince 0 fails for every message (all have a modseq)
        const r0 = await s.updateFlags(inbox.id, [a.uid], 'add', ['x'], { unchangedSince: 0 });
        assert.deepEqual(r0, { updated: [], failed: [a.uid] });
      });

      it('updateFlags on a missing mailbox rejects NOT_FOUND', async () => {
        const s = get();
        await rejectsWith(s.updateFlags(999999, [1], 'add', ['\\Seen']), 'WHARF_NOT_FOUND');
      });

      it('expunge removes, remembers and never reuses UIDs', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        for (const t of ['1', '2', '3']) await s.appendMessage(inbox.id, await msg(s, t));
        const before = (await s.getMailboxById(inbox.id))!;
        const r = await s.expunge(inbox.id, [3, 1, 42]);
        assert.deepEqual(r.expunged, [1, 3]);
        assert.ok(r.modseq > before.highestModseq);
        assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [2]);
        const after = (await s.getMailboxById(inbox.id))!;
        assert.equal(after.highestModseq, r.modseq);
        const again = await s.expunge(inbox.id, [1, 3]);
        assert.deepEqual(again.expunged, []);
        assert.equal((await s.getMailboxById(inbox.id))!.highestModseq, r.modseq);
        const next = await s.appendMessage(inbox.id, await msg(s, '4'));
        assert.equal(next.uid, 4);
        await rejectsWith(s.expunge(999999, [1]), 'WHARF_NOT_FOUND');
      });

      it('changesSince lists updated messages and expunged UIDs above a MODSEQ', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const m1 = await s.appendMessage(inbox.id, await msg(s, '1'));
        await s.appendMessage(inbox.id, await msg(s, '2'));
        await s.appendMessage(inbox.id, await msg(s, '3'));
        const mark = (await s.getMailboxById(inbox.id))!.highestModseq;
        await s.updateFlags(inbox.id, [1], 'add', ['\\Seen']);
        await s.expunge(inbox.id, [2]);
        await s.appendMessage(inbox.id, await msg(s, '4'));
        const ch = await s.changesSince(inbox.id, mark);
        assert.deepEqual(ch.updated.map((u) => u.uid), [1, 4]);
        assert.deepEqual(ch.updated[0]!.flags, ['\\Seen']);
        assert.deepEqual(ch.expunged, [2]);
        const box = (await s.getMailboxById(inbox.id))!;
        assert.equal(ch.highestModseq, box.highestModseq);
        assert.equal(ch.uidNext, 5);
        const all = await s.changesSince(inbox.id, 0);
        assert.deepEqual(all.updated.map((u) => u.uid), [1, 3, 4]);
        assert.deepEqual(all.expunged, [2]);
        const none = await s.changesSince(inbox.id, box.highestModseq);
        assert.deepEqual([none.updated, none.expunged], [[], []]);
        assert.ok(m1.modseq <= mark);
        await rejectsWith(s.changesSince(999999, 0), 'WHARF_NOT_FOUND');
      });

      it('deliver writes to several mailboxes at once, all or none', async () => {
        const s = get();
        const one = await newMailbox(s);
        const two = await newMailbox(s);
        const m = await msg(s, 'shared body');
        const res = await s.deliver([
          { mailboxId: one.inbox.id, message: m },
          { mailboxId: two.inbox.id, message: { ...m, headerPrefix: Buffer.from('Delivered-To: x\r\n') } },
        ]);
        assert.deepEqual(res, [{ mailboxId: one.inbox.id, uid: 1 }, { mailboxId: two.inbox.id, uid: 1 }]);
        const [got] = await s.getMessages(two.inbox.id, [1]);
        assert.equal(got!.headerPrefix.toString(), 'Delivered-To: x\r\n');
        assert.equal(got!.blobId, m.blobId);

        const before = (await s.getMailboxById(one.inbox.id))!;
        await rejectsWith(s.deliver([{ mailboxId: one.inbox.id, message: m }, { mailboxId: 999999, message: m }]), 'WHARF_NOT_FOUND');
        const after = (await s.getMailboxById(one.inbox.id))!;
        assert.equal((await s.listMessages(one.inbox.id)).length, 1);
        assert.equal(after.uidNext, before.uidNext);
        assert.equal(after.highestModseq, before.highestModseq);
        assert.deepEqual(await s.deliver([]), []);
      });

      it('copyMessages keeps flags and date, gives new UIDs in the target', async () => {
        const s = get();
        const { account, inbox } = await newMailbox(s);
        const dst = await s.createMailbox(account.id, 'Archive');
        await s.appendMessage(dst.id, await msg(s, 'already there'));
        const date = new Date('2020-01-01T00:00:00.000Z');
        await s.appendMessage(inbox.id, await msg(s, 'a', { internalDate: date, flags: ['\\Seen'], headerPrefix: Buffer.from('X: y\r\n') }));
        await s.appendMessage(inbox.id, await msg(s, 'b'));
        await s.appendMessage(inbox.id, await msg(s, 'c', { flags: ['\\Flagged'] }));
        const dstBefore = (await s.getMailboxById(dst.id))!;
        const r = await s.copyMessages(inbox.id, [3, 1, 9], dst.id);
        assert.equal(r.uidValidity, dst.uidValidity);
        assert.deepEqual(r.pairs, [[1, 2], [3, 3]]);
        const copied = await s.getMessages(dst.id, [2, 3]);
        assert.deepEqual(copied[0]!.flags, ['\\Seen']);
        assert.equal(copied[0]!.internalDate.getTime(), date.getTime());
        assert.equal(copied[0]!.headerPrefix.toString(), 'X: y\r\n');
        assert.deepEqual(copied[1]!.flags, ['\\Flagged']);
        assert.ok(copied.every((c) => c.modseq > dstBefore.highestModseq));
        assert.equal((await s.listMessages(inbox.id)).length, 3);
        assert.deepEqual(await s.copyMessages(inbox.id, [50], dst.id), { uidValidity: dst.uidValidity, pairs: [] });
        await rejectsWith(s.copyMessages(inbox.id, [1], 999999), 'WHARF_NOT_FOUND');
      });

      it('moveMessages copies and expunges in one step (RFC 6851)', async () => {
        const s = get();
        const { account, inbox } = await newMailbox(s);
        const dst = await s.createMailbox(account.id, 'Moved');
        for (const t of ['a', 'b', 'c']) await s.appendMessage(inbox.id, await msg(s, t));
        const mark = (await s.getMailboxById(inbox.id))!.highestModseq;
        const r = await s.moveMessages(inbox.id, [1, 3], dst.id);
        assert.deepEqual(r.pairs, [[1, 1], [3, 2]]);
        assert.equal(r.uidValidity, dst.uidValidity);
        assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [2]);
        assert.deepEqual((await s.listMessages(dst.id)).map((m) => m.uid), [1, 2]);
        const ch = await s.changesSince(inbox.id, mark);
        assert.deepEqual(ch.expunged, [1, 3]);
        await rejectsWith(s.moveMessages(inbox.id, [2], 999999), 'WHARF_NOT_FOUND');
        assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [2]);
      });

      it('mailboxStatus counts messages, unseen, deleted and size', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const m1 = await msg(s, 'x'.repeat(10), { flags: ['\\Seen'] });
        const m2 = await msg(s, 'y'.repeat(20), { flags: ['\\Deleted'] });
        const m3 = await msg(s, 'z'.repeat(30), { flags: ['\\seen', '\\deleted'] });
        for (const m of [m1, m2, m3]) await s.appendMessage(inbox.id, m);
        const st = await s.mailboxStatus(inbox.id);
        const box = (await s.getMailboxById(inbox.id))!;
        assert.deepEqual(st, { messages: 3, unseen: 1, deleted: 2, size: 60, uidNext: 4, uidValidity: box.uidValidity, highestModseq: box.highestModseq });
        await rejectsWith(s.mailboxStatus(999999), 'WHARF_NOT_FOUND');
      });

      it('watch() fires after a change; null watches every mailbox; unsubscribe stops it', async () => {
        const s = get();
        const { account, inbox } = await newMailbox(s);
        const other = await s.createMailbox(account.id, 'Other');
        const mine: number[] = [];
        const all: number[] = [];
        const off1 = s.watch(inbox.id, (ev) => mine.push(ev.mailboxId));
        const off2 = s.watch(null, (ev) => all.push(ev.mailboxId));
        try {
          await s.appendMessage(inbox.id, await msg(s, 'w'));
          await until(() => mine.length >= 1 && all.includes(inbox.id), 2000, 'watch on append');
          await s.appendMessage(other.id, await msg(s, 'w2'));
          await until(() => all.includes(other.id), 2000, 'watch(null) on another mailbox');
          assert.ok(mine.every((id) => id === inbox.id));
          const n = mine.length;
          await s.updateFlags(inbox.id, [1], 'add', ['\\Seen']);
          await until(() => mine.length > n, 2000, 'watch on flags');
          off1();
          const m = mine.length;
          await s.expunge(inbox.id, [1]);
          await until(() => all.filter((x) => x === inbox.id).length >= 3, 2000, 'watch(null) on expunge');
          await sleep(50);
          assert.equal(mine.length, m);
        } finally {
          off1();
          off2();
        }
      });
    });

    group('queue', (get) => {
      async function enqueue(s: Store, recipients: string[], extra: { notBefore?: Date; sender?: string } = {}): Promise<number> {
        const body = Buffer.from(`queued ${uniq('q')}`);
        const { id, size } = await s.blobs.put(body);
        return s.enqueue({ sender: extra.sender ?? 'alice@crepes.fr', blobId: id, size, recipients: recipients.map((address) => ({ address })), ...(extra.notBefore ? { notBefore: extra.notBefore } : {}) });
      }
      /** Removes everything queued so each test starts empty. */
      async function drain(s: Store): Promise<void> {
        for (const q of await s.listQueue()) await s.deleteQueueMessage(q.id);
      }

      it('enqueue makes one job per destination domain and keeps every field', async () => {
        const s = get();
        await drain(s);
        const blob = await s.blobs.put(Buffer.from('bounce body'));
        const id = await s.enqueue({
          sender: '',
          blobId: blob.id,
          size: blob.size + 8,
          headerPrefix: Buffer.from('X: 1\r\n\r\n'),
          envid: 'env-1',
          ret: 'HDRS',
          recipients: [
            { address: 'a@Example.org', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;a@example.org' },
            { address: 'b@EXAMPLE.org' },
            { address: 'c@other.net' },
          ],
        });
        const q = await s.getQueueMessage(id);
        assert.ok(q);
        assert.equal(q.sender, '');
        assert.equal(q.blobId, blob.id);
        assert.equal(q.size, blob.size + 8);
        assert.equal(q.headerPrefix.toString(), 'X: 1\r\n\r\n');
        assert.equal(q.envid, 'env-1');
        assert.equal(q.ret, 'HDRS');
        assert.ok(q.createdAt instanceof Date);
        assert.equal(q.recipients.length, 3);
        const ra = q.recipients.find((r) => r.address === 'a@Example.org')!;
        assert.equal(ra.domain, 'example.org');
        assert.deepEqual(ra.notify, ['FAILURE', 'DELAY']);
        assert.equal(ra.orcpt, 'rfc822;a@example.org');
        assert.equal(ra.status, 'pending');
        assert.equal(ra.lastReply, null);
        const rb = q.recipients.find((r) => r.address === 'b@EXAMPLE.org')!;
        assert.equal(rb.notify, null);
        assert.equal(rb.orcpt, null);
        assert.deepEqual(q.jobs.map((j) => j.domain).sort(), ['example.org', 'other.net']);
        assert.ok(q.jobs.every((j) => j.attempts === 0 && j.leasedBy === null && j.lastError === null));
        assert.ok((await s.listQueue()).some((x) => x.id === id));
        assert.equal(await s.getQueueMessage(999999), null);
      });

      it('deliverAndEnqueue: local copies and the queued message in one transaction, all or none', async () => {
        const s = get();
        await drain(s);
        const one = await newMailbox(s);
        const two = await newMailbox(s);
        const m = await msg(s, 'local and remote');
        const queued = { sender: 'alice@crepes.fr', blobId: m.blobId, size: m.size, envid: 'e1', recipients: [{ address: 'dave@far.example' }, { address: 'erin@other.example' }] };
        const r = await s.deliverAndEnqueue(
          [
            { mailboxId: one.inbox.id, message: m },
            { mailboxId: two.inbox.id, message: { ...m, headerPrefix: Buffer.from('Delivered-To: y\r\n') } },
          ],
          queued,
        );
        assert.deepEqual(r.delivered, [{ mailboxId: one.inbox.id, uid: 1 }, { mailboxId: two.inbox.id, uid: 1 }]);
        assert.ok(r.queueId !== null);
        const q = await s.getQueueMessage(r.queueId);
        assert.equal(q?.envid, 'e1');
        assert.deepEqual(q?.jobs.map((j) => j.domain).sort(), ['far.example', 'other.example']);
        assert.equal((await s.getMessages(two.inbox.id, [1]))[0]?.headerPrefix.toString(), 'Delivered-To: y\r\n');

        // only one half: either side may be empty
        const local = await s.deliverAndEnqueue([{ mailboxId: one.inbox.id, message: m }], null);
        assert.deepEqual(local, { delivered: [{ mailboxId: one.inbox.id, uid: 2 }], queueId: null });
        const remote = await s.deliverAndEnqueue([], queued);
        assert.deepEqual(remote.delivered, []);
        assert.ok(remote.queueId !== null && remote.queueId !== r.queueId);
        assert.equal((await s.listQueue()).length, 2);

        // a missing mailbox: nothing delivered AND nothing queued
        const box = (await s.getMailboxById(one.inbox.id))!;
        await rejectsWith(s.deliverAndEnqueue([{ mailboxId: one.inbox.id, message: m }, { mailboxId: 999999, message: m }], queued), 'WHARF_NOT_FOUND');
        assert.equal((await s.listQueue()).length, 2);
        assert.equal((await s.listMessages(one.inbox.id)).length, 2);
        assert.equal((await s.getMailboxById(one.inbox.id))!.uidNext, box.uidNext);
        // a bad queued message: no local copy either
        await rejectsWith(s.deliverAndEnqueue([{ mailboxId: one.inbox.id, message: m }], { ...queued, recipients: [{ address: 'not an address' }] }), 'WHARF_INVALID');
        await rejectsWith(s.deliverAndEnqueue([{ mailboxId: two.inbox.id, message: m }], { ...queued, recipients: [] }), 'WHARF_INVALID');
        assert.equal((await s.listMessages(one.inbox.id)).length, 2);
        assert.equal((await s.listMessages(two.inbox.id)).length, 1);
        assert.equal((await s.getMailboxById(one.inbox.id))!.highestModseq, box.highestModseq);
        assert.equal((await s.listQueue()).length, 2);
        await drain(s);
      });

      it('enqueue refuses a message without recipients', async () => {
        const s = get();
        const blob = await s.blobs.put(Buffer.from('nobody'));
        await rejectsWith(s.enqueue({ sender: 'a@b.c', blobId: blob.id, size: blob.size, recipients: [] }), 'WHARF_INVALID');
      });

      it('claimJobs: due jobs only, leased to one owner at a time', async () => {
        const s = get();
        await drain(s);
        const now = new Date(Date.now() + 1000);
        const ids = [];
        for (let i = 0; i < 6; i++) ids.push(await enqueue(s, [`r${i}@d${i}.example`]));
        const later = await enqueue(s, ['late@later.example'], { notBefore: new Date(now.getTime() + 60_000) });
        const [a, b, c] = await Promise.all([s.claimJobs('A', 3, 30_000, now), s.claimJobs('B', 3, 30_000, now), s.claimJobs('C', 3, 30_000, now)]);
        const got = [...a, ...b, ...c].map((j) => j.id);
        assert.equal(got.length, 6);
        assert.equal(new Set(got).size, 6, 'no job given to two owners');
        assert.ok(a.length <= 3 && b.length <= 3 && c.length <= 3);
        const job = [...a, ...b, ...c][0]!;
        assert.equal(job.recipients.length, 1);
        assert.equal(job.recipients[0]!.status, 'pending');
        assert.equal(job.message.sender, 'alice@crepes.fr');
        assert.equal(job.attempts, 0);
        assert.ok(job.nextAttemptAt instanceof Date);
        assert.deepEqual(await s.claimJobs('D', 10, 30_000, now), []);
        const detail = await s.getQueueMessage(ids[0]!);
        assert.ok(['A', 'B', 'C'].includes(detail!.jobs[0]!.leasedBy ?? ''));
        // the delayed one becomes due later
        const lateJobs = await s.claimJobs('D', 10, 30_000, new Date(now.getTime() + 61_000));
        assert.ok(lateJobs.some((j) => j.messageId === later));
        await drain(s);
      });

      it('renewJobs extends only the owner\'s leases; a renewed job is not claimable, a lapsed one is', async () => {
        const s = get();
        await drain(s);
        const now = new Date();
        const at = (ms: number) => new Date(now.getTime() + ms);
        await enqueue(s, ['x@renew.example'], { notBefore: at(-1000) });
        const [j] = await s.claimJobs('A', 1, 1000, now);
        assert.ok(j);
        assert.deepEqual(await s.renewJobs('B', [j.id], 10_000, at(500)), [], 'not B\'s lease');
        assert.deepEqual(await s.renewJobs('A', [j.id, 999999], 1000, at(500)), [j.id]);
        assert.deepEqual(await s.claimJobs('B', 1, 1000, at(1200)), [], 'the renewed lease holds past the first one');
        const [taken] = await s.claimJobs('B', 1, 1000, at(1600));
        assert.equal(taken?.id, j.id);
        assert.deepEqual(await s.renewJobs('A', [j.id], 1000, at(1700)), [], 'A lost it to B');
        assert.deepEqual(await s.renewJobs('B', [], 1000), []);
        await drain(s);
      });

      it('an expired lease is claimable again; nextDue ignores leased jobs', async () => {
        const s = get();
        await drain(s);
        assert.equal(await s.nextDue(), null);
        const now = new Date();
        const id = await enqueue(s, ['x@expire.example'], { notBefore: new Date(now.getTime() - 1000) });
        const due = await s.nextDue();
        assert.ok(due && Math.abs(due.getTime() - (now.getTime() - 1000)) < 1500);
        const [j] = await s.claimJobs('A', 1, 1000, now);
        assert.equal(j?.messageId, id);
        assert.equal(await s.nextDue(), null);
        assert.deepEqual(await s.claimJobs('B', 1, 1000, new Date(now.getTime() + 500)), []);
        const [again] = await s.claimJobs('B', 1, 1000, new Date(now.getTime() + 1500));
        assert.equal(again?.id, j!.id);
        // the old owner lost it
        await rejectsWith(s.finishJob(j!.id, 'A', [{ recipientId: j!.recipients[0]!.id, outcome: 'delivered' }], new Date()), 'WHARF_NOT_FOUND');
        assert.equal((await s.getQueueMessage(id))?.recipients[0]?.status, 'pending');
        await s.finishJob(j!.id, 'B', [{ recipientId: j!.recipients[0]!.id, outcome: 'delivered', reply: '250 ok' }], new Date());
        assert.equal(await s.getQueueMessage(id), null);
      });

      it('finishJob: deferred recipients stay, delivered leave, the message goes with its last job', async () => {
        const s = get();
        await drain(s);
        const now = new Date(Date.now() + 1000);
        const id = await enqueue(s, ['a@one.example', 'b@one.example', 'c@two.example']);
        const jobs = await s.claimJobs('W', 10, 3_600_000, now);
        assert.equal(jobs.length, 2);
        const one = jobs.find((j) => j.domain === 'one.example')!;
        const two = jobs.find((j) => j.domain === 'two.example')!;
        assert.equal(one.recipients.length, 2);
        const ra = one.recipients.find((r) => r.address === 'a@one.example')!;
        const rb = one.recipients.find((r) => r.address === 'b@one.example')!;
        const retryAt = new Date(now.getTime() + 600_000);
        await s.finishJob(one.id, 'W', [{ recipientId: ra.id, outcome: 'delivered', reply: '250 2.0.0 ok' }, { recipientId: rb.id, outcome: 'deferred', reply: '451 4.3.0 try later' }], retryAt, 'temporary failure');
        let q = (await s.getQueueMessage(id))!;
        assert.equal(q.recipients.find((r) => r.id === ra.id)?.status, 'delivered');
        assert.equal(q.recipients.find((r) => r.id === ra.id)?.lastReply, '250 2.0.0 ok');
        const b = q.recipients.find((r) => r.id === rb.id)!;
        assert.equal(b.status, 'pending');
        assert.equal(b.lastReply, '451 4.3.0 try later');
        const j1 = q.jobs.find((j) => j.id === one.id)!;
        assert.equal(j1.attempts, 1);
        assert.equal(j1.lastError, 'temporary failure');
        assert.equal(j1.leasedBy, null);
        assert.equal(j1.nextAttemptAt.getTime(), retryAt.getTime());
        assert.equal((await s.nextDue())?.getTime(), retryAt.getTime());
        // not due before retryAt; then only the pending recipient comes back
        assert.deepEqual(await s.claimJobs('W', 10, 60_000, new Date(now.getTime() + 1000)), []);
        const [back] = await s.claimJobs('V', 10, 60_000, new Date(retryAt.getTime() + 1));
        assert.equal(back?.id, one.id);
        assert.equal(back?.attempts, 1);
        assert.deepEqual(back?.recipients.map((r) => r.id), [rb.id]);
        // a failed recipient also leaves the job: job one is done
        await s.finishJob(one.id, 'V', [{ recipientId: rb.id, outcome: 'failed', reply: '550 5.1.1 no such user' }], new Date());
        q = (await s.getQueueMessage(id))!;
        assert.deepEqual(q.jobs.map((j) => j.id), [two.id]);
        assert.equal(q.recipients.find((r) => r.id === rb.id)?.status, 'failed');
        // last job done: the message leaves the queue
        await s.finishJob(two.id, 'W', [{ recipientId: two.recipients[0]!.id, outcome: 'delivered' }], new Date());
        assert.equal(await s.getQueueMessage(id), null);
        assert.ok(!(await s.listQueue()).some((x) => x.id === id));
        await rejectsWith(s.finishJob(two.id, 'W', [], new Date()), 'WHARF_NOT_FOUND');
      });

      it('retryQueueMessage makes jobs due now; deleteQueueMessage removes', async () => {
        const s = get();
        await drain(s);
        const far = new Date(Date.now() + 3_600_000);
        const id = await enqueue(s, ['a@r1.example', 'b@r2.example'], { notBefore: far });
        assert.deepEqual(await s.claimJobs('W', 10, 1000), []);
        assert.equal(await s.retryQueueMessage(id), true);
        assert.equal(await s.retryQueueMessage(999999), false);
        const due = await s.nextDue();
        assert.ok(due && due.getTime() <= Date.now() + 1000);
        const jobs = await s.claimJobs('W', 10, 1000, new Date(Date.now() + 1000));
        assert.equal(jobs.length, 2);
        assert.equal(await s.deleteQueueMessage(id), true);
        assert.equal(await s.deleteQueueMessage(id), false);
        assert.equal(await s.getQueueMessage(id), null);
        assert.equal(await s.nextDue(), null);
      });
    });

    group('zones', (get) => {
      it('putZone stores under the absolute lower-case name; get/list/delete', async () => {
        const s = get();
        const text = '$ORIGIN hamburger.edu.\n@ 3600 IN SOA ns1 admin 1 7200 900 1209600 300\n';
        await s.putZone('Hamburger.EDU', text, 1);
        const z = await s.getZone('hamburger.edu.');
        assert.ok(z);
        assert.equal(z.name, 'hamburger.edu.');
        assert.equal(z.text, text);
        assert.equal(z.serial, 1);
        assert.ok(z.updatedAt instanceof Date);
        assert.equal((await s.getZone('HAMBURGER.edu'))?.name, 'hamburger.edu.');
        await s.putZone('hamburger.edu.', 'new text', 2);
        const z2 = (await s.getZone('hamburger.edu'))!;
        assert.equal(z2.text, 'new text');
        assert.equal(z2.serial, 2);
        await s.putZone('.', 'root', 2024010101);
        assert.equal((await s.getZone('.'))?.serial, 2024010101);
        assert.deepEqual((await s.listZones()).map((x) => x.name).sort(), ['.', 'hamburger.edu.']);
        assert.equal(await s.deleteZone('Hamburger.edu.'), true);
        assert.equal(await s.deleteZone('hamburger.edu.'), false);
        assert.equal(await s.getZone('hamburger.edu.'), null);
        await rejectsWith(s.putZone('', 'x', 1), 'WHARF_INVALID');
      });

      it('watchZones fires with the zone name', async () => {
        const s = get();
        const seen: string[] = [];
        const off = s.watchZones((n) => seen.push(n));
        try {
          await s.putZone('crepes.fr', 'x', 5);
          await until(() => seen.includes('crepes.fr.'), 2000, 'watchZones on put');
          await s.deleteZone('crepes.fr');
          await until(() => seen.filter((x) => x === 'crepes.fr.').length >= 2, 2000, 'watchZones on delete');
        } finally {
          off();
        }
        const n = seen.length;
        await s.putZone('crepes.fr', 'y', 6);
        await sleep(50);
        assert.equal(seen.length, n);
      });
    });

    group('leases, settings, blobs', (get) => {
      it('a lease is held by one owner until released or expired', async () => {
        const s = get();
        assert.equal(await s.acquireLease('pop3:bob', 'A', 10_000), true);
        assert.equal(await s.acquireLease('pop3:bob', 'B', 10_000), false);
        assert.equal(await s.acquireLease('pop3:bob', 'A', 10_000), true, 'the owner may renew');
        await s.releaseLease('pop3:bob', 'B');
        assert.equal(await s.acquireLease('pop3:bob', 'B', 10_000), false, 'only the owner releases');
        await s.releaseLease('pop3:bob', 'A');
        assert.equal(await s.acquireLease('pop3:bob', 'B', 10_000), true);
        assert.equal(await s.acquireLease('short', 'A', 50), true);
        assert.equal(await s.acquireLease('short', 'B', 50), false);
        await sleep(120);
        assert.equal(await s.acquireLease('short', 'B', 10_000), true, 'an expired lease is free');
        const results = await Promise.all(['1', '2', '3', '4', '5'].map((o) => s.acquireLease('race', o, 10_000)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('settings', async () => {
        const s = get();
        assert.equal(await s.getSetting('instance-id'), null);
        await s.setSetting('instance-id', 'abc');
        assert.equal(await s.getSetting('instance-id'), 'abc');
        await s.setSetting('instance-id', 'def');
        assert.equal(await s.getSetting('instance-id'), 'def');
        await s.setSetting('empty', '');
        assert.equal(await s.getSetting('empty'), '');
      });

      it('blobInUse: messages and queued messages hold a blob', async () => {
        const s = get();
        const { inbox } = await newMailbox(s);
        const inMailbox = await msg(s, 'held by a mailbox');
        await s.appendMessage(inbox.id, inMailbox);
        const queued = await s.blobs.put(Buffer.from('held by the queue'));
        const qid = await s.enqueue({ sender: 'a@b.example', blobId: queued.id, size: queued.size, recipients: [{ address: 'x@y.example' }] });
        const free = await s.blobs.put(Buffer.from('held by nobody'));
        assert.equal(await s.blobInUse(inMailbox.blobId), true);
        assert.equal(await s.blobInUse(queued.id), true);
        assert.equal(await s.blobInUse(free.id), false);
        await s.expunge(inbox.id, [1]);
        assert.equal(await s.blobInUse(inMailbox.blobId), false);
        await s.deleteQueueMessage(qid);
        assert.equal(await s.blobInUse(queued.id), false);
        // expunge leaves the blob itself alone (GC is separate)
        assert.equal(await s.blobs.has(inMailbox.blobId), true);
      });

      it('the blob store is content-addressed and reads ranges', async () => {
        const s = get();
        const data = Buffer.from('0123456789abcdef'.repeat(100));
        const r = await s.blobs.put(data);
        assert.equal(r.id, sha256(data));
        assert.equal(r.size, data.length);
        assert.deepEqual(await s.blobs.put(data), r);
        assert.ok((await s.blobs.get(r.id)).equals(data));
        assert.equal((await s.blobs.read(r.id, 10, 20)).toString(), 'abcdef0123');
        assert.equal((await s.blobs.read(r.id, 1590)).toString(), '6789abcdef');
        assert.equal(await s.blobs.size(r.id), 1600);
        assert.equal(await s.blobs.has(r.id), true);
        const chunks: Buffer[] = [];
        for await (const c of s.blobs.stream(r.id, { start: 1598 })) chunks.push(Buffer.from(c as Buffer));
        assert.equal(Buffer.concat(chunks).toString(), 'ef');
        const w = s.blobs.writer();
        await w.write(data.subarray(0, 700));
        await w.write(data.subarray(700));
        assert.deepEqual(await w.commit(), r);
        const w2 = s.blobs.writer();
        await w2.write(Buffer.from('never committed'));
        await w2.abort();
        assert.equal(await s.blobs.has(sha256(Buffer.from('never committed'))), false);
        const ids: string[] = [];
        for await (const id of s.blobs.list()) ids.push(id);
        assert.ok(ids.includes(r.id));
        await s.blobs.delete(r.id);
        assert.equal(await s.blobs.has(r.id), false);
        assert.equal(await s.blobs.size(r.id), null);
        await assert.rejects(s.blobs.get(r.id));
        const empty = await s.blobs.put(Buffer.alloc(0));
        assert.equal(empty.size, 0);
        assert.equal((await s.blobs.get(empty.id)).length, 0);
      });
    });
  });
}
