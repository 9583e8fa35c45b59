// CLI commands of the console: bearer tokens for the admin API, kept hashed in
// <data>/console/tokens.json (a running console picks up changes at its next request).
//   wharf console token NAME          create a token; printed once, never stored in clear
//   wharf console tokens              list token names and creation times
//   wharf console revoke NAME         revoke a token
import { parseArgs } from 'node:util';
import type { Command } from '../cli/context.js';
import { Exit, UsageError } from '../cli/context.js';
import { isWharfError } from '../core/errors.js';
import { TokenStore, tokensFile, validTokenName } from './auth.js';

function oneName(args: string[]): string {
  const r = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (r.positionals.length !== 1) throw new UsageError('expected one token name');
  const name = r.positionals[0]!;
  if (!validTokenName(name)) throw new UsageError('a token name is 1-64 letters, digits, ".", "_" or "-"');
  return name;
}

export const consoleCommands: Command[] = [
  {
    name: 'console token',
    usage: 'wharf console token NAME',
    summary: 'Create a bearer token for the console\'s admin API (printed once; stored hashed)',
    async run(ctx, args) {
      const name = oneName(args);
      try {
        ctx.out(new TokenStore(tokensFile(ctx.dataDir)).create(name));
      } catch (err) {
        if (isWharfError(err, 'WHARF_EXISTS')) {
          ctx.err(`wharf console token: a token named ${name} exists (revoke it first: wharf console revoke ${name})`);
          return Exit.failure;
        }
        throw err;
      }
      return Exit.ok;
    },
  },
  {
    name: 'console tokens',
    usage: 'wharf console tokens',
    summary: 'List the console\'s bearer tokens (names and creation times)',
    async run(ctx, args) {
      parseArgs({ args, options: {}, allowPositionals: false, strict: true });
      for (const t of new TokenStore(tokensFile(ctx.dataDir)).list()) ctx.out(`${t.name}\t${t.created}`);
      return Exit.ok;
    },
  },
  {
    name: 'console revoke',
    usage: 'wharf console revoke NAME',
    summary: 'Revoke a console bearer token',
    async run(ctx, args) {
      const name = oneName(args);
      if (!new TokenStore(tokensFile(ctx.dataDir)).revoke(name)) {
        ctx.err(`wharf console revoke: no token ${name}`);
        return Exit.failure;
      }
      ctx.out(`revoked token ${name}`);
      return Exit.ok;
    },
  },
];
