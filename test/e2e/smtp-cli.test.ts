// `wharf send` (compose + submit with AUTH) and `wharf queue list|show|retry|delete`, run as
// child processes against a running instance's submission port and data directory.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWharf } from '../helpers/cli.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { inboxMessages } from '../helpers/mail.js';

let t: TestWharf;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-send-'));
  t = await startTestWharf({
    services: ['submission'],
    hostname: 'crepes.fr',
    users: [
      ['alice@crepes.fr', 'wonderland'],
      ['bob@crepes.fr', 'hungry'],
    ],
    set: { 'queue.enabled': false },
  });
});
after(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const inbox = (address: string): Promise<string[]> => inboxMessages(t.wharf, address);

describe('wharf send and wharf queue', () => {
  it('send composes multipart/mixed with an attachment, submits with AUTH; remote mail is queued', async () => {
    const pic = join(dir, 'crepe.jpg');
    writeFileSync(pic, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3, 0xff, 0xd9]));
    const r = await runWharf(
      ['send', '--from', 'alice@crepes.fr', '--to', 'bob@crepes.fr', '--cc', 'carol@far.example', '--subject', 'A crêpe for you', '--attach', pic, '--server', `127.0.0.1:${t.port('submission')}`, '--password-stdin'],
      { input: 'wonderland\nLook at this crepe!\n' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /sent to 2 recipients/);
    const [msg] = await inbox('bob@crepes.fr');
    assert.ok(msg, 'delivered to Bob');
    assert.match(msg!, /^Content-Type: multipart\/mixed;/m);
    assert.match(msg!, /filename="?crepe\.jpg"?/);
    assert.match(msg!, /Look at this crepe!/);
    assert.match(msg!, /^Subject: =\?UTF-8\?/im, 'non-ASCII subject encoded (RFC 2047)');
    assert.match(msg!, /with ESMTPS?A id/);
  });

  it('send with a wrong password fails with exit 1 and says why', async () => {
    const r = await runWharf(['send', '--from', 'alice@crepes.fr', '--to', 'bob@crepes.fr', '--subject', 's', '--server', `127.0.0.1:${t.port('submission')}`, '--password', 'nope'], { input: 'x\n' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /authentication failed: 535/);
  });

  it('queue list/show/retry/delete work beside the running server', async () => {
    const list = await runWharf(['queue', 'list', '--data', t.dataDir]);
    assert.equal(list.status, 0, list.stderr);
    const m = /^(\d+) .*<alice@crepes\.fr>$/m.exec(list.stdout);
    assert.ok(m, list.stdout);
    assert.match(list.stdout, /carol@far\.example  pending  attempts=0/);
    const id = m![1]!;
    const show = await runWharf(['queue', 'show', id, '--data', t.dataDir]);
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, /Subject: =\?UTF-8\?/i);
    assert.match(show.stdout, /job \d+ far\.example/);
    assert.equal((await runWharf(['queue', 'retry', id, '--data', t.dataDir])).status, 0);
    assert.equal((await runWharf(['queue', 'retry', '99999', '--data', t.dataDir])).status, 1);
    assert.equal((await runWharf(['queue', 'show', 'abc', '--data', t.dataDir])).status, 2);
    const del = await runWharf(['queue', 'delete', id, '--data', t.dataDir]);
    assert.equal(del.status, 0, del.stderr);
    const empty = await runWharf(['queue', 'list', '--data', t.dataDir]);
    assert.match(empty.stdout, /the queue is empty/);
    assert.equal((await t.wharf.store.listQueue()).length, 0);
  });
});
