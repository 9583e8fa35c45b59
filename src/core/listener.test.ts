import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Writable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpListener } from './listener.js';
import type { ListenerOptions } from './listener.js';
import { Logger } from './logger.js';
import { Connection } from './connection.js';
import { TestClient } from './testing.js';
import { isWharfError } from './errors.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: new Logger({ stream, level: 'debug' }), lines };
}

function listener(over: Partial<ListenerOptions> & Pick<ListenerOptions, 'onConnection'>) {
  const { logger, lines } = capture();
  const l = new TcpListener({ service: 'pop3', host: '127.0.0.1', port: 0, maxConnections: 100, maxPerIp: 100, logger, ...over });
  return { l, lines };
}

/** A session that greets and then waits for QUIT (or EOF), answering the drain with 421. */
function lineSession(l: () => TcpListener) {
  return async (socket: net.Socket | tls.TLSSocket) => {
    const conn = new Connection(socket, { maxLine: 512, idleTimeoutMs: 5000 });
    const off = { done: false };
    l().onDrain(() => {
      if (!off.done) void conn.writeLine('-ERR [SYS/TEMP] server shutting down').then(() => conn.close(), () => {});
    });
    await conn.writeLine(`+OK hello ${conn.secure ? 'tls' : 'plain'}`);
    for (;;) {
      const line = await conn.readLine();
      if (line === null) break;
      if (line === 'QUIT') {
        await conn.writeLine('+OK bye');
        break;
      }
      await conn.writeLine(`+OK ${line}`);
    }
    off.done = true;
    await conn.close();
  };
}

test('start: binds port 0, reports the real port; a busy port is WHARF_LISTEN_FAILED', async () => {
  const { l } = listener({ onConnection: async () => {} });
  const bound = await l.start();
  assert.equal(bound.service, 'pop3');
  assert.equal(bound.transport, 'tcp');
  assert.equal(bound.host, '127.0.0.1');
  assert.ok(bound.port > 0);
  assert.equal(bound.tls, undefined);
  const { l: l2 } = listener({ port: bound.port, onConnection: async () => {} });
  await assert.rejects(l2.start(), (e: unknown) => isWharfError(e, 'WHARF_LISTEN_FAILED') && /EADDRINUSE/.test((e as Error).message));
  await l.stop(100);
});

test('maxPerIp: the extra client from one address is refused with the message; others are not', async () => {
  let tl!: TcpListener;
  const { l, lines } = listener({ maxPerIp: 2, refuseMessage: '-ERR [SYS/TEMP] too many connections\r\n', onConnection: lineSession(() => tl) });
  tl = l;
  const { port } = await l.start();
  const a = await TestClient.connect(port);
  const b = await TestClient.connect(port);
  assert.equal(await a.readLine(), '+OK hello plain');
  assert.equal(await b.readLine(), '+OK hello plain');
  assert.equal(l.connections, 2);
  const c = await TestClient.connect(port);
  assert.equal(await c.readLine(), '-ERR [SYS/TEMP] too many connections');
  await c.closed;
  assert.equal(l.connections, 2);
  assert.ok(lines.some((x) => x.msg === 'connection refused: limit' && x.limit === 'per-ip' && x.service === 'pop3'));
  // another loopback address has its own quota
  const d = new TestClient(net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }));
  assert.equal(await d.readLine(), '+OK hello plain');
  // when one leaves, its slot is free again
  a.send('QUIT');
  assert.equal(await a.readLine(), '+OK bye');
  await a.closed;
  while (l.connections > 2) await tick();
  const e = await TestClient.connect(port);
  assert.equal(await e.readLine(), '+OK hello plain');
  for (const x of [b, d, e]) x.send('QUIT');
  await l.stop(1000);
  assert.equal(l.connections, 0);
});

