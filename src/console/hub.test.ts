import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { ServerResponse } from 'node:http';
import { EventBus, Transcript } from '../core/events.js';
import type { Wharf } from '../wharf.js';
import { Hub } from './hub.js';

const fakeWharf = (): Wharf => ({ bus: new EventBus() }) as unknown as Wharf;

/** A ServerResponse stand-in that records what is written. */
class FakeRes extends EventEmitter {
  chunks: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  writableEnded = false;
  writeHead(): this {
    return this;
  }
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.emit('close');
  }
}

describe('console Hub', () => {
  it('keeps the newest transcript_buffer lines of every source, with the source named', () => {
    const hub = new Hub(3);
    const a = fakeWharf();
    const b = fakeWharf();
    hub.add({ name: 'a', wharf: a });
    hub.add({ name: 'b', wharf: b });
    const ta = new Transcript(a.bus, 'smtp', 'smtp-1', '127.0.0.1:1000');
    const tb = new Transcript(b.bus, 'pop3', 'pop3-1', '127.0.0.2:2000');
    ta.server('220 hello');
    tb.server('+OK');
    ta.client('EHLO x');
    tb.client('USER bob');
    ta.server('250 ok');
    const lines = hub.lines({});
    assert.deepEqual(lines.map((l) => `${l.source} ${l.dir} ${l.text}`), ['a C EHLO x', 'b C USER bob', 'a S 250 ok']);
    assert.deepEqual(hub.lines({ source: 'b' }).map((l) => l.text), ['USER bob']);
    assert.deepEqual(hub.lines({ client: '127.0.0.1' }).map((l) => l.text), ['EHLO x', '250 ok']);
    assert.deepEqual(hub.lines({}, 1).map((l) => l.text), ['250 ok']);
    assert.equal(hub.counters('a')!.services.get('smtp')!.lines, 3, 'counters count every line, not just the kept ones');
    assert.throws(() => hub.add({ name: 'a', wharf: fakeWharf() }), /already/);
    hub.close();
    assert.equal(a.bus.listenerCount('transcript'), 0);
  });

  it('with transcript_buffer = 0 listens to transcripts only while someone follows them', () => {
    const hub = new Hub(0);
    const w = fakeWharf();
    hub.add({ name: 'w', wharf: w });
    const t = new Transcript(w.bus, 'imap', 'imap-1', '127.0.0.1:5');
    assert.equal(t.active, false, 'sessions skip building transcript lines');
    const res = new FakeRes();
    hub.attach(res as unknown as ServerResponse, { service: 'imap' });
    assert.equal(t.active, true);
    t.server('* OK ready');
    assert.ok(res.chunks.some((c) => c.startsWith('event: transcript\n') && c.includes('"source":"w"') && c.includes('* OK ready')));
    res.destroy();
    assert.equal(hub.clientCount, 0);
    assert.equal(t.active, false);
    hub.close();
  });

  it('replays matching lines to a new SSE client, then sends live ones that match its filter', () => {
    const hub = new Hub(10);
    const w = fakeWharf();
    hub.add({ name: 'w', wharf: w });
    const smtp = new Transcript(w.bus, 'smtp', 'smtp-1', '127.0.0.1:1');
    const pop = new Transcript(w.bus, 'pop3', 'pop3-1', '127.0.0.1:2');
    smtp.server('220 before');
    pop.server('+OK before');
    const res = new FakeRes();
    hub.attach(res as unknown as ServerResponse, { service: 'smtp' });
    smtp.client('QUIT');
    pop.client('QUIT');
    const events = res.chunks.filter((c) => c.startsWith('event: transcript')).map((c) => JSON.parse(c.split('data: ')[1]!).text);
    assert.deepEqual(events, ['220 before', 'QUIT']);
    w.bus.emit('queue-attempt', { job: 1, delivered: 1, failed: 0, deferred: 0 });
    assert.ok(res.chunks.some((c) => c.startsWith('event: queue\n') && c.includes('"source":"w"')));
    assert.equal(hub.counters('w')!.queueAttempts.get('delivered'), 1);
    hub.close();
    assert.equal(res.ended, true);
  });

  it('sends a heartbeat comment to each SSE client while it is connected', async () => {
    const hub = new Hub(10, 20);
    hub.add({ name: 'w', wharf: fakeWharf() });
    const res = new FakeRes();
    hub.attach(res as unknown as ServerResponse, {});
    await new Promise((r) => setTimeout(r, 70));
    assert.ok(res.chunks.filter((c) => c === ': heartbeat\n\n').length >= 2);
    res.destroy();
    const n = res.chunks.length;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(res.chunks.length, n, 'nothing is written to a client that left');
    hub.close();
  });

  it('disconnects an SSE client that stops reading instead of buffering for it', () => {
    const hub = new Hub(10);
    const w = fakeWharf();
    hub.add({ name: 'w', wharf: w });
    const res = new FakeRes();
    hub.attach(res as unknown as ServerResponse, {});
    res.writableLength = 64 * 1024 * 1024;
    new Transcript(w.bus, 'smtp', 'smtp-1', '127.0.0.1:1').server('220');
    assert.equal(hub.clientCount, 0);
    hub.close();
  });

  it('groups DNS trace steps by resolution, newest resolution first, steps in order', () => {
    const hub = new Hub(10);
    const w = fakeWharf();
    hub.add({ name: 'r', wharf: w });
    const step = (resolution: string, n: number, server: string, outcome: 'referral' | 'answer') =>
      w.bus.emit('dns-trace', { resolution, step: n, server, qname: 'www.hamburger.edu.', qtype: 'A', outcome, at: n });
    step('r1', 1, '198.41.0.4:53', 'referral');
    step('r1', 2, '10.0.0.1:53', 'referral');
    step('r2', 1, '198.41.0.4:53', 'answer');
    step('r1', 3, '10.0.0.2:53', 'answer');
    const list = hub.resolutionList(undefined, 10);
    assert.deepEqual(list.map((r) => r.resolution), ['r2', 'r1']);
    assert.deepEqual(list[1]!.steps.map((s) => s.step), [1, 2, 3]);
    assert.equal(list[1]!.qname, 'www.hamburger.edu.');
    assert.equal(hub.counters('r')!.dnsResolutions, 2);
    assert.deepEqual(hub.resolutionList('other', 10), []);
    hub.close();
  });

  it('counts connections and active connections from listener events, and DNS answers by rcode', () => {
    const hub = new Hub(10);
    const w = fakeWharf();
    hub.add({ name: 'w', wharf: w });
    w.bus.emit('connection', { service: 'pop3', remote: '127.0.0.1:1', open: true });
    w.bus.emit('connection', { service: 'pop3', remote: '127.0.0.1:2', open: true });
    w.bus.emit('connection', { service: 'pop3', remote: '127.0.0.1:1', open: false });
    const t = new Transcript(w.bus, 'dns', 'dns-udp-1', '127.0.0.1:53');
    t.client('QUERY x. IN A id=1');
    t.server('NXDOMAIN aa answers=0 authority=1 additional=0');
    const c = hub.counters('w')!;
    assert.deepEqual({ ...c.services.get('pop3') }, { connections: 2, active: 1, lines: 0 });
    assert.equal(c.dnsQueries.get('NXDOMAIN'), 1);
    hub.close();
  });
});
