// dns-iterated: the slides' iterated-query picture. cis.poly.edu asks its local DNS server
// dns.poly.edu (recursion desired) for gaia.cs.umass.edu; dns.poly.edu iterates: the root
// refers it to the edu TLD server, which refers it to dns.cs.umass.edu, which answers.
// 8 numbered steps: 1 host → local, 2/3 local ↔ root, 4/5 local ↔ TLD, 6/7 local ↔
// authoritative, 8 local → host. Steps 2-7 are the resolver's own 'dns-trace' events.
import type { DnsTraceEvent } from '../../core/events.js';
import { ask, summarize } from '../dns-query.js';
import { ScenarioError } from '../line-client.js';
import { hostNameOf } from '../world.js';
import type { Scenario, ScenarioContext } from './types.js';
import { formatStep, outcomeText } from './types.js';

export const dnsIterated: Scenario = {
  summary: 'cis.poly.edu looks up gaia.cs.umass.edu; dns.poly.edu asks root, edu TLD and dns.cs.umass.edu in turn (8 steps)',
  async run({ lab, transcript, dns }: ScenarioContext) {
    const { world } = lab;
    const poly = lab.instances['poly.edu']!;
    const local = world.hosts['dns.poly.edu']!;
    const host = world.hosts['cis.poly.edu']!;
    const qname = 'gaia.cs.umass.edu';
    await lab.coldCache('poly.edu');
    const traces: DnsTraceEvent[] = [];
    const off = poly.bus.on('dns-trace', (ev) => traces.push(ev));
    let answer;
    try {
      answer = await ask({ server: local, port: world.ports.dns, name: qname, type: 'A', rd: true, localAddress: host });
    } finally {
      off();
      lab.usedCache('poly.edu');
    }
    const mine = traces.filter((t) => t.qname.toLowerCase().replace(/\.$/, '') === qname);
    const steps = [{ from: 'cis.poly.edu', to: 'dns.poly.edu', text: `${qname} A? (recursion desired)` }];
    for (const t of mine) {
      const server = t.serverName?.replace(/\.$/, '') ?? hostNameOf(world, t.server) ?? t.server;
      steps.push({ from: 'dns.poly.edu', to: server, text: `${t.qname} ${t.qtype}?` });
      steps.push({ from: server, to: 'dns.poly.edu', text: outcomeText(t) });
    }
    steps.push({ from: 'dns.poly.edu', to: 'cis.poly.edu', text: summarize(answer) });
    transcript.push(`== cis.poly.edu (${host}) asks its local DNS server dns.poly.edu (${local}:${world.ports.dns}) for ${qname}: iterated resolution`);
    steps.forEach((s, i) => {
      const step = { step: i + 1, ...s };
      dns.push(step);
      transcript.push(formatStep(step));
    });
    const gaia = world.hosts['gaia.cs.umass.edu']!;
    const got = answer.answers.find((r) => r.type === 'A');
    if (!got || (got.data as { address: string }).address !== gaia) throw new ScenarioError(`dns.poly.edu answered "${summarize(answer)}", not ${qname} A ${gaia}`);
    const servers = mine.map((t) => hostNameOf(world, t.server));
    const want = ['a.root-servers.net', 'a.edu-servers.net', 'dns.cs.umass.edu'];
    if (servers.join(' ') !== want.join(' ')) throw new ScenarioError(`dns.poly.edu asked ${servers.join(', ') || 'nobody'} (from its cache?), not ${want.join(', ')}`);
    if (dns.length !== 8) throw new ScenarioError(`expected the slides' 8 steps, saw ${dns.length}`);
  },
};
