// The lab's world as data: loopback-only addresses, one address per server, zones that the
// project's own zone parser and validator accept, delegations with glue as the slides draw them.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseZone } from '../dns/zone/parse.js';
import { validateZone } from '../dns/zone/validate.js';
import { buildWorld, hostNameOf, parseNet } from './world.js';

describe('lab world', () => {
  it('accepts only 127.N nets', () => {
    assert.equal(parseNet('127.53'), '127.53');
    assert.equal(parseNet(' 127.007 '), '127.7');
    for (const bad of ['10.53', '127.256', '127.1.2', '192.168', '', 'x']) assert.throws(() => parseNet(bad), /loopback/, bad);
  });

  it('puts every host on the net, every server on its own address', () => {
    const w = buildWorld('127.99');
    for (const [name, addr] of Object.entries(w.hosts)) assert.match(addr, /^127\.99\.\d+\.\d+$/, name);
    const addrs = w.instances.map((i) => i.address);
    assert.equal(new Set(addrs).size, addrs.length);
    for (const i of w.instances) for (const [k, v] of Object.entries(i.set)) if (k.endsWith('root_hints')) assert.deepEqual(v, ['127.99.0.1']);
    assert.equal(hostNameOf(w, '127.99.0.1:53'), 'a.root-servers.net');
    assert.equal(hostNameOf(w, '127.99.2.1'), 'dns.hamburger.edu');
  });

  it('has zones the zone parser and validator accept, with the slides\' records', () => {
    const w = buildWorld();
    const all = new Map<string, ReturnType<typeof parseZone>['records']>();
    for (const i of w.instances) {
      for (const [origin, text] of Object.entries(i.zones)) {
        const z = parseZone(text, { origin });
        const errors = validateZone(origin, z.records).filter((p) => p.level !== 'warning');
        assert.deepEqual(errors, [], `${origin}: ${JSON.stringify(errors)}`);
        all.set(origin, z.records);
      }
    }
    assert.deepEqual([...all.keys()].sort(), ['.', 'com.', 'crepes.fr.', 'edu.', 'fr.', 'hamburger.edu.', 'ibm.com.', 'poly.edu.', 'umass.edu.']);
    const find = (origin: string, name: string, type: string) => all.get(origin)!.filter((r) => r.name.toLowerCase() === name && r.type === type);
    assert.equal(find('edu.', 'umass.edu.', 'NS').length, 1, 'edu delegates umass.edu straight to dns.cs.umass.edu');
    assert.equal(find('edu.', 'dns.cs.umass.edu.', 'A').length, 1, 'with glue');
    assert.equal(find('hamburger.edu.', 'hamburger.edu.', 'MX').length, 1);
    assert.equal(find('ibm.com.', 'www.ibm.com.', 'CNAME').length, 1);
    assert.equal(find('umass.edu.', 'gaia.cs.umass.edu.', 'A').length, 1);
  });
});
