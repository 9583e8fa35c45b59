// The DNS server's UDP side: one datagram in, at most one out (RFC 1035 §4.2.1), rate limited.
//
// Invariants
//  - No datagram can crash the process: handle() never throws, socket errors are logged.
//  - RRL (rrl.ts) decides every response: send, drop, or "slip" a header-and-question
//    response with TC=1 so a legitimate client retries over TCP.
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../../core/logger.js';
import { describeError } from '../../core/errors.js';
import { normalizeAddress } from '../../core/net.js';
import type { DnsServer } from './server.js';
import type { ResponseRateLimiter } from './rrl.js';

/** SO_RCVBUF asked for the server's UDP socket (4 MiB; Linux grants up to rmem_max). */
const RECV_BUFFER = 4 * 1024 * 1024;

export class UdpDnsListener {
  private socket: dgram.Socket | null = null;
  private inflight = 0;

  constructor(
    private readonly server: DnsServer,
    private readonly logger: Logger,
    private readonly rrl?: ResponseRateLimiter,
  ) {}

  /** Binds host:port; resolves the port bound. Rejects with the errno error (EADDRINUSE…). */
  bind(host: string, port: number): Promise<number> {
    const type = isIP(host) === 6 ? 'udp6' : 'udp4';
    // A deep receive queue rides out event-loop pauses (GC, a zone reload) under bursts instead
    // of dropping datagrams in the kernel; the kernel caps it at net.core.rmem_max.
    const sock = dgram.createSocket({ type, reuseAddr: false, recvBufferSize: RECV_BUFFER });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        sock.close();
        reject(err);
      };
      sock.once('error', onError);
      sock.bind({ address: host, port, exclusive: true }, () => {
        sock.off('error', onError);
        sock.on('error', (err) => this.logger.warn('udp socket error', { err: describeError(err) }));
        sock.on('message', (msg, rinfo) => this.onMessage(sock, msg, rinfo));
        this.socket = sock;
        resolve(sock.address().port);
      });
    });
  }

  /**
   * Serves on a socket bound elsewhere (dns.workers: the primary's socket, shared with the
   * worker processes; the kernel hands each datagram to one of them). close() closes only our
   * descriptor of it.
   */
  adopt(sock: dgram.Socket): void {
    sock.on('error', (err) => this.logger.warn('udp socket error', { err: describeError(err) }));
    sock.on('message', (msg, rinfo) => this.onMessage(sock, msg, rinfo));
    this.socket = sock;
  }

  /** The bound socket (to hand to worker processes). */
  get boundSocket(): dgram.Socket | null {
    return this.socket;
  }

  private onMessage(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Bound the work queued by a flood: beyond this, datagrams are dropped (UDP may lose them).
    if (this.inflight >= 10_000) return;
    this.inflight++;
    const address = normalizeAddress(rinfo.address);
    void this.server.handle(msg, { address, port: rinfo.port, transport: 'udp' }).then((out) => {
      this.inflight--;
      const res = out[0];
      if (!res || this.socket !== sock) return;
      let data = res;
      if (this.rrl) {
        const v = this.rrl.check(address);
        if (v === 'drop') return;
        if (v === 'slip') data = truncated(res);
      }
      sock.send(data, rinfo.port, rinfo.address, (err) => {
        if (err) this.logger.debug('udp send failed', { client: address, err: describeError(err) });
      });
    });
  }

  close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (!s) return Promise.resolve();
    return new Promise((r) => s.close(() => r()));
  }
}

/** The header and question of a response with TC=1 and no records (the RRL "slip"). */
export function truncated(res: Buffer): Buffer {
  // Walk the question section (names in questions are never compressed by us: first name).
  let pos = 12;
  const qd = res.readUInt16BE(4);
  for (let i = 0; i < qd && pos < res.length; i++) {
    while (pos < res.length && res[pos] !== 0) {
      if ((res[pos]! & 0xc0) === 0xc0) { pos += 1; break; }
      pos += res[pos]! + 1;
    }
    pos += 5;
  }
  const out = Buffer.from(res.subarray(0, Math.min(pos, res.length)));
  out[2] = out[2]! | 0x02; // TC
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}
