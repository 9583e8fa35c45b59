// A minimal, fast POP3 client for benchmarks: one socket, commands sent one at a time, multi-line
// answers found by scanning for CRLF.CRLF across chunk boundaries without copying the body.
import * as net from 'node:net';

export class BenchPop3 {
  private socket!: net.Socket;
  private chunks: Buffer[] = [];
  private waiting: (() => void) | null = null;
  private closed = false;

  static async connect(host: string, port: number): Promise<BenchPop3> {
    const c = new BenchPop3();
    await new Promise<void>((resolve, reject) => {
      c.socket = net.connect({ host, port, noDelay: true }, resolve);
      c.socket.once('error', reject);
    });
    c.socket.on('data', (d: Buffer) => {
      c.chunks.push(d);
      const w = c.waiting;
      c.waiting = null;
      w?.();
    });
    c.socket.on('close', () => {
      c.closed = true;
      c.waiting?.();
    });
    await c.line();
    return c;
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((r) => (this.waiting = r));
  }

  /** One status line. */
  async line(): Promise<string> {
    for (;;) {
      const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        const rest = buf.subarray(i + 2);
        this.chunks = rest.length ? [rest] : [];
        return buf.subarray(0, i).toString('latin1');
      }
      this.chunks = buf.length ? [buf] : [];
      await this.more();
    }
  }

  /** Octets of a multi-line body up to and including CRLF.CRLF (the status line already read). */
  async body(): Promise<number> {
    let total = 0;
    let tail: Buffer = Buffer.alloc(0);
    for (;;) {
      while (this.chunks.length) {
        const c = this.chunks.shift()!;
        // Look for the terminator in (last 4 octets of what came before) + this chunk.
        const probe = tail.length ? Buffer.concat([tail, c.subarray(0, 5)]) : null;
        let end = -1;
        if (probe) {
          const j = probe.indexOf('\r\n.\r\n');
          if (j >= 0) end = j + 5 - tail.length;
        }
        if (end < 0) {
          const j = c.indexOf('\r\n.\r\n');
          if (j >= 0) end = j + 5;
        }
        if (end >= 0) {
          total += end;
          const rest = c.subarray(end);
          if (rest.length) this.chunks.unshift(rest);
          return total;
        }
        total += c.length;
        tail = c.length >= 4 ? c.subarray(c.length - 4) : Buffer.concat([tail, c]).subarray(-4);
      }
      await this.more();
    }
  }

  async command(text: string): Promise<string> {
    this.socket.write(text + '\r\n');
    const l = await this.line();
    if (!l.startsWith('+OK')) throw new Error(`${text.split(' ')[0]}: ${l}`);
    return l;
  }

  async retr(n: number): Promise<number> {
    await this.command(`RETR ${n}`);
    return this.body();
  }

  async quit(): Promise<void> {
    await this.command('QUIT').catch(() => {});
    this.socket.destroy();
  }
}
