import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrlfDecoder, CrlfEncoder, DirSync, FromCrlf, Meter, SEND_CHUNK, ToCrlf, TransferFile, receiveFile, sendFile } from './transfer.js';

async function run(t: NodeJS.ReadWriteStream & import('node:stream').Transform, chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))),
    t,
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out).toString('latin1');
}

test('TYPE A out: LF -> CRLF, existing CRLF kept, across chunk boundaries', async () => {
  assert.equal(await run(new ToCrlf(), ['a\nb\r\nc\n']), 'a\r\nb\r\nc\r\n');
  assert.equal(await run(new ToCrlf(), ['a\r', '\nb', '\n', '\n']), 'a\r\nb\r\n\r\n');
});

test('TYPE A in: CRLF -> LF, lone CR kept, across chunk boundaries', async () => {
  assert.equal(await run(new FromCrlf(), ['a\r\nb\rc\r\n']), 'a\nb\rc\n');
  assert.equal(await run(new FromCrlf(), ['a\r', '\nb\r', 'c\r']), 'a\nb\rc\r');
  assert.equal(await run(new FromCrlf(), ['\r', '\r', '\n']), '\r\n');
});

test('Meter counts and stops past its limit', async () => {
  const m = new Meter();
  await run(m, ['abc', 'de']);
  assert.equal(m.bytes, 5);
  await assert.rejects(run(new Meter(4), ['abc', 'de']), (e: { code?: string }) => e.code === 'WHARF_QUOTA');
});

/** A connected loopback socket pair. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const a = await accepted;
  server.close();
  return [a, client];
}

function collect(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

const pool = { take: () => Buffer.allocUnsafeSlow(SEND_CHUNK), give: () => {} };

test('CrlfEncoder/CrlfDecoder keep their state across chunks', () => {
  const e = new CrlfEncoder();
  assert.equal(Buffer.concat([e.encode(Buffer.from('a\r')), e.encode(Buffer.from('\nb\n'))]).toString(), 'a\r\nb\r\n');
  const d = new CrlfDecoder();
  assert.equal(Buffer.concat([d.decode(Buffer.from('a\r')), d.decode(Buffer.from('\nb\r')), d.flush()]).toString(), 'a\nb\r');
});

test('receiveFile writes at a position, batches, counts, and leaves the handle open for fsync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-sink-'));
  try {
    const f = join(dir, 'x');
    const file = await TransferFile.open(f, 'w+');
    await file.fh.write('0123456789');
    const [server, client] = await socketPair();
    const progress = { bytes: 0 };
    const done = receiveFile(server, file, { position: 4, progress });
    client.end('abcd');
    await done;
    await file.fh.sync();
    await file.close();
    await file.close(); // idempotent
    assert.equal(readFileSync(f, 'utf8'), '0123abcd89');
    assert.equal(progress.bytes, 4);
    // 3 MiB with a small budget refusal at the end: WHARF_QUOTA, and nothing of the refused chunk
    const big = randomBytes(3 * 1024 * 1024);
    const g = await TransferFile.open(join(dir, 'y'), 'w');
    const [s2, c2] = await socketPair();
    let room = big.length - 1;
    const budget = { take: (n: number) => (room >= n ? ((room -= n), true) : false) };
    const p2 = receiveFile(s2, g, { position: 0, progress: { bytes: 0 }, budget });
    c2.end(big);
    await assert.rejects(p2, (e: { code?: string }) => e.code === 'WHARF_QUOTA');
    await g.close();
    assert.ok(readFileSync(join(dir, 'y')).length < big.length);
    assert.ok(big.subarray(0, readFileSync(join(dir, 'y')).length).equals(readFileSync(join(dir, 'y'))));
    c2.destroy();
    s2.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('receiveFile rejects when the data connection closes without EOF', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-sink-'));
  try {
    const file = await TransferFile.open(join(dir, 'x'), 'w');
    const [server, client] = await socketPair();
    const p = receiveFile(server, file, { position: 0, progress: { bytes: 0 } });
    client.write('partial');
    await new Promise((r) => setTimeout(r, 20));
    server.destroy();
    await assert.rejects(p, (e: { code?: string }) => e.code === 'ERR_STREAM_PREMATURE_CLOSE');
    await file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sendFile sends from an offset, in TYPE A too, reusing two buffers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-send-'));
  try {
    const content = randomBytes(SEND_CHUNK * 3 + 1234);
    writeFileSync(join(dir, 'x'), content);
    const file = await TransferFile.open(join(dir, 'x'), 'r');
    const offset = 1000;
    const first = pool.take();
    const { bytesRead } = await file.fh.read(first, 0, first.length, offset);
    const [server, client] = await socketPair();
    const got = collect(client);
    const progress = { bytes: 0 };
    let taken = 0;
    const given: Buffer[] = [];
    await sendFile(file, server, {
      position: offset,
      first: { buf: first, bytes: bytesRead },
      length: content.length - offset,
      progress,
      pool: { take: () => (taken++, pool.take()), give: (b) => given.push(b) },
    });
    assert.ok((await got).equals(content.subarray(offset)));
    assert.equal(progress.bytes, content.length - offset);
    assert.equal(taken, 1, 'one more buffer, whatever the size');
    assert.equal(given.length, 2, 'both go back to the pool');
    await file.close();
    // TYPE A
    writeFileSync(join(dir, 'a'), 'one\ntwo\r\nthree\n');
    const fa = await TransferFile.open(join(dir, 'a'), 'r');
    const b = pool.take();
    const r = await fa.fh.read(b, 0, b.length, 0);
    const [s2, c2] = await socketPair();
    const got2 = collect(c2);
    await sendFile(fa, s2, { position: 0, first: { buf: b, bytes: r.bytesRead }, length: r.bytesRead, encoder: new CrlfEncoder(), progress: { bytes: 0 }, pool });
    assert.equal((await got2).toString(), 'one\r\ntwo\r\nthree\r\n');
    await fa.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sendFile rejects when the client goes away', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-send-'));
  try {
    writeFileSync(join(dir, 'x'), randomBytes(8 * 1024 * 1024));
    const file = await TransferFile.open(join(dir, 'x'), 'r');
    const first = pool.take();
    const { bytesRead } = await file.fh.read(first, 0, first.length, 0);
    const [server, client] = await socketPair();
    client.pause();
    const p = sendFile(file, server, { position: 0, first: { buf: first, bytes: bytesRead }, length: 8 * 1024 * 1024, progress: { bytes: 0 }, pool });
    setTimeout(() => client.destroy(), 50);
    await assert.rejects(p);
    await file.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DirSync: callers waiting together share one fsync; each is covered by one begun after it asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-dirsync-'));
  try {
    const ds = new DirSync();
    await ds.sync(dir);
    assert.equal(ds.count, 1);
    // six at once share one fsync (or two, when the first began before the others asked)
    await Promise.all(Array.from({ length: 6 }, () => ds.sync(dir)));
    assert.ok(ds.count >= 2 && ds.count <= 3, String(ds.count));
    // one asking while a round runs gets the next round
    const first = ds.sync(dir);
    await new Promise((r) => setTimeout(r, 0));
    const before = ds.count;
    const second = ds.sync(dir);
    await first;
    await second;
    assert.ok(ds.count > before, 'a round begun after the second asked');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
