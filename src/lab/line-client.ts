// The scenarios' scripted client: a line-by-line TCP client that records what it sends and
// receives in the slides' notation ("C: HELO crepes.fr", "S: 250 …") and checks each reply
// against what the script expects. It connects from a chosen loopback address, so the servers
// see the lab host (alice.crepes.fr, cis.poly.edu) as the peer.
//
// Invariants
//  - Every line read or written is in `transcript` in order, secrets replaced by `shown`.
//  - A reply that does not match fails the scenario with a ScenarioError saying what was
//    expected and what came; a silent server fails it after the timeout.
import * as net from 'node:net';

export class ScenarioError extends Error {}

export interface LineClientOptions {
  host: string;
  port: number;
  localAddress?: string;
  timeoutMs?: number;
  /** Where transcript lines go. */
  transcript: string[];
  /** Prefix of each line ("" or "  " for a nested picture). */
  indent?: string;
}

export class LineClient {
  private buf = Buffer.alloc(0);
  private ended = false;
  private waiter: (() => void) | null = null;
  private readonly timeoutMs: number;
  private readonly indent: string;

  private constructor(
    readonly socket: net.Socket,
    private readonly transcript: string[],
    opts: LineClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.indent = opts.indent ?? '';
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {
      this.ended = true;
      this.wake();
    });
  }

  static connect(opts: LineClientOptions): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ScenarioError(`connecting to ${opts.host}:${opts.port} timed out`));
      }, opts.timeoutMs ?? 10_000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new ScenarioError(`cannot connect to ${opts.host}:${opts.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new LineClient(socket, opts.transcript, opts));
      });
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async waitData(what: string): Promise<void> {
    if (this.ended) throw new ScenarioError(`the server closed the connection while we waited for ${what}`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ScenarioError(`no answer within ${this.timeoutMs} ms while waiting for ${what}`));
      }, this.timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  note(text: string): void {
    this.transcript.push(`${this.indent}   (${text})`);
  }

  /** One line from the server (without CRLF), recorded as "S: …". */
  async readLine(record = true): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const line = this.buf.subarray(0, i).toString('utf8').replace(/\r$/, '');
        this.buf = this.buf.subarray(i + 1);
        if (record) this.transcript.push(`${this.indent}S: ${line}`);
        return line;
      }
      await this.waitData('a line');
    }
  }

  /** Exactly n octets (an IMAP literal). */
  async readBytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.waitData(`${n} octets`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return Buffer.from(out);
  }

  /** Sends a line; `shown` replaces it in the transcript (passwords). */
  async send(line: string, shown?: string): Promise<void> {
    this.transcript.push(`${this.indent}C: ${shown ?? line}`);
    await new Promise<void>((resolve, reject) => this.socket.write(`${line}\r\n`, (err) => (err ? reject(new ScenarioError(`writing: ${err.message}`)) : resolve())));
  }

  async writeRaw(data: string | Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => this.socket.write(data, (err) => (err ? reject(new ScenarioError(`writing: ${err.message}`)) : resolve())));
  }

  /** A line that must match `expected` (a prefix or a pattern). */
  async expect(expected: string | RegExp, context: string): Promise<string> {
    const line = await this.readLine();
    const ok = typeof expected === 'string' ? line.startsWith(expected) : expected.test(line);
    if (!ok) throw new ScenarioError(`${context}: expected ${String(expected)}, the server said "${line}"`);
    return line;
  }

  /** An SMTP reply (multi-line included); its code must be `code`. */
  async smtpReply(code: number, context: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      lines.push(line);
      if (!/^\d{3}[ -]?/.test(line)) throw new ScenarioError(`${context}: malformed reply "${line}"`);
      if (line[3] !== '-') break;
    }
    const got = Number(lines[lines.length - 1]!.slice(0, 3));
    if (got !== code) throw new ScenarioError(`${context}: expected ${code}, the server said "${lines[lines.length - 1]}"`);
    return lines;
  }

  /** Lines up to a lone "." (POP3 multi-line answers), dot-unstuffed (RFC 1939 §3). */
  async readDotted(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine();
      if (line === '.') return out;
      out.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** Connects a plain data socket (FTP passive data), from `localAddress`. */
export function connectData(host: string, port: number, localAddress: string | undefined, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ScenarioError(`data connection to ${host}:${port} timed out`));
    }, timeoutMs);
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new ScenarioError(`data connection to ${host}:${port} failed: ${err.message}`));
    });
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

/** Everything a socket sends until it closes. */
export function readAllFrom(s: net.Socket, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ScenarioError('data connection did not close in time'));
    }, timeoutMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new ScenarioError(`data connection: ${err.message}`));
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}
