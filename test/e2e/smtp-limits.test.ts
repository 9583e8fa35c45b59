// SMTP listener limits over real sockets: per-IP and total connection limits (421), graceful
// stop (421 to idle sessions), and memory staying flat while an oversized message is read and
// discarded (552 5.3.4).
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { TestClient, playTranscript } from '../../src/core/testing.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';

let t: TestWharf;

before(async () => {
  t = await startTestWharf({
    services: ['smtp'],
    hostname: 'hamburger.edu',
    users: [['bob@hamburger.edu', 'hungry']],
    set: { 'smtp.max_per_ip': 2, 'smtp.max_message_size': 1024 * 1024, 'store.fsync': false, 'queue.enabled': false },
  });
});
after(async () => {
  await t?.stop();
});

describe('SMTP limits', () => {
  it('refuses a connection over smtp.max_per_ip with 421', async () => {
    const c1 = await TestClient.connect(t.port('smtp'));
    const c2 = await TestClient.connect(t.port('smtp'));
    assert.match(await c1.readLine(), /^220 /);
    assert.match(await c2.readLine(), /^220 /);
    const c3 = await TestClient.connect(t.port('smtp'));
    assert.equal(await c3.readLine(), '421 4.7.0 hamburger.edu Too many connections, try again later');
    await c3.closed;
    c1.destroy();
    c2.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const c4 = await TestClient.connect(t.port('smtp'));
    assert.match(await c4.readLine(), /^220 /, 'a slot is free again');
    c4.destroy();
  });

  it('reads and discards a 48 MB message over the 1 MB limit with flat memory, then answers 552', async () => {
    const sock = net.connect({ host: '127.0.0.1', port: t.port('smtp') });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const c = new TestClient(sock);
    await playTranscript(c, 'S: 220 *\nC: HELO crepes.fr\nS: 250 *\nC: MAIL FROM:<alice@crepes.fr>\nS: 250 *\nC: RCPT TO:<bob@hamburger.edu>\nS: 250 *\nC: DATA\nS: 354 *');
    // Retained memory, not garbage: collect before each sample.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const base = process.memoryUsage();
    let peak = 0;
    const sampler = setInterval(() => {
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.arrayBuffers - (base.heapUsed + base.arrayBuffers));
    }, 5);
    const line = Buffer.from('y'.repeat(1022) + '\r\n');
    const block = Buffer.concat(Array.from({ length: 1024 }, () => line)); // 1 MB
    for (let i = 0; i < 48; i++) {
      if (!sock.write(block)) await new Promise((r) => sock.once('drain', r));
    }
    sock.write('.\r\n');
    const reply = await c.readLine(30_000);
    clearInterval(sampler);
    console.log(`peak retained growth ${(peak / 1048576).toFixed(1)} MB`);
    assert.equal(reply, '552 Message size exceeds fixed maximum message size', 'no enhanced code after HELO (RFC 2034)');
    assert.ok(peak < 12 * 1024 * 1024, `memory grew by ${Math.round(peak / 1048576)} MB while 48 MB went through`);
    await playTranscript(c, 'C: QUIT\nS: 221 *');
  });

  it('tells idle sessions 421 when the server stops', async () => {
    const extra = await startTestWharf({ services: ['smtp'], hostname: 'stop.test', set: { 'queue.enabled': false } });
    const c = await TestClient.connect(extra.port('smtp'));
    await playTranscript(c, 'S: 220 *\nC: EHLO x\nS: 250-*');
    await c.readUntil((l) => l.startsWith('250 '));
    const stopping = extra.stop();
    assert.equal(await c.readLine(), '421 4.3.2 Service shutting down, closing connection');
    await c.closed;
    await stopping;
  });
});
