// `npm run bench -- NAME [options]`: runs dist/bench/NAME.js (built by scripts/ensure.mjs).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [options]; NAME is one of: ${available.join(', ')}`);
  process.exit(2);
}
const file = join(root, 'dist', 'bench', `${name}.js`);
if (!existsSync(file)) {
  console.error(`${file} is missing; run npm run build`);
  process.exit(70);
}
process.argv = [process.argv[0], file, ...rest];
await import(file);
