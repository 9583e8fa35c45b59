import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Connection } from '../../core/connection.js';
import { socketPair } from '../../core/testing.js';
import { Args, ParseError, STAR, formatSet, literalMarker, resolveSet, splitCommand } from './parser.js';
import { readCommand } from './reader.js';
import type { ReadResult } from './reader.js';
import { astr, formatInternalDate, nstr, parseImapDate, str } from './compiler.js';

describe('IMAP argument cursor', () => {
  it('reads atoms, quoted strings with escapes, literals and lists', () => {
    const a = new Args('abc "q \\"x\\" \\\\" {3}\r\n (a "b c" NIL) NIL', [Buffer.from('xyz')]);
    assert.equal(a.atom(), 'abc');
    a.sp();
    assert.equal(a.astring(), 'q "x" \\');
    a.sp();
    assert.equal(a.astring(), 'xyz');
    a.sp();
    assert.deepEqual(
      a.list(() => (a.peek() === '"' || a.accept('NIL') ? (a.text[a.pos - 1] === 'L' ? null : a.string()) : a.atom())),
      ['a', 'b c', null],
    );
    a.sp();
    assert.equal(a.nstring(), null);
    a.end();
  });

  it('refuses bad syntax with ParseError', () => {
    for (const [text, fn] of [
      ['"unterminated', (a: Args) => a.astring()],
      ['"bad \\n escape"', (a: Args) => a.astring()],
      ['(a b', (a: Args) => a.list(() => a.atom())],
      ['{5}\r\n', (a: Args) => a.astring()], // literal missing
      ['0', (a: Args) => a.seqSet()],
      ['4294967296', (a: Args) => a.seqSet()],
      ['', (a: Args) => a.atom()],
    ] as const) {
      assert.throws(() => fn(new Args(text)), ParseError, text);
    }
  });

  it('reads FETCH atoms with sections and partials', () => {
    const a = new Args('BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> UID');
    assert.equal(a.fetchAtom(), 'BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>');
    a.sp();
    assert.equal(a.fetchAtom(), 'UID');
    assert.throws(() => new Args('BODY[1').fetchAtom(), ParseError);
  });

  it('parses and resolves sequence sets, "*" and reversed ranges, without expanding them', () => {
    const s = new Args('1:3,7,*,9:5').seqSet();
    assert.deepEqual(s.ranges, [[1, 3], [7, 7], [STAR, STAR], [9, 5]]);
    assert.deepEqual(resolveSet(s, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 11), [1, 2, 3, 5, 6, 7, 8, 9, 11]);
    const huge = new Args('1:4294967295').seqSet();
    assert.deepEqual(resolveSet(huge, [5, 10], 10), [5, 10]);
    // RFC 3501 §9: "n:*" includes the largest value even when n is larger.
    assert.deepEqual(resolveSet(new Args('559:*').seqSet(), [3, 9], 9), [9]);
    assert.deepEqual(resolveSet(new Args('*:*').seqSet(), [3, 9], 9), [9]);
    assert.equal(new Args('$').seqSet().saved, true);
  });

  it('formats number sets compactly', () => {
    assert.equal(formatSet([1, 2, 3, 7, 9, 10]), '1:3,7,9:10');
    assert.equal(formatSet([]), '');
  });

  it('finds literal markers and splits tag and verb', () => {
    assert.deepEqual(literalMarker('a APPEND x {12}'), { size: 12, nonSync: false, at: 11 });
    assert.equal(literalMarker('a APPEND x {12+}')!.nonSync, true);
    assert.equal(literalMarker('a APPEND x {12-}')!.nonSync, true);
    assert.equal(literalMarker('a NOOP'), null);
    assert.equal(splitCommand('a1 uid fetch 1 UID')!.verb, 'UID');
    assert.equal(splitCommand('+ x'), null);
    assert.equal(splitCommand('* x'), null);
  });
});

describe('IMAP response compiler', () => {
  it('quotes when it can, uses literals when it must', () => {
    assert.equal(str('a "b" \\'), '"a \\"b\\" \\\\"');
    assert.equal(str('two\r\nlines'), '{10}\r\ntwo\r\nlines');
    assert.equal(str('café'), '{5}\r\ncafé');
    assert.equal(str('café', true), '"café"');
    assert.equal(nstr(null), 'NIL');
    assert.equal(astr('INBOX'), 'INBOX');
    assert.equal(astr('My Box'), '"My Box"');
    assert.equal(astr(''), '""');
  });

  it('formats and parses dates', () => {
    assert.equal(formatInternalDate(new Date(Date.UTC(2026, 10, 3, 9, 5, 7))), '"03-Nov-2026 09:05:07 +0000"');
    assert.equal(parseImapDate('03-Nov-2026 10:05:07 +0100', true)!.toISOString(), '2026-11-03T09:05:07.000Z');
    assert.equal(parseImapDate(' 3-Nov-2026 10:05:07 -0000', true)!.toISOString(), '2026-11-03T10:05:07.000Z');
    assert.equal(parseImapDate('1-Feb-2020', false)!.toISOString(), '2020-02-01T00:00:00.000Z');
    assert.equal(parseImapDate('31-Foo-2020', false), null);
    assert.equal(parseImapDate('03-Nov-2026 25:05:07 +0100', true), null);
  });
});

