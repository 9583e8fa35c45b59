// The queue runner's decisions without a network: routing (relay_host, MX, implicit MX, null
// MX, DNS failures), expiry after queue.max_age with a DSN to a local sender, and the DSN rules.
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { WharfError } from '../core/errors.js';
import type { DnsLookup } from '../dns/lookup.js';
import { startTestWharf } from '../../test/helpers/instance.js';
import type { TestWharf } from '../../test/helpers/instance.js';
import { buildDsn, statusOf, wantsFailureReport } from './bounce.js';
import { parseRelayHost, route } from './delivery.js';
import { QueueRunner } from './queue.js';

let t: TestWharf;

const dns: DnsLookup = {
  async mx(d) {
    if (d === 'mx.example') return [{ preference: 20, exchange: 'b.mx.example' }, { preference: 10, exchange: 'a.mx.example' }];
    if (d === 'implicit.example') return [];
    if (d === 'null.example') return [{ preference: 0, exchange: '' }];
    if (d === 'temp.example') throw new WharfError('WHARF_DNS_TEMP', 'SERVFAIL');
    throw new WharfError('WHARF_DNS_NXDOMAIN', 'no such domain');
  },
  async addresses(h) {
    const table: Record<string, string[]> = { 'a.mx.example': ['127.0.0.10'], 'b.mx.example': ['127.0.0.11', '::1'], 'implicit.example': ['127.0.0.12'] };
    if (table[h]) return table[h]!;
    if (h === 'temp.example') throw new WharfError('WHARF_DNS_TEMP', 'timeout');
    throw new WharfError('WHARF_DNS_NXDOMAIN', 'no such host');
  },
};

before(async () => {
  t = await startTestWharf({ hostname: 'crepes.fr', users: [['alice@crepes.fr', 'x']], set: { 'store.fsync': false } });
});
after(async () => {
  await t?.stop();
});

describe('routing', () => {
  it('parses relay_host forms', () => {
    assert.deepEqual(parseRelayHost('127.0.0.1:2525', 25), { host: '127.0.0.1', port: 2525 });
    assert.deepEqual(parseRelayHost('smart.example', 25), { host: 'smart.example', port: 25 });
    assert.deepEqual(parseRelayHost('[::1]:26', 25), { host: '::1', port: 26 });
    assert.equal(parseRelayHost('', 25), null);
  });

  it('orders MX by preference, falls back to the implicit MX, bounces a null MX, defers on DNS trouble', async () => {
    t.wharf.dnsLookup = undefined;
    const none = await route(t.wharf, 'mx.example');
    assert.equal(none.kind, 'defer', 'no resolver: defer with a clear error');
    t.wharf.dnsLookup = dns;
    const r = await route(t.wharf, 'mx.example');
    assert.equal(r.kind, 'hops');
    assert.deepEqual(r.kind === 'hops' && r.hops.map((h) => [h.name, h.addresses]), [
      ['a.mx.example', ['127.0.0.10']],
      ['b.mx.example', ['127.0.0.11', '::1']],
    ]);
    const imp = await route(t.wharf, 'implicit.example');
    assert.deepEqual(imp.kind === 'hops' && imp.hops.map((h) => h.name), ['implicit.example']);
    const nul = await route(t.wharf, 'null.example');
    assert.equal(nul.kind, 'fail');
    assert.match(nul.kind === 'fail' ? nul.reply : '', /5\.1\.10/);
    assert.equal((await route(t.wharf, 'nowhere.example')).kind, 'fail');
    assert.equal((await route(t.wharf, 'temp.example')).kind, 'defer');
  });

  it('queue.relay_host wins over MX', async () => {
    const q = t.wharf.config.queue as { relay_host: string };
    q.relay_host = '127.0.0.1:2600';
    try {
      const r = await route(t.wharf, 'mx.example');
      assert.deepEqual(r.kind === 'hops' && r.hops, [{ name: '127.0.0.1', addresses: ['127.0.0.1'], port: 2600 }]);
    } finally {
      q.relay_host = '';
    }
  });
});

describe('expiry', () => {
  it('a message older than queue.max_age fails with 4.4.7 and bounces to the local sender', async () => {
    t.wharf.dnsLookup = dns;
    const blob = await t.wharf.store.blobs.put(Buffer.from('Subject: old news\r\n\r\nbody\r\n'));
    const id = await t.wharf.store.enqueue({ sender: 'alice@crepes.fr', blobId: blob.id, size: blob.size, recipients: [{ address: 'x@temp.example' }] });
    const cfg = t.wharf.config.queue as { max_age: number };
    const old = cfg.max_age;
    cfg.max_age = 0;
    try {
      const runner = new QueueRunner(t.wharf);
      const [job] = await t.wharf.store.claimJobs(`${t.wharf.nodeId}:queue`, 10, 60_000);
      assert.equal(job?.messageId, id);
      await runner.runJob(job!);
    } finally {
      cfg.max_age = old;
    }
    assert.equal(await t.wharf.store.getQueueMessage(id), null, 'the message left the queue');
    const acc = (await t.wharf.store.getAccount('alice@crepes.fr'))!;
    const box = (await t.wharf.store.getMailbox(acc.id, 'INBOX'))!;
    const [m] = await t.wharf.store.getMessages(box.id, (await t.wharf.store.listMessages(box.id)).map((x) => x.uid));
    const text = Buffer.concat([m!.headerPrefix, await t.wharf.store.blobs.get(m!.blobId)]).toString('utf8');
    assert.match(text, /^Return-Path: <>/);
    assert.match(text, /^Status: 4\.4\.7$/m);
    assert.match(text, /^Action: failed$/m);
    assert.match(text, /Subject: old news/);
  });
});

describe('DSN rules', () => {
  it('never reports to the null sender, honours NOTIFY', () => {
    assert.equal(wantsFailureReport('', { notify: null }), false);
    assert.equal(wantsFailureReport('a@b', { notify: null }), true);
    assert.equal(wantsFailureReport('a@b', { notify: ['NEVER'] }), false);
    assert.equal(wantsFailureReport('a@b', { notify: ['SUCCESS'] }), false);
    assert.equal(wantsFailureReport('a@b', { notify: ['FAILURE', 'DELAY'] }), true);
  });
  it('takes the enhanced status from the reply', () => {
    assert.equal(statusOf('mx said: 550 5.1.1 no such user'), '5.1.1');
    assert.equal(statusOf('554 no'), '5.0.0');
    assert.equal(statusOf('556 5.1.10 null MX'), '5.1.10');
  });
  it('returns only the header for RET=HDRS', () => {
    const dsn = buildDsn({
      hostname: 'crepes.fr',
      message: { id: 1, sender: 'alice@crepes.fr', blobId: 'x', size: 1, headerPrefix: Buffer.alloc(0), envid: 'E1', ret: 'HDRS', createdAt: new Date() },
      failed: [{ recipient: { id: 1, address: 'bob@x.example', domain: 'x.example', notify: null, orcpt: 'rfc822;bob@x.example', status: 'pending', lastReply: null }, reply: '550 5.1.1 unknown' }],
      original: Buffer.from('Subject: s\r\n\r\n'),
      headersOnly: true,
    }).toString('utf8');
    assert.match(dsn, /Content-Type: text\/rfc822-headers/);
    assert.match(dsn, /^Original-Envelope-Id: E1$/m);
    assert.match(dsn, /^Original-Recipient: rfc822;bob@x\.example$/m);
    assert.match(dsn, /^To: <alice@crepes\.fr>$/m);
  });
});
