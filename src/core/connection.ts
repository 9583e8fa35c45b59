// One client (or server) connection of a line protocol (SMTP, POP3, IMAP, FTP control), read in
// pull mode: bytes are taken from the socket only while a read call is waiting, so the kernel's
// TCP window gives backpressure and nothing is read ahead of the session.
//
// Invariants
//  - At most one read call at a time (a second one is a program error: WHARF_READ_BUSY).
//  - Memory is bounded: a line never grows past maxLine (the rest is discarded up to its LF),
//    readExact/readDotData pass chunks through without accumulating, write() waits for 'drain'.
//  - STARTTLS discards every byte read before the upgrade (RFC 3207 §4, RFC 2595 §3.1), so a
//    command pipelined behind STARTTLS in clear text never runs inside the TLS session.
//  - Socket errors (ECONNRESET …) never escape as 'error' events: reads see EOF, writes reject
//    with WHARF_CLOSED.
//  - The transcript gets every line written (S:) and read (C:), redacted by redactNext(); on an
//    outgoing session (Wharf the client) the letters swap: what we write is C:, what we read S:.
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type * as net from 'node:net';
import { WharfError } from './errors.js';
import type { Transcript } from './events.js';
import { DotUnstuffer, dotStuff, dotStuffEnd, newDotStuffState } from './dot-codec.js';
import { normalizeAddress } from './net.js';

export interface ConnectionOptions {
  /** octets, CRLF excluded */
  maxLine: number;
  /** 0 = none; applies while waiting for input */
  idleTimeoutMs: number;
  /** when given, writeLine/readLine log S:/C: lines (see redactNext) */
  transcript?: Transcript;
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** Longest line text put in a transcript event. */
const TRANSCRIPT_MAX = 2000;
/** How long close() waits for the peer to finish before destroying the socket. */
const CLOSE_GRACE_MS = 3000;
/** Handshake limit for STARTTLS when no idle timeout is set. */
const DEFAULT_HANDSHAKE_MS = 30_000;

type Wake = (v: boolean | Error) => void;

export class Connection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  maxLine: number;
  idleTimeoutMs: number;
  readonly done: Promise<void>;

  private socket: Duplex;
  private readonly transcript: Transcript | undefined;
  private buf: Buffer = EMPTY;
  private eof = false;
  private isClosed = false;
  private wake: Wake | null = null;
  private busy = false;
  private tlsActive = false;
  private redact: ((line: string) => string) | null = null;
  private resolveDone!: () => void;
  private readonly detach: Array<() => void> = [];

  constructor(socket: net.Socket | tls.TLSSocket | Duplex, opts: ConnectionOptions) {
    this.socket = socket;
    this.maxLine = opts.maxLine;
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.transcript = opts.transcript;
    const s = socket as Partial<net.Socket>;
    this.remoteAddress = normalizeAddress(s.remoteAddress ?? '');
    this.remotePort = s.remotePort ?? 0;
    this.localAddress = normalizeAddress(s.localAddress ?? '');
    this.localPort = s.localPort ?? 0;
    // Implicit TLS (the listener hands over a TLS socket after its handshake).
    if (socket instanceof tls.TLSSocket && socket.encrypted) this.tlsActive = true;
    this.done = new Promise<void>((resolve) => (this.resolveDone = resolve));
    if (socket.destroyed) this.onClose();
    this.attach(socket);
  }

  get secure(): boolean {
    return this.tlsActive;
  }

  get closed(): boolean {
    return this.isClosed || this.socket.destroyed;
  }

  /** The socket currently carrying the connection (the TLS socket after STARTTLS). */
  get rawSocket(): Duplex {
    return this.socket;
  }

  // ---- socket plumbing -------------------------------------------------------------------------

