import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { dotStuff, dotStuffAll, dotStuffEnd, newDotStuffState } from '../core/dot-codec.js';
import { crlfOnly, multiline, stuffChunk } from './wire.js';

/** Deterministic pseudo-random octets biased towards ".", CR, LF (xorshift). */
function randomData(seed: number, len: number): Buffer {
  let x = seed || 1;
  const alphabet = [0x2e, 0x0d, 0x0a, 0x41, 0x20, 0x2e, 0x0d, 0x0a];
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = alphabet[(x >>> 0) % alphabet.length]!;
  }
  return out;
}

/** CRLF-only text with some lines starting with dots. */
function crlfData(seed: number, lines: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) parts.push((i * seed) % 3 === 0 ? `.line ${i}\r\n` : (i * seed) % 5 === 0 ? '..\r\n' : `text ${i}\r\n`);
  return Buffer.from(parts.join(''));
}

/** The reference: dot-codec's dotStuff over the same chunks. */
function reference(chunks: Buffer[]): Buffer {
  const st = newDotStuffState();
  const out = chunks.map((c) => dotStuff(c, st));
  return Buffer.concat([...out, dotStuffEnd(st)]);
}

function viaStuffChunk(chunks: Buffer[]): Buffer {
  const st = newDotStuffState();
  const out = chunks.map((c) => stuffChunk(c, st));
  return Buffer.concat([...out, dotStuffEnd(st)]);
}

function split(b: Buffer, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  let x = seed;
  while (i < b.length) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (x % 40);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('POP3 wire encoding', () => {
  it('crlfOnly accepts CRLF line ends only', () => {
    assert.equal(crlfOnly(Buffer.from('a\r\nb\r\n')), true);
    assert.equal(crlfOnly(Buffer.from('')), true);
    assert.equal(crlfOnly(Buffer.from('no line end')), true);
    assert.equal(crlfOnly(Buffer.from('a\nb\r\n')), false, 'bare LF');
    assert.equal(crlfOnly(Buffer.from('\nb')), false, 'bare LF first');
    assert.equal(crlfOnly(Buffer.from('a\rb\r\n')), false, 'bare CR');
    assert.equal(crlfOnly(Buffer.from('a\r\n\r')), false, 'CR at the end');
    assert.equal(crlfOnly(Buffer.from('a\r\r\n')), false, 'CR CR LF');
  });

  it('stuffChunk doubles leading dots and leaves clean data untouched (same buffer)', () => {
    const clean = Buffer.from('Subject: x\r\n\r\nhello\r\n');
    const st = newDotStuffState();
    assert.equal(stuffChunk(clean, st), clean);
    assert.equal(stuffChunk(Buffer.from('.a\r\n..b\r\nc.\r\n.'), newDotStuffState()).toString(), '..a\r\n...b\r\nc.\r\n..');
    // A chunk that starts mid-line keeps its leading dot.
    const mid = newDotStuffState();
    stuffChunk(Buffer.from('abc'), mid);
    assert.equal(stuffChunk(Buffer.from('.x\r\n'), mid).toString(), '.x\r\n');
  });

  it('is byte for byte dotStuff on random data cut anywhere', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const data = seed % 2 ? randomData(seed, 1 + (seed % 97) * 3) : crlfData(seed, 1 + (seed % 50));
      const chunks = split(data, seed);
      const want = reference(chunks);
      assert.deepEqual(viaStuffChunk(chunks), want, `seed ${seed}, chunks`);
      assert.deepEqual(viaStuffChunk([data]), reference([data]), `seed ${seed}, whole`);
      assert.deepEqual(multiline('+OK x', chunks), Buffer.concat([Buffer.from('+OK x\r\n'), want]), `seed ${seed}, multiline`);
    }
  });

  it('multiline builds status, prefix and body with the right terminator', () => {
    const prefix = Buffer.from('Return-Path: <a@b>\r\n');
    assert.equal(multiline('+OK 30 octets', [prefix, Buffer.from('\r\n.hi\r\n')]).toString(), '+OK 30 octets\r\nReturn-Path: <a@b>\r\n\r\n..hi\r\n.\r\n');
    assert.equal(multiline('+OK', [Buffer.from('no final line end')]).toString(), '+OK\r\nno final line end\r\n.\r\n');
    assert.equal(multiline('+OK', []).toString(), '+OK\r\n.\r\n');
    assert.equal(multiline('+OK', [Buffer.from('bare\nlf\r\n.')]).toString(), `+OK\r\n${dotStuffAll('bare\nlf\r\n.').toString()}`);
  });
});

describe('POP3 wire status line', () => {
  it('keeps a non-ASCII status line as UTF-8', () => {
    assert.equal(multiline('+OK café', [Buffer.from('x\r\n')]).toString('utf8'), '+OK café\r\nx\r\n.\r\n');
  });
});
