import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { isWharfError } from './errors.js';
import { EventBus, Transcript } from './events.js';
import type { TranscriptEvent } from './events.js';
import { socketPair } from './testing.js';
import { dotStuffAll } from './dot-codec.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function pair(opts: Partial<ConnectionOptions> = {}) {
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 1000, idleTimeoutMs: 0, ...opts });
  return { conn, client };
}

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isWharfError(err, code), `expected ${code}, got ${String(err)}`);
    return true;
  });
}

// ---- lines --------------------------------------------------------------------------------------

test('readLine: lines split across chunks, CRLF and bare LF, EOF is null', async () => {
  const { conn, client } = pair();
  client.sendRaw('US');
  const p = conn.readLine();
  await tick();
  client.sendRaw('ER bob\r');
  await tick();
  client.sendRaw('\nPASS x\nQUIT\r\n\r\nlast-no-crlf');
  assert.equal(await p, 'USER bob');
  assert.equal(await conn.readLine(), 'PASS x');
  assert.equal(await conn.readLine(), 'QUIT');
  assert.equal(await conn.readLine(), '');
  client.end();
  // an unterminated last line is not a command
  assert.equal(await conn.readLine(), null);
  assert.equal(await conn.readLine(), null);
});

test('readLine: UTF-8 decoded, readLineBytes raw; a lone CR inside a line is kept', async () => {
  const { conn, client } = pair();
  client.sendRaw(Buffer.concat([Buffer.from('caf\xc3', 'latin1'), Buffer.from('\xa9\r\n', 'latin1')]));
  client.sendRaw(Buffer.from([0xff, 0x0d, 0x41, 0x0d, 0x0a]));
  assert.equal(await conn.readLine(), 'café');
  assert.deepEqual(await conn.readLineBytes(), Buffer.from([0xff, 0x0d, 0x41]));
});

test('readLine: too-long line is discarded up to its LF, then the connection goes on', async () => {
  const { conn, client } = pair({ maxLine: 10 });
  client.sendRaw('0123456789\r\n'); // exactly maxLine: fine
  client.sendRaw('0123456789A\r\n'); // maxLine + 1: too long
  assert.equal(await conn.readLine(), '0123456789');
  await rejectsCode(conn.readLine(), 'WHARF_LINE_TOO_LONG');
  // A huge line arriving in many chunks: memory stays bounded, error once, then recovery.
  const p = conn.readLine();
  for (let i = 0; i < 200; i++) {
    client.sendRaw('x'.repeat(997));
    await tick(0);
  }
  client.sendRaw('tail\nNOOP\r\n');
  await rejectsCode(p, 'WHARF_LINE_TOO_LONG');
  assert.equal(await conn.readLine(), 'NOOP');
  // CR of the CRLF arriving alone at the limit does not count as an octet of the line
  client.sendRaw('abcdefghij\r');
  const q = conn.readLine();
  await tick();
  client.sendRaw('\n');
  assert.equal(await q, 'abcdefghij');
});

test('readLine: maxLine can be changed between reads', async () => {
  const { conn, client } = pair({ maxLine: 4 });
  client.sendRaw('123456\r\n123456\r\n');
  await rejectsCode(conn.readLine(), 'WHARF_LINE_TOO_LONG');
  conn.maxLine = 6;
  assert.equal(await conn.readLine(), '123456');
});

test('idle timeout: WHARF_TIMEOUT when no input, connection still usable', async () => {
  const { conn, client } = pair({ idleTimeoutMs: 40 });
  const t0 = Date.now();
  await rejectsCode(conn.readLine(), 'WHARF_TIMEOUT');
  assert.ok(Date.now() - t0 >= 35);
  client.send('HELLO');
  assert.equal(await conn.readLine(), 'HELLO');
  // input that keeps coming resets the timer: a line dribbled in 10 ms steps over 120 ms is fine
  const p = conn.readLine();
  for (const c of 'slowly-arriving') {
    client.sendRaw(c);
    await tick(8);
  }
  client.sendRaw('\r\n');
  assert.equal(await p, 'slowly-arriving');
  conn.idleTimeoutMs = 0;
  const q = conn.readLine();
  await tick(80);
  client.send('late');
  assert.equal(await q, 'late');
});

