// `wharf lab`: the textbook Internet on loopback (issue 9).
//
//   wharf lab                          run the slides' world until Ctrl-C (prints addresses, accounts)
//   wharf lab --scenario alice-to-bob  play one scenario, print its transcript, exit 0 if it worked
//   wharf lab --scenario all --keep    play every scenario, then keep running (for the console)
//
// Only loopback addresses are used (--net 127.N); the instances' data lives in a temporary
// folder removed at exit, unless --data DIR was given (then DIR/lab is kept).
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../cli/context.js';
import { Exit, UsageError } from '../cli/context.js';
import { DEFAULT_NET, DEFAULT_PORTS, scenarioNames, startLab } from './index.js';
import type { Lab, LabPorts, ScenarioResult } from './index.js';
import { scenarios } from './scenarios/index.js';

function parsePorts(specs: string[]): Partial<LabPorts> {
  const out: Partial<LabPorts> = {};
  for (const s of specs) {
    const m = /^([a-z0-9]+)=(\d{1,5})$/.exec(s);
    if (!m || !(m[1]! in DEFAULT_PORTS) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw new UsageError(`--port wants SERVICE=PORT with SERVICE one of ${Object.keys(DEFAULT_PORTS).join(', ')}: got "${s}"`);
    }
    out[m[1] as keyof LabPorts] = Number(m[2]);
  }
  return out;
}

function printResult(out: (l: string) => void, r: ScenarioResult): void {
  out('');
  out(`######## scenario ${r.name}: ${scenarios[r.name]?.summary ?? ''}`);
  for (const l of r.transcript) out(l);
  out('');
  out(r.ok ? `scenario ${r.name}: ok (${r.ms} ms)` : `scenario ${r.name}: FAILED: ${r.reason}`);
}

export const labCommands: Command[] = [
  {
    name: 'lab',
    usage: `wharf lab [--net 127.N] [--port SERVICE=PORT ...] [--scenario NAME|all] [--keep] [--no-console] [--list] [--data DIR]`,
    summary: "Run the slides' world on loopback (root, TLD and authoritative DNS, two mail domains, FTP, a web cache) and play its scenarios",
    async run(ctx, args) {
      const { values } = parseArgs({
        args,
        options: {
          net: { type: 'string' },
          port: { type: 'string', multiple: true },
          scenario: { type: 'string' },
          keep: { type: 'boolean' },
          'no-console': { type: 'boolean' },
          list: { type: 'boolean' },
        },
        allowPositionals: false,
        strict: true,
      });
      if (values.list) {
        for (const [n, s] of Object.entries(scenarios)) ctx.out(`${n.padEnd(14)} ${s.summary}`);
        return Exit.ok;
      }
      const wanted = values.scenario === undefined ? [] : values.scenario === 'all' ? scenarioNames() : [values.scenario];
      for (const w of wanted) if (!scenarios[w]) throw new UsageError(`no scenario "${w}"; known: ${scenarioNames().join(', ')}, all`);
      const ports = parsePorts(values.port ?? []);
      // --data is a global option with a default (./data): only an explicit one keeps the lab's data.
      const explicitData = ctx.env.WHARF_DATA !== undefined || resolve(ctx.dataDir) !== resolve('./data');
      let lab: Lab;
      try {
        lab = await startLab({
          net: values.net ?? DEFAULT_NET,
          ports,
          console: !values['no-console'],
          ...(explicitData ? { dataDir: join(ctx.dataDir, 'lab') } : {}),
        });
      } catch (err) {
        ctx.err(`wharf lab: could not start the lab: ${(err as Error).message}`);
        return Exit.failure;
      }
      let status: number = Exit.ok;
      const stopped = new Promise<string>((res) => {
        const onSignal = (sig: string): void => res(sig);
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
      try {
        for (const l of lab.describe()) ctx.out(l);
        const failed: string[] = [];
        for (const name of wanted) {
          const r = await lab.runScenario(name);
          printResult(ctx.out, r);
          if (!r.ok) failed.push(name);
        }
        if (wanted.length > 1) ctx.out(failed.length ? `\n${failed.length} of ${wanted.length} scenarios FAILED: ${failed.join(', ')}` : `\nall ${wanted.length} scenarios ok`);
        if (failed.length) status = Exit.failure;
        if (wanted.length === 0 || values.keep) {
          ctx.out('');
          ctx.out('The lab is running; Ctrl-C stops it.');
          const keepAlive = setInterval(() => {}, 1 << 30);
          const sig = await stopped;
          clearInterval(keepAlive);
          ctx.out(`wharf lab: ${sig}, stopping`);
        }
      } finally {
        await lab.stop();
      }
      return status;
    },
  },
];
