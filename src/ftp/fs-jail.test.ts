import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplyError } from '../core/errors.js';
import type { FtpReply } from './codes.js';
import { FsJail } from './fs-jail.js';

let base: string;
let home: string;
let outside: string;
let jail: FsJail;

before(async () => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ftp-jail-')));
  home = join(base, 'home');
  outside = join(base, 'outside');
  mkdirSync(join(home, 'docs'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(home, 'docs', 'a.txt'), 'a');
  writeFileSync(join(outside, 'secret'), 's');
  symlinkSync(join(outside, 'secret'), join(home, 'link-file-out'));
  symlinkSync(outside, join(home, 'link-dir-out'));
  symlinkSync(join(home, 'docs'), join(home, 'link-in'));
  symlinkSync(join(outside, 'nothing-yet'), join(home, 'dangling-out'));
  jail = await FsJail.open(home);
});

after(() => rmSync(base, { recursive: true, force: true }));

async function code(p: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ReplyError) return (err.reply as FtpReply).code;
    throw err;
  }
}

const inside = (real: string) => real === jail.root || real.startsWith(jail.root + '/');

test('textual traversal stops at the home', async () => {
  for (const attack of ['..', '../..', '../../etc/passwd', '/..', '/../..', 'docs/../../..', '/../../../../etc', './../.']) {
    const v = jail.virtualPath('/docs', attack);
    assert.ok(v.startsWith('/'), attack);
    assert.ok(!v.includes('..'), attack);
    const r = await jail.resolveExisting('/docs', attack).catch(() => null);
    if (r) assert.ok(inside(r.real), `${attack} -> ${r.real}`);
  }
  assert.equal((await jail.resolveExisting('/docs', '../../etc/passwd').catch(() => null)), null);
  assert.equal((await jail.resolveExisting('/', '/..')).real, jail.root);
});

test('absolute paths are inside the home', async () => {
  assert.equal((await jail.resolveExisting('/', '/docs/a.txt')).real, join(home, 'docs', 'a.txt'));
  assert.equal(await code(jail.resolveExisting('/', '/etc/passwd')), 550);
  assert.equal(await code(jail.resolveExisting('/', outside + '/secret')), 550);
});

test('encoded tricks and backslashes are plain names', async () => {
  assert.equal(jail.virtualPath('/', '%2e%2e/%2e%2e/etc'), '/%2e%2e/%2e%2e/etc');
  assert.equal(jail.virtualPath('/', '..\\..\\etc\\passwd'), '/..\\..\\etc\\passwd');
  assert.equal(await code(jail.resolveExisting('/', '%2e%2e%2f%2e%2e%2fetc%2fpasswd')), 550);
  const r = await jail.resolveNew('/', '..\\..\\x');
  assert.ok(inside(r.real));
  assert.equal(r.real, join(jail.root, '..\\..\\x'));
});

test('NUL, CR, LF are refused (553)', async () => {
  assert.equal(await code(jail.resolveExisting('/', 'docs/a.txt\0.jpg')), 553);
  assert.equal(await code(jail.resolveNew('/', 'x\ry')), 553);
  assert.equal(await code(jail.resolveNew('/', 'x\ny')), 553);
});

test('symlinks out of the home are refused, to a file or a folder', async () => {
  assert.equal(await code(jail.resolveExisting('/', 'link-file-out')), 550);
  assert.equal(await code(jail.resolveExisting('/', 'link-dir-out')), 550);
  assert.equal(await code(jail.resolveExisting('/', 'link-dir-out/secret')), 550);
  // a new file under a linked-out folder: its parent resolves outside
  assert.equal(await code(jail.resolveNew('/', 'link-dir-out/new.txt')), 550);
  assert.equal(await code(jail.resolveNew('/', 'link-dir-out/../link-dir-out/new')), 550);
  // writing through a link that leads out (or nowhere) is refused
  assert.equal(await code(jail.resolveNew('/', 'link-file-out')), 553);
  assert.equal(await code(jail.resolveNew('/', 'dangling-out')), 553);
  // the link itself may be deleted (resolveEntry does not follow it)
  assert.equal((await jail.resolveEntry('/', 'link-dir-out')).real, join(jail.root, 'link-dir-out'));
});

test('symlinks inside the home work', async () => {
  const r = await jail.resolveExisting('/', 'link-in/a.txt');
  assert.equal(r.real, join(home, 'docs', 'a.txt'));
  assert.equal(r.virtual, '/link-in/a.txt');
});

test('long names are refused', async () => {
  assert.equal(await code(jail.resolveNew('/', 'x'.repeat(256))), 553);
  assert.equal(await code(jail.resolveExisting('/', ('d/'.repeat(2100)))), 553);
  assert.equal(await code(jail.resolveNew('/', 'x'.repeat(255))), 'ok');
});

test('the home itself cannot be replaced or removed', async () => {
  assert.equal(await code(jail.resolveNew('/', '/')), 553);
  assert.equal(await code(jail.resolveEntry('/docs', '..')), 553);
});

test('toVirtual', () => {
  assert.equal(jail.toVirtual(join(jail.root, 'docs', 'a.txt')), '/docs/a.txt');
  assert.equal(jail.toVirtual(jail.root), '/');
  assert.equal(jail.toVirtual('/etc'), '/');
});
