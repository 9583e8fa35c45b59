// The POP3 benchmark's load, run in a child process so that the client never shares an event
// loop (nor a CPU account) with the server it measures: K clients at once, each logs in as its
// own user, RETRs all its messages and QUITs. Reads its input as JSON in argv[2], sends
// { ok, rate, octets } over the IPC channel and exits.
import { BenchPop3 } from './pop3-client.js';

export interface Pop3LoadInput {
  port: number;
  users: number;
  messages: number;
  password: string;
}

async function run(input: Pop3LoadInput): Promise<{ rate: number; octets: number }> {
  const start = process.hrtime.bigint();
  let octets = 0;
  await Promise.all(
    Array.from({ length: input.users }, async (_, u) => {
      const c = await BenchPop3.connect('127.0.0.1', input.port);
      await c.command(`USER user${u}@bench.test`);
      await c.command(`PASS ${input.password}`);
      const n = Number((await c.command('STAT')).split(' ')[1]);
      if (n !== input.messages) throw new Error(`user${u}: ${n} messages, expected ${input.messages}`);
      for (let i = 1; i <= n; i++) octets += await c.retr(i);
      await c.quit();
    }),
  );
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: (input.users * input.messages) / secs, octets };
}

if (process.send && process.argv[2]) {
  const send = (m: object) => process.send!(m, () => process.exit(0));
  run(JSON.parse(process.argv[2]) as Pop3LoadInput).then(
    (r) => send({ ok: true, ...r }),
    (e: Error) => send({ ok: false, error: e.message }),
  );
}
