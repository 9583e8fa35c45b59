// The recursive-query picture of the slides, made real: a "recursing front" beside each lab DNS
// server, on the same address and port dns+1. A front takes a query with RD=1, asks its own
// Wharf server (RD=0) and
//   - with an authoritative answer (or NXDOMAIN): passes it back up;
//   - with a referral: passes the query DOWN to the referred server's front (RD=1) and relays
//     the answer it gets back UP;
//   - when its server has nothing to say (a local server such as dns.poly.edu, not authoritative
//     for the name): passes the query to the root's front.
// So cis.poly.edu → dns.poly.edu → root → edu TLD → dns.cs.umass.edu and the answer back the
// same way: the 8 arrows of the slides' recursive picture.
//
// Why a front and not the servers themselves: a Wharf DNS server answers from its own zones
// first (RFC 1034 §4.3.2), so the root, authoritative for ".", always refers and never recurses
// — as real root and TLD servers do (the slides' note on load). The front is lab machinery that
// plays "a root that recurses", built on the real servers' answers; it is not a Wharf feature.
//
// Invariants
//  - Loopback only: fronts bind the lab's own 127.x addresses.
//  - A chain never loops: each hop carries a depth; beyond MAX_DEPTH a front answers SERVFAIL.
//  - Every arrow (down and up) is logged in order. When the first front (the one a host asked)
//    has its answer, the chain is emitted on that instance's bus as one resolution of
//    'dns-trace' steps, one per server passed (the console draws it).
import * as dgram from 'node:dgram';
import { decode, encode } from '../dns/wire/message.js';
import { rdataTargetName } from '../dns/wire/records.js';
import { RCODE, emptyFlags } from '../dns/wire/types.js';
import type { Message } from '../dns/wire/types.js';
import type { Wharf } from '../wharf.js';
import { ask, summarize } from './dns-query.js';
import type { World } from './world.js';
import { hostNameOf } from './world.js';

export interface ChainArrow {
  from: string;
  to: string;
  dir: 'down' | 'up';
  text: string;
}

export interface RecursiveChain {
  /** The port every front listens on (the DNS port + 1). */
  port: number;
  /** Every arrow so far, in order. */
  readonly log: ChainArrow[];
  describe(): string;
  stop(): Promise<void>;
}

