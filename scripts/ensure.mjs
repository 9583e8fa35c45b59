// Makes a fresh clone runnable: installs what is missing (npm ci from the committed lockfile),
// makes sure the native SQLite driver loads, and rebuilds dist/ when a TypeScript source is
// newer than the last build. Used by `npm start` and `npm test`; idempotent and quiet when
// nothing is to be done.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`ensure: ${cmd} ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

function mtime(p) {
  try { return statSync(p).mtimeMs; } catch { return 0; }
}

// 1. Dependencies: install when node_modules is missing or older than the lockfile.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(lock) > mtime(installed) || mtime(join(root, 'package.json')) > mtime(installed)) {
  console.error('ensure: installing dependencies (the SQLite driver builds from source; this takes a few minutes the first time)');
  run(npm, [existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund']);
}

// 2. The native driver must load under this Node (a Node upgrade needs a rebuild).
const require = createRequire(join(root, 'package.json'));
try {
  const Database = require('better-sqlite3');
  new Database(':memory:').close();
} catch (err) {
  console.error(`ensure: better-sqlite3 does not load (${err.message.split('\n')[0]}); rebuilding it`);
  run(npm, ['rebuild', 'better-sqlite3']);
}

// 3. Build when a source is newer than the last build.
function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, mtime(p));
  }
  return t;
}
const stamp = join(root, 'dist', '.built');
const sources = Math.max(newest(join(root, 'src')), newest(join(root, 'test')), newest(join(root, 'bench')), mtime(join(root, 'tsconfig.json')));
if (sources > mtime(stamp)) {
  console.error('ensure: building (tsc)');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')]);
  writeFileSync(stamp, new Date().toISOString() + '\n');
}
