import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { matchesQuery, query, randomizeCase } from './client.js';
import { decode, encode } from './wire/message.js';
import { emptyFlags, RCODE } from './wire/types.js';
import type { Message } from './wire/types.js';

type Behaviour = (q: Message, send: (m: Message | Buffer) => void) => void;

const answerTo = (q: Message, over: Partial<Message> = {}): Message => ({
  id: q.id,
  flags: emptyFlags({ qr: true, aa: true }),
  questions: q.questions.map((x) => ({ ...x })),
  answers: [{ name: q.questions[0]!.name, type: 'A', class: 'IN', ttl: 60, data: { address: '192.0.2.1' } }],
  authorities: [],
  additionals: [],
  ...over,
});

let udp: dgram.Socket;
let tcp: net.Server;
let port: number;
let behaviour: Behaviour = (q, send) => send(answerTo(q));
let tcpBehaviour: Behaviour = (q, send) => send(answerTo(q, { answers: [{ name: q.questions[0]!.name, type: 'A', class: 'IN', ttl: 60, data: { address: '192.0.2.99' } }] }));
const sentEdns: boolean[] = [];
const srcPorts: number[] = [];
const ids: number[] = [];

before(async () => {
  udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  port = udp.address().port;
  udp.on('message', (buf, rinfo) => {
    const q = decode(buf);
    sentEdns.push(q.edns !== undefined);
    srcPorts.push(rinfo.port);
    ids.push(q.id);
    behaviour(q, (m) => udp.send(Buffer.isBuffer(m) ? m : encode(m).buf, rinfo.port, rinfo.address));
  });
  tcp = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      tcpBehaviour(q, (m) => {
        const body = Buffer.isBuffer(m) ? m : encode(m).buf;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        // Split the frame across writes to exercise reassembly.
        sock.write(Buffer.concat([len, body.subarray(0, 3)]));
        setTimeout(() => sock.write(body.subarray(3)), 5);
      });
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
});

after(async () => {
  udp.close();
  await new Promise<void>((r) => tcp.close(() => r()));
});

const server = () => ({ host: '127.0.0.1', port });
const question = { name: 'www.example.edu.', type: 'A', class: 'IN' };

describe('0x20 and matching', () => {
  it('randomizeCase keeps the name and flips only letters', () => {
    const name = 'abcdefghijklmnopqrstuvwxyz.example-123.edu.';
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = randomizeCase(name);
      assert.equal(r.toLowerCase(), name);
      seen.add(r);
    }
    assert.ok(seen.size > 1, 'the case actually varies');
    assert.equal(randomizeCase('123.\\046.'), '123.\\046.');
  });

  it('matchesQuery checks QR, id, question and (with 0x20) the exact case', () => {
    const q = { name: 'wWw.ExAmple.edu.', type: 'A', class: 'IN' };
    const m = answerTo({ id: 7, flags: emptyFlags(), questions: [q], answers: [], authorities: [], additionals: [] });
    assert.equal(matchesQuery(m, 7, q, true), true);
    assert.equal(matchesQuery(m, 8, q, true), false);
    assert.equal(matchesQuery({ ...m, flags: emptyFlags() }, 7, q, true), false);
    assert.equal(matchesQuery(m, 7, { ...q, name: 'www.example.edu.' }, true), false);
    assert.equal(matchesQuery(m, 7, { ...q, name: 'www.example.edu.' }, false), true);
    assert.equal(matchesQuery(m, 7, { ...q, type: 'AAAA' }, false), false);
    assert.equal(matchesQuery({ ...m, questions: [] }, 7, q, false), false, 'NOERROR without a question');
    assert.equal(matchesQuery({ ...m, questions: [], flags: emptyFlags({ qr: true, rcode: RCODE.FORMERR }) }, 7, q, false), true);
  });
});