/** Starts one front per lab DNS server; `buses` lets arrows reach the console. */
export async function startRecursiveChain(world: World, buses: Record<string, Wharf> = {}): Promise<RecursiveChain> {
  const port = world.ports.dns + 1;
  const log: ChainArrow[] = [];
  const servers = world.instances.filter((s) => s.services.includes('dns'));
  const root = world.hosts['a.root-servers.net']!;
  const sockets: dgram.Socket[] = [];
  const name = (addr: string): string => hostNameOf(world, addr) ?? addr;
  let seq = 0;
  const inflight = new Set<string>();

  const serverAddrs = new Set(servers.map((s) => s.address));
  const arrow = (a: ChainArrow): void => {
    log.push(a);
  };
  /** The chain since `from`, as one resolution on the bus of the instance at `self`. */
  const emitChain = (self: string, from: number, qname: string, qtype: string): void => {
    const bus = Object.values(buses).find((w) => w.config.dns.host === self)?.bus;
    if (!bus) return;
    const id = `chain${++seq}`;
    const arrows = log.slice(from);
    let step = 0;
    for (const down of arrows.filter((a) => a.dir === 'down')) {
      const up = arrows.find((a) => a.dir === 'up' && a.from === down.to && a.to === down.from);
      const server = world.hosts[down.to] ?? down.to;
      bus.emit('dns-trace', { resolution: id, step: ++step, server: `${server}:${port}`, serverName: down.to, qname, qtype, outcome: 'answer', detail: `recursive: ${down.from} passed the query to ${down.to}, which answered ${up?.text ?? 'nothing'}`, at: Date.now() });
    }
  };

  /** The query handled by the front at `self`. */
  const handle = async (self: string, q: Message, peer: string): Promise<Message> => {
    const question = q.questions[0]!;
    const reply = (m: Partial<Message>): Message => ({ id: q.id, flags: { ...emptyFlags(), ...(m.flags ?? {}), qr: true, rd: true, ra: true }, questions: q.questions, answers: m.answers ?? [], authorities: m.authorities ?? [], additionals: [] });
    // A loop would bring the same question back to a front that is still working on it.
    const key = `${self} ${question.name.toLowerCase()} ${question.type}`;
    if (inflight.has(key) || inflight.size > 1000) return reply({ flags: emptyFlags({ rcode: RCODE.SERVFAIL }) });
    inflight.add(key);
    const from = log.length;
    try {
      return await pass(self, q, question, reply);
    } finally {
      inflight.delete(key);
      // A host (not another front) asked: the chain is complete.
      if (!serverAddrs.has(peer)) emitChain(self, from, question.name, question.type);
    }
  };

  const pass = async (self: string, q: Message, question: Message['questions'][number], reply: (m: Partial<Message>) => Message): Promise<Message> => {
    const own = await ask({ server: self, port: world.ports.dns, name: question.name, type: question.type, rd: false, localAddress: self, timeoutMs: 3000 });
    let next: string | undefined;
    if (own.flags.rcode === RCODE.NOERROR && own.answers.length > 0) return reply({ answers: own.answers, flags: emptyFlags({ aa: own.flags.aa }) });
    if (own.flags.rcode === RCODE.NXDOMAIN || (own.flags.aa && own.flags.rcode === RCODE.NOERROR)) return reply({ authorities: own.authorities, flags: emptyFlags({ rcode: own.flags.rcode, aa: own.flags.aa }) });
    const ns = own.authorities.filter((r) => r.type === 'NS');
    if (own.flags.rcode === RCODE.NOERROR && ns.length > 0) {
      // A referral: the glue of the first name server that has one.
      for (const r of ns) {
        const target = rdataTargetName(r);
        const glue = own.additionals.find((g) => g.type === 'A' && target !== undefined && g.name.toLowerCase() === target.toLowerCase());
        if (glue) {
          next = (glue.data as { address: string }).address;
          break;
        }
      }
    } else if (self !== root) {
      next = root; // a local server with nothing to say starts at the root
    }
    if (!next) return reply({ flags: emptyFlags({ rcode: RCODE.SERVFAIL }) });
    const qtext = `${question.name} ${question.type}? (recursion desired)`;
    arrow({ from: name(self), to: name(next), dir: 'down', text: qtext });
    const down = await ask({ server: next, port, name: question.name, type: question.type, rd: true, localAddress: self, timeoutMs: 4000 });
    arrow({ from: name(next), to: name(self), dir: 'up', text: summarize(down) });
    return reply({ answers: down.answers, authorities: down.authorities, flags: emptyFlags({ rcode: down.flags.rcode }) });
  };

  try {
    for (const s of servers) {
      const sock = dgram.createSocket('udp4');
      sockets.push(sock);
      sock.on('message', (buf, rinfo) => {
        let q: Message;
        try {
          q = decode(buf);
        } catch {
          return;
        }
        if (q.flags.qr || q.questions.length !== 1 || !q.flags.rd) return;
        handle(s.address, q, rinfo.address)
          .catch(() => ({ id: q.id, flags: emptyFlags({ qr: true, rd: true, ra: true, rcode: RCODE.SERVFAIL }), questions: q.questions, answers: [], authorities: [], additionals: [] }) as Message)
          .then((m) => {
            try {
              sock.send(encode(m).buf, rinfo.port, rinfo.address);
            } catch {
              // the socket closed meanwhile
            }
          });
      });
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ address: s.address, port }, () => {
          sock.removeListener('error', reject);
          sock.on('error', () => {});
          resolve();
        });
      });
    }
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  return {
    port,
    log,
    describe: () => `recursing fronts (dns-recursive picture) on every lab DNS server's address, port ${port}/udp`,
    stop: async () => {
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // already closed
        }
      }
    },
  };
}
