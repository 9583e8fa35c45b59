// The instance's event bus. Every observable thing a Wharf instance does is an event here:
// protocol transcripts in the slides' notation, DNS resolution steps, deliveries, mailbox
// changes, cache decisions. The console, the logger and tests subscribe; nothing global.
//
// Transcript lines use the slides' notation: dir 'S' is what the server sent, 'C' what the client
// sent, '*' a note about the session (connected, TLS started, closed). Secrets are redacted by
// the session before the event is emitted (PASS ****, AUTH payloads), never afterwards.
import { EventEmitter } from 'node:events';

export type Service = 'smtp' | 'submission' | 'pop3' | 'imap' | 'ftp' | 'dns' | 'proxy' | 'console' | 'queue' | 'lab' | (string & {});

export interface TranscriptEvent {
  service: Service;
  /** Session id, unique within the instance ("smtp-17"). */
  session: string;
  /** Client address "127.0.0.1:51234" (or the peer address for client roles). */
  client: string;
  /** S: server to client, C: client to server, *: a note about the session. */
  dir: 'S' | 'C' | '*';
  text: string;
  /** ms since the epoch */
  at: number;
  /** Authenticated user, once known. */
  user?: string;
  /** For outgoing sessions (Wharf as client, e.g. SMTP relay, DNS resolver): true. */
  outgoing?: boolean;
}

export interface DnsTraceEvent {
  /** Id of the resolution this step belongs to. */
  resolution: string;
  step: number;
  /** Server asked, "198.41.0.4:53", and a name for it when known ("a.root-servers.net"). */
  server: string;
  serverName?: string;
  qname: string;
  qtype: string;
  /** The zone the server was asked as an authority for ("." root, "edu." TLD, …), when known. */
  zone?: string;
  /** What came back. */
  outcome: 'referral' | 'answer' | 'nxdomain' | 'nodata' | 'cname' | 'error' | 'timeout' | 'refused' | 'cache';
  detail?: string;
  at: number;
}

export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  [key: string]: unknown;
}

export interface WharfEventMap {
  transcript: TranscriptEvent;
  'dns-trace': DnsTraceEvent;
  log: LogEvent;
  /** A message was stored in a mailbox (any process may have done it; emitted by the local one). */
  'mail-stored': { accountId: number; mailboxId: number; uid: number };
  /** Something in a mailbox changed (flags, expunge, new mail). */
  'mailbox-changed': { mailboxId: number };
  /** The outgoing queue has new work. */
  'queue-kick': { id?: number };
  /** Anything else a service wants to publish (proxy cache decisions, queue deliveries…). */
  [other: string]: unknown;
}

/** A typed EventEmitter. One per Wharf instance. */
export class EventBus {
  private readonly ee = new EventEmitter();
  constructor() {
    this.ee.setMaxListeners(0);
  }
  on<K extends keyof WharfEventMap & string>(type: K, fn: (ev: WharfEventMap[K]) => void): () => void {
    this.ee.on(type, fn as (ev: unknown) => void);
    return () => this.ee.off(type, fn as (ev: unknown) => void);
  }
  emit<K extends keyof WharfEventMap & string>(type: K, ev: WharfEventMap[K]): void {
    if (this.ee.listenerCount(type) > 0) this.ee.emit(type, ev);
  }
  listenerCount(type: string): number {
    return this.ee.listenerCount(type);
  }
}

/**
 * Emits the transcript of one session. Sessions keep one and call server()/client()/note().
 * Long payloads (message bodies, file listings) should be summarised by the caller.
 */
export class Transcript {
  user: string | undefined;
  constructor(
    private readonly bus: EventBus | undefined,
    readonly service: Service,
    readonly session: string,
    readonly peer: string,
    private readonly outgoing = false,
  ) {}
  private emit(dir: 'S' | 'C' | '*', text: string): void {
    if (!this.bus || this.bus.listenerCount('transcript') === 0) return;
    const ev: TranscriptEvent = { service: this.service, session: this.session, client: this.peer, dir, text, at: Date.now() };
    if (this.user !== undefined) ev.user = this.user;
    if (this.outgoing) ev.outgoing = true;
    this.bus.emit('transcript', ev);
  }
  /** A line the server sent (without CRLF). */
  server(text: string): void {
    this.emit('S', text);
  }
  /** A line the client sent (without CRLF), already redacted. */
  client(text: string): void {
    this.emit('C', text);
  }
  note(text: string): void {
    this.emit('*', text);
  }
  /**
   * A line this side wrote: S: when Wharf is the server, C: on an outgoing session where Wharf
   * is the client (the relay to another MX reads `C: HELO crepes.fr`, as the slides show it).
   */
  sent(text: string): void {
    this.emit(this.outgoing ? 'C' : 'S', text);
  }
  /** A line the other side wrote (C: from a client, S: from the server we connected to). */
  received(text: string): void {
    this.emit(this.outgoing ? 'S' : 'C', text);
  }
  get active(): boolean {
    return !!this.bus && this.bus.listenerCount('transcript') > 0;
  }
}
