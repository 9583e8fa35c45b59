// Runs every test file in dist/ with Node's own test runner, several files at once.
//   node scripts/test.mjs            all tests
//   node scripts/test.mjs dns imap   only files whose path contains one of the words
// Unit tests sit beside the code (src/**/x.test.ts); end-to-end tests are under test/e2e.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = [...walk(join(root, 'dist', 'src'), []), ...walk(join(root, 'dist', 'test'), [])]
  .filter((f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)))
  .sort();
if (files.length === 0) {
  console.error('test: no test files matched');
  process.exit(1);
}
// Most tests wait on sockets and disks, not the CPU: run more files than there are cores.
const concurrency = Number(process.env.WHARF_TEST_CONCURRENCY ?? Math.max(4, availableParallelism() * 3));
const args = [
  '--enable-source-maps',
  '--test',
  `--test-concurrency=${concurrency}`,
  `--test-timeout=${Number(process.env.WHARF_TEST_TIMEOUT ?? 240_000)}`,
  '--test-reporter=spec',
  ...files,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, WHARF_TEST: '1' } });
process.exit(r.status ?? 1);