  private attach(socket: Duplex): void {
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      this.buf = this.buf.length === 0 ? b : Buffer.concat([this.buf, b]);
      const w = this.wake;
      if (w) w(true);
      else socket.pause();
    };
    const onEnd = () => {
      this.eof = true;
      this.wake?.(false);
    };
    const onError = () => {
      // ECONNRESET, EPIPE, TLS alerts: the connection is over; reads see EOF, writes reject.
      this.eof = true;
      this.wake?.(false);
    };
    const onClose = () => this.onClose();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.pause();
    this.detach.push(() => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      // keep an 'error' listener forever: an unhandled 'error' would crash the process
      socket.off('error', onError);
      socket.on('error', noop);
    });
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.eof = true;
    this.wake?.(false);
    this.resolveDone();
  }

  private detachAll(): void {
    for (const d of this.detach.splice(0)) d();
  }

  /** Waits for more input. false at EOF. Throws WHARF_TIMEOUT after idleTimeoutMs without input. */
  private fill(): Promise<boolean> {
    if (this.eof || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const wake: Wake = (v) => {
        if (this.wake !== wake) return;
        this.wake = null;
        if (timer) clearTimeout(timer);
        if (!this.socket.destroyed) this.socket.pause();
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      this.wake = wake;
      if (this.idleTimeoutMs > 0) {
        timer = setTimeout(() => {
          this.transcript?.note(`idle timeout (${this.idleTimeoutMs} ms)`);
          wake(new WharfError('WHARF_TIMEOUT', `no input for ${this.idleTimeoutMs} ms`));
        }, this.idleTimeoutMs);
      }
      this.socket.resume();
    });
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new WharfError('WHARF_READ_BUSY', 'another read is in progress on this connection');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  /** Takes up to n buffered bytes (n > 0), waiting for input when none. null at EOF. */
  private async take(n: number): Promise<Buffer | null> {
    while (this.buf.length === 0) {
      if (!(await this.fill())) return null;
    }
    const b = this.buf.length <= n ? this.buf : this.buf.subarray(0, n);
    this.buf = this.buf.length <= n ? EMPTY : this.buf.subarray(n);
    return b;
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** Next line as UTF-8 without CRLF (a bare LF also ends a line). null at EOF. */
  async readLine(): Promise<string | null> {
    const b = await this.readLineBytes();
    return b === null ? null : b.toString('utf8');
  }

  /** Next line as raw bytes without CRLF. null at EOF; an unterminated last line is dropped. */
  readLineBytes(): Promise<Buffer | null> {
    return this.exclusive(async () => {
      const redact = this.redact;
      this.redact = null;
      let scanFrom = 0;
      let discarding = false;
      let discarded = 0;
      for (;;) {
        const i = this.buf.indexOf(LF, scanFrom);
        if (i >= 0) {
          let line = this.buf.subarray(0, i);
          this.buf = i + 1 === this.buf.length ? EMPTY : this.buf.subarray(i + 1);
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
          if (discarding || line.length > this.maxLine) {
            const total = discarded + line.length;
            this.transcript?.note(`line too long (${total} octets, limit ${this.maxLine}): discarded`);
            throw new WharfError('WHARF_LINE_TOO_LONG', `line longer than ${this.maxLine} octets`, { length: total });
          }
          // Copy: a small line must not pin a large socket chunk in memory.
          const out = Buffer.from(line);
          if (this.transcript?.active) {
            const text = out.toString('utf8');
            this.transcript.received(clip(redact ? redact(text) : text));
          }
          return out;
        }
        // No LF yet. Allow maxLine octets plus a CR waiting for its LF.
        if (this.buf.length > this.maxLine + 1) {
          discarding = true;
          discarded += this.buf.length;
          this.buf = EMPTY;
          scanFrom = 0;
        } else {
          scanFrom = this.buf.length;
        }
        if (!(await this.fill())) {
          this.buf = EMPTY;
          return null;
        }
      }
    });
  }

  /** Exactly n octets, passed to sink as they arrive; sink's promise gives backpressure. */
  readExact(n: number, sink: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    if (!Number.isSafeInteger(n) || n < 0) return Promise.reject(new WharfError('WHARF_BAD_ARGUMENT', `readExact: bad length ${n}`));
    return this.exclusive(async () => {
      let left = n;
      while (left > 0) {
        const chunk = await this.take(left);
        if (chunk === null) throw new WharfError('WHARF_CLOSED', `connection closed with ${left} of ${n} octets unread`);
        left -= chunk.length;
        await sink(chunk);
      }
    });
  }

  /** Convenience for small n. */
  async readBytes(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    await this.readExact(n, (c) => {
      parts.push(Buffer.from(c));
    });
    return Buffer.concat(parts, n);
  }

  /**
   * RFC 5321 §4.5.2 / RFC 1939 §3: reads a dot-terminated block, un-stuffs leading dots, ends at
   * CRLF.CRLF, passes data with CRLF line ends to sink. Past maxBytes the data is still read (to
   * stay in sync with the client) but not passed on. Bytes after the terminator stay buffered for
   * the next readLine (pipelining). Throws WHARF_CLOSED on EOF before the terminator.
   */
  readDotData(sink: (chunk: Buffer) => Promise<void> | void, maxBytes: number): Promise<{ bytes: number; overflow: boolean }> {
    return this.exclusive(async () => {
      const u = new DotUnstuffer();
      let bytes = 0;
      let overflow = false;
      for (;;) {
        const chunk = await this.take(Number.MAX_SAFE_INTEGER);
        if (chunk === null) throw new WharfError('WHARF_CLOSED', 'connection closed inside a data block');
        const r = u.push(chunk);
        if (r.done && r.rest.length > 0) this.buf = this.buf.length ? Buffer.concat([r.rest, this.buf]) : Buffer.from(r.rest);
        if (r.data.length > 0) {
          const room = maxBytes - bytes;
          bytes += r.data.length;
          if (!overflow) {
            if (r.data.length <= room) await sink(r.data);
            else {
              overflow = true;
              if (room > 0) await sink(r.data.subarray(0, room));
            }
          }
        }
        if (r.done) return { bytes, overflow };
      }
    });
  }

  /** The next line read is logged as redact(line) (e.g. "PASS ****"). */
  redactNext(fn: (line: string) => string): void {
    this.redact = fn;
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** Writes with backpressure: resolves when the socket accepted it (after 'drain' if needed). */
  write(data: string | Buffer): Promise<void> {
    const sock = this.socket;
    if (this.closed || !sock.writable || sock.writableEnded) {
      return Promise.reject(new WharfError('WHARF_CLOSED', 'write on a closed connection'));
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error | null) => {
        if (settled) return;
        settled = true;
        sock.off('drain', onDrain);
        sock.off('close', onGone);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => finish();
      const onGone = () => finish(new WharfError('WHARF_CLOSED', 'connection closed while writing'));
      const ok = sock.write(data, (err) => {
        if (err) finish(new WharfError('WHARF_CLOSED', `write failed: ${err.message}`, undefined, { cause: err }));
      });
      if (ok) finish();
      else {
        sock.on('drain', onDrain);
        sock.on('close', onGone);
      }
    });
  }

  /** Writes text + CRLF; transcript S: line (`logAs` logs something else, e.g. a summary). */
  writeLine(text: string, logAs?: string): Promise<void> {
    // Reply splitting defence: one call, one line. Multi-line replies are several calls.
    if (text.includes('\n') || text.includes('\r')) {
      return Promise.reject(new WharfError('WHARF_BAD_LINE', 'writeLine text contains CR or LF'));
    }
    if (this.transcript?.active) this.transcript.sent(clip(logAs ?? text));
    return this.write(text + '\r\n');
  }

  /** Writes a payload dot-stuffed with the final ".\r\n" (RFC 5321 §4.5.2, RFC 1939 §3). */
  async writeDotData(data: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const st = newDotStuffState();
    if (Buffer.isBuffer(data)) {
      const step = 64 * 1024;
      for (let i = 0; i < data.length; i += step) await this.write(dotStuff(data.subarray(i, i + step), st));
    } else {
      for await (const chunk of data) {
        if (chunk.length > 0) await this.write(dotStuff(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk), st));
      }
    }
    await this.write(dotStuffEnd(st));
  }

  // ---- TLS -------------------------------------------------------------------------------------

  /**
   * Server-side STARTTLS: upgrades in place. RFC 3207 §4 / RFC 2595 §3.1: input buffered before
   * the upgrade is DISCARDED. Resolves when the handshake is done; rejects with WHARF_TLS_FAILED
   * (the connection is then unusable and is destroyed).
   */
  startTls(context: tls.SecureContext): Promise<void> {
    return this.upgrade((raw) => new tls.TLSSocket(raw, { isServer: true, secureContext: context }), 'secure');
  }

  /** Client-side upgrade (SMTP client STARTTLS). Anything the server sent early is discarded. */
  startTlsClient(opts: tls.ConnectionOptions): Promise<void> {
    return this.upgrade((raw) => tls.connect({ ...opts, socket: raw }), 'secureConnect');
  }

  private upgrade(make: (raw: Duplex) => tls.TLSSocket, readyEvent: 'secure' | 'secureConnect'): Promise<void> {
    if (this.busy) return Promise.reject(new WharfError('WHARF_READ_BUSY', 'STARTTLS during a read'));
    if (this.secure || this.socket instanceof tls.TLSSocket) return Promise.reject(new WharfError('WHARF_TLS_ACTIVE', 'TLS is already active'));
    if (this.closed || this.eof) return Promise.reject(new WharfError('WHARF_CLOSED', 'connection closed before STARTTLS'));
    const discarded = this.buf.length;
    this.buf = EMPTY; // RFC 3207 §4: discard what the client pipelined behind STARTTLS
    if (discarded > 0) this.transcript?.note(`discarded ${discarded} octets sent before the TLS handshake`);
    this.busy = true;
    const raw = this.socket;
    this.detachAll();
    raw.on('error', noop);
    const rawClose = () => this.onClose();
    raw.once('close', rawClose);
    let sock: tls.TLSSocket;
    try {
      sock = make(raw);
    } catch (err) {
      this.busy = false;
      return Promise.reject(new WharfError('WHARF_TLS_FAILED', `TLS setup failed: ${(err as Error).message}`, undefined, { cause: err }));
    }
    this.socket = sock;
    sock.on('error', noop);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const ms = this.idleTimeoutMs > 0 ? this.idleTimeoutMs : DEFAULT_HANDSHAKE_MS;
      const timer = setTimeout(() => fail(new Error(`handshake timed out after ${ms} ms`)), ms);
      const cleanup = () => {
        settled = true;
        clearTimeout(timer);
        sock.off(readyEvent, onReady);
        sock.off('error', onErr);
        sock.off('close', onCloseEarly);
        this.busy = false;
      };
      const onReady = () => {
        if (settled) return;
        cleanup();
        this.tlsActive = true;
        this.attach(sock);
        const proto = sock.getProtocol?.() ?? 'TLS';
        const cipher = sock.getCipher?.()?.name;
        this.transcript?.note(`TLS started (${proto}${cipher ? ', ' + cipher : ''})`);
        resolve();
      };
      const fail = (err: Error) => {
        if (settled) return;
        cleanup();
        this.eof = true;
        sock.destroy();
        raw.destroy();
        this.transcript?.note(`TLS handshake failed: ${err.message}`);
        reject(new WharfError('WHARF_TLS_FAILED', `TLS handshake failed: ${err.message}`, undefined, { cause: err }));
      };
      const onErr = (err: Error) => fail(err);
      const onCloseEarly = () => fail(new Error('connection closed during the handshake'));
      sock.once(readyEvent, onReady);
      sock.on('error', onErr);
      sock.once('close', onCloseEarly);
      sock.once('close', () => this.onClose());
    });
  }

  // ---- ending ----------------------------------------------------------------------------------

  /** Ends after flushing writes; resolves once the socket is closed (destroyed after a grace period). */
  async close(): Promise<void> {
    if (this.closed) return;
    const sock = this.socket;
    if (!sock.writableEnded) sock.end();
    // From now on input is drained and dropped: unread input must not keep the socket open,
    // and the peer's FIN must be read for 'close' to come.
    this.detachAll();
    sock.on('close', () => this.onClose());
    sock.on('data', noop);
    this.eof = true;
    this.wake?.(false);
    sock.resume();
    const timer = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
    timer.unref?.();
    await this.done;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
    if (!this.isClosed) {
      // 'close' arrives on a later tick; readers should not wait for it.
      this.eof = true;
      this.wake?.(false);
    }
  }
}

function noop(): void {}

function clip(s: string): string {
  return s.length > TRANSCRIPT_MAX ? s.slice(0, TRANSCRIPT_MAX) + `… (${s.length} chars)` : s;
}
