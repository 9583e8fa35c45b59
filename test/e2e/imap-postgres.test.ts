// IDLE across nodes: two Wharf instances on one PostgreSQL schema (127.0.0.1:5432, database
// "test"). A client idles on node A; mail delivered, flags changed and messages expunged through
// node B must reach it as EXISTS / FETCH / EXPUNGE within about a second (LISTEN/NOTIFY).
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage } from '../helpers/mail.js';

const SKIP_PG = process.env['WHARF_SKIP_PG'] === '1';
const BOB = 'bob@hamburger.edu';
let a: TestWharf | undefined;
let b: TestWharf | undefined;

before(async () => {
  if (SKIP_PG) return;
  const schema = `wharf_idle_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  a = await startTestWharf({ postgres: true, services: ['imap'], users: [[BOB, 'hungry']], set: { 'store.schema': schema } });
  b = await startTestWharf({ postgres: true, services: [], set: { 'store.schema': schema } });
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

/** Lines from a socket, and waiting for one that matches. */
async function lineClient(port: number) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const lines: string[] = [];
  let partial = '';
  let wake: (() => void) | null = null;
  sock.on('data', (d) => {
    partial += d.toString('latin1');
    let i;
    while ((i = partial.indexOf('\r\n')) >= 0) {
      lines.push(partial.slice(0, i));
      partial = partial.slice(i + 2);
    }
    wake?.();
  });
  let seen = 0;
  return {
    send: (s: string) => sock.write(s),
    close: () => sock.destroy(),
    async line(re: RegExp, ms = 5000): Promise<string> {
      const deadline = Date.now() + ms;
      for (;;) {
        while (seen < lines.length) {
          const l = lines[seen++]!;
          if (re.test(l)) return l;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no line matching ${re} within ${ms} ms; got:\n${lines.join('\n')}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
    },
  };
}

describe('IMAP IDLE with PostgreSQL, two nodes', { skip: SKIP_PG ? 'WHARF_SKIP_PG=1' : false }, () => {
  it('learns of mail delivered, flags set and messages expunged through the other node', { timeout: 30_000 }, async () => {
    await deliverRaw(a!.wharf, BOB, sampleMessage('before', 'x\r\n'));
    const c = await lineClient(a!.port('imap'));
    try {
      await c.line(/^\* OK/);
      c.send(`a1 LOGIN ${BOB} hungry\r\na2 SELECT INBOX\r\n`);
      assert.equal(await c.line(/EXISTS$/), '* 1 EXISTS');
      await c.line(/^a2 OK/);
      c.send('a3 IDLE\r\n');
      await c.line(/^\+ /);

      // New mail through node B.
      let t0 = Date.now();
      await deliverRaw(b!.wharf, BOB, sampleMessage('through b', 'hi\r\n'));
      assert.equal(await c.line(/EXISTS$/, 5000), '* 2 EXISTS');
      const newMail = Date.now() - t0;

      // A flag set through node B.
      const store = b!.wharf.store;
      const inbox = (await store.getMailbox((await store.getAccount(BOB))!.id, 'INBOX'))!;
      t0 = Date.now();
      await store.updateFlags(inbox.id, [2], 'add', ['\\Flagged']);
      assert.equal(await c.line(/FETCH/, 5000), '* 2 FETCH (FLAGS (\\Flagged))');
      const flags = Date.now() - t0;

      // An expunge through node B.
      t0 = Date.now();
      await store.expunge(inbox.id, [1]);
      assert.equal(await c.line(/EXPUNGE$/, 5000), '* 1 EXPUNGE');
      const expunge = Date.now() - t0;

      assert.ok(Math.max(newMail, flags, expunge) < 1500, `within a second or so: new mail ${newMail} ms, flags ${flags} ms, expunge ${expunge} ms`);
      c.send('DONE\r\n');
      assert.match(await c.line(/^a3 /), /^a3 OK/);
      c.send('a4 LOGOUT\r\n');
      await c.line(/^a4 OK/);
    } finally {
      c.close();
    }
  });
});
