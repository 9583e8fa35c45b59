// The console's live data: what it hears on the buses of the instances it shows. One Hub per
// console; each source (instance) is subscribed once, whatever the number of browsers watching.
//
//  - Transcript lines go into one ring buffer (console.transcript_buffer lines, all sources
//    together, oldest overwritten): two parallel arrays, no allocation per line beyond the
//    event the session already made. Sessions, /api/transcripts and the SSE replay read it.
//  - DNS resolution steps are grouped by resolution (the newest MAX_RESOLUTIONS kept).
//  - Counters (connections, active, transcript lines, DNS answers by rcode, resolutions, stored
//    mail, queue attempts) are derived from bus events: 'connection' (src/core/listener.ts),
//    'transcript', 'dns-trace', 'mail-stored', 'queue-attempt'.
//  - SSE clients get each event that matches their filter as it happens. A client that goes
//    away is dropped at once ('close'); one that does not read (socket buffer over
//    MAX_CLIENT_BACKLOG) is disconnected rather than buffered without bound.
//
// Cost when nobody watches: with transcript_buffer > 0 a transcript line costs two array stores
// and a few counter increments; with transcript_buffer = 0 the hub subscribes to 'transcript'
// only while an SSE client is connected, so sessions skip building transcript lines at all
// (Transcript.active is false) and the transcript-derived counters do not move.
import type { ServerResponse } from 'node:http';
import type { DnsTraceEvent, TranscriptEvent } from '../core/events.js';
import type { Wharf } from '../wharf.js';

export interface ConsoleSourceRef {
  name: string;
  wharf: Wharf;
}

/** A transcript line as the API shows it: the bus event plus the source's name. */
export type SourcedTranscript = TranscriptEvent & { source: string };

export interface Filter {
  source?: string;
  service?: string;
  client?: string;
  user?: string;
  session?: string;
}

export interface ResolutionView {
  source: string;
  resolution: string;
  qname: string;
  qtype: string;
  steps: DnsTraceEvent[];
  at: number;
}

export interface ServiceCounters {
  connections: number;
  active: number;
  lines: number;
}

export interface SourceCounters {
  services: Map<string, ServiceCounters>;
  dnsQueries: Map<string, number>;
  dnsResolutions: number;
  mailStored: number;
  queueAttempts: Map<string, number>;
}

/** Resolutions remembered (each with its steps). */
export const MAX_RESOLUTIONS = 500;
/** Steps kept per resolution (a pathological chase is cut off, not grown without bound). */
const MAX_STEPS = 200;
/** Bytes an SSE client may leave unread before it is disconnected. */
const MAX_CLIENT_BACKLOG = 4 * 1024 * 1024;
/** Text of one transcript line sent to a browser, at most (longer lines are cut). */
const MAX_TEXT = 4096;

interface SseClient {
  res: ServerResponse;
  filter: Filter;
}

interface Attached {
  ref: ConsoleSourceRef;
  offs: (() => void)[];
  offTranscript: (() => void) | null;
  counters: SourceCounters;
}

/** Does a line match a filter? client matches the whole "addr:port" or the address alone. */
export function matches(ev: Pick<TranscriptEvent, 'service' | 'session' | 'user' | 'client'>, source: string, f: Filter): boolean {
  if (f.source !== undefined && source !== f.source) return false;
  if (f.service !== undefined && ev.service !== f.service) return false;
  if (f.session !== undefined && ev.session !== f.session) return false;
  if (f.user !== undefined && (ev.user ?? '').toLowerCase() !== f.user.toLowerCase()) return false;
  if (f.client !== undefined && ev.client !== f.client && hostOf(ev.client) !== f.client) return false;
  return true;
}

function hostOf(peer: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(peer) ?? /^(.*):\d+$/.exec(peer);
  return m ? m[1]! : peer;
}

function clip(ev: TranscriptEvent, source: string): SourcedTranscript {
  const out = { ...ev, source };
  if (out.text.length > MAX_TEXT) out.text = out.text.slice(0, MAX_TEXT) + '…';
  return out;
}

