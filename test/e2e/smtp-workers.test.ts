// smtp.workers = 2 (src/smtp/service.ts over src/core/worker-pool.ts): the MX and submission
// listeners served by this process and a forked child (least-connections hand-off). Sessions
// land in both processes (told apart by their transcript session ids: a child's end in
// "@<pid>"), every message that got a 250 is in the mailbox exactly once (both processes write
// one SQLite store), a message to a remote domain accepted in the child is relayed promptly by
// the primary's queue runner (the child's 'queue-kick' is forwarded; without it the runner
// would only find the job at its 15 s poll), and stop() leaves no child behind.
//
// crepes.fr (A, smtp.workers = 2) relays to hamburger.edu (B, a second test instance) through a
// fake DnsLookup pointing hamburger.edu's MX at 127.0.0.1 and queue.relay_port = B's port.
import { strict as assert } from 'node:assert';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { WharfError } from '../../src/core/errors.js';
import type { DnsLookup } from '../../src/dns/lookup.js';
import { startTestWharf } from '../helpers/instance.js';
import { LineSocket } from '../helpers/line-socket.js';
import type { TestWharf } from '../helpers/instance.js';
import { inboxMessages, waitFor } from '../helpers/mail.js';

const ALICE = 'alice@crepes.fr';
const CAROL = 'carol@crepes.fr';
const BOB = 'bob@hamburger.edu';

const fakeDns: DnsLookup = {
  async mx(domain) {
    if (domain === 'hamburger.edu') return [{ preference: 10, exchange: 'mx.hamburger.edu' }];
    throw new WharfError('WHARF_DNS_NXDOMAIN', `${domain}: no such domain`);
  },
  async addresses(host) {
    if (host === 'mx.hamburger.edu') return ['127.0.0.1'];
    throw new WharfError('WHARF_DNS_NXDOMAIN', `${host}: no such host`);
  },
};

/** A minimal SMTP client over LineSocket: one reply (multi-line up to "ddd ") at a time. */
class Smtp {
  private constructor(private readonly c: LineSocket) {}
  static async connect(port: number): Promise<Smtp> {
    return new Smtp(await LineSocket.connect(port));
  }
  get localPort(): number {
    return this.c.localPort;
  }
  /** The next complete reply, its lines joined by "\n". */
  async reply(): Promise<string> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.c.line();
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return lines.join('\n');
    }
  }
  async cmd(c: string): Promise<string> {
    this.c.send(c);
    return this.reply();
  }
  /** One transaction; resolves with the reply to the end of data. */
  async send(from: string, to: string, subject: string): Promise<string> {
    assert.match(await this.cmd(`MAIL FROM:<${from}>`), /^250/);
    assert.match(await this.cmd(`RCPT TO:<${to}>`), /^250/);
    assert.match(await this.cmd('DATA'), /^354/);
    return this.cmd(`From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nBody of ${subject}.\r\n.`);
  }
  close(): void {
    this.c.close();
  }
}

