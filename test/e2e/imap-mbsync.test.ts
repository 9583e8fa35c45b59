// mbsync (isync) synchronising a Wharf mailbox with a local Maildir both ways, twice, with no
// duplicates: UIDPLUS, UIDVALIDITY stability, flags and APPEND as a real sync tool uses them.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage } from '../helpers/mail.js';

const run = promisify(execFile);
const BOB = 'bob@hamburger.edu';
const MBSYNC = '/usr/bin/mbsync';
let t: TestWharf;
let dir = '';

before(async () => {
  if (!existsSync(MBSYNC)) return;
  t = await startTestWharf({ services: ['imap'], users: [[BOB, 'hungry']] });
  dir = mkdtempSync(join(tmpdir(), 'wharf-mbsync-'));
  mkdirSync(join(dir, 'mail'));
  writeFileSync(
    join(dir, 'mbsyncrc'),
    [
      'IMAPAccount wharf',
      'Host 127.0.0.1',
      `Port ${t.port('imap')}`,
      `User ${BOB}`,
      'Pass hungry',
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore remote',
      'Account wharf',
      '',
      'MaildirStore local',
      `Path ${join(dir, 'mail')}/`,
      `Inbox ${join(dir, 'mail', 'INBOX')}`,
      'SubFolders Verbatim',
      '',
      'Channel wharf',
      'Far :remote:',
      'Near :local:',
      'Patterns INBOX Archive',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      '',
    ].join('\n'),
  );
});
after(async () => {
  if (t) await t.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function mbsync(): Promise<void> {
  await run(MBSYNC, ['-c', join(dir, 'mbsyncrc'), '-a'], { timeout: 30_000 });
}

function localFiles(box: string): string[] {
  return ['cur', 'new'].flatMap((d) => {
    const p = join(dir, 'mail', box, d);
    return existsSync(p) ? readdirSync(p).map((f) => join(p, f)) : [];
  });
}

async function remoteSubjects(box: string): Promise<string[]> {
  const a = (await t.wharf.store.getAccount(BOB))!;
  const mb = (await t.wharf.store.getMailbox(a.id, box))!;
  const rows = await t.wharf.store.getMessages(mb.id, (await t.wharf.store.listMessages(mb.id)).map((m) => m.uid));
  return rows.map((r) => (r.meta as { envelope: { subject: string } }).envelope.subject).sort();
}

describe('mbsync', { skip: existsSync(MBSYNC) ? false : 'mbsync (isync) not installed' }, () => {
  it('synchronises both ways, twice, without duplicates', async () => {
    await deliverRaw(t.wharf, BOB, sampleMessage('server one', 'from the server\r\n'));
    await deliverRaw(t.wharf, BOB, sampleMessage('server two', 'also from the server\r\n'));
    await mbsync();
    const first = localFiles('INBOX');
    assert.equal(first.length, 2);
    assert.ok(first.some((f) => /Subject: server one/.test(readFileSync(f, 'latin1'))));
    // A message written locally goes up; one delivered meanwhile comes down.
    writeFileSync(join(dir, 'mail', 'INBOX', 'new', `${Date.now()}.local1.host`), 'From: bob@hamburger.edu\r\nSubject: local one\r\n\r\nwritten locally\r\n');
    await deliverRaw(t.wharf, BOB, sampleMessage('server three', 'later\r\n'));
    await mbsync();
    await mbsync();
    assert.deepEqual(await remoteSubjects('INBOX'), ['local one', 'server one', 'server three', 'server two']);
    assert.equal(localFiles('INBOX').length, 4);
    assert.deepEqual(await remoteSubjects('Archive'), []);
    // Flags go up (a local file marked seen), expunges come down.
    const f = localFiles('INBOX').find((x) => /Subject: server one/.test(readFileSync(x, 'latin1')))!;
    const seenName = f.includes(':2,') ? f.replace(/:2,([A-Z]*)$/, (_, fl: string) => `:2,${[...new Set((fl + 'S').split(''))].sort().join('')}`) : `${f.replace('/new/', '/cur/')}:2,S`;
    renameSync(f, seenName.replace('/new/', '/cur/'));
    const a = (await t.wharf.store.getAccount(BOB))!;
    const inbox = (await t.wharf.store.getMailbox(a.id, 'INBOX'))!;
    const rows = await t.wharf.store.getMessages(inbox.id, (await t.wharf.store.listMessages(inbox.id)).map((m) => m.uid));
    const two = rows.find((r) => (r.meta as { envelope: { subject: string } }).envelope.subject === 'server two')!;
    await t.wharf.store.expunge(inbox.id, [two.uid]);
    await mbsync();
    const after1 = await t.wharf.store.getMessages(inbox.id, (await t.wharf.store.listMessages(inbox.id)).map((m) => m.uid));
    const one = after1.find((r) => (r.meta as { envelope: { subject: string } }).envelope.subject === 'server one')!;
    assert.ok(one.flags.includes('\\Seen'), JSON.stringify(one.flags));
    assert.equal(localFiles('INBOX').length, 3);
    assert.ok(!localFiles('INBOX').some((x) => /Subject: server two/.test(readFileSync(x, 'latin1'))));
  });
});
