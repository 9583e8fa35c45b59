// pop3.workers = 2 (src/core/worker-pool.ts): POP3 served by this process and a forked child on
// one listening socket. Sessions land in both processes (told apart by their transcript session
// ids: a child's end in "@<pid>"), the maildrop lock holds across processes, a killed child is
// replaced while the port keeps answering, and stop() leaves no child behind.
import { strict as assert } from 'node:assert';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { startTestWharf } from '../helpers/instance.js';
import { LineSocket } from '../helpers/line-socket.js';
import type { TestWharf } from '../helpers/instance.js';
import { deliverRaw, sampleMessage, waitFor } from '../helpers/mail.js';

const BOB = 'bob@hamburger.edu';
const USERS = Array.from({ length: 8 }, (_, i) => `user${i}@hamburger.edu`);

/** A minimal POP3 client: one line at a time, multi-line answers up to ".". */
class Pop3 {
  private constructor(private readonly c: LineSocket) {}
  static async connect(port: number): Promise<Pop3> {
    return new Pop3(await LineSocket.connect(port));
  }
  get localPort(): number {
    return this.c.localPort;
  }
  line(): Promise<string> {
    return this.c.line();
  }
  cmd(c: string): Promise<string> {
    return this.c.cmd(c);
  }
  async multi(c: string): Promise<string[]> {
    const first = await this.cmd(c);
    assert.match(first, /^\+OK/);
    const out: string[] = [];
    for (let l = await this.line(); l !== '.'; l = await this.line()) out.push(l);
    return out;
  }
  close(): void {
    this.c.close();
  }
}

