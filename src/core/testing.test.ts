import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { Connection } from './connection.js';
import { playTranscript, socketPair } from './testing.js';
import type { TestClient } from './testing.js';

/** A toy POP3-ish session for exercising the helpers. */
async function toySession(server: import('node:stream').Duplex): Promise<void> {
  const conn = new Connection(server, { maxLine: 100, idleTimeoutMs: 2000 });
  await conn.writeLine('+OK POP3 server ready');
  for (;;) {
    const line = await conn.readLine();
    if (line === null) return;
    const [verb, arg] = line.split(' ');
    if (verb === 'USER') await conn.writeLine(`+OK hello ${arg}`);
    else if (verb === 'LIST') {
      await conn.writeLine('+OK 2 messages');
      await conn.writeLine('1 120');
      await conn.writeLine('2 200');
      await conn.writeLine('.');
    } else if (verb === 'QUIT') {
      await conn.writeLine('+OK bye');
      await conn.close();
      return;
    } else await conn.writeLine('-ERR unknown command');
  }
}

function start(): { client: TestClient; session: Promise<void> } {
  const { server, client } = socketPair();
  return { client, session: toySession(server) };
}

test('playTranscript: passes a matching script, with wildcards, comments and indentation', async () => {
  const { client, session } = start();
  await playTranscript(
    client,
    `
    S: +OK POP3*
    C: user bob
    S: -ERR unknown command
    # comment lines and blank lines are ignored
    C: USER bob
    S: +OK hello bob
    C: LIST
    S: +OK * messages
    S: 1 *
    S: 2 200
    S: .
    C: QUIT
    S: +OK bye
  `,
  );
  await session;
  await client.closed;
  assert.equal(client.received.length, 8);
});

test('playTranscript: a differing line fails with the transcript so far', async () => {
  const { client } = start();
  await assert.rejects(
    playTranscript(client, 'S: +OK POP3 server ready\nC: USER alice\nS: +OK hello bob'),
    (e: unknown) => {
      assert.ok(e instanceof AssertionError);
      assert.match(e.message, /expected "S: \+OK hello bob", got "S: \+OK hello alice"/);
      assert.match(e.message, /S: \+OK POP3 server ready\nC: USER alice\nS: \+OK hello alice/);
      return true;
    },
  );
  client.end();
});

test('playTranscript: a missing line fails on timeout; regex characters in patterns are literal', async () => {
  const { client } = start();
  await assert.rejects(playTranscript(client, 'S: +OK POP3 server ready\nS: +OK more', 100), /expected "S: \+OK more" but timeout/);
  const b = start();
  // "." and "+" must not act as regex operators
  await assert.rejects(playTranscript(b.client, 'S: .OK POP3 server ready', 200), /expected "S: \.OK POP3 server ready"/);
  client.end();
  b.client.end();
});

test('TestClient: readLine rejects at EOF and timeout; readUntil collects through the match', async () => {
  const { server, client } = socketPair();
  server.write('a\r\nb\r\nc\r\n');
  assert.deepEqual(await client.readUntil((l) => l === 'b'), ['a', 'b']);
  assert.equal(await client.readLine(), 'c');
  await assert.rejects(client.readLine(30), /timeout/);
  server.end();
  await client.closed;
  await assert.rejects(client.readLine(), /closed/);
  assert.deepEqual(client.received, ['a', 'b', 'c']);
});

test('socketPair: EOF propagates both ways and both sides close', async () => {
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 100, idleTimeoutMs: 0 });
  assert.equal(conn.remoteAddress, '127.0.0.1');
  assert.ok(conn.remotePort > 0);
  client.send('hi');
  assert.equal(await conn.readLine(), 'hi');
  client.end();
  assert.equal(await conn.readLine(), null);
  await conn.done; // allowHalfOpen=false: the server side ends too, then closes
  await client.closed;
});

test('socketPair: destroying the server side ends the client', async () => {
  const { server, client } = socketPair();
  server.destroy();
  await client.closed;
  await assert.rejects(client.readLine(50), /closed/);
});

test('STARTTLS over the in-memory pair: Connection.startTls + TestClient.startTls', async () => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const tls = await import('node:tls');
  const dir = mkdtempSync(join(tmpdir(), 'wharf-testing-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'c'), 'utf8');
    const ctx = tls.createSecureContext({ key: readFileSync(join(dir, 'k'), 'utf8'), cert });
    const { server, client } = socketPair();
    const conn = new Connection(server, { maxLine: 100, idleTimeoutMs: 3000 });
    const session = (async () => {
      assert.equal(await conn.readLine(), 'STLS');
      await conn.writeLine('+OK begin TLS');
      await conn.startTls(ctx);
      const l = await conn.readLine();
      await conn.writeLine(`+OK secure=${conn.secure} ${l}`);
    })();
    client.sendRaw('STLS\r\nUSER injected\r\n');
    assert.equal(await client.readLine(), '+OK begin TLS');
    const sc = await client.startTls({ ca: cert, servername: 'localhost' });
    sc.send('CAPA');
    assert.equal(await sc.readLine(), '+OK secure=true CAPA');
    await session;
    conn.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
