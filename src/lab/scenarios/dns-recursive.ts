// dns-recursive: the slides' recursive-query picture. cis.poly.edu asks dns.poly.edu with
// recursion desired; the query is passed DOWN, each server asking the next with RD=1
// (dns.poly.edu → root → edu TLD → dns.cs.umass.edu), and the answer comes back UP the same
// way. The passing is done by the lab's recursing fronts (recursive-chain.ts explains why the
// servers themselves do not recurse), which sit beside each server on port dns+1.
import { ask, summarize } from '../dns-query.js';
import { ScenarioError } from '../line-client.js';
import type { Scenario, ScenarioContext } from './types.js';
import { formatStep } from './types.js';

export const dnsRecursive: Scenario = {
  summary: 'the same lookup as a recursive chain: dns.poly.edu → root → edu TLD → dns.cs.umass.edu and back (8 steps)',
  async run({ lab, transcript, dns }: ScenarioContext) {
    const { world } = lab;
    const chain = lab.recursive;
    const local = world.hosts['dns.poly.edu']!;
    const host = world.hosts['cis.poly.edu']!;
    const qname = 'gaia.cs.umass.edu';
    const from = chain.log.length;
    const answer = await ask({ server: local, port: chain.port, name: qname, type: 'A', rd: true, localAddress: host, timeoutMs: 8000 });
    const arrows = chain.log.slice(from);
    // The fronts log an arrow when they pass a query down and when the answer comes back up:
    // down arrows in the order sent, up arrows in the order received.
    const steps = [
      { from: 'cis.poly.edu', to: 'dns.poly.edu', text: `${qname} A? (recursion desired)` },
      ...arrows.map((a) => ({ from: a.from, to: a.to, text: a.text })),
      { from: 'dns.poly.edu', to: 'cis.poly.edu', text: summarize(answer) },
    ];
    transcript.push(`== cis.poly.edu (${host}) asks dns.poly.edu (${local}, recursing front port ${chain.port}) for ${qname}: recursive resolution`);
    steps.forEach((s, i) => {
      const step = { step: i + 1, ...s };
      dns.push(step);
      transcript.push(formatStep(step));
    });
    const gaia = world.hosts['gaia.cs.umass.edu']!;
    const got = answer.answers.find((r) => r.type === 'A');
    if (!got || (got.data as { address: string }).address !== gaia) throw new ScenarioError(`the chain answered "${summarize(answer)}", not ${qname} A ${gaia}`);
    const path = arrows.map((a) => `${a.from}>${a.to}`).join(' ');
    const want = ['dns.poly.edu>a.root-servers.net', 'a.root-servers.net>a.edu-servers.net', 'a.edu-servers.net>dns.cs.umass.edu', 'dns.cs.umass.edu>a.edu-servers.net', 'a.edu-servers.net>a.root-servers.net', 'a.root-servers.net>dns.poly.edu'].join(' ');
    if (path !== want) throw new ScenarioError(`the query did not travel root → TLD → authoritative and back: ${path || 'no hops'}`);
    if (dns.length !== 8) throw new ScenarioError(`expected the slides' 8 steps, saw ${dns.length}`);
  },
};
