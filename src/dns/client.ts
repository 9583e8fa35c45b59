// DNS client: one question to one server over UDP (falling back to TCP on TC=1) or TCP.
//
// Invariants (RFC 5452 §9.1, §4): an answer is accepted only when it comes from the address and
// port we asked, carries our random 16-bit id, has QR=1 and repeats our question exactly —
// name byte-for-byte when 0x20 mixed case is on (draft-vixie-dnsext-dns0x20), type and class.
// Anything else (spoofs, stray packets, garbage) is ignored and we keep waiting until the
// timeout. Every UDP query uses a fresh socket on a random (OS-chosen) source port.
// TCP carries each message with a two-byte length prefix (RFC 1035 §4.2.2, RFC 7766 §8).
// Errors are WharfErrors: WHARF_DNS_TIMEOUT (no matching answer in time), WHARF_DNS_NETWORK
// (refused/unreachable/closed), WHARF_DNS_ABORTED (signal).

import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { WharfError } from '../core/errors.js';
import { DEFAULT_UDP_SIZE } from './wire/edns.js';
import { decode, encode } from './wire/message.js';
import { canonicalName } from './wire/name.js';
import { normalizeClass, normalizeType } from './wire/records.js';
import { emptyFlags, RCODE } from './wire/types.js';
import type { Message, Question } from './wire/types.js';

export interface ServerAddress {
  host: string;
  port: number;
}

export interface QueryOptions {
  /** Ask over TCP from the start. */
  tcp?: boolean;
  timeoutMs: number;
  /** Recursion desired (default false: we are an iterative resolver). */
  rd?: boolean;
  /** Send an OPT record (default true); FORMERR to an EDNS query is retried without (RFC 6891 §7). */
  edns?: boolean;
  signal?: AbortSignal;
  /** Randomise the case of the query name and require it back exactly (default false). */
  randomCase?: boolean;
  /** Do not retry over TCP when the UDP answer has TC=1. */
  noTcpRetry?: boolean;
}

export interface QueryResult {
  message: Message;
  /** The name as sent (with the randomised case). */
  sentName: string;
  /** Whether the accepted answer came over TCP. */
  tcp: boolean;
  rttMs: number;
}

export const DNS_TIMEOUT = 'WHARF_DNS_TIMEOUT';
export const DNS_NETWORK = 'WHARF_DNS_NETWORK';
export const DNS_ABORTED = 'WHARF_DNS_ABORTED';

/** 0x20: flips the case of each ASCII letter at random. */
export function randomizeCase(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    out += letter ? String.fromCharCode(randomInt(2) === 0 ? c | 0x20 : c & ~0x20) : name[i];
  }
  return out;
}

/** Whether `msg` answers the question we sent with `id` (RFC 5452 §9.1). */
export function matchesQuery(msg: Message, id: number, q: Question, exactCase: boolean): boolean {
  if (!msg.flags.qr || msg.id !== id) return false;
  if (msg.questions.length !== 1) {
    // Some servers answer errors without the question; accept those only for error rcodes.
    return msg.questions.length === 0 && msg.flags.rcode !== RCODE.NOERROR && msg.flags.rcode !== RCODE.NXDOMAIN;
  }
  const r = msg.questions[0]!;
  if (exactCase ? r.name !== q.name : canonicalName(r.name) !== canonicalName(q.name)) return false;
  return normalizeType(r.type) === normalizeType(q.type) && normalizeClass(r.class) === normalizeClass(q.class);
}

function buildQuery(q: Question, id: number, opts: QueryOptions, edns: boolean): Buffer {
  const msg: Message = {
    id,
    flags: emptyFlags({ rd: opts.rd ?? false }),
    questions: [q],
    answers: [],
    authorities: [],
    additionals: [],
  };
  if (edns) msg.edns = { udpSize: DEFAULT_UDP_SIZE, extendedRcode: 0, version: 0, do: false, options: [] };
  return encode(msg).buf;
}