test('concurrent reads are refused', async () => {
  const { conn, client } = pair();
  const p = conn.readLine();
  await rejectsCode(conn.readLine(), 'WHARF_READ_BUSY');
  client.send('one');
  assert.equal(await p, 'one');
});

test('destroy during a pending read ends it with null; write then rejects', async () => {
  const { conn } = pair();
  const p = conn.readLine();
  await tick();
  conn.destroy();
  assert.equal(await p, null);
  await conn.done;
  assert.equal(conn.closed, true);
  await rejectsCode(conn.write('x'), 'WHARF_CLOSED');
});

// ---- readExact ----------------------------------------------------------------------------------

test('readExact: across chunks, sink backpressure, then lines continue', async () => {
  const { conn, client } = pair();
  client.sendRaw('A00 APPEND {10}\r\n01234');
  assert.equal(await conn.readLine(), 'A00 APPEND {10}');
  const got: string[] = [];
  let inSink = false;
  const p = conn.readExact(10, async (chunk) => {
    assert.equal(inSink, false, 'sink re-entered before its promise settled');
    inSink = true;
    await tick(5);
    got.push(chunk.toString());
    inSink = false;
  });
  await tick();
  client.sendRaw('567');
  await tick();
  client.sendRaw('89)\r\nA01 NOOP\r\n');
  await p;
  assert.equal(got.join(''), '0123456789');
  assert.ok(got.length >= 2);
  assert.equal(await conn.readLine(), ')');
  assert.equal(await conn.readLine(), 'A01 NOOP');
  assert.deepEqual(await conn.readBytes(0), Buffer.alloc(0));
});

test('readExact: early EOF is WHARF_CLOSED; bad length refused', async () => {
  const { conn, client } = pair();
  client.sendRaw('abc');
  client.end();
  await rejectsCode(conn.readBytes(5), 'WHARF_CLOSED');
  await rejectsCode(conn.readExact(-1, () => {}), 'WHARF_BAD_ARGUMENT');
});

// ---- dot data -----------------------------------------------------------------------------------

test('readDotData: un-stuffing, CRLF.CRLF split across chunks, pipelined rest kept', async () => {
  const { conn, client } = pair();
  const chunks: Buffer[] = [];
  const p = conn.readDotData((c) => {
    chunks.push(Buffer.from(c));
  }, 1_000_000);
  client.sendRaw('Subject: t\r\n\r\n..dot\nbare\r\n');
  await tick();
  client.sendRaw('end\r');
  await tick();
  client.sendRaw('\n.');
  await tick();
  client.sendRaw('\r');
  await tick();
  client.sendRaw('\nQUIT\r\n');
  const r = await p;
  const data = Buffer.concat(chunks).toString();
  assert.equal(data, 'Subject: t\r\n\r\n.dot\r\nbare\r\nend\r\n');
  assert.deepEqual(r, { bytes: data.length, overflow: false });
  assert.equal(await conn.readLine(), 'QUIT');
});

test('readDotData: overflow keeps reading to the end but stops passing data', async () => {
  const { conn, client } = pair();
  let passed = 0;
  const body = 'x'.repeat(98) + '\r\n'; // 100 octets a line
  const p = conn.readDotData((c) => {
    passed += c.length;
  }, 250);
  for (let i = 0; i < 10; i++) client.sendRaw(body);
  client.sendRaw('.\r\nRSET\r\n');
  const r = await p;
  assert.deepEqual(r, { bytes: 1000, overflow: true });
  assert.equal(passed, 250);
  assert.equal(await conn.readLine(), 'RSET');
});

test('readDotData: EOF before the terminator is WHARF_CLOSED', async () => {
  const { conn, client } = pair();
  client.sendRaw('half a message\r\n');
  client.end();
  await rejectsCode(conn.readDotData(() => {}, 1000), 'WHARF_CLOSED');
});