describe('query over UDP and TCP', () => {
  it('asks with EDNS, a random id and a fresh source port each time', async () => {
    behaviour = (q, send) => send(answerTo(q));
    const a = await query(server(), question, { timeoutMs: 1000, randomCase: true });
    const b = await query(server(), question, { timeoutMs: 1000 });
    assert.equal(a.message.answers.length, 1);
    assert.equal(a.tcp, false);
    assert.equal(a.sentName.toLowerCase(), question.name);
    assert.equal(sentEdns.at(-1), true);
    assert.notEqual(srcPorts.at(-1), srcPorts.at(-2));
    assert.equal(b.message.answers.length, 1);
    for (let i = 0; i < 4; i++) await query(server(), question, { timeoutMs: 1000 });
    assert.ok(new Set(ids.slice(-6)).size > 1, 'ids vary');
  });

  it('ignores garbage and spoofed answers and takes the real one', async () => {
    const flip = (s: string) => s.replace(/[a-z]/gi, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    behaviour = (q, send) => {
      send(Buffer.from('garbage that is not DNS'));
      send(answerTo(q, { id: (q.id + 1) & 0xffff }));
      send(answerTo(q, { questions: [{ ...q.questions[0]!, name: flip(q.questions[0]!.name) }] }));
      send(answerTo(q, { questions: [{ ...q.questions[0]!, name: 'evil.example.' }] }));
      send({ ...q }); // a query, not a response
      setTimeout(() => send(answerTo(q, { answers: [] })), 20);
    };
    const r = await query(server(), question, { timeoutMs: 1000, randomCase: true });
    assert.equal(r.message.answers.length, 0, 'the late, genuine answer was taken');
  });

  it('times out when only spoofs arrive', async () => {
    behaviour = (q, send) => send(answerTo(q, { id: (q.id + 1) & 0xffff }));
    await assert.rejects(query(server(), question, { timeoutMs: 150 }), { code: 'WHARF_DNS_TIMEOUT' });
  });

  it('retries over TCP on TC=1 (RFC 7766 §5)', async () => {
    behaviour = (q, send) => send(answerTo(q, { answers: [], flags: emptyFlags({ qr: true, tc: true }) }));
    const r = await query(server(), question, { timeoutMs: 1000, randomCase: true });
    assert.equal(r.tcp, true);
    assert.equal((r.message.answers[0]!.data as { address: string }).address, '192.0.2.99');
    const noRetry = await query(server(), question, { timeoutMs: 1000, noTcpRetry: true });
    assert.equal(noRetry.message.flags.tc, true);
  });

  it('TCP ignores a mismatched answer on the connection', async () => {
    tcpBehaviour = (q, send) => {
      send(answerTo(q, { id: (q.id + 1) & 0xffff }));
    };
    await assert.rejects(query(server(), question, { timeoutMs: 200, tcp: true }), { code: 'WHARF_DNS_TIMEOUT' });
  });

  it('retries without EDNS after FORMERR (RFC 6891 §7)', async () => {
    behaviour = (q, send) => send(q.edns ? answerTo(q, { answers: [], flags: emptyFlags({ qr: true, rcode: RCODE.FORMERR }) }) : answerTo(q));
    const n = sentEdns.length;
    const r = await query(server(), question, { timeoutMs: 1000 });
    assert.equal(r.message.flags.rcode, RCODE.NOERROR);
    assert.deepEqual(sentEdns.slice(n), [true, false]);
  });

  it('reports a closed port and honours an abort signal', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const deadPort = s.address().port;
    s.close();
    await assert.rejects(query({ host: '127.0.0.1', port: deadPort }, question, { timeoutMs: 1000 }), (err: { code?: string }) => err.code === 'WHARF_DNS_NETWORK' || err.code === 'WHARF_DNS_TIMEOUT');
    behaviour = () => {};
    const ac = new AbortController();
    const p = query(server(), question, { timeoutMs: 5000, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(p, { code: 'WHARF_DNS_ABORTED' });
  });
});