function stripDot(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Sends `question` to `server` and resolves with the first matching answer. */
export async function query(server: ServerAddress, question: Question, opts: QueryOptions): Promise<QueryResult> {
  const sentName = opts.randomCase ? randomizeCase(question.name) : question.name;
  const q: Question = { name: sentName, type: question.type, class: question.class || 'IN' };
  const exact = opts.randomCase ?? false;
  let edns = opts.edns ?? true;
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  for (let attempt = 0; attempt < 2; attempt++) {
    let tcp = opts.tcp ?? false;
    let message: Message;
    if (!tcp) {
      message = await udpExchange(server, q, opts, edns, exact, deadline);
      if (message.flags.tc && !opts.noTcpRetry) {
        // RFC 1035 §4.2.1 / RFC 7766 §5: a truncated UDP answer is retried over TCP.
        tcp = true;
        message = await tcpExchange(server, q, opts, edns, exact, Math.max(deadline, Date.now() + opts.timeoutMs));
      }
    } else {
      message = await tcpExchange(server, q, opts, edns, exact, deadline);
    }
    if (edns && message.flags.rcode === RCODE.FORMERR && !message.edns && attempt === 0) {
      edns = false; // RFC 6891 §7: a server without EDNS answers FORMERR; retry plain.
      continue;
    }
    return { message, sentName, tcp, rttMs: Date.now() - started };
  }
  throw new WharfError(DNS_NETWORK, 'no usable answer');
}

function abortError(): WharfError {
  return new WharfError(DNS_ABORTED, 'query aborted');
}

function udpExchange(server: ServerAddress, q: Question, opts: QueryOptions, edns: boolean, exact: boolean, deadline: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const host = stripDot(server.host);
    const family = net.isIPv6(host) ? 'udp6' : 'udp4';
    const sock = dgram.createSocket(family);
    const id = randomInt(0x10000);
    const packet = buildQuery(q, id, opts, edns);
    let done = false;
    const finish = (err: Error | null, msg?: Message): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      try { sock.close(); } catch { /* already closed */ }
      if (err) reject(err);
      else resolve(msg!);
    };
    const onAbort = (): void => finish(abortError());
    const timer = setTimeout(() => finish(new WharfError(DNS_TIMEOUT, `no answer from ${host}:${server.port}`)), Math.max(0, deadline - Date.now()));
    if (opts.signal?.aborted) return finish(abortError());
    opts.signal?.addEventListener('abort', onAbort);
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new WharfError(DNS_NETWORK, `${host}:${server.port}: ${err.code ?? err.message}`, undefined, { cause: err })));
    sock.on('message', (buf, rinfo) => {
      // RFC 5452 §9.1: the source must be the address and port we sent to. connect() makes the
      // kernel enforce it too; we check anyway.
      if (rinfo.port !== server.port || stripDot(rinfo.address) !== host) return;
      let msg: Message;
      try { msg = decode(buf); } catch { return; }
      if (!matchesQuery(msg, id, q, exact)) return;
      finish(null, msg);
    });
    // Binding to port 0 lets the OS pick a random ephemeral source port (RFC 5452 §9.2).
    sock.connect(server.port, host, () => {
      if (done) return;
      sock.send(packet, (err) => { if (err) finish(new WharfError(DNS_NETWORK, `${host}:${server.port}: ${err.message}`, undefined, { cause: err })); });
    });
  });
}

function tcpExchange(server: ServerAddress, q: Question, opts: QueryOptions, edns: boolean, exact: boolean, deadline: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const host = stripDot(server.host);
    const id = randomInt(0x10000);
    const packet = buildQuery(q, id, opts, edns);
    const frame = Buffer.alloc(2 + packet.length);
    frame.writeUInt16BE(packet.length, 0);
    packet.copy(frame, 2);
    let done = false;
    let buffered: Buffer = Buffer.alloc(0);
    const sock = net.connect({ host, port: server.port });
    const finish = (err: Error | null, msg?: Message): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(msg!);
    };
    const onAbort = (): void => finish(abortError());
    const timer = setTimeout(() => finish(new WharfError(DNS_TIMEOUT, `no answer from ${host}:${server.port} (tcp)`)), Math.max(0, deadline - Date.now()));
    if (opts.signal?.aborted) return finish(abortError());
    opts.signal?.addEventListener('abort', onAbort);
    sock.on('connect', () => sock.write(frame));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(new WharfError(DNS_NETWORK, `${host}:${server.port} (tcp): ${err.code ?? err.message}`, undefined, { cause: err })));
    sock.on('close', () => finish(new WharfError(DNS_NETWORK, `${host}:${server.port} (tcp): closed before an answer`)));
    sock.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      // RFC 7766 §6.2.1: several messages may arrive on one connection; take each in turn.
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return;
        const body = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        let msg: Message;
        try { msg = decode(body); } catch { continue; }
        if (matchesQuery(msg, id, q, exact)) return finish(null, msg);
      }
    });
  });
}
