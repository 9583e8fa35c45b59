// imap.workers = 2 (src/core/worker-pool.ts): IMAP served by this process and a forked child.
// Sessions land in both (a child's transcript session ids end in "@<pid>"), and IDLE in one
// process learns of mail appended in the other (through the store's change watch).
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import { LineSocket } from '../helpers/line-socket.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage, waitFor } from '../helpers/mail.js';

const BOB = 'bob@hamburger.edu';

/** A minimal IMAP client: tagged commands, untagged lines collected until the completion. */
class Imap {
  private tag = 0;
  private constructor(private readonly c: LineSocket) {}
  static async connect(port: number): Promise<Imap> {
    return new Imap(await LineSocket.connect(port));
  }
  get localPort(): number {
    return this.c.localPort;
  }
  line(): Promise<string> {
    return this.c.line();
  }
  /** Sends a command; the untagged lines and the tagged completion. */
  async cmd(c: string): Promise<{ lines: string[]; done: string }> {
    const tag = `a${++this.tag}`;
    this.c.send(`${tag} ${c}`);
    const lines: string[] = [];
    for (;;) {
      const l = await this.c.line();
      if (l.startsWith(`${tag} `)) return { lines, done: l.slice(tag.length + 1) };
      lines.push(l);
    }
  }
  write(s: string): void {
    this.c.write(s);
  }
  close(): void {
    this.c.close();
  }
}

describe('imap.workers = 2', () => {
  let t: TestWharf;
  const sessions = new Map<number, string>();

  /** A logged-in session in the wanted process (connects until the least-connections turn lands there). */
  async function sessionIn(child: boolean): Promise<Imap> {
    for (let i = 0; i < 20; i++) {
      const c = await Imap.connect(t.port('imap'));
      assert.match(await c.line(), /^\* OK/);
      const port = c.localPort;
      const id = await waitFor(async () => sessions.get(port));
      if (id.includes('@') === child) {
        assert.match((await c.cmd(`LOGIN ${BOB} hungry`)).done, /^OK/);
        return c;
      }
      c.close();
    }
    throw new Error('no session landed there');
  }

  before(async () => {
    t = await startTestWharf({ services: ['imap'], users: [[BOB, 'hungry']], set: { 'imap.workers': 2, 'log.level': 'error' } });
    const known = new Set<string>();
    t.wharf.bus.on('transcript', (ev) => {
      if (known.has(ev.session)) return;
      known.add(ev.session);
      sessions.set(Number(ev.client.slice(ev.client.lastIndexOf(':') + 1)), ev.session);
    });
    await waitFor(async () => ((await t.wharf.inspectors.get('workers:imap')!()) as { forwarding: string[] }).forwarding.includes('transcript'));
  });

  after(async () => {
    await t?.stop();
  });

  it('IDLE in the primary sees a message APPENDed in the child, and the other way round', async () => {
    for (const idleInChild of [false, true]) {
      const idler = await sessionIn(idleInChild);
      const writer = await sessionIn(!idleInChild);
      const sel = await idler.cmd('SELECT INBOX');
      assert.match(sel.done, /^OK/);
      const before = Number(sel.lines.find((l) => / EXISTS$/.test(l))!.split(' ')[1]);
      idler.write('i1 IDLE\r\n');
      assert.match(await idler.line(), /^\+ /);
      const msg = sampleMessage(`appended, idle in ${idleInChild ? 'child' : 'primary'}`, 'Hello.\n').replace(/\r?\n/g, '\r\n');
      writer.write(`w1 APPEND INBOX {${Buffer.byteLength(msg)}}\r\n`);
      assert.match(await writer.line(), /^\+/);
      writer.write(`${msg}\r\n`);
      let done = '';
      while (!done.startsWith('w1 ')) done = await writer.line();
      assert.match(done, /^w1 OK/);
      // The other process tells its IDLE client.
      let l = '';
      while (!/ EXISTS$/.test(l)) l = await idler.line();
      assert.equal(l, `* ${before + 1} EXISTS`);
      idler.write('DONE\r\n');
      while (!l.startsWith('i1 ')) l = await idler.line();
      assert.match(l, /^i1 OK/);
      idler.close();
      writer.close();
    }
  });

  it('a child session sees mail delivered by this process', async () => {
    await deliverRaw(t.wharf, BOB, sampleMessage('delivered here', 'Body.\n'));
    const c = await sessionIn(true);
    assert.match((await c.cmd('SELECT INBOX')).done, /^OK/);
    const r = await c.cmd('SEARCH SUBJECT "delivered here"');
    assert.match(r.done, /^OK/);
    assert.match(r.lines.join('\n'), /^\* SEARCH \d+$/m);
    c.close();
  });
});
