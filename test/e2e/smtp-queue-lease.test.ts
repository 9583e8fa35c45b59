// Queue leases across nodes (src/smtp/queue.ts): two Wharf nodes share one PostgreSQL schema
// with a short queue.lease (3 s: heartbeat every 1 s, poll every 1 s). A message is queued for a
// remote domain whose "MX" (queue.relay_host) is a peer in this test that accepts the first
// connection and never greets (a delivery that takes its time, as RFC 5321 §4.5.3.2 allows).
//   - Node A (`wharf start`, a child process) takes the job and connects. Node B runs beside it.
//     For 2.5 leases B must NOT take the job: A's heartbeat keeps renewing the lease.
//   - A is killed with SIGKILL mid-delivery. B must take the job within a lease plus a poll
//     (plus slack for a loaded machine), deliver it to the peer, and the queue must end empty.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ingestBuffer } from '../../src/mail/ingest.js';
import { Wharf } from '../../src/wharf.js';
import { spawnWharf } from '../helpers/cli.js';
import { listenerSections, startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { waitFor } from '../helpers/mail.js';

const PG_URL = process.env['WHARF_TEST_PG_URL'] || 'postgres://127.0.0.1:5432/test';
const SKIP_PG = process.env['WHARF_SKIP_PG'] === '1';
const LEASE_MS = 3000;

const children = new Set<ChildProcess>();
const dirs: string[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface PeerConn {
  at: number;
  /** The message data when the dialogue completed. */
  data: Promise<string>;
}

/** An SMTP peer: the first connection is held without a greeting; later ones get a real dialogue. */
async function startPeer(): Promise<{ port: number; conns: PeerConn[]; close(): void }> {
  const conns: PeerConn[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    const first = conns.length === 0;
    let resolve!: (s: string) => void;
    conns.push({ at: Date.now(), data: new Promise<string>((r) => (resolve = r)) });
    if (first) return; // stall: no 220
    sock.setEncoding('latin1');
    sock.write('220 peer.test ESMTP\r\n');
    let buf = '';
    let inData = false;
    sock.on('data', (d: string) => {
      buf += d;
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          resolve(buf.slice(0, end + 2));
          buf = buf.slice(end + 5);
          inData = false;
          sock.write('250 2.0.0 queued as 1\r\n');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') sock.write('250 peer.test\r\n');
        else if (verb === 'DATA') {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') sock.end('221 bye\r\n');
        else sock.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('queue leases between two nodes on one PostgreSQL', () => {
  it('a live node keeps its job (heartbeat); a killed node\'s job is retried by the other within a lease', { timeout: 60_000, skip: SKIP_PG ? 'WHARF_SKIP_PG=1' : false }, async () => {
    const peer = await startPeer();
    const schema = `wharf_lease_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const shared: Record<string, unknown> = {
      hostname: 'crepes.fr',
      'auth.scrypt_cost': 10,
      'log.level': 'error',
      'store.engine': 'postgres',
      'store.url': PG_URL,
      'store.schema': schema,
      'store.pool_size': 4,
      'queue.relay_host': `127.0.0.1:${peer.port}`,
      'queue.lease': LEASE_MS,
    };
    for (const s of listenerSections()) shared[`${s}.enabled`] = false;
    let b: TestWharf | undefined;
    try {
      // Queue one message while no node runs.
      {
        const data = mkdtempSync(join(tmpdir(), 'wharf-lease-'));
        dirs.push(data);
        const w = new Wharf({ config: loadConfig({ overrides: { ...shared, 'queue.enabled': false } }), dataDir: data, logStream: null });
        await w.open();
        try {
          const blob = await ingestBuffer(w.store.blobs, Buffer.from('From: <alice@crepes.fr>\r\nTo: <dave@far.example>\r\nSubject: lease\r\nMessage-ID: <lease@test>\r\n\r\nhello\r\n'));
          await w.store.enqueue({ sender: 'alice@crepes.fr', blobId: blob.blobId, size: blob.size, recipients: [{ address: 'dave@far.example' }] });
        } finally {
          await w.stop();
        }
      }

      // Node A takes it and hangs in the delivery.
      const dataA = mkdtempSync(join(tmpdir(), 'wharf-lease-a-'));
      dirs.push(dataA);
      const args = Object.entries(shared).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
      const a = spawnWharf(['start', '--data', dataA, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.add(a);
      let stderrA = '';
      a.stderr!.setEncoding('utf8').on('data', (d: string) => (stderrA += d));
      const exitedA = new Promise<string | null>((r) => a.on('exit', (_c, sig) => r(sig)));
      await waitFor(async () => peer.conns.length >= 1, 20_000).catch(() => assert.fail(`node A never connected to the peer: ${stderrA}`));

      // Node B beside it: it must not take the job while A's heartbeat renews the lease.
      b = await startTestWharf({ postgres: true, hostname: 'crepes.fr', set: { ...shared, 'queue.enabled': true } });
      await sleep(2.5 * LEASE_MS);
      assert.equal(peer.conns.length, 1, 'node B took a job whose owner is alive and renewing its lease');
      const [job] = (await b.wharf.store.listQueue())[0]!.jobs;
      // listQueue shows a lease only while it is live: A renewed it well past its first term
      assert.ok(job && job.leasedBy !== null && job.leasedBy !== `${b.wharf.nodeId}:queue`, `the job's lease is live and A's: ${String(job?.leasedBy)}`);

      // Kill A mid-delivery: B takes over within a lease and a poll.
      const killedAt = Date.now();
      a.kill('SIGKILL');
      assert.equal(await exitedA, 'SIGKILL');
      children.delete(a);
      await waitFor(async () => peer.conns.length >= 2, 20_000);
      const took = peer.conns[1]!.at - killedAt;
      assert.ok(took <= LEASE_MS + 1000 + 4000, `node B retried ${took} ms after the kill (lease ${LEASE_MS} ms)`);
      const data = await peer.conns[1]!.data;
      assert.match(data, /Message-ID: <lease@test>/);
      await waitFor(async () => (await b!.wharf.store.listQueue()).length === 0, 10_000);
      assert.equal(peer.conns.length, 2, 'delivered once by B');
    } finally {
      peer.close();
      // B's stop() drops the shared schema.
      await b?.stop();
    }
  });
});
