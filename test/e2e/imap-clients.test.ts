// IMAP end to end with imapflow (a real client library: IDLE, CONDSTORE, UIDPLUS), curl imap://
// (list, fetch, append by upload) and `wharf deliver` in another process waking an IDLE session.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { runWharf } from '../helpers/cli.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage } from '../helpers/mail.js';

const run = promisify(execFile);
const BOB = 'bob@hamburger.edu';
const CAROL = 'carol@hamburger.edu';
let t: TestWharf;

before(async () => {
  t = await startTestWharf({ services: ['imap'], users: [[BOB, 'hungry'], [CAROL, 'pie']] });
});
after(() => t.stop());

function flow(user = BOB, pass = 'hungry'): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: t.port('imap'), secure: false, auth: { user, pass }, logger: false, disableAutoIdle: true, tls: { rejectUnauthorized: false } } as ConstructorParameters<typeof ImapFlow>[0]);
}

describe('imapflow', () => {
  it('lists, opens, fetches envelopes and sources, stores flags, moves, appends', async () => {
    await deliverRaw(t.wharf, BOB, sampleMessage('flow one', 'first\r\n'));
    await deliverRaw(t.wharf, BOB, sampleMessage('flow two', 'second\r\n'));
    const c = flow();
    await c.connect();
    try {
      const boxes = await c.list();
      const sent = boxes.find((b) => b.path === 'Sent');
      assert.equal(sent?.specialUse, '\\Sent');
      const mb = await c.mailboxOpen('INBOX');
      assert.equal(mb.exists, 2);
      const seen: string[] = [];
      for await (const m of c.fetch('1:*', { envelope: true, uid: true, flags: true, size: true, bodyStructure: true })) {
        seen.push(m.envelope!.subject!);
        assert.equal(m.envelope!.from![0]!.address, 'alice@crepes.fr');
        assert.ok(m.size! > 0);
      }
      assert.deepEqual(seen, ['flow one', 'flow two']);
      const one = await c.fetchOne('2', { source: true });
      assert.ok(one && one.source && /second/.test(one.source.toString()));
      assert.ok(await c.messageFlagsAdd('1', ['\\Flagged']));
      const flagged = await c.search({ flagged: true });
      assert.deepEqual(flagged, [1]);
      const moved = await c.messageMove('1', 'Archive');
      assert.ok(moved && moved.uidMap && moved.uidMap.size === 1);
      const app = await c.append('Drafts', 'Subject: draft\r\n\r\nwip\r\n', ['\\Draft']);
      assert.ok(app && app.uid! >= 1);
      const st = await c.status('Drafts', { messages: true });
      assert.ok(st && st.messages! >= 1);
    } finally {
      await c.logout();
    }
  });

  it('IDLE: learns of new mail within a second', async () => {
    const c = flow(CAROL, 'pie');
    await c.connect();
    try {
      await c.mailboxOpen('INBOX');
      const got = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
      const idling = c.idle();
      await new Promise((r) => setTimeout(r, 200));
      const start = Date.now();
      await deliverRaw(t.wharf, CAROL, sampleMessage('wake up', 'now\r\n'));
      const count = await Promise.race([got, new Promise<number>((_, j) => setTimeout(() => j(new Error('no EXISTS during IDLE')), 3000))]);
      assert.ok(count >= 1);
      assert.ok(Date.now() - start < 1500);
      void idling;
    } finally {
      await c.logout();
    }
  });
});

describe('curl imap://', () => {
  it('lists, fetches and appends by upload', async () => {
    await deliverRaw(t.wharf, BOB, sampleMessage('for curl', 'curl body line\r\n'));
    const base = `imap://127.0.0.1:${t.port('imap')}`;
    const auth = ['-sS', '--max-time', '10', '-u', `${BOB}:hungry`];
    const list = await run('curl', [...auth, `${base}/`]);
    assert.match(list.stdout, /\* LIST \(.*\) "\/" INBOX/);
    const uids = (await t.wharf.store.listMessages((await t.wharf.store.getMailbox((await t.wharf.store.getAccount(BOB))!.id, 'INBOX'))!.id)).map((m) => m.uid);
    const fetched = await run('curl', [...auth, `${base}/INBOX;UID=${uids[uids.length - 1]}`]);
    assert.match(fetched.stdout, /curl body line/);
    assert.match(fetched.stdout, /Subject: for curl/);
    // curl needs the size up front (the APPEND literal), so upload a file.
    const dir = mkdtempSync(join(tmpdir(), 'wharf-imap-curl-'));
    const file = join(dir, 'up.eml');
    writeFileSync(file, 'Subject: uploaded\r\n\r\nvia curl\r\n');
    try {
      await run('curl', [...auth, '-T', file, `${base}/Drafts`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const a = (await t.wharf.store.getAccount(BOB))!;
    const drafts = (await t.wharf.store.getMailbox(a.id, 'Drafts'))!;
    const rows = await t.wharf.store.getMessages(drafts.id, (await t.wharf.store.listMessages(drafts.id)).map((m) => m.uid));
    assert.ok(rows.some((r) => (r.meta as { envelope: { subject: string } }).envelope.subject === 'uploaded'));
  });
});

describe('IDLE across processes', () => {
  it('reports mail delivered by `wharf deliver` in another process within a second', async () => {
    const sock = net.connect(t.port('imap'), '127.0.0.1');
    let data = '';
    const waitFor = async (re: RegExp, ms = 5000) => {
      const end = Date.now() + ms;
      while (!re.test(data)) {
        if (Date.now() > end) throw new Error(`timeout waiting for ${re}; got:\n${data}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return re.exec(data)!;
    };
    sock.on('data', (d) => (data += d.toString()));
    await waitFor(/^\* OK/);
    sock.write(`a1 LOGIN ${CAROL} pie\r\na2 SELECT INBOX\r\n`);
    const n = Number((await waitFor(/\* (\d+) EXISTS/))[1]);
    await waitFor(/a2 OK/);
    sock.write('a3 IDLE\r\n');
    await waitFor(/\+ idling/);
    const r = await runWharf(['deliver', '--to', CAROL, '--from', 'alice@crepes.fr', '--data', t.dataDir, '--set', 'log.level=warn'], { input: 'Subject: from afar\r\n\r\nhello\r\n' });
    assert.equal(r.status, 0, r.stderr);
    const delivered = Date.now();
    await waitFor(new RegExp(`\\* ${n + 1} EXISTS`), 3000);
    assert.ok(Date.now() - delivered < 1000, `EXISTS after ${Date.now() - delivered} ms`);
    sock.write('DONE\r\na4 LOGOUT\r\n');
    await waitFor(/a4 OK/);
    sock.destroy();
  });
});
