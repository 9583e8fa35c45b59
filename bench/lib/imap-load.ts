// The IMAP benchmark's load, run in a worker thread so the client never shares an event loop
// with the server it measures. K clients work on the same 10,000-message mailbox in lock step,
// phase by phase (every client finishes a phase before the next starts), and each phase's wall
// time is measured:
//   login      connect + LOGIN                                   1 op per client
//   select     SELECT INBOX                                      1
//   envelopes  FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)        1 (the whole mailbox)
//   search     UID SEARCH SUBJECT "..." and UID SEARCH UNSEEN    2
//   bodies     UID FETCH n BODY.PEEK[], 100 messages one by one  100
//   store      UID STORE n +FLAGS (\Flagged), then -FLAGS        200
//   logout     LOGOUT                                            1
// Posts { phases: { name: { ops, secs } }, total }.
import { parentPort, workerData } from 'node:worker_threads';
import { BenchImap } from './imap-client.js';

export interface ImapLoadInput {
  port: number;
  clients: number;
  messages: number;
  user: string;
  password: string;
  /** Varies the messages each round touches. */
  round: number;
}

export interface PhaseResult {
  ops: number;
  secs: number;
}

export interface ImapLoadResult {
  phases: Record<string, PhaseResult>;
  total: number;
}

/** Messages each client fetches whole and flags (fewer in a smaller mailbox). */
const BODIES_PER_CLIENT = 100;

async function run(input: ImapLoadInput): Promise<ImapLoadResult> {
  const phases: Record<string, PhaseResult> = {};
  const K = input.clients;
  const BODIES = Math.min(BODIES_PER_CLIENT, input.messages);
  const clients: BenchImap[] = [];
  const phase = async (name: string, opsPerClient: number, fn: (k: number) => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: K }, (_, k) => fn(k)));
    phases[name] = { ops: opsPerClient * K, secs: Number(process.hrtime.bigint() - t0) / 1e9 };
  };
  const start = process.hrtime.bigint();
  // Each client works on its own 100 UIDs (a different slice each round).
  const base = (k: number) => 1 + ((k * BODIES + input.round * 977) % Math.max(1, input.messages - BODIES + 1));
  await phase('login', 1, async (k) => {
    const c = await BenchImap.connect('127.0.0.1', input.port);
    clients[k] = c;
    await c.command(`LOGIN ${input.user} ${input.password}`);
  });
  await phase('select', 1, async (k) => {
    const r = await clients[k]!.command('SELECT INBOX');
    if (!r.sample.includes(`* ${input.messages} EXISTS`)) throw new Error(`SELECT: expected ${input.messages} EXISTS, got ${r.sample.join(' | ')}`);
  });
  await phase('envelopes', 1, async (k) => {
    const r = await clients[k]!.command('FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)');
    // Other clients' flag changes may add untagged FETCHes; never fewer than one per message.
    if (r.untagged < input.messages) throw new Error(`FETCH 1:*: ${r.untagged} responses for ${input.messages} messages`);
  });
  await phase('search', 2, async (k) => {
    const want = ((base(k) * 7919) % input.messages) + 1;
    const r = await clients[k]!.command(`UID SEARCH SUBJECT "message ${want} "`);
    if (!r.sample.some((l) => /^\* SEARCH \d/.test(l))) throw new Error(`SEARCH found nothing for message ${want}`);
    await clients[k]!.command('UID SEARCH UNSEEN');
  });
  await phase('bodies', BODIES, async (k) => {
    const c = clients[k]!;
    for (let i = 0; i < BODIES; i++) {
      const r = await c.command(`UID FETCH ${base(k) + i} BODY.PEEK[]`);
      if (r.untagged < 1) throw new Error('UID FETCH BODY.PEEK[]: no message');
    }
  });
  await phase('store', 2 * BODIES, async (k) => {
    const c = clients[k]!;
    for (let i = 0; i < BODIES; i++) await c.command(`UID STORE ${base(k) + i} +FLAGS (\\Flagged)`);
    for (let i = 0; i < BODIES; i++) await c.command(`UID STORE ${base(k) + i} -FLAGS (\\Flagged)`);
  });
  await phase('logout', 1, async (k) => {
    await clients[k]!.logout();
  });
  return { phases, total: Number(process.hrtime.bigint() - start) / 1e9 };
}

if (parentPort) {
  run(workerData as ImapLoadInput).then(
    (r) => parentPort!.postMessage({ ok: true, ...r }),
    (e: Error) => parentPort!.postMessage({ ok: false, error: e.message }),
  );
}