export class Hub {
  private readonly sources = new Map<string, Attached>();
  // The ring: slot i holds (events[i], owners[i]); `next` is the slot written next.
  private readonly events: (TranscriptEvent | undefined)[];
  private readonly owners: string[];
  private next = 0;
  private filled = 0;
  private readonly resolutions = new Map<string, ResolutionView>();
  private readonly clients = new Set<SseClient>();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly capacity: number,
    private readonly heartbeatMs = 15_000,
  ) {
    this.events = new Array<TranscriptEvent | undefined>(capacity);
    this.owners = new Array<string>(capacity);
  }

  get sourceNames(): string[] {
    return [...this.sources.keys()];
  }

  source(name: string): ConsoleSourceRef | undefined {
    return this.sources.get(name)?.ref;
  }

  get sourceRefs(): ConsoleSourceRef[] {
    return [...this.sources.values()].map((a) => a.ref);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Subscribes to one instance's bus. Names are unique within a console. */
  add(ref: ConsoleSourceRef): void {
    if (this.sources.has(ref.name)) throw new Error(`the console already shows a source named ${ref.name}`);
    const counters: SourceCounters = { services: new Map(), dnsQueries: new Map(), dnsResolutions: 0, mailStored: 0, queueAttempts: new Map() };
    const a: Attached = { ref, offs: [], offTranscript: null, counters };
    const bus = ref.wharf.bus;
    const name = ref.name;
    a.offs.push(
      bus.on('connection', (ev) => {
        const c = ev as { service?: unknown; open?: unknown };
        if (typeof c.service !== 'string') return;
        const s = this.service(counters, c.service);
        if (c.open === true) {
          s.connections++;
          s.active++;
        } else if (s.active > 0) s.active--;
      }),
      bus.on('dns-trace', (ev) => this.onTrace(name, counters, ev)),
      bus.on('mail-stored', (ev) => {
        counters.mailStored++;
        this.broadcast('mail', { ...ev, source: name }, name);
      }),
      bus.on('queue-attempt', (ev) => {
        const q = ev as { delivered?: number; failed?: number; deferred?: number; error?: unknown };
        const result = q.error || (q.deferred ?? 0) > 0 ? 'deferred' : (q.failed ?? 0) > 0 ? 'failed' : 'delivered';
        counters.queueAttempts.set(result, (counters.queueAttempts.get(result) ?? 0) + 1);
        this.broadcast('queue', { ...(ev as object), source: name }, name);
      }),
    );
    this.sources.set(name, a);
    this.syncTranscript(a);
  }

  /** Unsubscribes everything and closes every SSE client. */
  close(): void {
    for (const a of this.sources.values()) {
      for (const off of a.offs) off();
      a.offTranscript?.();
      a.offTranscript = null;
    }
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  counters(name: string): SourceCounters | undefined {
    return this.sources.get(name)?.counters;
  }

  private service(c: SourceCounters, service: string): ServiceCounters {
    let s = c.services.get(service);
    if (!s) c.services.set(service, (s = { connections: 0, active: 0, lines: 0 }));
    return s;
  }

  /** Subscribed to transcripts when they are kept (buffer > 0) or someone is watching live. */
  private syncTranscript(a: Attached): void {
    const want = this.capacity > 0 || this.clients.size > 0;
    if (want && !a.offTranscript) {
      const name = a.ref.name;
      const counters = a.counters;
      a.offTranscript = a.ref.wharf.bus.on('transcript', (ev) => this.onTranscript(name, counters, ev));
    } else if (!want && a.offTranscript) {
      a.offTranscript();
      a.offTranscript = null;
    }
  }

  private onTranscript(source: string, counters: SourceCounters, ev: TranscriptEvent): void {
    this.service(counters, ev.service).lines++;
    // A DNS server's answer line starts with the rcode ("NXDOMAIN aa answers=0 …").
    if (ev.service === 'dns' && ev.dir === 'S' && !ev.outgoing) {
      const sp = ev.text.indexOf(' ');
      const rcode = sp < 0 ? ev.text : ev.text.slice(0, sp);
      if (/^[A-Z0-9]+$/.test(rcode)) counters.dnsQueries.set(rcode, (counters.dnsQueries.get(rcode) ?? 0) + 1);
    }
    if (this.capacity > 0) {
      this.events[this.next] = ev;
      this.owners[this.next] = source;
      this.next = (this.next + 1) % this.capacity;
      if (this.filled < this.capacity) this.filled++;
    }
    if (this.clients.size > 0) {
      let payload: string | undefined;
      for (const c of this.clients) {
        if (!matches(ev, source, c.filter)) continue;
        payload ??= `event: transcript\ndata: ${JSON.stringify(clip(ev, source))}\n\n`;
        this.write(c, payload);
      }
    }
  }

  private onTrace(source: string, counters: SourceCounters, ev: DnsTraceEvent): void {
    const key = `${source}\u0000${ev.resolution}`;
    let r = this.resolutions.get(key);
    if (!r) {
      counters.dnsResolutions++;
      r = { source, resolution: ev.resolution, qname: ev.qname, qtype: ev.qtype, steps: [], at: ev.at };
      this.resolutions.set(key, r);
      if (this.resolutions.size > MAX_RESOLUTIONS) this.resolutions.delete(this.resolutions.keys().next().value!);
    }
    if (r.steps.length < MAX_STEPS) r.steps.push(ev);
    this.broadcast('dns-trace', { ...ev, source }, source);
  }

  private broadcast(event: string, data: object, source: string): void {
    if (this.clients.size === 0) return;
    const payload = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) if (c.filter.source === undefined || c.filter.source === source) this.write(c, payload);
  }

  private write(c: SseClient, payload: string): void {
    if (c.res.destroyed || c.res.writableEnded) {
      this.drop(c);
      return;
    }
    if (c.res.writableLength > MAX_CLIENT_BACKLOG) {
      this.drop(c);
      c.res.destroy();
      return;
    }
    c.res.write(payload);
  }

  private drop(c: SseClient): void {
    if (!this.clients.delete(c)) return;
    if (this.clients.size === 0) {
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      for (const a of this.sources.values()) this.syncTranscript(a);
    }
  }

  /** Buffered lines matching the filter, oldest first; the newest `limit` of them. */
  lines(filter: Filter, limit = Infinity): SourcedTranscript[] {
    const out: SourcedTranscript[] = [];
    const start = (this.next - this.filled + this.capacity) % Math.max(1, this.capacity);
    // Walk newest to oldest so a small limit stops early, then reverse.
    for (let i = this.filled - 1; i >= 0 && out.length < limit; i--) {
      const slot = (start + i) % this.capacity;
      const ev = this.events[slot]!;
      const source = this.owners[slot]!;
      if (matches(ev, source, filter)) out.push(clip(ev, source));
    }
    return out.reverse();
  }

  /** Sessions seen in the buffer, newest activity first. */
  sessions(filter: Filter): { source: string; service: string; session: string; client: string; user: string | null; outgoing: boolean; first: number; last: number; lines: number }[] {
    const by = new Map<string, { source: string; service: string; session: string; client: string; user: string | null; outgoing: boolean; first: number; last: number; lines: number }>();
    for (const l of this.lines({ ...(filter.source !== undefined ? { source: filter.source } : {}), ...(filter.service !== undefined ? { service: filter.service } : {}) })) {
      const key = `${l.source}\u0000${l.session}`;
      let s = by.get(key);
      if (!s) by.set(key, (s = { source: l.source, service: l.service, session: l.session, client: l.client, user: null, outgoing: !!l.outgoing, first: l.at, last: l.at, lines: 0 }));
      s.lines++;
      s.last = l.at;
      if (l.user) s.user = l.user;
    }
    return [...by.values()]
      .filter((s) => matches({ ...s, user: s.user ?? undefined }, s.source, filter))
      .sort((a, b) => b.last - a.last);
  }

  /** DNS resolutions, newest first. */
  resolutionList(source: string | undefined, limit: number): ResolutionView[] {
    const out: ResolutionView[] = [];
    const all = [...this.resolutions.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const r = all[i]!;
      if (source === undefined || r.source === source) out.push({ ...r, steps: [...r.steps].sort((a, b) => a.step - b.step) });
    }
    return out;
  }

  /**
   * Turns a response into an SSE stream: replays the buffered lines matching the filter, then
   * sends live events until the client goes away. A comment line every heartbeatMs keeps
   * proxies from closing an idle stream.
   */
  attach(res: ServerResponse, filter: Filter): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': wharf console events\n\n');
    for (const l of this.lines(filter)) res.write(`event: transcript\ndata: ${JSON.stringify(l)}\n\n`);
    const c: SseClient = { res, filter };
    this.clients.add(c);
    for (const a of this.sources.values()) this.syncTranscript(a);
    const gone = () => this.drop(c);
    res.once('close', gone);
    res.once('error', gone);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const cl of this.clients) this.write(cl, ': heartbeat\n\n');
      }, this.heartbeatMs);
      this.heartbeat.unref();
    }
  }
}