/** Sends `bytes` split at `at` over a socket pair and reads one command. */
async function readSplit(bytes: Buffer, at: number, opts: { maxLiteral?: number; stream?: boolean } = {}): Promise<{ r: ReadResult; got: string[]; streamed: Buffer[] }> {
  const { server, client } = socketPair();
  const conn = new Connection(server, { maxLine: 200, idleTimeoutMs: 2000 });
  const streamed: Buffer[] = [];
  const p = readCommand(conn, {
    maxLiteral: opts.maxLiteral ?? 1000,
    maxBuffered: 1000,
    ...(opts.stream ? { onLiteral: async () => ({ kind: 'sink' as const, write: async (c: Buffer) => void streamed.push(Buffer.from(c)) }) } : {}),
  });
  client.stream.write(bytes.subarray(0, at));
  await new Promise((r) => setImmediate(r));
  client.stream.write(bytes.subarray(at));
  const r = await p;
  await new Promise((r2) => setImmediate(r2));
  const got = [...client.received];
  client.stream.destroy();
  return { r, got, streamed };
}

describe('IMAP command reader', () => {
  const cmd = Buffer.from('a1 LOGIN {3}\r\nbob {7+}\r\nhun\r\ngy\r\n');
  it('reads a command with synchronising and non-synchronising literals, split at every byte', async () => {
    for (let at = 0; at <= cmd.length; at++) {
      const { r, got } = await readSplit(cmd, at);
      assert.equal(r.kind, 'command', `split at ${at}`);
      if (r.kind !== 'command') continue;
      assert.equal(r.text, 'a1 LOGIN {3}\r\n {7+}\r\n');
      assert.deepEqual(r.literals.map((l) => (Buffer.isBuffer(l) ? l.toString() : '?')), ['bob', 'hun\r\ngy']);
      assert.deepEqual(got, ['+ Ready for literal data'], `one continuation only, split at ${at}`);
      const a = new Args(r.text, r.literals);
      a.pos = 'a1 LOGIN'.length;
      a.sp();
      assert.equal(a.astring(), 'bob');
      a.sp();
      assert.equal(a.astring(), 'hun\r\ngy');
      a.end();
    }
  });

  it('streams a literal to a sink when asked', async () => {
    const msg = Buffer.from('a APPEND INBOX {11}\r\nhello world\r\n');
    for (const at of [0, 5, 20, 25, msg.length]) {
      const { r, streamed } = await readSplit(msg, at, { stream: true });
      assert.equal(r.kind, 'command');
      assert.equal(Buffer.concat(streamed).toString(), 'hello world');
    }
  });

  it('refuses a synchronising literal over the limit before "+", and BYEs a non-synchronising one', async () => {
    const { r, got } = await readSplit(Buffer.from('t APPEND INBOX {5000}\r\n'), 3, { maxLiteral: 1000 });
    assert.deepEqual(r, { kind: 'answer', line: 't NO [TOOBIG] literal too large (limit 1000 octets)' });
    assert.deepEqual(got, []);
    const r2 = await readSplit(Buffer.from('t APPEND INBOX {5000+}\r\nxx'), 3, { maxLiteral: 1000 });
    assert.equal(r2.r.kind, 'fatal');
  });

  it('answers BAD to a line that is too long and stays in sync', async () => {
    const { r } = await readSplit(Buffer.from(`t NOOP ${'x'.repeat(500)}\r\n`), 10);
    assert.equal(r.kind, 'answer');
    if (r.kind === 'answer') assert.match(r.line, /BAD/);
  });

  it('reports EOF in the middle of a literal as a closed connection', async () => {
    const { server, client } = socketPair();
    const conn = new Connection(server, { maxLine: 200, idleTimeoutMs: 2000 });
    const p = readCommand(conn, { maxLiteral: 1000, maxBuffered: 1000 });
    client.stream.write('a LOGIN {10+}\r\nabc');
    setImmediate(() => client.stream.destroy());
    await assert.rejects(p, /closed/);
  });
});