describe('smtp.workers = 2', () => {
  let a: TestWharf;
  let b: TestWharf;
  /** Session id by client port, from A's transcripts (the child's are forwarded). */
  const sessions = new Map<number, string>();
  /** Transcript lines by session id. */
  const lines = new Map<string, string[]>();
  let childPid = 0;

  type PoolInfo = { primary: number; forwarding: string[]; connections: number; children: { pid: number; connections: number }[] };
  const pool = async () => (await a.wharf.inspectors.get('workers:smtp')!()) as PoolInfo;

  /** Connects, reads the greeting, and learns which process serves the session. */
  async function connect(service: 'smtp' | 'submission'): Promise<{ c: Smtp; session: string; child: boolean }> {
    const c = await Smtp.connect(a.port(service));
    try {
      const greeting = await c.reply(); // LineSocket gives up after 5 s
      assert.match(greeting, /^220 crepes\.fr/);
      const session = await waitFor(async () => sessions.get(c.localPort));
      return { c, session, child: session.includes('@') };
    } catch (err) {
      c.close();
      throw err;
    }
  }

  /** Connects until a session lands in the wanted process (least connections alternates; up to 50 tries). */
  async function connectTo(service: 'smtp' | 'submission', child: boolean): Promise<{ c: Smtp; session: string }> {
    for (let i = 0; i < 50; i++) {
      const s = await connect(service);
      if (s.child === child) return s;
      s.c.close();
    }
    throw new Error(`no session landed in the ${child ? 'child' : 'primary'}`);
  }

  before(async () => {
    b = await startTestWharf({ services: ['smtp'], hostname: 'hamburger.edu', users: [[BOB, 'hungry']], set: { 'queue.enabled': false, 'log.level': 'error' } });
    a = await startTestWharf({
      services: ['smtp', 'submission', 'submissions'],
      hostname: 'crepes.fr',
      users: [
        [ALICE, 'secret'],
        [CAROL, 'secret'],
      ],
      set: { 'smtp.workers': 2, 'log.level': 'error', 'queue.relay_port': b.port('smtp'), 'queue.connect_timeout': 2000, 'queue.retry_base': 300, 'queue.retry_max': 600 },
    });
    // The queue runner is the primary's (the child has none), so this is the lookup it uses.
    a.wharf.dnsLookup = fakeDns;
    a.wharf.bus.on('transcript', (ev) => {
      if (ev.outgoing) return;
      let l = lines.get(ev.session);
      if (!l) {
        // The first line of each session maps its client port (ports are reused: newest wins).
        lines.set(ev.session, (l = []));
        sessions.set(Number(ev.client.slice(ev.client.lastIndexOf(':') + 1)), ev.session);
      }
      l.push(`${ev.dir}: ${ev.text}`);
    });
    const p = await pool();
    assert.equal(p.children.length, 1);
    childPid = p.children[0]!.pid;
    // Transcripts are forwarded once the child has seen that the primary listens (a poll).
    await waitFor(async () => (await pool()).forwarding.includes('transcript'));
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('serves many concurrent MX sessions from both processes; every 250 is in the mailbox exactly once', async () => {
    const accepted: string[] = [];
    const served = new Set<string>();
    // 10 clients at once, 4 connections each, 2 messages per connection.
    await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        for (let j = 0; j < 4; j++) {
          const { c, session } = await connect('smtp');
          served.add(session.includes('@') ? session.slice(session.indexOf('@') + 1) : 'primary');
          assert.match(await c.cmd('EHLO client.example'), /^250/);
          for (let k = 0; k < 2; k++) {
            const subject = `load ${i}-${j}-${k}`;
            const r = await c.send(`sender${i}@example.org`, CAROL, subject);
            assert.match(r, /^250/, subject);
            accepted.push(subject);
          }
          assert.match(await c.cmd('QUIT'), /^221/);
          c.close();
        }
      }),
    );
    assert.equal(accepted.length, 80);
    assert.deepEqual([...served].sort(), ['primary', String(childPid)].sort(), `sessions served by ${[...served].join(', ')}`);
    // A 250 means durable: the messages are there now, without waiting.
    const subjects = (await inboxMessages(a.wharf, CAROL)).map((m) => /^Subject: (.*)$/m.exec(m)?.[1] ?? '');
    const counts = new Map<string, number>();
    for (const s of subjects) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const s of accepted) assert.equal(counts.get(s), 1, `${s} stored ${counts.get(s) ?? 0} times`);
    assert.equal(subjects.length, accepted.length);
  });

  it('relays promptly a message to a remote domain accepted by the child (its queue-kick reaches the primary)', async () => {
    const { c, session } = await connectTo('submission', true);
    assert.match(session, new RegExp(`@${childPid}$`));
    assert.match(await c.cmd('EHLO alice.example'), /^250/);
    // Cleartext AUTH is allowed on loopback (RFC 4954 §4; session.ts).
    assert.match(await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${ALICE}\0secret`).toString('base64')}`), /^235/);
    const sent = Date.now();
    assert.match(await c.send(ALICE, BOB, 'relayed from a child'), /^250/);
    assert.match(await c.cmd('QUIT'), /^221/);
    c.close();
    // The runner's own poll would find it only after 15 s; the forwarded kick wakes it at once.
    const msg = await waitFor(async () => (await inboxMessages(b.wharf, BOB)).find((m) => m.includes('Subject: relayed from a child')), 5000);
    const took = Date.now() - sent;
    assert.ok(took < 5000, `relayed after ${took} ms`);
    assert.match(msg, /by crepes\.fr \(Wharf\) with ESMTPA/);
    await waitFor(async () => (await a.wharf.store.listQueue()).length === 0);
  });

  it('serves implicit TLS (submissions) from both processes: the socket moves unread', async () => {
    const served = new Set<boolean>();
    for (let i = 0; i < 6; i++) {
      const c = tls.connect({ host: '127.0.0.1', port: a.port('submissions'), rejectUnauthorized: false });
      const greeting = await new Promise<string>((resolve, reject) => {
        c.once('data', (d: Buffer) => resolve(d.toString()));
        c.once('error', reject);
      });
      assert.match(greeting, /^220 crepes\.fr/);
      const id = await waitFor(async () => sessions.get(c.localPort!));
      served.add(id.includes('@'));
      c.end('QUIT\r\n');
      await new Promise((r) => c.once('close', r));
    }
    assert.deepEqual([...served].sort(), [false, true]);
  });

  it("forwards the child's transcripts to the primary's bus while someone listens", async () => {
    const { c, session } = await connectTo('smtp', true);
    assert.match(await c.cmd('EHLO transcript.example'), /^250/);
    assert.match(await c.cmd('NOOP'), /^250/);
    assert.match(await c.cmd('QUIT'), /^221/);
    c.close();
    const got = await waitFor(async () => {
      const l = lines.get(session) ?? [];
      return l.some((x) => x.startsWith('C: QUIT')) && l;
    });
    assert.ok(got.some((x) => /^S: 220 crepes\.fr/.test(x)), got.join('\n'));
    assert.ok(got.includes('C: EHLO transcript.example'), got.join('\n'));
    assert.ok(got.includes('C: NOOP'), got.join('\n'));
  });

  it('stop() drains and leaves no child process', async () => {
    const pids = (await pool()).children.map((x) => x.pid);
    assert.deepEqual(pids, [childPid]);
    const { c } = await connectTo('smtp', true);
    const port = a.port('smtp');
    await a.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `child ${pid} is gone`);
    // The child told its idle session 421 (RFC 5321 §3.8), and nobody listens any more.
    assert.match(await c.reply().catch(() => '421 closed'), /^421/);
    c.close();
    await assert.rejects(Smtp.connect(port));
  });
});
