// The wharf command line: global options, then a command.
//   wharf [--config FILE] [--data DIR] [--set key=value ...] COMMAND [ARGS]
// --config defaults to $WHARF_CONFIG; --data to $WHARF_DATA, else ./data.
// Exit statuses: 0 ok, 1 failed, 2 usage or configuration error, sysexits(3) for `deliver`.
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.js';
import { describeError, isWharfError } from '../core/errors.js';
import { Wharf } from '../wharf.js';
import { commands } from './commands/index.js';
import type { CliContext, CliIO, Command } from './context.js';
import { Exit, UsageError } from './context.js';

function help(io: CliIO): void {
  io.out('usage: wharf [--config FILE] [--data DIR] [--set key=value ...] COMMAND [ARGS]');
  io.out('');
  const width = Math.max(...commands.map((c) => c.usage.length)) + 2;
  for (const c of commands) io.out(`  ${c.usage.padEnd(width)}${c.summary}`);
  io.out('');
  io.out('Configuration keys: `wharf config docs`. Data directory: --data or $WHARF_DATA (default ./data).');
}

function findCommand(words: string[]): { cmd: Command; rest: string[] } | null {
  for (const n of [2, 1]) {
    const name = words.slice(0, n).join(' ');
    const cmd = commands.find((c) => c.name === name);
    if (cmd) return { cmd, rest: words.slice(n) };
  }
  return null;
}

export async function main(argv: string[], io?: Partial<CliIO>): Promise<number> {
  const cio: CliIO = {
    out: io?.out ?? ((l) => process.stdout.write(l + '\n')),
    err: io?.err ?? ((l) => process.stderr.write(l + '\n')),
    stdin: io?.stdin ?? process.stdin,
    env: io?.env ?? process.env,
  };
  // Global options may come before the command or anywhere after it.
  let configFile = cio.env.WHARF_CONFIG || undefined;
  let dataDir = cio.env.WHARF_DATA || './data';
  const sets: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    try {
      if (flag === '--config') configFile = value();
      else if (flag === '--data') dataDir = value();
      else if (flag === '--set') sets.push(value());
      else words.push(a);
    } catch (err) {
      cio.err(`wharf: ${(err as Error).message}`);
      return Exit.usage;
    }
  }
  if (words.length === 0 || words[0] === 'help' || words[0] === '--help' || words[0] === '-h') {
    help(cio);
    return words.length === 0 ? Exit.usage : Exit.ok;
  }
  if (words[0] === 'version' || words[0] === '--version') {
    cio.out('wharf 0.1.0');
    return Exit.ok;
  }
  const found = findCommand(words);
  if (!found) {
    cio.err(`wharf: unknown command "${words.slice(0, 2).join(' ')}"; \`wharf help\` lists them`);
    return Exit.usage;
  }
  let config;
  try {
    config = loadConfig({ ...(configFile !== undefined ? { file: configFile } : {}), sets });
  } catch (err) {
    if (err instanceof ConfigError) {
      cio.err(`wharf: ${err.message}`);
      return Exit.usage;
    }
    throw err;
  }
  let opened: Wharf | undefined;
  const ctx: CliContext = {
    ...cio,
    config,
    configFile,
    dataDir: resolve(dataDir),
    async open() {
      if (!opened) {
        opened = new Wharf({ config, dataDir: resolve(dataDir), logStream: null });
        await opened.open();
      }
      return opened;
    },
  };
  try {
    return await found.cmd.run(ctx, found.rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      cio.err(`wharf ${found.cmd.name}: ${(err as Error).message}`);
      cio.err(`usage: ${found.cmd.usage}`);
      return Exit.usage;
    }
    if (err instanceof ConfigError) {
      cio.err(`wharf: ${err.message}`);
      return Exit.usage;
    }
    if (isWharfError(err)) {
      cio.err(`wharf ${found.cmd.name}: ${err.message}`);
      return err.code === 'WHARF_STORE_UNAVAILABLE' ? Exit.tempFail : Exit.failure;
    }
    const d = describeError(err);
    cio.err(`wharf ${found.cmd.name}: internal error: ${d.message}`);
    if (cio.env.WHARF_DEBUG && d.stack) cio.err(d.stack);
    return Exit.software;
  } finally {
    await opened?.stop();
  }
}
