// Two Wharf instances, crepes.fr (A) and hamburger.edu (B): Alice submits to A, A's queue looks
// up hamburger.edu's MX (a fake DnsLookup pointing at B's 127.0.0.1 listener, queue.relay_port =
// B's port) and relays; the message lands in Bob's INBOX at B. A 5xx from B bounces to Alice's
// INBOX (RFC 3464 DSN); a 4xx from a flaky receiver (a scripted server on 127.0.0.2, same port)
// is retried with backoff; a null MX bounces at once.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WharfError } from '../../src/core/errors.js';
import type { DnsLookup } from '../../src/dns/lookup.js';
import { startTestWharf } from '../helpers/instance.js';
import type { TestWharf } from '../helpers/instance.js';
import { inboxMessages, waitFor as waitForHelper } from '../helpers/mail.js';

let a: TestWharf;
let b: TestWharf;
let flaky: net.Server | null = null;
const flakyLog: string[] = [];
let flakyConnections = 0;

const fakeDns: DnsLookup = {
  async mx(domain) {
    if (domain === 'hamburger.edu') return [{ preference: 10, exchange: 'mx.hamburger.edu' }];
    if (domain === 'flaky.example') return [{ preference: 5, exchange: 'mx.flaky.example' }];
    if (domain === 'nullmx.example') return [{ preference: 0, exchange: '' }];
    if (domain === 'down.example') return [{ preference: 10, exchange: 'mx.down.example' }];
    throw new WharfError('WHARF_DNS_NXDOMAIN', `${domain}: no such domain`);
  },
  async addresses(host) {
    if (host === 'mx.hamburger.edu') return ['127.0.0.1'];
    if (host === 'mx.flaky.example') return ['127.0.0.2'];
    if (host === 'mx.down.example') throw new WharfError('WHARF_DNS_TEMP', 'timeout');
    throw new WharfError('WHARF_DNS_NXDOMAIN', `${host}: no such host`);
  },
};

/** A receiver that answers 451 at the end of data the first time, then accepts. */
function startFlaky(port: number): Promise<net.Server> {
  const server = net.createServer((sock) => {
    const n = ++flakyConnections;
    let buf = '';
    let inData = false;
    sock.write('220 mx.flaky.example ESMTP flaky\r\n');
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 5);
          inData = false;
          flakyLog.push(`data#${n}`);
          sock.write(n === 1 ? '451 4.3.0 Try again later\r\n' : '250 2.0.0 Ok queued\r\n');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') sock.write('250-mx.flaky.example\r\n250 PIPELINING\r\n');
        else if (verb === 'DATA') {
          inData = true;
          sock.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') sock.end('221 bye\r\n');
        else sock.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.2', port }, () => resolve(server));
  });
}

