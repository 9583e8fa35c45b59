import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Writer, canonicalName, isSubdomain, joinNames, labelCount, labelsToName, nameToLabels, nameWireLength,
  namesEqual, parentName, readName, relativeName, writeName,
} from './name.js';
import { DnsWireError } from './errors.js';

const bytes = (...xs: (number | string)[]): Uint8Array =>
  Uint8Array.from(xs.flatMap((x) => (typeof x === 'string' ? [...Buffer.from(x, 'latin1')] : [x])));

test('labels: relative and absolute names are the same; root is empty', () => {
  assert.deepEqual(nameToLabels('www.hamburger.edu').map((l) => Buffer.from(l).toString()), ['www', 'hamburger', 'edu']);
  assert.deepEqual(nameToLabels('www.hamburger.edu.'), nameToLabels('www.hamburger.edu'));
  assert.deepEqual(nameToLabels('.'), []);
  assert.deepEqual(nameToLabels(''), []);
  assert.equal(labelsToName([]), '.');
});

test('escapes: \\. inside a label, \\DDD, backslash; formatting escapes them back', () => {
  const l = nameToLabels('a\\.b.c\\032d.e\\\\f');
  assert.deepEqual(l.map((x) => Buffer.from(x).toString('latin1')), ['a.b', 'c d', 'e\\f']);
  assert.equal(labelsToName(l), 'a\\.b.c\\032d.e\\\\f.');
  assert.equal(labelsToName([Uint8Array.of(0, 0xff, 0x41)]), '\\000\\255A.');
});

test('bad names are refused', () => {
  assert.throws(() => nameToLabels('a..b'), DnsWireError);
  assert.throws(() => nameToLabels('.a'), DnsWireError);
  assert.throws(() => nameToLabels('x'.repeat(64) + '.com'), /63/);
  nameToLabels('x'.repeat(63) + '.com');
  assert.throws(() => nameToLabels('a\\'), /backslash/);
  assert.throws(() => nameToLabels('a\\25'), /DDD/);
  assert.throws(() => nameToLabels('a\\256'), /255/);
  // 255 bytes on the wire is the limit: 4 labels of 63 = 4*64 + 1 = 257 too long; 3*64+62+1 ok.
  const ok = ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.');
  assert.equal(nameWireLength(ok), 255);
  assert.throws(() => nameToLabels(ok + 'x'), /255/);
  assert.throws(() => canonicalName(ok + 'x'), /255/);
});

test('comparison is ASCII case-insensitive; canonical form is lower case with a dot', () => {
  assert.equal(canonicalName('WWW.Hamburger.EDU'), 'www.hamburger.edu.');
  assert.equal(canonicalName('.'), '.');
  assert.equal(canonicalName('\\065bc.'), 'abc.');
  assert.ok(namesEqual('Mail.hamburger.edu', 'mail.HAMBURGER.edu.'));
  assert.ok(!namesEqual('mail.hamburger.edu', 'mail.crepes.fr'));
  // Only ASCII folds: \196 (Ä in latin1) and \228 (ä) differ.
  assert.ok(!namesEqual('\\196.x', '\\228.x'));
});

test('isSubdomain: equal, below, not a label-boundary suffix, escaped dots', () => {
  assert.ok(isSubdomain('www.hamburger.edu', 'hamburger.edu.'));
  assert.ok(isSubdomain('hamburger.edu', 'HAMBURGER.edu'));
  assert.ok(isSubdomain('anything', '.'));
  assert.ok(!isSubdomain('xhamburger.edu', 'hamburger.edu'));
  assert.ok(!isSubdomain('edu', 'hamburger.edu'));
  assert.ok(!isSubdomain('a\\.hamburger.edu', 'hamburger.edu'), 'the dot is inside the label "a.hamburger"');
  assert.ok(isSubdomain('a\\\\.hamburger.edu', 'hamburger.edu'), 'escaped backslash, then a real dot');
});

test('helpers: labelCount, parentName, joinNames, relativeName', () => {
  assert.equal(labelCount('www.hamburger.edu.'), 3);
  assert.equal(labelCount('.'), 0);
  assert.equal(parentName('www.hamburger.edu'), 'hamburger.edu.');
  assert.equal(parentName('edu.'), '.');
  assert.equal(parentName('.'), undefined);
  assert.equal(joinNames('www', 'hamburger.edu.'), 'www.hamburger.edu.');
  assert.equal(relativeName('www.hamburger.edu.', 'hamburger.edu.'), 'www');
  assert.equal(relativeName('Hamburger.edu.', 'hamburger.edu.'), '@');
  assert.equal(relativeName('crepes.fr.', 'hamburger.edu.'), 'crepes.fr.');
});

test('writeName compresses repeated suffixes case-insensitively', () => {
  const w = new Writer(8);
  w.pos = 12;
  const t = new Map<string, number>();
  writeName(w, 'www.hamburger.edu', t);
  const first = w.pos;
  writeName(w, 'MAIL.Hamburger.EDU.', t);
  // "mail" label (5 bytes) + pointer (2 bytes) to "hamburger.edu" at offset 16.
  assert.equal(w.pos - first, 7);
  assert.deepEqual([...w.buf.subarray(first + 5, first + 7)], [0xc0, 16]);
  writeName(w, 'www.hamburger.edu', t);
  assert.equal(w.pos - first, 9, 'whole name becomes one pointer');
  const buf = w.result();
  assert.equal(readName(buf, first).name, 'MAIL.hamburger.edu.', 'decoded case comes from the data pointed at');
  assert.deepEqual(readName(buf, first + 7), { name: 'www.hamburger.edu.', next: first + 9 });
});

test('readName: root, plain, pointer chain', () => {
  assert.deepEqual(readName(bytes(0), 0), { name: '.', next: 1 });
  const b = bytes(3, 'edu', 0, 9, 'hamburger', 0xc0, 0, 3, 'www', 0xc0, 5);
  assert.deepEqual(readName(b, 5), { name: 'hamburger.edu.', next: 17 });
  assert.deepEqual(readName(b, 17), { name: 'www.hamburger.edu.', next: 23 });
});

test('readName refuses loops, forward and self pointers, truncation, bad label types', () => {
  // Pointer to itself.
  assert.throws(() => readName(bytes(0xc0, 0), 0), /backwards/);
  // Forward pointer.
  assert.throws(() => readName(bytes(0xc0, 2, 0), 0), /backwards/);
  // Loop through a label: at 0 label "a", at 2 pointer to 0 — reading from 2 would go 2->0->2.
  assert.throws(() => readName(bytes(1, 'a', 0xc0, 0), 2), /backwards/);
  // Truncated.
  assert.throws(() => readName(bytes(3, 'ab'), 0), /past the end/);
  assert.throws(() => readName(bytes(1, 'a'), 0), /past the end/);
  assert.throws(() => readName(bytes(0xc0), 0), /pointer/);
  assert.throws(() => readName(bytes(0x40, 0), 0), /label type/);
  assert.throws(() => readName(bytes(0x80, 0), 0), /label type/);
  // Too long after decompression: chain of 63-byte labels.
  const parts: number[] = [];
  const lab = [63, ...Buffer.from('x'.repeat(63))];
  parts.push(...lab, 0); // name at 0: one label
  let prev = 0;
  for (let i = 0; i < 4; i++) {
    const at = parts.length;
    parts.push(...lab, 0xc0, prev);
    prev = at;
  }
  assert.throws(() => readName(Uint8Array.from(parts), prev), /255/);
  // A name must end inside its bound.
  assert.throws(() => readName(bytes(1, 'a', 0), 0, 2), /past the end/);
});
