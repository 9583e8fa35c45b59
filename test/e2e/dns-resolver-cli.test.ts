// `wharf dns trace` in-process against fake root/TLD/authoritative servers on 127.0.0.2/3/4.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { CliContext } from '../../src/cli/context.js';
import { Exit, UsageError } from '../../src/cli/context.js';
import { defaultConfig } from '../../src/config/load.js';
import { resolverCommands } from '../../src/dns/resolver/cli.js';
import { startFakeServers } from '../helpers/dns-fake.js';
import type { FakeServer } from '../helpers/dns-fake.js';

const ROOT = `$TTL 86400
@ SOA a.root-servers.net. nstld.example. 1 1800 900 604800 86400
@ NS a.root-servers.net.
a.root-servers.net. A 127.0.0.2
edu. NS ns.edu.
ns.edu. A 127.0.0.3
`;
const EDU = `$TTL 3600
@ SOA ns.edu. hostmaster.edu. 1 1800 900 604800 300
@ NS ns.edu.
ns A 127.0.0.3
umass NS ns.umass.edu.
ns.umass A 127.0.0.4
`;
const UMASS = `$TTL 3600
@ SOA ns.umass.edu. hostmaster.umass.edu. 1 3600 600 86400 60
@ NS ns.umass.edu.
ns A 127.0.0.4
gaia.cs A 128.119.245.12
`;

let fakes: FakeServer[];
let port: number;

before(async () => {
  fakes = await startFakeServers([
    { address: '127.0.0.2', zones: { '.': ROOT } },
    { address: '127.0.0.3', zones: { 'edu.': EDU } },
    { address: '127.0.0.4', zones: { 'umass.edu.': UMASS } },
  ]);
  port = fakes[0]!.port;
});
after(async () => { await Promise.all(fakes.map((f) => f.close())); });

async function run(args: string[], config = defaultConfig()): Promise<{ status: number; out: string[] }> {
  const out: string[] = [];
  const ctx: CliContext = {
    out: (l) => out.push(l),
    err: (l) => out.push(`ERR ${l}`),
    stdin: Readable.from([]),
    env: {},
    config,
    configFile: undefined,
    dataDir: '/nonexistent',
    open: () => { throw new Error('dns trace must not open the store'); },
  };
  const cmd = resolverCommands.find((c) => c.name === 'dns trace')!;
  const status = await cmd.run(ctx, args);
  return { status, out };
}

describe('wharf dns trace', () => {
  it('prints root, then TLD, then authoritative, then the answer', async () => {
    const { status, out } = await run(['gaia.cs.umass.edu', '--root', `127.0.0.2:${port}`, '--upstream-port', String(port)]);
    assert.equal(status, Exit.ok);
    const text = out.join('\n');
    const steps = out.filter((l) => /^\s*\d+ /.test(l));
    assert.equal(steps.length, 3, text);
    assert.match(steps[0]!, /root\s+127\.0\.0\.2:\d+\s+gaia\.cs\.umass\.edu\. A\s+referral\s+referral to edu\./);
    assert.match(steps[1]!, /TLD edu\.\s+127\.0\.0\.3:\d+ \(ns\.edu\.\)\s+.*referral\s+referral to umass\.edu\./);
    assert.match(steps[2]!, /umass\.edu\.\s+127\.0\.0\.4:\d+ \(ns\.umass\.edu\.\)\s+.*answer/);
    assert.match(text, /NOERROR, 1 answer, 3 upstream queries/);
    assert.match(text, /gaia\.cs\.umass\.edu\.\s+3600\s+IN\s+A\s+128\.119\.245\.12/);
  });

  it('uses dns.resolver.* from the config', async () => {
    const config = defaultConfig();
    config.dns.resolver.root_hints = [`127.0.0.2:${port}`];
    config.dns.resolver.upstream_port = port;
    const { status, out } = await run(['nope.umass.edu.', 'MX'], config);
    assert.equal(status, Exit.ok);
    assert.match(out.join('\n'), /NXDOMAIN, 0 answers/);
    assert.match(out.join('\n'), /umass\.edu\.\s+60\s+IN\s+SOA/);
  });

  it('exits with a temporary failure when no server answers', async () => {
    const config = defaultConfig();
    config.dns.resolver.timeout = 200;
    const { status, out } = await run(['gaia.cs.umass.edu', '--root', `127.0.0.9:${port}`], config);
    assert.equal(status, Exit.tempFail);
    assert.match(out.join('\n'), /SERVFAIL/);
  });

  it('rejects bad arguments', async () => {
    await assert.rejects(run([]), UsageError);
    await assert.rejects(run(['a', 'NOTATYPE']), UsageError);
    await assert.rejects(run(['a..b']), UsageError);
    await assert.rejects(run(['a', '--upstream-port', 'x']), UsageError);
    await assert.rejects(run(['a', '--bogus']));
  });
});
