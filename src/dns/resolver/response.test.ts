import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, sanitize } from './response.js';
import { emptyFlags, RCODE } from '../wire/types.js';
import type { Message, ResourceRecord } from '../wire/types.js';

const rr = (name: string, type: string, data: unknown, ttl = 300): ResourceRecord => ({ name, type, class: 'IN', ttl, data: data as ResourceRecord['data'] });
const SOA = rr('umass.edu.', 'SOA', { mname: 'ns.umass.edu.', rname: 'h.umass.edu.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 });

function msg(over: Partial<Message> & { rcode?: number; aa?: boolean }): Message {
  const { rcode = 0, aa = false, ...rest } = over;
  return { id: 1, flags: emptyFlags({ qr: true, aa, rcode }), questions: [], answers: [], authorities: [], additionals: [], ...rest };
}

describe('sanitize (bailiwick)', () => {
  it('drops records outside the zone asked, in every section, and lower-cases owners', () => {
    const m = msg({
      answers: [rr('GAIA.cs.umass.edu.', 'A', { address: '128.119.245.12' }), rr('www.edu.', 'A', { address: '6.6.6.6' })],
      authorities: [rr('umass.edu.', 'NS', { host: 'ns.umass.edu.' }), rr('edu.', 'NS', { host: 'evil.example.' })],
      additionals: [rr('ns.umass.edu.', 'A', { address: '127.0.0.4' }), rr('evil.example.', 'A', { address: '6.6.6.6' })],
    });
    const { message, dropped } = sanitize(m, 'umass.edu.');
    assert.equal(dropped, 3);
    assert.deepEqual(message.answers.map((r) => r.name), ['gaia.cs.umass.edu.']);
    assert.deepEqual(message.authorities.map((r) => r.name), ['umass.edu.']);
    assert.deepEqual(message.additionals.map((r) => r.name), ['ns.umass.edu.']);
  });

  it('does not treat a name that merely ends in the zone text as inside it', () => {
    const { dropped } = sanitize(msg({ answers: [rr('notumass.edu.', 'A', { address: '6.6.6.6' })] }), 'umass.edu.');
    assert.equal(dropped, 1);
  });

  it('the root zone speaks for everything', () => {
    const { dropped } = sanitize(msg({ additionals: [rr('a.edu-servers.net.', 'A', { address: '192.0.2.1' })] }), '.');
    assert.equal(dropped, 0);
  });
});

describe('classify', () => {
  it('answer, with an in-zone CNAME chain', () => {
    const m = msg({ aa: true, answers: [rr('www.umass.edu.', 'CNAME', { target: 'web.umass.edu.' }), rr('web.umass.edu.', 'A', { address: '192.0.2.1' })] });
    const c = classify(m, 'WWW.umass.edu.', 'A', 'umass.edu.');
    assert.equal(c.kind, 'answer');
    assert.equal(c.kind === 'answer' && c.chain.length, 1);
    assert.equal(c.kind === 'answer' && c.records.length, 1);
  });

  it('a CNAME leaving the zone is followed by the caller', () => {
    const c = classify(msg({ aa: true, answers: [rr('alias.umass.edu.', 'CNAME', { target: 'www.edu.' })] }), 'alias.umass.edu.', 'A', 'umass.edu.');
    assert.deepEqual(c.kind === 'cname' ? c.target : c.kind, 'www.edu.');
  });

  it('a CNAME loop inside a response ends', () => {
    const m = msg({ aa: true, answers: [rr('a.umass.edu.', 'CNAME', { target: 'b.umass.edu.' }), rr('b.umass.edu.', 'CNAME', { target: 'a.umass.edu.' })] });
    const c = classify(m, 'a.umass.edu.', 'A', 'umass.edu.');
    assert.equal(c.kind, 'cname');
  });

  it('referral downwards with glue for its servers only', () => {
    const m = msg({
      authorities: [rr('umass.edu.', 'NS', { host: 'ns.umass.edu.' })],
      additionals: [rr('ns.umass.edu.', 'A', { address: '127.0.0.4' }), rr('other.edu.', 'A', { address: '192.0.2.7' })],
    });
    const c = classify(m, 'gaia.cs.umass.edu.', 'A', 'edu.');
    assert.equal(c.kind, 'referral');
    if (c.kind === 'referral') {
      assert.equal(c.zone, 'umass.edu.');
      assert.deepEqual(c.glue.map((g) => g.name), ['ns.umass.edu.']);
    }
  });

  it('a referral upwards, sideways or to the same zone is lame', () => {
    for (const owner of ['edu.', '.', 'mit.edu.']) {
      const m = msg({ authorities: [rr(owner, 'NS', { host: 'ns.x.' })] });
      assert.equal(classify(m, 'gaia.cs.umass.edu.', 'A', 'edu.').kind, 'lame', owner);
    }
    assert.equal(classify(msg({}), 'x.edu.', 'A', 'edu.').kind, 'lame');
  });

  it('NXDOMAIN and NODATA carry the SOA', () => {
    const nx = classify(msg({ rcode: RCODE.NXDOMAIN, aa: true, authorities: [SOA] }), 'nope.umass.edu.', 'A', 'umass.edu.');
    assert.equal(nx.kind === 'nxdomain' && nx.soa?.type, 'SOA');
    const nodata = classify(msg({ aa: true, authorities: [SOA] }), 'gaia.cs.umass.edu.', 'MX', 'umass.edu.');
    assert.equal(nodata.kind, 'nodata');
  });

  it('errors: REFUSED, SERVFAIL, an answer to another question', () => {
    assert.deepEqual(classify(msg({ rcode: RCODE.REFUSED }), 'x.', 'A', '.').kind, 'error');
    assert.deepEqual(classify(msg({ rcode: RCODE.SERVFAIL }), 'x.', 'A', '.').kind, 'error');
    assert.equal(classify(msg({ aa: true, answers: [rr('y.umass.edu.', 'A', { address: '192.0.2.1' })] }), 'x.umass.edu.', 'A', 'umass.edu.').kind, 'lame');
  });
});