test('writeDotData then readDotData: payload survives, from a Buffer and an async iterable', async () => {
  const a = pair();
  const payload = Buffer.from('.starts with dot\r\nmiddle\r\n.\r\n..two\nbare lf\r\nno final crlf');
  const expect = '.starts with dot\r\nmiddle\r\n.\r\n..two\r\nbare lf\r\nno final crlf\r\n';
  // server writes, the client reads the wire form
  await a.conn.writeDotData(payload);
  const wire = await a.client.readUntil((l) => l === '.');
  assert.equal(wire.join('\r\n') + '\r\n', dotStuffAll(payload).toString());
  // server reads what a client wrote, via the async-iterable path
  const b = pair();
  async function* gen() {
    for (let i = 0; i < payload.length; i += 7) yield payload.subarray(i, i + 7);
  }
  const collected: Buffer[] = [];
  const reading = b.conn.readDotData((c) => {
    collected.push(Buffer.from(c));
  }, 1 << 20);
  const writer = new Connection(b.client.stream, { maxLine: 1000, idleTimeoutMs: 0 });
  await writer.writeDotData(gen());
  await reading;
  assert.equal(Buffer.concat(collected).toString(), expect);
});

// ---- writing and transcript ---------------------------------------------------------------------

test('writeLine: transcript S:/C:, logAs, redactNext; CR/LF in text refused', async () => {
  const bus = new EventBus();
  const events: TranscriptEvent[] = [];
  bus.on('transcript', (e) => events.push(e));
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 100, idleTimeoutMs: 0, transcript: new Transcript(bus, 'pop3', 'pop3-1', '127.0.0.1:1') });
  await conn.writeLine('+OK POP3 ready');
  await conn.writeLine('+OK 2 messages', '+OK (summary)');
  client.send('USER bob');
  client.send('PASS secret');
  client.send('STAT');
  assert.equal(await conn.readLine(), 'USER bob');
  conn.redactNext((l) => l.replace(/ .*/, ' ****'));
  assert.equal(await conn.readLine(), 'PASS secret');
  assert.equal(await conn.readLine(), 'STAT');
  assert.deepEqual(
    events.map((e) => `${e.dir}: ${e.text}`),
    ['S: +OK POP3 ready', 'S: +OK (summary)', 'C: USER bob', 'C: PASS ****', 'C: STAT'],
  );
  assert.equal(await client.readLine(), '+OK POP3 ready');
  assert.equal(await client.readLine(), '+OK 2 messages');
  await rejectsCode(conn.writeLine('250 ok\r\nMAIL FROM:<x>'), 'WHARF_BAD_LINE');
  await rejectsCode(conn.writeLine('a\nb'), 'WHARF_BAD_LINE');
});

test('outgoing session (Wharf the client): what it writes is C:, what it reads S:', async () => {
  const bus = new EventBus();
  const events: TranscriptEvent[] = [];
  bus.on('transcript', (e) => events.push(e));
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 100, idleTimeoutMs: 0, transcript: new Transcript(bus, 'queue', 'relay-1', '127.0.0.2:25', true) });
  client.send('220 hamburger.edu');
  assert.equal(await conn.readLine(), '220 hamburger.edu');
  await conn.writeLine('HELO crepes.fr');
  assert.deepEqual(events.map((e) => `${e.dir}: ${e.text}`), ['S: 220 hamburger.edu', 'C: HELO crepes.fr']);
  assert.ok(events.every((e) => e.outgoing === true));
});

test('close(): flushes writes, client sees them then EOF, done resolves', async () => {
  const { conn, client } = pair();
  void conn.write('221 Bye\r\n');
  await conn.close();
  assert.equal(conn.closed, true);
  await client.closed;
  assert.deepEqual(client.received, ['221 Bye']);
  await rejectsCode(conn.writeLine('more'), 'WHARF_CLOSED');
});

