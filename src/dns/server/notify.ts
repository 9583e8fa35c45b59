// NOTIFY (RFC 1996): tell the secondaries a zone changed so they transfer it now, not at the
// next SOA refresh. Sent over UDP from a fresh socket (random port), retried until answered.
//
// Invariants
//  - A NOTIFY is opcode 4, AA=1, the question "<zone> IN SOA" and our SOA in the answer section
//    as a hint (RFC 1996 §3.7); the secondary's answer has QR=1, the same id and opcode.
//  - Each target is retried `retries` times with a doubling interval (§3.6), then given up
//    (logged); a newer NOTIFY for the same zone and target supersedes one still retrying.
//  - Only loopback or configured addresses are ever sent to: the targets come from the config.
import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import { describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { decode, encode } from '../wire/message.js';
import { OPCODE, emptyFlags } from '../wire/types.js';
import type { Message, ResourceRecord } from '../wire/types.js';

export interface NotifyTarget { host: string; port: number }

export interface NotifyOptions {
  retries?: number;
  /** First wait for an answer; doubles per retry. */
  timeoutMs?: number;
  logger: Logger;
}

export function notifyMessage(origin: string, soa: ResourceRecord | undefined, id: number): Message {
  return {
    id,
    flags: emptyFlags({ opcode: OPCODE.NOTIFY, aa: true }),
    questions: [{ name: origin, type: 'SOA', class: 'IN' }],
    answers: soa ? [soa] : [],
    authorities: [],
    additionals: [],
  };
}

export class Notifier {
  private readonly pending = new Map<string, { cancel(): void }>();
  private closed = false;
  readonly stats = { sent: 0, acknowledged: 0, failed: 0 };

  constructor(private readonly opts: NotifyOptions) {}

  /** Sends NOTIFY for `origin` to every target; resolves when each one answered or gave up. */
  notify(origin: string, soa: ResourceRecord | undefined, targets: readonly NotifyTarget[]): Promise<boolean[]> {
    return Promise.all(targets.map((t) => this.one(origin, soa, t)));
  }

  private one(origin: string, soa: ResourceRecord | undefined, target: NotifyTarget): Promise<boolean> {
    const key = `${origin.toLowerCase()}|${target.host}|${target.port}`;
    this.pending.get(key)?.cancel();
    if (this.closed) return Promise.resolve(false);
    const retries = this.opts.retries ?? 5;
    let wait = this.opts.timeoutMs ?? 1000;
    const id = randomInt(0, 65536);
    const packet = encode(notifyMessage(origin, soa, id)).buf;
    const sock = dgram.createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let attempts = 0;
      let done = false;
      const finish = (ok: boolean): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        if (this.pending.get(key) === handle) this.pending.delete(key);
        try { sock.close(); } catch { /* already closed */ }
        if (ok) this.stats.acknowledged++;
        else this.stats.failed++;
        resolve(ok);
      };
      const handle = { cancel: () => finish(false) };
      this.pending.set(key, handle);
      sock.on('error', (err) => this.opts.logger.debug('notify socket error', { err: describeError(err) }));
      sock.on('message', (msg, rinfo) => {
        let m: Message;
        try { m = decode(msg); } catch { return; }
        if (m.id !== id || !m.flags.qr || m.flags.opcode !== OPCODE.NOTIFY || rinfo.port !== target.port) return;
        this.opts.logger.info('notify acknowledged', { zone: origin, target: `${target.host}:${target.port}`, rcode: m.flags.rcode });
        finish(true);
      });
      const send = (): void => {
        if (done) return;
        if (attempts++ > retries) {
          this.opts.logger.warn('notify not acknowledged', { zone: origin, target: `${target.host}:${target.port}` });
          finish(false);
          return;
        }
        this.stats.sent++;
        sock.send(packet, target.port, target.host, (err) => { if (err) this.opts.logger.debug('notify send failed', { err: describeError(err) }); });
        timer = setTimeout(send, wait);
        wait *= 2;
      };
      send();
    });
  }

  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.cancel();
  }
}
