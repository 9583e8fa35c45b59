// Admin commands on the data directory: config, domains, users. They work while `wharf start`
// runs on the same data directory (the store is shared safely between processes).
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { configDocs, formatConfig } from '../../config/load.js';
import { isWharfError } from '../../core/errors.js';
import type { Command } from '../context.js';
import { Exit, UsageError, passwordFrom } from '../context.js';

function opts<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionals: number) {
  const r = parseArgs({ args, options, allowPositionals: true, strict: true as const });
  if (r.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${r.positionals.length}`);
  return r;
}

const pw = { password: { type: 'string' }, 'password-stdin': { type: 'boolean' } } as const;

export const adminCommands: Command[] = [
  {
    name: 'config check',
    usage: 'wharf config check',
    summary: 'Validate the configuration and print every effective value as TOML',
    async run(ctx, args) {
      opts(args, {}, 0);
      ctx.out(formatConfig(ctx.config).trimEnd());
      return Exit.ok;
    },
  },
  {
    name: 'config docs',
    usage: 'wharf config docs',
    summary: 'Print every configuration key with its default and what it does',
    async run(ctx, args) {
      opts(args, {}, 0);
      ctx.out(configDocs().trimEnd());
      return Exit.ok;
    },
  },
  {
    name: 'domain add',
    usage: 'wharf domain add NAME',
    summary: 'Add a local mail domain',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 1);
      const w = await ctx.open();
      const d = await w.accounts.addDomain(positionals[0]!);
      ctx.out(`added domain ${d.name}`);
      return Exit.ok;
    },
  },
  {
    name: 'domain list',
    usage: 'wharf domain list',
    summary: 'List the local domains',
    async run(ctx, args) {
      opts(args, {}, 0);
      const w = await ctx.open();
      for (const d of await w.accounts.listDomains()) ctx.out(d.name);
      return Exit.ok;
    },
  },
  {
    name: 'domain del',
    usage: 'wharf domain del NAME [--force]',
    summary: 'Delete a domain (--force also deletes its users and their mail)',
    async run(ctx, args) {
      const { positionals, values } = opts(args, { force: { type: 'boolean' } }, 1);
      const w = await ctx.open();
      try {
        if (!(await w.accounts.deleteDomain(positionals[0]!, values.force ?? false))) {
          ctx.err(`wharf: no domain ${positionals[0]}`);
          return Exit.failure;
        }
      } catch (err) {
        if (isWharfError(err, 'WHARF_NOT_EMPTY')) {
          ctx.err(`wharf: domain ${positionals[0]} still has users; delete them first or use --force`);
          return Exit.failure;
        }
        throw err;
      }
      ctx.out(`deleted domain ${positionals[0]}`);
      return Exit.ok;
    },
  },
  {
    name: 'user add',
    usage: 'wharf user add ADDRESS (--password P | --password-stdin) [--admin]',
    summary: 'Add a user (its domain must exist); creates INBOX, Sent, Drafts, Trash, Junk, Archive',
    async run(ctx, args) {
      const { positionals, values } = opts(args, { ...pw, admin: { type: 'boolean' } }, 1);
      const password = await passwordFrom(values, ctx.stdin);
      const w = await ctx.open();
      const a = await w.accounts.addUser(positionals[0]!, password, { admin: values.admin ?? false });
      ctx.out(`added user ${a.address}${a.admin ? ' (admin)' : ''}`);
      return Exit.ok;
    },
  },
  {
    name: 'user list',
    usage: 'wharf user list [DOMAIN]',
    summary: 'List users, optionally of one domain',
    async run(ctx, args) {
      const r = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
      if (r.positionals.length > 1) throw new UsageError('at most one domain');
      const w = await ctx.open();
      for (const a of await w.accounts.listUsers(r.positionals[0])) ctx.out(`${a.address}${a.admin ? ' admin' : ''}${a.disabled ? ' disabled' : ''}`);
      return Exit.ok;
    },
  },
  {
    name: 'user del',
    usage: 'wharf user del ADDRESS',
    summary: 'Delete a user with all their mailboxes and mail',
    async run(ctx, args) {
      const { positionals } = opts(args, {}, 1);
      const w = await ctx.open();
      if (!(await w.accounts.deleteUser(positionals[0]!))) {
        ctx.err(`wharf: no user ${positionals[0]}`);
        return Exit.noUser;
      }
      ctx.out(`deleted user ${positionals[0]}`);
      return Exit.ok;
    },
  },
  {
    name: 'user passwd',
    usage: 'wharf user passwd ADDRESS (--password P | --password-stdin)',
    summary: "Set a user's password",
    async run(ctx, args) {
      const { positionals, values } = opts(args, pw, 1);
      const password = await passwordFrom(values, ctx.stdin);
      const w = await ctx.open();
      if (!(await w.accounts.setPassword(positionals[0]!, password))) {
        ctx.err(`wharf: no user ${positionals[0]}`);
        return Exit.noUser;
      }
      ctx.out(`password changed for ${positionals[0]}`);
      return Exit.ok;
    },
  },
];