test('in-memory pair: write backpressure holds the writer until the reader reads', async () => {
  const { conn, client } = pair();
  client.stream.pause();
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  let stop = false;
  const writer = (async () => {
    while (!stop && written < 100 * chunk.length) {
      await conn.write(chunk);
      written += chunk.length;
    }
  })();
  await tick(50);
  assert.ok(written < 10 * chunk.length, `writer ran ahead: ${written}`);
  stop = true;
  client.stream.resume();
  await writer;
});

// ---- real TCP -----------------------------------------------------------------------------------

async function tcpPair(opts: Partial<ConnectionOptions> = {}): Promise<{ conn: Connection; sock: net.Socket; server: net.Server }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  const s = await accepted;
  return { conn: new Connection(s, { maxLine: 1000, idleTimeoutMs: 0, ...opts }), sock, server };
}

test('TCP: addresses and write backpressure with a slow reader (memory bounded)', async () => {
  const { conn, sock, server } = await tcpPair();
  try {
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(conn.localPort, (server.address() as net.AddressInfo).port);
    assert.equal(conn.remotePort, sock.localPort);
    sock.pause();
    const raw = (conn as unknown as { socket: net.Socket }).socket;
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const total = 64 * 1024 * 1024; // 64 MiB: far more than the kernel buffers hold
    let written = 0;
    let maxQueued = 0;
    const writer = (async () => {
      while (written < total) {
        await conn.write(chunk);
        written += chunk.length;
        maxQueued = Math.max(maxQueued, raw.writableLength);
      }
    })();
    await tick(300);
    assert.ok(written < total, 'the writer should be stalled by the paused reader');
    assert.ok(maxQueued <= 2 * chunk.length, `user-space queue grew to ${maxQueued}`);
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    sock.resume();
    await writer;
    while (got < total) await tick(10);
    assert.equal(got, total);
  } finally {
    conn.destroy();
    sock.destroy();
    server.close();
  }
});

let tmp = '';
let key = '';
let cert = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wharf-conn-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(tmp, 'k.pem'), '-out', join(tmp, 'c.pem')], { stdio: 'ignore' });
  key = readFileSync(join(tmp, 'k.pem'), 'utf8');
  cert = readFileSync(join(tmp, 'c.pem'), 'utf8');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Reads one CRLF line from a raw socket without consuming what follows (for the pre-TLS phase). */
function readRawLine(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (d: Buffer) => {
      acc += d.toString('latin1');
      const i = acc.indexOf('\r\n');
      if (i >= 0) {
        sock.off('data', onData);
        sock.pause();
        resolve(acc.slice(0, i));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.resume();
  });
}

test('STARTTLS over TCP: upgrade in place, pipelined pre-TLS input discarded', async () => {
  const bus = new EventBus();
  const notes: string[] = [];
  bus.on('transcript', (e) => e.dir === '*' && notes.push(e.text));
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const ctx = tls.createSecureContext({ key, cert });
  const serverSide = (async () => {
    const s = await new Promise<net.Socket>((r) => server.once('connection', r));
    const conn = new Connection(s, { maxLine: 1000, idleTimeoutMs: 5000, transcript: new Transcript(bus, 'smtp', 's1', 'x') });
    await conn.writeLine('220 ready');
    assert.equal(await conn.readLine(), 'STARTTLS');
    assert.equal(conn.secure, false);
    await conn.writeLine('220 2.0.0 go ahead');
    await conn.startTls(ctx);
    assert.equal(conn.secure, true);
    await rejectsCode(conn.startTls(ctx), 'WHARF_TLS_ACTIVE');
    const line = await conn.readLine();
    await conn.writeLine(`250 got ${line}`);
    assert.equal(await conn.readLine(), null);
    return line;
  })();
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  serverSide.catch(() => {});
  try {
    assert.equal(await readRawLine(sock), '220 ready');
    // The attacker's classic: a command pipelined in clear text behind STARTTLS.
    sock.write('STARTTLS\r\nMAIL FROM:<injected@evil>\r\n');
    assert.equal(await readRawLine(sock), '220 2.0.0 go ahead');
    const t = tls.connect({ socket: sock, ca: cert, servername: 'localhost' });
    await new Promise<void>((r, j) => {
      t.once('secureConnect', r);
      t.once('error', j);
    });
    t.write('EHLO inside\r\n');
    const reply = await new Promise<string>((r) => t.once('data', (d: Buffer) => r(d.toString())));
    assert.equal(reply, '250 got EHLO inside\r\n');
    t.end();
    assert.equal(await serverSide, 'EHLO inside');
    assert.ok(notes.some((n) => /^discarded \d+ octets/.test(n)), notes.join('|'));
    assert.ok(notes.some((n) => n.startsWith('TLS started')), notes.join('|'));
  } finally {
    sock.destroy();
    server.close();
  }
});

