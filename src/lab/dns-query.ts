// A one-question DNS exchange over UDP from a chosen loopback address: how the lab's hosts
// (cis.poly.edu) and the recursing fronts (recursive-chain.ts) ask a server. The resolver's own
// client (src/dns/client.ts) picks its source address itself; the pictures need the host's.
import * as dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { decode, encode } from '../dns/wire/message.js';
import { rdataTargetName } from '../dns/wire/records.js';
import { RCODE, emptyFlags } from '../dns/wire/types.js';
import type { Message, ResourceRecord } from '../dns/wire/types.js';
import { ScenarioError } from './line-client.js';

export interface AskOptions {
  server: string;
  port: number;
  name: string;
  type: string;
  /** Recursion desired. */
  rd: boolean;
  localAddress?: string;
  timeoutMs?: number;
}

export function ask(o: AskOptions): Promise<Message> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const id = randomInt(0x10000);
    const packet = encode({ id, flags: emptyFlags({ rd: o.rd }), questions: [{ name: o.name, type: o.type, class: 'IN' }], answers: [], authorities: [], additionals: [] }).buf;
    const timer = setTimeout(() => {
      sock.close();
      reject(new ScenarioError(`no DNS answer from ${o.server}:${o.port} for ${o.name} ${o.type} within ${o.timeoutMs ?? 5000} ms`));
    }, o.timeoutMs ?? 5000);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(new ScenarioError(`DNS query to ${o.server}:${o.port} failed: ${err.message}`));
    });
    sock.on('message', (buf) => {
      let msg: Message;
      try {
        msg = decode(buf);
      } catch {
        return;
      }
      if (msg.id !== id || !msg.flags.qr) return;
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.bind({ address: o.localAddress ?? '0.0.0.0', port: 0 }, () => sock.send(packet, o.port, o.server));
  });
}

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v as number, k]));

export function rcodeName(n: number): string {
  return RCODE_NAMES.get(n) ?? String(n);
}

/** "gaia.cs.umass.edu. A 127.53.4.10" */
export function briefRecord(r: ResourceRecord): string {
  const d = r.data as { address?: string; preference?: number };
  const target = rdataTargetName(r);
  const value = d.address ?? (d.preference !== undefined ? `${d.preference} ${target}` : target ?? '');
  return `${r.name} ${r.type} ${value}`.trim();
}

/** What a response says, in one phrase: the answer, a referral, or the rcode. */
export function summarize(m: Message): string {
  if (m.flags.rcode !== RCODE.NOERROR) return rcodeName(m.flags.rcode);
  if (m.answers.length) return m.answers.map(briefRecord).join(', ');
  const ns = m.authorities.filter((r) => r.type === 'NS');
  if (ns.length) return `referral to ${ns[0]!.name} (${ns.map((r) => rdataTargetName(r)).join(' ')})`;
  return 'no data';
}
