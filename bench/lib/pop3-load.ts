// The POP3 benchmark's load, run in a worker thread so that the client never shares an event
// loop with the server it measures: K clients at once, each logs in as its own user, RETRs all
// its messages and QUITs. Posts { rate, octets }.
import { parentPort, workerData } from 'node:worker_threads';
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

if (parentPort) {
  run(workerData as Pop3LoadInput).then(
    (r) => parentPort!.postMessage({ ok: true, ...r }),
    (e: Error) => parentPort!.postMessage({ ok: false, error: e.message }),
  );
}