test('STARTTLS: a plain-text client after 220 makes the handshake fail cleanly', async () => {
  const { conn, sock, server } = await tcpPair({ idleTimeoutMs: 2000 });
  const ctx = tls.createSecureContext({ key, cert });
  const p = conn.startTls(ctx);
  sock.write('this is not a ClientHello\r\n');
  await rejectsCode(p, 'WHARF_TLS_FAILED');
  assert.equal(await conn.readLine(), null);
  sock.destroy();
  server.close();
});

test('startTlsClient: client-side upgrade against a TLS server socket', async () => {
  const ctx = tls.createSecureContext({ key, cert });
  const server = net.createServer((s) => {
    s.once('data', () => {
      s.write('220 go ahead\r\n');
      const t = new tls.TLSSocket(s, { isServer: true, secureContext: ctx });
      t.on('data', (d: Buffer) => t.write(`echo ${d.toString()}`));
      t.on('error', () => {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const conn = new Connection(sock, { maxLine: 1000, idleTimeoutMs: 3000 });
  await conn.writeLine('STARTTLS');
  assert.equal(await conn.readLine(), '220 go ahead');
  await conn.startTlsClient({ ca: cert, servername: 'localhost' });
  assert.equal(conn.secure, true);
  await conn.writeLine('EHLO me');
  assert.equal(await conn.readLine(), 'echo EHLO me');
  conn.destroy();
  server.close();
});

// ---- fuzz ---------------------------------------------------------------------------------------

test('fuzz: random bytes in random chunks never crash or hang readLine / readDotData', async () => {
  let seed = 0xc0ffee;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = [0x0d, 0x0a, 0x2e, 0x41, 0x00, 0xff, 0x20];
  for (let round = 0; round < 60; round++) {
    const { conn, client } = pair({ maxLine: 1 + rnd(40), idleTimeoutMs: 2000 });
    const len = rnd(3000);
    const bytes = Buffer.alloc(len);
    for (let i = 0; i < len; i++) bytes[i] = rnd(3) === 0 ? rnd(256) : alphabet[rnd(alphabet.length)]!;
    // feed in random chunks, then hang up
    void (async () => {
      for (let i = 0; i < len; ) {
        const n = 1 + rnd(200);
        client.sendRaw(bytes.subarray(i, i + n));
        i += n;
        if (rnd(4) === 0) await tick(0);
      }
      client.end();
    })();
    let data = 0;
    for (;;) {
      try {
        if (rnd(3) === 0) {
          await conn.readDotData((c) => {
            data += c.length;
          }, rnd(500));
          continue;
        }
        const line = await conn.readLineBytes();
        if (line === null) break;
        assert.ok(line.length <= conn.maxLine, 'line longer than maxLine');
        assert.equal(line.includes(0x0a), false);
      } catch (err) {
        if (isWharfError(err, 'WHARF_LINE_TOO_LONG')) continue;
        if (isWharfError(err, 'WHARF_CLOSED')) break;
        throw err;
      }
    }
    assert.equal(await conn.readLine(), null);
    assert.ok(data >= 0);
  }
});