function py(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

const inbox = (t: TestWharf, address: string): Promise<string[]> => inboxMessages(t.wharf, address);

const waitFor = <T>(fn: () => Promise<T | null | undefined | false>, ms = 10_000): Promise<T> => waitForHelper(fn, ms);

async function submit(to: string[], subject: string, extra = ''): Promise<void> {
  await py(
    `
import os, smtplib
s = smtplib.SMTP('127.0.0.1', int(os.environ['PORT']))
s.login('alice@crepes.fr', 'secret')
s.sendmail('alice@crepes.fr', os.environ['TO'].split(','), 'From: alice@crepes.fr\\r\\nTo: ' + os.environ['TO'] + '\\r\\nSubject: ' + os.environ['SUBJECT'] + '\\r\\n\\r\\nDo you like ketchup?\\r\\n', rcpt_options=[${extra}])
s.quit()
`,
    { PORT: String(a.port('submission')), TO: to.join(','), SUBJECT: subject },
  );
}

before(async () => {
  b = await startTestWharf({ services: ['smtp'], hostname: 'hamburger.edu', users: [['bob@hamburger.edu', 'hungry']], set: { 'queue.enabled': false } });
  a = await startTestWharf({
    services: ['submission'],
    hostname: 'crepes.fr',
    users: [['alice@crepes.fr', 'secret']],
    set: { 'queue.relay_port': b.port('smtp'), 'queue.retry_base': 300, 'queue.retry_max': 600, 'queue.connect_timeout': 2000 },
  });
  a.wharf.dnsLookup = fakeDns;
  for (let i = 0; i < 5 && !flaky; i++) {
    try {
      flaky = await startFlaky(b.port('smtp'));
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
});
after(async () => {
  flaky?.close();
  await a?.stop();
  await b?.stop();
});

describe('relay between two Wharf instances', () => {
  it('Alice submits to crepes.fr, the queue relays by MX, the message is in Bob\'s INBOX at hamburger.edu', async () => {
    await submit(['bob@hamburger.edu'], 'relayed by MX');
    const msg = await waitFor(async () => (await inbox(b, 'bob@hamburger.edu')).find((m) => m.includes('Subject: relayed by MX')));
    // Two hops, two Received fields: B's (TLS via STARTTLS) on top of A's (authenticated submission).
    const received = msg.match(/^Received: .*(?:\r\n\t.*)*/gm) ?? [];
    assert.equal(received.length, 2, msg);
    assert.match(received[0]!, /from crepes\.fr .*by hamburger\.edu \(Wharf\) with ESMTPS/s);
    assert.match(received[1]!, /by crepes\.fr \(Wharf\) with ESMTPA/s);
    assert.match(msg, /^Return-Path: <alice@crepes\.fr>/);
    assert.match(msg, /^Message-ID: <[^>]+@crepes\.fr>/m);
    await waitFor(async () => (await a.wharf.store.listQueue()).length === 0);
  });

  it('a 5xx from the receiver bounces: a DSN lands in Alice\'s INBOX, the queue is empty', async () => {
    await submit(['nobody@hamburger.edu'], 'to a stranger');
    const dsn = await waitFor(async () => (await inbox(a, 'alice@crepes.fr')).find((m) => m.includes('Final-Recipient: rfc822; nobody@hamburger.edu')));
    assert.match(dsn, /^Return-Path: <>/);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(dsn, /^Action: failed$/m);
    assert.match(dsn, /^Status: 5\.1\.1$/m);
    assert.match(dsn, /^Diagnostic-Code: smtp; 550 5\.1\.1/m);
    assert.match(dsn, /^Remote-MTA: dns; mx\.hamburger\.edu$/m);
    assert.match(dsn, /Subject: to a stranger/, 'the original comes back');
    await waitFor(async () => (await a.wharf.store.listQueue()).length === 0);
  });

  it('NOTIFY=NEVER: a failure is not reported', async () => {
    const before = (await inbox(a, 'alice@crepes.fr')).length;
    await submit(['ghost@hamburger.edu'], 'never tell', "'NOTIFY=NEVER'");
    await waitFor(async () => (await a.wharf.store.listQueue()).length === 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await inbox(a, 'alice@crepes.fr')).length, before);
  });

  it('a null MX (RFC 7505) bounces at once with 5.1.10', async () => {
    await submit(['someone@nullmx.example'], 'to a null MX');
    const dsn = await waitFor(async () => (await inbox(a, 'alice@crepes.fr')).find((m) => m.includes('Final-Recipient: rfc822; someone@nullmx.example')));
    assert.match(dsn, /^Status: 5\.1\.10$/m);
  });

  it('a temporary DNS failure defers; `retry` style attempts keep the message queued', async () => {
    await submit(['x@down.example'], 'dns down');
    const q = await waitFor(async () => (await a.wharf.store.listQueue()).find((m) => m.recipients.some((r) => r.address === 'x@down.example') && m.jobs[0]!.attempts >= 1));
    assert.match(q.jobs[0]!.lastError ?? '', /4\.4\.3/);
    assert.equal(q.recipients[0]!.status, 'pending');
    await a.wharf.store.deleteQueueMessage(q.id);
  });

  it('a 4xx from the receiver is retried with backoff, then delivered (and NOTIFY=SUCCESS gets "relayed")', async (ctx) => {
    if (!flaky) return ctx.skip('could not bind 127.0.0.2 on the same port');
    await submit(['carol@flaky.example'], 'flaky receiver', "'NOTIFY=SUCCESS,FAILURE'");
    await waitFor(async () => flakyLog.length >= 2, 15_000);
    assert.deepEqual(flakyLog.slice(0, 2), ['data#1', 'data#2']);
    await waitFor(async () => (await a.wharf.store.listQueue()).length === 0);
    // The receiver has no DSN extension: NOTIFY=SUCCESS is answered here with "relayed".
    const dsn = await waitFor(async () => (await inbox(a, 'alice@crepes.fr')).find((m) => m.includes('Final-Recipient: rfc822; carol@flaky.example')));
    assert.match(dsn, /^Action: relayed$/m);
  });
});
