// Fake authoritative DNS servers for tests: ZoneSet + answerQuery behind a tiny UDP and TCP
// responder on a 127.x address. Each fake records the questions it got (to count upstream
// traffic) and can be told to misbehave: stay silent, refuse, send spoofed answers first, or
// rewrite its answers (poisoning attempts).
//
// startFakeServers() puts several fakes on the SAME port number on different 127.x addresses
// (a referral's glue gives only addresses, so a resolver asks every server on one port): it binds
// the first address on port 0, reuses that number on the others and retries if one is taken.

import dgram from 'node:dgram';
import net from 'node:net';
import { ZoneSet, answerQuery } from '../../src/dns/authoritative.js';
import type { ZoneInput } from '../../src/dns/authoritative.js';
import { decode, encode } from '../../src/dns/wire/message.js';
import { emptyFlags, RCODE } from '../../src/dns/wire/types.js';
import type { Message, Question } from '../../src/dns/wire/types.js';
import { parseZone } from '../../src/dns/zone/parse.js';

export type FakeMode = 'normal' | 'silent' | 'refused' | 'servfail';

export interface FakeSpec {
  address: string;
  /** Zones in master-file text, keyed by origin. */
  zones?: Record<string, string>;
  mode?: FakeMode;
  /** Rewrites each answer before it is sent (poisoning, broken servers). */
  mutate?: (response: Message, query: Message) => Message;
  /** Extra raw packets sent before the real answer over UDP (spoofs). */
  spoof?: (query: Message) => Message[];
  /** Always set TC on UDP answers (forces TCP). */
  truncateUdp?: boolean;
}

export interface FakeServer {
  address: string;
  port: number;
  /** Questions received (UDP and TCP), in order. */
  received: Question[];
  tcpQueries: number;
  spec: FakeSpec;
  close(): Promise<void>;
}

export function zonesFrom(zones: Record<string, string>): ZoneSet {
  const inputs: ZoneInput[] = Object.entries(zones).map(([origin, text]) => {
    const z = parseZone(text, { origin, defaultTtl: 3600 });
    return { origin: z.origin, records: z.records };
  });
  return new ZoneSet(inputs);
}

function respond(spec: FakeSpec, zones: ZoneSet, query: Message): Message | null {
  const mode = spec.mode ?? 'normal';
  if (mode === 'silent') return null;
  const base = (rcode: number): Message => ({
    id: query.id,
    flags: emptyFlags({ qr: true, rd: query.flags.rd, rcode }),
    questions: query.questions.map((q) => ({ ...q })),
    answers: [],
    authorities: [],
    additionals: [],
  });
  if (mode === 'refused') return base(RCODE.REFUSED);
  if (mode === 'servfail') return base(RCODE.SERVFAIL);
  const res = answerQuery(query, zones, { recursionAvailable: false }) ?? base(RCODE.REFUSED);
  return spec.mutate ? spec.mutate(res, query) : res;
}

async function startOne(spec: FakeSpec, port: number): Promise<FakeServer> {
  const zones = zonesFrom(spec.zones ?? {});
  const received: Question[] = [];
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, spec.address, () => { udp.off('error', reject); resolve(); });
  });
  const actualPort = udp.address().port;
  const server: FakeServer = {
    address: spec.address,
    port: actualPort,
    received,
    tcpQueries: 0,
    spec,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
  udp.on('message', (buf, rinfo) => {
    let query: Message;
    try { query = decode(buf); } catch { return; }
    if (query.flags.qr) return;
    if (query.questions[0]) received.push({ ...query.questions[0] });
    const send = (m: Message, tc = false): void => {
      const out = encode(m, { maxSize: 1232 });
      if (tc) out.buf.writeUInt16BE(out.buf.readUInt16BE(2) | 0x0200, 2);
      udp.send(out.buf, rinfo.port, rinfo.address);
    };
    for (const s of spec.spoof?.(query) ?? []) send(s);
    const res = respond(spec, zones, query);
    if (!res) return;
    if (spec.truncateUdp) {
      send({ ...res, answers: [], authorities: [], additionals: [] }, true);
      return;
    }
    send(res);
  });
  udp.on('error', () => { /* keep serving */ });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buffered = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return;
        const body = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        let query: Message;
        try { query = decode(body); } catch { sock.destroy(); return; }
        if (query.questions[0]) received.push({ ...query.questions[0] });
        server.tcpQueries++;
        const res = respond(spec, zones, query);
        if (!res) continue;
        const out = encode(res).buf;
        const frame = Buffer.alloc(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        sock.write(frame);
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(actualPort, spec.address, () => { tcp.off('error', reject); resolve(); });
    });
  } catch (err) {
    await new Promise<void>((r) => udp.close(() => r()));
    throw err;
  }
  return server;
}

/** Starts one fake per spec, all on one port number; retries with another port if taken. */
export async function startFakeServers(specs: FakeSpec[]): Promise<FakeServer[]> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const started: FakeServer[] = [];
    try {
      const first = await startOne(specs[0]!, 0);
      started.push(first);
      for (const spec of specs.slice(1)) started.push(await startOne(spec, first.port));
      return started;
    } catch (err) {
      lastErr = err;
      await Promise.all(started.map((s) => s.close()));
    }
  }
  throw lastErr;
}

/** Total questions received by `servers`. */
export function totalQueries(servers: FakeServer[]): number {
  return servers.reduce((n, s) => n + s.received.length, 0);
}
