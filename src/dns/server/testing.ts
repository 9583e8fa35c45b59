// Test helpers for the DNS server: a minimal UDP/TCP client speaking raw bytes (tests use it
// instead of src/dns/client.ts so they can send malformed packets and read every frame).
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { decode, encode } from '../wire/message.js';
import { emptyFlags } from '../wire/types.js';
import type { Message } from '../wire/types.js';

export function query(name: string, type = 'A', over: Partial<Message> & { rd?: boolean; edns?: Message['edns'] } = {}): Message {
  const m: Message = {
    id: over.id ?? Math.floor(Math.random() * 65536),
    flags: over.flags ?? emptyFlags({ rd: over.rd ?? false }),
    questions: over.questions ?? [{ name, type, class: 'IN' }],
    answers: over.answers ?? [],
    authorities: over.authorities ?? [],
    additionals: over.additionals ?? [],
  };
  if (over.edns) m.edns = over.edns;
  return m;
}

/** Sends one datagram; resolves the first answer, or null after `timeoutMs`. */
export function udpExchange(port: number, packet: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve(null); }, timeoutMs);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.send(packet, port, host);
  });
}

export async function udpQuery(port: number, msg: Message, timeoutMs = 2000): Promise<Message | null> {
  const r = await udpExchange(port, encode(msg).buf, timeoutMs);
  return r ? decode(r) : null;
}

/** A TCP connection reading length-prefixed frames. */
export class TcpClient {
  private buf: Buffer = Buffer.alloc(0);
  private frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 2 && this.buf.length >= 2 + this.buf.readUInt16BE(0)) {
        const n = this.buf.readUInt16BE(0);
        this.frames.push(Buffer.from(this.buf.subarray(2, 2 + n)));
        this.buf = this.buf.subarray(2 + n);
      }
      this.wake();
    });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => {});
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }
  send(packet: Buffer): void {
    const f = Buffer.alloc(2 + packet.length);
    f.writeUInt16BE(packet.length, 0);
    packet.copy(f, 2);
    this.socket.write(f);
  }
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }
  /** Next frame, or null on close / timeout. */
  async read(timeoutMs = 2000): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed || Date.now() >= deadline) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
    return this.frames.shift()!;
  }
  close(): void {
    this.socket.destroy();
  }
}

export async function tcpQuery(port: number, msg: Message): Promise<Message | null> {
  const c = await TcpClient.connect(port);
  try {
    c.send(encode(msg).buf);
    const r = await c.read();
    return r ? decode(r) : null;
  } finally {
    c.close();
  }
}