test('maxConnections: total limit refuses whoever comes next', async () => {
  let tl!: TcpListener;
  const { l, lines } = listener({ maxConnections: 1, refuseMessage: '421 4.7.0 Too many connections\r\n', onConnection: lineSession(() => tl) });
  tl = l;
  const { port } = await l.start();
  const a = await TestClient.connect(port);
  assert.equal(await a.readLine(), '+OK hello plain');
  const b = new TestClient(net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' }));
  assert.equal(await b.readLine(), '421 4.7.0 Too many connections');
  await b.closed;
  assert.ok(lines.some((x) => x.msg === 'connection refused: limit' && x.limit === 'total'));
  await l.stop(500);
});

test('a failing session is logged with service and remote; the process and listener go on', async () => {
  let n = 0;
  const { l, lines } = listener({
    onConnection: async (socket) => {
      n++;
      if (n === 1) throw new Error('boom in session');
      socket.end('+OK second\r\n');
      await new Promise((r) => socket.once('close', r));
    },
  });
  const { port } = await l.start();
  const a = await TestClient.connect(port);
  await a.closed; // the listener destroyed the socket after the failure
  const err = lines.find((x) => x.msg === 'session failed');
  assert.ok(err, 'error logged');
  assert.equal(err.service, 'pop3');
  assert.match(String(err.remote), /^127\.0\.0\.1:\d+$/);
  assert.equal((err.err as { message: string }).message, 'boom in session');
  const b = await TestClient.connect(port);
  assert.equal(await b.readLine(), '+OK second');
  await l.stop(500);
  assert.equal(lines.filter((x) => x.level === 'error').length, 1);
});

test('peer resets (ECONNRESET) are handled, never crash', async () => {
  const { l, lines } = listener({
    onConnection: async (socket) => {
      const conn = new Connection(socket, { maxLine: 100, idleTimeoutMs: 2000 });
      assert.equal(await conn.readLine(), null);
      // writing to a reset connection rejects with WHARF_CLOSED, which the listener logs at debug
      await conn.writeLine('too late');
    },
  });
  const { port } = await l.start();
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.resetAndDestroy();
  while (!lines.some((x) => x.msg === 'session ended by the peer')) await tick();
  assert.equal(lines.filter((x) => x.level === 'error').length, 0);
  await l.stop(200);
});

test('stop(): drain callbacks let sessions say goodbye; stop waits for them', async () => {
  let tl!: TcpListener;
  const { l } = listener({ onConnection: lineSession(() => tl) });
  tl = l;
  const { port } = await l.start();
  const a = await TestClient.connect(port);
  assert.equal(await a.readLine(), '+OK hello plain');
  const t0 = Date.now();
  await l.stop(5000);
  assert.ok(Date.now() - t0 < 2000, 'sessions ended on drain, no need to wait for the deadline');
  assert.equal(await a.readLine(), '-ERR [SYS/TEMP] server shutting down');
  await a.closed;
  assert.equal(l.connections, 0);
  // not accepting any more
  await assert.rejects(TestClient.connect(port));
});

test('stop(): sessions that ignore the drain are destroyed at the deadline', async () => {
  const { l } = listener({
    onConnection: async (socket) => {
      socket.write('+OK stubborn\r\n');
      await new Promise((r) => socket.once('close', r)); // ignores the drain
    },
  });
  const { port } = await l.start();
  const a = await TestClient.connect(port);
  assert.equal(await a.readLine(), '+OK stubborn');
  const t0 = Date.now();
  await l.stop(150);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 1500, `took ${took}`);
  await a.closed;
  assert.equal(l.connections, 0);
});

let tmp = '';
let key = '';
let cert = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wharf-listener-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(tmp, 'k.pem'), '-out', join(tmp, 'c.pem')], { stdio: 'ignore' });
  key = readFileSync(join(tmp, 'k.pem'), 'utf8');
  cert = readFileSync(join(tmp, 'c.pem'), 'utf8');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('implicit TLS: handshake then session; a plain client is closed and logged at debug', async () => {
  let tl!: TcpListener;
  const ctx = tls.createSecureContext({ key, cert });
  const { l, lines } = listener({ service: 'pop3s', tls: () => ctx, handshakeTimeoutMs: 2000, onConnection: lineSession(() => tl) });
  tl = l;
  const bound = await l.start();
  assert.equal(bound.tls, true);
  const t = tls.connect({ port: bound.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
  const client = new TestClient(t);
  assert.equal(await client.readLine(), '+OK hello tls');
  client.send('CAPA');
  assert.equal(await client.readLine(), '+OK CAPA');
  client.send('QUIT');
  assert.equal(await client.readLine(), '+OK bye');
  await client.closed;
  // plain text on the TLS port
  const plain = await TestClient.connect(bound.port);
  plain.send('USER bob');
  await plain.closed;
  while (!lines.some((x) => x.msg === 'TLS handshake failed')) await tick();
  const hs = lines.find((x) => x.msg === 'TLS handshake failed')!;
  assert.equal(hs.level, 'debug');
  assert.equal(hs.service, 'pop3s');
  assert.equal(plain.received.length, 0);
  while (l.connections > 0) await tick();
  await l.stop(500);
  assert.equal(lines.filter((x) => x.level === 'error').length, 0);
});

test('implicit TLS: a client that never handshakes is dropped at the handshake timeout', async () => {
  const ctx = tls.createSecureContext({ key, cert });
  let sessions = 0;
  const { l } = listener({ service: 'imaps', tls: () => ctx, handshakeTimeoutMs: 100, onConnection: async () => void sessions++ });
  const { port } = await l.start();
  const silent = await TestClient.connect(port);
  const t0 = Date.now();
  await silent.closed;
  assert.ok(Date.now() - t0 < 1500);
  assert.equal(sessions, 0);
  await l.stop(100);
});

test('constructor refuses nonsense limits', () => {
  const { logger } = capture();
  assert.throws(
    () => new TcpListener({ service: 'x', host: '127.0.0.1', port: 0, maxConnections: 0, maxPerIp: 1, logger, onConnection: async () => {} }),
    (e: unknown) => isWharfError(e, 'WHARF_CONFIG_INVALID'),
  );
});
