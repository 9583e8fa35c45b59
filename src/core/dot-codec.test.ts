import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DotUnstuffer, dotStuff, dotStuffAll, dotStuffEnd, newDotStuffState } from './dot-codec.js';

/** Feeds `input` in pieces cut at `cuts`, returns concatenated data, done, rest. */
function unstuff(input: string | Buffer, cuts: number[] = []): { data: string; done: boolean; rest: string } {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  const u = new DotUnstuffer();
  const parts: Buffer[] = [];
  let rest = Buffer.alloc(0);
  let done = false;
  let from = 0;
  for (const c of [...cuts, buf.length]) {
    const r = u.push(buf.subarray(from, c));
    parts.push(r.data);
    if (r.done) {
      done = true;
      rest = Buffer.concat([r.rest, buf.subarray(c)]);
      break;
    }
    from = c;
  }
  return { data: Buffer.concat(parts).toString('latin1'), done, rest: rest.toString('latin1') };
}

test('unstuff: simple block, leading dots removed, rest handed back', () => {
  const r = unstuff('Subject: x\r\n\r\n..hidden\r\n.a\r\nend\r\n.\r\nQUIT\r\n');
  assert.deepEqual(r, { data: 'Subject: x\r\n\r\n.hidden\r\na\r\nend\r\n', done: true, rest: 'QUIT\r\n' });
});

test('unstuff: empty block and first-line terminator', () => {
  assert.deepEqual(unstuff('.\r\n'), { data: '', done: true, rest: '' });
  assert.deepEqual(unstuff('.\r\nNOOP\r\n'), { data: '', done: true, rest: 'NOOP\r\n' });
});

test('unstuff: every split position of the terminator and stuffed dots', () => {
  const input = 'a\r\n..b\r\n.\r\nc\r\n.\r\nRSET\r\n';
  const whole = unstuff(input);
  // NB: ".\r\n" after a clean CRLF ends the block; "c" is next-command data.
  assert.deepEqual(whole, { data: 'a\r\n.b\r\n', done: true, rest: 'c\r\n.\r\nRSET\r\n' });
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j += 3) {
      assert.deepEqual(unstuff(input, [i, j]), whole, `cuts ${i},${j}`);
    }
  }
  // one byte at a time
  const cuts = Array.from({ length: input.length }, (_, k) => k);
  assert.deepEqual(unstuff(input, cuts), whole);
});

test('unstuff: bare LF converted, never a terminator (smuggling forms)', () => {
  assert.deepEqual(unstuff('a\nb\r\n.\r\n'), { data: 'a\r\nb\r\n', done: true, rest: '' });
  // "\n.\r\n" is not the end: the dot line is data
  assert.deepEqual(unstuff('a\n.\r\nMAIL FROM:<x>\r\n'), { data: 'a\r\n.\r\nMAIL FROM:<x>\r\n', done: false, rest: '' });
  // "\r\n.\n" is not the end either
  assert.deepEqual(unstuff('a\r\n.\nRCPT\r\n'), { data: 'a\r\n.\r\nRCPT\r\n', done: false, rest: '' });
  // "\r.\r\n" is not the end (bare CR is data)
  assert.deepEqual(unstuff('a\r.\r\nX'), { data: 'a\r.\r\nX', done: false, rest: '' });
  // after a smuggling attempt, a real terminator still ends
  assert.deepEqual(unstuff('a\n.\r\nb\r\n.\r\n'), { data: 'a\r\n.\r\nb\r\n', done: true, rest: '' });
});

test('unstuff: dot followed by bare CR', () => {
  assert.deepEqual(unstuff('.\rx\r\n.\r\n'), { data: '\rx\r\n', done: true, rest: '' });
  assert.deepEqual(unstuff('.\r\rx\r\n.\r\n'), { data: '\r\rx\r\n', done: true, rest: '' });
});

test('unstuff: push after done returns input as rest', () => {
  const u = new DotUnstuffer();
  assert.equal(u.push(Buffer.from('.\r\n')).done, true);
  const r = u.push(Buffer.from('more'));
  assert.equal(r.done, true);
  assert.equal(r.rest.toString(), 'more');
  assert.equal(r.data.length, 0);
});

test('dotStuff: leading dots doubled, line ends normalised, terminator', () => {
  assert.equal(dotStuffAll('.a\r\nb\r\n.\r\n').toString(), '..a\r\nb\r\n..\r\n.\r\n');
  assert.equal(dotStuffAll('x\ny').toString(), 'x\r\ny\r\n.\r\n');
  assert.equal(dotStuffAll('').toString(), '.\r\n');
  assert.equal(dotStuffAll('a\r\n').toString(), 'a\r\n.\r\n');
  // bare CR becomes CRLF and a dot after it is stuffed: no "\r.\r\n" can reach a peer
  assert.equal(dotStuffAll('a\r.\r\nb').toString(), 'a\r\n..\r\nb\r\n.\r\n');
  assert.equal(dotStuffAll('a\r').toString(), 'a\r\n.\r\n');
  assert.equal(dotStuffAll('a\n.\r\nb').toString(), 'a\r\n..\r\nb\r\n.\r\n');
});

test('dotStuff: state carries across chunk boundaries', () => {
  const payload = 'l1\r\n.l2\r\n..\r\nl3\rz\n.';
  const whole = dotStuffAll(payload).toString();
  for (let i = 0; i <= payload.length; i++) {
    const st = newDotStuffState();
    const out = Buffer.concat([
      dotStuff(Buffer.from(payload.slice(0, i)), st),
      dotStuff(Buffer.from(payload.slice(i)), st),
      dotStuffEnd(st),
    ]).toString();
    assert.equal(out, whole, `split at ${i}`);
  }
});

test('round trip: random payloads survive stuff then unstuff', () => {
  const alphabet = ['.', '\r', '\n', 'a', 'b', '\r\n', '.\r\n', '\r\n.\r\n', '..', ' '];
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let t = 0; t < 500; t++) {
    let s = '';
    const len = rnd(40);
    for (let k = 0; k < len; k++) s += alphabet[rnd(alphabet.length)];
    // What a receiver should store: bare CR / bare LF normalised to CRLF, final line terminated.
    let norm = s.replace(/\r\n|\r|\n/g, '\r\n');
    if (norm.length > 0 && !norm.endsWith('\r\n')) norm += '\r\n';
    const wire = dotStuffAll(s);
    const cut = rnd(wire.length + 1);
    const r = unstuff(wire, [cut]);
    assert.equal(r.done, true, JSON.stringify(s));
    assert.equal(r.rest, '');
    assert.equal(r.data, norm, JSON.stringify(s));
  }
});
