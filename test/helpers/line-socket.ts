// A raw line-oriented TCP client for tests that speak a protocol by hand (POP3, IMAP, FTP
// control): one CRLF-terminated line at a time, with a timeout, and `closed` once the server
// hangs up. Protocol-specific helpers (POP3 multi-line answers, IMAP tags, FTP login) wrap it.
import * as net from 'node:net';

export class LineSocket {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => {
        s.off('error', reject);
        resolve(new LineSocket(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  get localPort(): number {
    return this.socket.localPort!;
  }

  /** The next line without its CRLF; rejects when the connection closes or after timeoutMs. */
  async line(timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      if (this.closed) throw new Error('connection closed');
      const left = end - Date.now();
      if (left <= 0) throw new Error('timeout waiting for a line');
      await new Promise<void>((r) => {
        const tm = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(tm);
          r();
        });
      });
    }
  }

  /** Writes text (a string gets CRLF appended; a Buffer goes as is). */
  send(c: string | Buffer): void {
    this.socket.write(typeof c === 'string' ? c + '\r\n' : c);
  }

  /** Sends one command and reads one line. */
  async cmd(c: string | Buffer, timeoutMs?: number): Promise<string> {
    this.send(c);
    return this.line(timeoutMs);
  }

  write(s: string): void {
    this.socket.write(s);
  }

  close(): void {
    this.socket.destroy();
  }
}
