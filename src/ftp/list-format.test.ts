import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EntryInfo } from './list-format.js';
import { featMlst, formatListLine, formatMlsxLine, listable, parseFactList, DEFAULT_FACTS } from './list-format.js';

function entry(name: string, kind: 'file' | 'dir', size: number, mtime: Date, mode = kind === 'dir' ? 0o40755 : 0o100644): EntryInfo {
  return {
    name,
    stat: {
      mode,
      size,
      mtime,
      nlink: 1,
      ino: 255,
      dev: 16,
      isDirectory: () => kind === 'dir',
      isFile: () => kind === 'file',
      isSymbolicLink: () => false,
    },
  };
}

const now = new Date(Date.UTC(2026, 10, 23, 12, 0, 0));

test('LIST line in ls -l style, recent files show the time, old ones the year', () => {
  assert.equal(formatListLine(entry('a.txt', 'file', 1234, new Date(Date.UTC(2026, 10, 3, 9, 5))), now), '-rw-r--r--   1 ftp      ftp              1234 Nov  3 09:05 a.txt');
  assert.equal(formatListLine(entry('old', 'dir', 4096, new Date(Date.UTC(2020, 0, 15))), now), 'drwxr-xr-x   1 ftp      ftp              4096 Jan 15  2020 old');
  assert.match(formatListLine(entry('with space', 'file', 0, now), now), / with space$/);
});

test('MLSD facts (RFC 3659 §7): "fact=value;… name", perm depends on access', () => {
  const e = entry('a.txt', 'file', 12, new Date(Date.UTC(2026, 10, 23, 10, 59, 47)));
  assert.equal(formatMlsxLine(e, { facts: DEFAULT_FACTS, readOnly: false }), 'type=file;size=12;modify=20261123105947;perm=adfrw;unique=10gff; a.txt');
  assert.equal(formatMlsxLine(e, { facts: ['type', 'perm'], readOnly: true }), 'type=file;perm=r; a.txt');
  const d = entry('docs', 'dir', 4096, new Date(Date.UTC(2026, 0, 1)));
  assert.equal(formatMlsxLine(d, { facts: ['type', 'size', 'perm', 'unix.mode'], readOnly: false }), 'type=dir;perm=cdeflmp;UNIX.mode=0755; docs');
  assert.equal(formatMlsxLine(d, { facts: ['type'], kind: 'cdir', readOnly: false }), 'type=cdir; docs');
});

test('FEAT MLST line marks the selected facts; OPTS MLST keeps known facts only', () => {
  assert.equal(featMlst(['type', 'size']), 'MLST Type*;Size*;Modify;Perm;Unique;UNIX.mode;');
  assert.deepEqual(parseFactList('Type;SIZE;bogus;unix.mode;'), ['type', 'size', 'unix.mode']);
  assert.deepEqual(parseFactList(''), []);
});

test('names with CR or LF are not listable', () => {
  assert.equal(listable('ok name'), true);
  assert.equal(listable('bad\nname'), false);
  assert.equal(listable('bad\rname'), false);
});