describe('pop3.workers = 2', () => {
  let t: TestWharf;
  /** Session id by client port, from the primary's transcripts (children's are forwarded). */
  const sessions = new Map<number, string>();
  let childPid = 0;

  type PoolInfo = { primary: number; forwarding: string[]; connections: number; children: { pid: number; connections: number }[]; restarts: number };
  const pool = async () => (await t.wharf.inspectors.get('workers:pop3')!()) as PoolInfo;
  /** Every process has closed its connections (the earlier tests' are gone). */
  const idle = () => waitFor(async () => {
    const p = await pool();
    return p.connections === 0 && p.children.every((c) => c.connections === 0);
  });

  /** Connects, reads the greeting, and learns which process serves the session. */
  async function connect(): Promise<{ c: Pop3; session: string; child: boolean }> {
    const c = await Pop3.connect(t.port('pop3'));
    let timer: NodeJS.Timeout | undefined;
    const greeting = await Promise.race([c.line(), new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error('no greeting in 5 s')), 5000)))])
      .catch((err: unknown) => {
        c.close();
        throw err;
      })
      .finally(() => clearTimeout(timer));
    assert.match(greeting, /^\+OK/);
    const session = await waitFor(async () => sessions.get(c.localPort)).catch((err: unknown) => {
      c.close();
      throw err;
    });
    return { c, session, child: session.includes('@') };
  }

  /** Connects until a session lands in the wanted process (the kernel picks; tries up to 100 times). */
  async function connectTo(child: boolean): Promise<Pop3> {
    for (let i = 0; i < 100; i++) {
      const s = await connect();
      if (s.child === child) return s.c;
      s.c.close();
    }
    throw new Error(`no session landed in the ${child ? 'child' : 'primary'}`);
  }

  before(async () => {
    t = await startTestWharf({ services: ['pop3', 'pop3s'], users: [[BOB, 'hungry'], ...USERS.map((u): [string, string] => [u, 'secret'])], set: { 'pop3.workers': 2, 'log.level': 'error' } });
    // The first line of each session maps its client port (ports are reused: newest wins).
    const known = new Set<string>();
    t.wharf.bus.on('transcript', (ev) => {
      if (known.has(ev.session)) return;
      known.add(ev.session);
      sessions.set(Number(ev.client.slice(ev.client.lastIndexOf(':') + 1)), ev.session);
    });
    const p = await pool();
    assert.equal(p.children.length, 1);
    childPid = p.children[0]!.pid;
    // The child forwards transcripts once it has seen that the primary listens (a poll).
    await waitFor(async () => (await pool()).forwarding.includes('transcript'));
    for (let i = 1; i <= 3; i++) await deliverRaw(t.wharf, BOB, sampleMessage(`message ${i}`, `Body ${i}.\n`));
  });

  after(async () => {
    await t?.stop();
  });

  it('serves many sessions from both processes, each reading the same maildrop', async () => {
    const seen = new Set<string>();
    // 8 users at once, 3 sessions each, one after the other.
    const clients = (
      await Promise.all(
        USERS.map(async (user) => {
          const ids: string[] = [];
          for (let i = 0; i < 3; i++) {
            const s = await connect();
            assert.match(await s.c.cmd(`USER ${user}`), /^\+OK/);
            assert.match(await s.c.cmd('PASS secret'), /^\+OK/);
            assert.match(await s.c.cmd('STAT'), /^\+OK 0 0/);
            assert.match(await s.c.cmd('QUIT'), /^\+OK/);
            s.c.close();
            ids.push(s.session);
          }
          return ids;
        }),
      )
    ).flat();
    assert.equal(clients.length, 24);
    for (const id of clients) seen.add(id.includes('@') ? id.slice(id.indexOf('@') + 1) : 'primary');
    assert.ok(seen.has('primary') && seen.has(String(childPid)), `sessions served by ${[...seen].join(', ')}`);
    // Bob's messages, read in the child, are the ones delivered here.
    const c = await connectTo(true);
    assert.match(await c.cmd(`USER ${BOB}`), /^\+OK/);
    assert.match(await c.cmd('PASS hungry'), /^\+OK/);
    assert.equal((await c.multi('LIST')).length, 3);
    assert.ok((await c.multi('RETR 2')).includes('Body 2.'));
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    c.close();
  });

  it('spreads connections held at once evenly (least connections)', async () => {
    await idle();
    const held = await Promise.all(Array.from({ length: 6 }, () => connect()));
    const inChild = held.filter((s) => s.child).length;
    assert.equal(inChild, 3, `${inChild} of 6 in the child`);
    for (const s of held) s.c.close();
    await idle();
  });

  it('serves implicit TLS (pop3s) from both processes too', async () => {
    const served = new Set<boolean>();
    await idle();
    for (let i = 0; i < 6; i++) {
      const c = tls.connect({ host: '127.0.0.1', port: t.port('pop3s'), rejectUnauthorized: false });
      const greeting = await new Promise<string>((resolve, reject) => {
        c.once('data', (d: Buffer) => resolve(d.toString()));
        c.once('error', reject);
      });
      assert.match(greeting, /^\+OK/);
      const id = await waitFor(async () => sessions.get(c.localPort!));
      served.add(id.includes('@'));
      c.end('QUIT\r\n');
      await new Promise((r) => c.once('close', r));
    }
    assert.deepEqual([...served].sort(), [false, true]);
  });

  it('answers [IN-USE] to a second session on a maildrop locked by the other process', async () => {
    for (const [firstInChild, label] of [[true, 'child holds the lock'], [false, 'primary holds the lock']] as const) {
      const a = await connectTo(firstInChild);
      assert.match(await a.cmd(`USER ${BOB}`), /^\+OK/);
      assert.match(await a.cmd('PASS hungry'), /^\+OK/, label);
      const b = await connectTo(!firstInChild);
      assert.match(await b.cmd(`USER ${BOB}`), /^\+OK/);
      assert.match(await b.cmd('PASS hungry'), /^-ERR \[IN-USE\]/, label);
      b.close();
      // Released at QUIT: the other process may take it now.
      assert.match(await a.cmd('QUIT'), /^\+OK/);
      a.close();
      const c = await connectTo(!firstInChild);
      assert.match(await c.cmd(`USER ${BOB}`), /^\+OK/);
      assert.match(await c.cmd('PASS hungry'), /^\+OK/, label);
      assert.match(await c.cmd('QUIT'), /^\+OK/);
      c.close();
    }
  });

  it('replaces a killed child; the port keeps answering meanwhile', async () => {
    const before = await pool();
    const old = before.children[0]!.pid;
    process.kill(old, 'SIGKILL');
    // Connections are answered while the child is gone and while the new one starts; only one
    // handed to the child in the instant it died may be lost (closed, never left hanging).
    const deadline = Date.now() + 15_000;
    let replaced: number | undefined;
    let lost = 0;
    while (Date.now() < deadline && !replaced) {
      const s = await connect().catch(() => null);
      if (!s) {
        lost++;
        continue;
      }
      assert.match(await s.c.cmd('QUIT'), /^\+OK/);
      s.c.close();
      const p = await pool();
      replaced = p.children.find((c) => c.pid !== old)?.pid;
      if (!replaced) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(replaced, 'a new child was forked');
    assert.ok(lost <= 1, `${lost} connections lost`);
    for (let i = 0; i < 6; i++) {
      const s = await connect();
      assert.match(await s.c.cmd('QUIT'), /^\+OK/);
      s.c.close();
    }
    assert.equal((await pool()).restarts, before.restarts + 1);
    assert.throws(() => process.kill(old, 0), /ESRCH/);
    childPid = replaced;
    // The new child serves too.
    const c = await connectTo(true);
    assert.ok(sessions.get(c.localPort)!.endsWith(`@${replaced}`));
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    c.close();
  });

  it('stop() drains and leaves no child process', async () => {
    const pids = (await pool()).children.map((c) => c.pid);
    assert.equal(pids.length, 1);
    const c = await connectTo(true);
    const port = t.port('pop3');
    await t.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `child ${pid} is gone`);
    // The child said goodbye to its session, and nobody listens any more.
    assert.match(await c.line().catch(() => '-ERR closed'), /^-ERR/);
    c.close();
    await assert.rejects(Pop3.connect(port));
  });
});
