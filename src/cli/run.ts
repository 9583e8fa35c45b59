// Entry point when running the CLI from source (tests under tsx): `node --import tsx src/cli/run.ts …`.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
