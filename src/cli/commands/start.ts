// `wharf start`: runs every enabled service until SIGINT or SIGTERM, then stops gracefully
// (sessions get a deadline to finish) and exits 0.
import { parseArgs } from 'node:util';
import { Wharf } from '../../wharf.js';
import type { Command } from '../context.js';
import { Exit } from '../context.js';

export const startCommand: Command = {
  name: 'start',
  usage: 'wharf start [--config FILE] [--data DIR] [--set key=value ...]',
  summary: 'Run every enabled service (prints one line per listener; stops cleanly on SIGINT/SIGTERM)',
  async run(ctx, args) {
    parseArgs({ args, options: {}, allowPositionals: false, strict: true });
    const wharf = new Wharf({ config: ctx.config, dataDir: ctx.dataDir });
    const stopped = new Promise<string>((resolve) => {
      const onSignal = (sig: string) => resolve(sig);
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    const bound = await wharf.start();
    const width = Math.max(8, ...bound.map((b) => b.service.length));
    for (const b of bound) {
      const host = b.host.includes(':') ? `[${b.host}]` : b.host;
      ctx.out(`${b.service.padEnd(width)}  ${b.transport.padEnd(7)} ${host}:${b.port}${b.tls ? '  (TLS)' : ''}`);
    }
    ctx.out(`wharf ${ctx.config.hostname}: ${bound.length} listener${bound.length === 1 ? '' : 's'} up, data in ${wharf.dataDir}; Ctrl-C stops`);
    // Nothing else may hold the event loop (every service disabled): stay up until a signal.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const sig = await stopped;
    clearInterval(keepAlive);
    ctx.out(`wharf: ${sig}, stopping`);
    await wharf.stop(5000);
    return Exit.ok;
  },
};
