// Test helpers for session tests (SMTP, POP3, IMAP, FTP): an in-memory socket pair with real
// stream semantics, a line-oriented test client, and a player for transcripts written in the
// slides' notation ("C: USER bob" / "S: +OK*").
//
// Invariants of socketPair(): it behaves like a TCP connection with allowHalfOpen=false —
// ending one side delivers EOF to the other, which then ends too; destroying one side delivers
// EOF to the other; a writer is held back (write() returns false, 'drain' later) until the other
// side reads, so backpressure can be tested without sockets; bytes arrive on a later turn of the
// event loop, never synchronously inside write().
import { Duplex } from 'node:stream';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { AssertionError } from 'node:assert';

type WriteCb = (error?: Error | null) => void;

let nextPort = 40000;

class PairEnd extends Duplex {
  peer!: PairEnd;
  /** The peer's write callback, held until we read (backpressure). */
  private heldWrite: WriteCb | null = null;
  private eofPushed = false;
  remoteAddress = '127.0.0.1';
  remotePort = 0;
  localAddress = '127.0.0.1';
  localPort = 0;

  constructor() {
    super({ allowHalfOpen: false, highWaterMark: 16 * 1024 });
  }

  deliver(chunk: Buffer, cb: WriteCb): void {
    if (this.destroyed || this.eofPushed) {
      cb(); // like a socket whose peer is gone: the bytes vanish
      return;
    }
    if (this.push(chunk)) cb();
    else this.heldWrite = cb;
  }

  deliverEof(): void {
    if (this.eofPushed || this.destroyed) return;
    this.eofPushed = true;
    this.push(null);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: WriteCb): void {
    // Never synchronous: a real socket delivers on a later turn of the event loop, and code that
    // attaches listeners right after a write (tls.connect on a connected socket) relies on it.
    setImmediate(() => this.peer.deliver(chunk, cb));
  }

  override _read(): void {
    const cb = this.heldWrite;
    this.heldWrite = null;
    cb?.();
  }

  override _final(cb: WriteCb): void {
    setImmediate(() => {
      this.peer.deliverEof();
      cb();
    });
  }

  override _destroy(err: Error | null, cb: WriteCb): void {
    const held = this.heldWrite;
    this.heldWrite = null;
    held?.();
    // The peer sees the connection go away as EOF (like a FIN/RST on loopback).
    setImmediate(() => this.peer.deliverEof());
    cb(err);
  }
}

/** An in-memory socket pair: `server` is a Duplex for `new Connection(...)`, `client` a TestClient. */
export function socketPair(): { server: Duplex; client: TestClient } {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  const clientPort = nextPort++;
  if (nextPort > 60000) nextPort = 40000;
  a.remotePort = clientPort;
  a.localPort = 2525;
  b.remotePort = 2525;
  b.localPort = clientPort;
  return { server: a, client: new TestClient(b) };
}

const DEFAULT_TIMEOUT = 3000;

/** A line-oriented client over any Duplex (in-memory pair end or TCP socket). */
export class TestClient {
  /** Every server line so far (without CRLF). */
  readonly received: string[] = [];
  readonly closed: Promise<void>;
  private unread: string[] = [];
  private partial: Buffer = Buffer.alloc(0);
  private ended = false;
  private notify: (() => void) | null = null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly listeners: Array<[string, (...args: any[]) => void]> = [];

  constructor(readonly stream: Duplex) {
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((r) => (resolveClosed = r));
    const on = <A extends unknown[]>(ev: string, fn: (...args: A) => void) => {
      stream.on(ev, fn);
      this.listeners.push([ev, fn as (...args: unknown[]) => void]);
    };
    on('data', (chunk: Buffer) => {
      let buf = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
      for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a)) {
        let end = i;
        if (end > 0 && buf[end - 1] === 0x0d) end--;
        const line = buf.subarray(0, end).toString('utf8');
        this.received.push(line);
        this.unread.push(line);
        buf = buf.subarray(i + 1);
      }
      this.partial = Buffer.from(buf);
      this.wake();
    });
    const onGone = () => {
      if (this.ended) return;
      this.ended = true;
      resolveClosed();
      this.wake();
    };
    on('end', onGone);
    on('close', onGone);
    on('error', () => onGone());
  }

  /**
   * Client side of STARTTLS: stops reading in clear text and returns a new TestClient over TLS
   * on the same stream (call it after reading the server's go-ahead). Trust the test certificate
   * with `ca`, and pass `servername`.
   */
  async startTls(opts: tls.ConnectionOptions): Promise<TestClient> {
    for (const [ev, fn] of this.listeners.splice(0)) this.stream.off(ev, fn);
    this.stream.on('error', () => {});
    const t = tls.connect({ ...opts, socket: this.stream });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => {
        t.off('error', reject);
        resolve();
      });
      t.once('error', reject);
    });
    return new TestClient(t);
  }

  /** Connects a TestClient to a TCP port (listener tests). */
  static connect(port: number, host = '127.0.0.1'): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new TestClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const n = this.notify;
    this.notify = null;
    n?.();
  }

  /** Sends text + CRLF. */
  send(text: string): void {
    this.stream.write(text + '\r\n');
  }

  sendRaw(data: string | Buffer): void {
    this.stream.write(data);
  }

  /** Next server line (no CRLF); rejects on timeout or EOF. */
  async readLine(timeoutMs = DEFAULT_TIMEOUT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.unread.shift();
      if (line !== undefined) return line;
      if (this.ended) throw new Error(`connection closed while waiting for a line; received so far:\n${this.dump()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout (${timeoutMs} ms) waiting for a line; received so far:\n${this.dump()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.notify = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Reads lines until pred matches one; returns them all, the matching line last. */
  async readUntil(pred: (line: string) => boolean, timeoutMs = DEFAULT_TIMEOUT): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      out.push(line);
      if (pred(line)) return out;
    }
  }

  /** Half-closes like a client that hangs up. */
  end(): void {
    this.stream.end();
  }

  destroy(): void {
    this.stream.destroy();
  }

  private dump(): string {
    return this.received.map((l) => `  S: ${l}`).join('\n') || '  (nothing)';
  }
}

function globToRegExp(pattern: string): RegExp {
  const src = pattern
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${src}$`, 's');
}

/**
 * Plays a transcript in the slides' notation: "C: …" lines are sent, "S: …" lines are expected in
 * order (`*` matches anything, otherwise exact). Other lines (blank, comments) are ignored;
 * leading indentation and trailing whitespace of script lines are ignored. Fails with the full
 * exchange so far when a line differs or does not come.
 */
export async function playTranscript(client: TestClient, script: string, timeoutMs = DEFAULT_TIMEOUT): Promise<void> {
  const log: string[] = [];
  const fail = (msg: string): never => {
    throw new AssertionError({ message: `${msg}\ntranscript so far:\n${log.join('\n')}`, operator: 'playTranscript' });
  };
  for (const raw of script.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^([CS]):(?: ?)(.*)$/.exec(line);
    if (!m) continue;
    const [, dir, text] = m as unknown as [string, 'C' | 'S', string];
    if (dir === 'C') {
      client.send(text);
      log.push(`C: ${text}`);
      continue;
    }
    let got: string;
    try {
      got = await client.readLine(timeoutMs);
    } catch (err) {
      fail(`expected "S: ${text}" but ${(err as Error).message.split('\n')[0]}`);
      return;
    }
    log.push(`S: ${got}`);
    const ok = text.includes('*') ? globToRegExp(text).test(got) : got === text;
    if (!ok) fail(`expected "S: ${text}", got "S: ${got}"`);
  }
}
