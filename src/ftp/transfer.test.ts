import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink, FromCrlf, Meter, ToCrlf } from './transfer.js';

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

test('FileSink writes at a position and leaves the handle open for fsync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-sink-'));
  try {
    const f = join(dir, 'x');
    const fh = await open(f, 'w+');
    await fh.write('0123456789');
    await pipeline(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), new FileSink(fh, 4));
    await fh.sync();
    await fh.close();
    assert.equal(readFileSync(f, 'utf8'), '0123abcd89');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
