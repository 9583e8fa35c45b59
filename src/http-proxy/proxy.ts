// The caching HTTP proxy: a forward proxy for absolute-form HTTP/1.1 requests (RFC 9112 §3.2.2)
// with CONNECT tunnelling (RFC 9110 §9.3.6), or, with `upstream`, a reverse proxy in front of
// one origin. GET responses are cached by the rules of cache-policy.ts in a CacheStore.
// HTTP/1.1 framing (keep-alive, chunked, header limits) is node:http's; policy and storage are ours.
//
// Invariants
//  - Only clients in `allow` are served (403 otherwise, also for CONNECT).
//  - Hop-by-hop fields (RFC 9110 §7.6.1, and those the Connection field names) never cross the
//    proxy in either direction; every forwarded message gets a Via entry (§7.6.3).
//  - Every answer carries Cache-Status (RFC 9211); answers from the cache carry Age (RFC 9111 §5.1).
//  - Concurrent cacheable misses for one URL send one origin request; the others wait for it
//    and are served from the cache (Cache-Status: collapsed), or fetch on their own when the
//    response turned out not to be storable or not to match their request (Vary).
//  - No client input and no origin behaviour throws out of a handler: errors become 400, 403,
//    431, 502 or 504 answers, or a closed connection once the answer has started.
//  - One transcript line per request (C: request line) and per answer (S: status line), plus
//    a note with the answer's Cache-Status; one 'proxy-request' bus event per answer. Both
//    cost nothing but a listener count when nobody listens.
//  - A Range request answered from storage gets one part (206 + Content-Range), several parts
//    (206 multipart/byteranges, RFC 9110 §14.6) or 416 with Content-Range: bytes */length.
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { EventBus } from '../core/events.js';
import { Transcript } from '../core/events.js';
import type { IdGenerator } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { formatPeer, normalizeAddress } from '../core/net.js';
import { AddressList } from '../dns/server/acl.js';
import {
  cacheStatus,
  conditionalHeaders,
  correctedInitialAge,
  decide,
  freshnessLifetime,
  headerString,
  invalidatedUris,
  isErrorStatus,
  notModifiedMatches,
  notStorableReason,
  onlyIfCached,
  parseHttpDate,
  multipartByteranges,
  parseRanges,
  staleIfErrorAllowed,
  updateHeaders,
} from './cache-policy.js';
import type { ByteRange, CacheStatusInfo, HeaderMap } from './cache-policy.js';
import type { CacheEntry, CacheStore } from './cache-store.js';

export interface ProxyOptions {
  host: string;
  port: number;
  allow: readonly string[];
  /** Reverse mode: "http://127.0.0.1:8080"; "" for a forward proxy. */
  upstream: string;
  connectPorts: readonly number[];
  cache: CacheStore | null;
  timeouts: { header: number; connect: number; response: number };
  maxHeaderSize: number;
  maxConnections: number;
  maxPerIp: number;
  idleTimeout: number;
  /** Our name in Via and Cache-Status. */
  hostname: string;
  bus: EventBus;
  ids: IdGenerator;
  logger: Logger;
  /** Addresses of an origin host name (IP literals and "localhost" are handled before). */
  resolve: (host: string) => Promise<string[]>;
}

/** RFC 9110 §7.6.1: hop-by-hop fields (plus the obsolete Proxy-Connection and Keep-Alive). */
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** RFC 9110 §11.7.2: Proxy-Authorization is consumed by the proxy it is meant for. */
const REQUEST_DROPPED = new Set(['proxy-authorization']);
/** Conditional request fields the cache evaluates itself when it answers from storage. */
const CONDITIONALS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range'];

const CACHE_NAME = 'Wharf';

/** What the cache did for one answer ('proxy-request' events, the console's counters). */
export type ProxyCacheOutcome = 'hit' | 'revalidated' | 'stale' | 'miss' | 'bypass' | 'tunnel' | 'error';

/** Bus event 'proxy-request': one per answer the proxy sends. */
export interface ProxyRequestEvent {
  session: string;
  client: string;
  method: string;
  url: string;
  status: number;
  cache: ProxyCacheOutcome;
  /** The Cache-Status field sent (RFC 9211), "" for a tunnel. */
  cacheStatus: string;
  /** ms since the epoch */
  at: number;
}

/** The cache outcome an answer's Cache-Status parameters describe (no parameters: our own error). */
export function cacheOutcome(info: CacheStatusInfo | undefined): ProxyCacheOutcome {
  if (!info) return 'error';
  if (info.hit) return 'hit';
  if (info.detail === 'stale-if-error') return 'stale';
  if (info.fwd === 'bypass' || info.fwd === 'method') return 'bypass';
  if (info.fwd === 'stale' && info.fwdStatus === 304) return 'revalidated';
  if (info.fwd) return 'miss';
  return 'error';
}

class OriginError extends Error {
  constructor(
    readonly status: 502 | 504,
    message: string,
  ) {
    super(message);
  }
}

interface Target {
  url: URL;
  /** The cache key: the absolute URI without fragment. */
  key: string;
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  transcript: Transcript;
  target: Target;
  method: string;
}

const nowSec = (): number => Date.now() / 1000;

/** Removes hop-by-hop fields and those named by Connection (RFC 9110 §7.6.1). */
export function stripHopByHop(h: HeaderMap, extra: ReadonlySet<string> = new Set()): HeaderMap {
  const listed = new Set((headerString(h, 'connection') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k) || listed.has(k) || extra.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export class HttpProxy {
  private readonly server: http.Server;
  private readonly agent: http.Agent;
  private readonly allow: AddressList;
  private readonly upstream: URL | null;
  private readonly sockets = new Set<net.Socket>();
  private readonly perIp = new Map<string, number>();
  private readonly transcripts = new WeakMap<net.Socket, Transcript>();
  private readonly allowedSockets = new WeakMap<net.Socket, boolean>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly via: string;
  private stopping = false;
  private shared: net.Server | undefined;
  private readonly onShared = (s: net.Socket): void => {
    this.server.emit('connection', s);
  };

  constructor(private readonly o: ProxyOptions) {
    this.allow = new AddressList(o.allow);
    this.upstream = o.upstream ? new URL(o.upstream) : null;
    this.via = `1.1 ${o.hostname}`;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: o.idleTimeout });
    this.server = http.createServer({
      maxHeaderSize: o.maxHeaderSize,
      headersTimeout: o.timeouts.header,
      requestTimeout: 0,
      keepAliveTimeout: Math.min(o.idleTimeout, 2 ** 31 - 1),
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(o.timeouts.header / 4))),
      // RFC 9112 §6.1 / §6.3: reject ambiguous framing (both CL and TE, two different CLs).
      insecureHTTPParser: false,
    });
    this.server.maxConnections = o.maxConnections;
    this.server.on('connection', (s: net.Socket) => this.onConnection(s));
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.onRequest(req, res).catch((err: unknown) => {
        this.o.logger.error('proxy request failed', { err });
        if (!res.headersSent) this.sendError(req, res, 502, 'Bad Gateway', 'internal error');
        else res.destroy();
      });
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.onConnect(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
  }

  /**
   * Listens, or with `shared` serves on an already-listening server (proxy.workers: the socket
   * the pool's primary bound and handed to every process; stop() closes our handle of it).
   */
  async start(shared?: net.Server): Promise<{ host: string; port: number }> {
    if (shared) {
      this.shared = shared;
      // the kernel hands connections to the shared server's handle: its limit is ours (per process)
      shared.maxConnections = this.o.maxConnections;
      shared.on('connection', this.onShared);
      // node:http starts its connection tracking (header timeouts, idle closing) on 'listening'
      this.server.emit('listening');
      const a = shared.address() as net.AddressInfo;
      return { host: a.address, port: a.port };
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stops accepting, lets requests in progress finish until the deadline, then closes the rest. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    if (this.shared) return this.stopShared(deadlineMs);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      this.server.closeAllConnections();
      for (const s of this.sockets) s.destroy();
    }, Math.max(0, deadlineMs));
    timer.unref();
    // tunnels are not the server's any more: give them the deadline too
    await closed;
    clearTimeout(timer);
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
  }

  /**
   * stop() on a shared server: node:http does not count the connections we hand it, so drain
   * by hand: close idle connections until none is left or the deadline passes.
   */
  private async stopShared(deadlineMs: number): Promise<void> {
    const shared = this.shared!;
    shared.off('connection', this.onShared);
    // closes once its (natively counted) connections are gone, which we see to below
    const closed = new Promise<void>((resolve) => shared.close(() => resolve()));
    this.server.close();
    const until = Date.now() + Math.max(0, deadlineMs);
    while (this.sockets.size > 0 && Date.now() < until) {
      this.server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 25));
    }
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await closed;
  }

  private onConnection(socket: net.Socket): void {
    const ip = normalizeAddress(socket.remoteAddress ?? '');
    const n = (this.perIp.get(ip) ?? 0) + 1;
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const m = (this.perIp.get(ip) ?? 1) - 1;
      if (m <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, m);
    });
    this.perIp.set(ip, n);
    if (n > this.o.maxPerIp || this.stopping) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    const t = new Transcript(this.o.bus, 'proxy', this.o.ids.next('proxy'), formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
    this.transcripts.set(socket, t);
    t.note('connected');
  }

  private transcriptOf(socket: net.Socket): Transcript {
    let t = this.transcripts.get(socket);
    if (!t) {
      t = new Transcript(this.o.bus, 'proxy', this.o.ids.next('proxy'), formatPeer(socket.remoteAddress ?? '', socket.remotePort ?? 0));
      this.transcripts.set(socket, t);
    }
    return t;
  }

  /** node:http parse errors: 431 for big headers, 408 for slow ones, 400 for the rest. */
  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const t = this.transcriptOf(socket);
    let status = '400 Bad Request';
    if (err.code === 'HPE_HEADER_OVERFLOW') status = '431 Request Header Fields Too Large';
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') status = '408 Request Timeout';
    t.note(`bad request: ${err.code ?? err.message}`);
    t.server(`HTTP/1.1 ${status}`);
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroySoon();
  }

  private reply(ctx: { req: http.IncomingMessage; res: http.ServerResponse; transcript: Transcript; target?: Target }, status: number, message: string, headers: HeaderMap, info?: CacheStatusInfo): void {
    // `headers` is always a map built for this answer: drop the absent fields in place
    for (const k in headers) if (headers[k] === undefined) delete headers[k];
    const text = message || http.STATUS_CODES[status] || '';
    ctx.res.writeHead(status, text, headers as Record<string, string | string[]>);
    const t = ctx.transcript;
    if (t.active) {
      t.server(`HTTP/1.1 ${status} ${text}`.trimEnd());
      const cs = headerString(headers, 'cache-status');
      if (cs) t.note(`Cache-Status: ${cs}`);
    }
    if (this.o.bus.listenerCount('proxy-request') > 0) {
      const ev: ProxyRequestEvent = {
        session: t.session,
        client: t.peer,
        method: ctx.req.method ?? '',
        url: ctx.target?.key ?? ctx.req.url ?? '',
        status,
        cache: cacheOutcome(info),
        cacheStatus: headerString(headers, 'cache-status') ?? '',
        at: Date.now(),
      };
      this.o.bus.emit('proxy-request', ev);
    }
  }

  private sendError(req: http.IncomingMessage, res: http.ServerResponse, status: number, message: string, detail: string, fwd?: CacheStatusInfo['fwd']): void {
    const t = this.transcriptOf(req.socket);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${status} ${message}\n`;
    const info: CacheStatusInfo = { ...(fwd ? { fwd } : {}), detail };
    this.reply({ req, res, transcript: t }, status, message, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-status': cacheStatus(CACHE_NAME, info),
      via: this.via,
    }, fwd ? info : undefined);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const transcript = this.transcriptOf(req.socket);
    if (transcript.active) transcript.client(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    const method = req.method ?? 'GET';
    if (!this.allowed(req.socket)) return this.sendError(req, res, 403, 'Forbidden', 'client not allowed');
    const target = this.targetOf(req);
    if (typeof target === 'string') return this.sendError(req, res, 400, 'Bad Request', target);
    // Loop detection: our own Via entry means the request came back to us.
    const via = headerString(req.headers, 'via');
    if (via !== undefined && via.split(',').some((v) => v.trim() === this.via)) return this.sendError(req, res, 508, 'Loop Detected', 'loop');
    if (this.stopping) res.setHeader('connection', 'close');
    const ctx: Ctx = { req, res, transcript, target, method };
    if (this.o.cache && (method === 'GET' || method === 'HEAD')) return this.cacheable(ctx);
    await this.forward(ctx, undefined, method === 'GET' || method === 'HEAD' ? 'bypass' : 'method');
  }

  /** proxy.allow for the socket's peer (asked once per connection, not per request). */
  private allowed(socket: net.Socket): boolean {
    let ok = this.allowedSockets.get(socket);
    if (ok === undefined) {
      ok = this.allow.has(socket.remoteAddress ?? '');
      this.allowedSockets.set(socket, ok);
    }
    return ok;
  }

  /** The absolute target of a request, or why it has none. */
  private targetOf(req: http.IncomingMessage): Target | string {
    const raw = req.url ?? '';
    let url: URL;
    try {
      if (raw.startsWith('/') && this.upstream) url = new URL(raw, this.upstream);
      else if (/^http:\/\//i.test(raw)) url = new URL(raw);
      else if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) return 'unsupported scheme';
      else return this.upstream ? 'bad target' : 'a proxy needs an absolute URI';
    } catch {
      return 'bad target';
    }
    if (!url.hostname) return 'bad target';
    if (raw.includes('#')) url.hash = '';
    return { url, key: url.href };
  }

  // ---- cache --------------------------------------------------------------------------------

  private async cacheable(ctx: Ctx): Promise<void> {
    const store = this.o.cache!;
    const reqH = ctx.req.headers as HeaderMap;
    const e = store.lookup(ctx.target.key, reqH);
    const now = nowSec();
    if (e) {
      const d = decide(e, reqH, now, store.derived(e));
      if (d.kind === 'fresh' || d.kind === 'stale-ok') {
        return this.serveStored(ctx, e, { hit: true, ttl: d.ttl, ...(d.kind === 'stale-ok' ? { detail: 'max-stale' } : {}) }, d.age);
      }
      if (d.kind === 'stale-while-revalidate') {
        this.serveStored(ctx, e, { hit: true, ttl: d.ttl, detail: 'stale-while-revalidate' }, d.age);
        this.backgroundRevalidate(ctx.target, e, reqH);
        return;
      }
      // RFC 9111 §5.2.1.7: only-if-cached and nothing usable stored: 504.
      if (onlyIfCached(reqH)) return this.sendError(ctx.req, ctx.res, 504, 'Gateway Timeout', 'only-if-cached');
      return this.forward(ctx, e, d.reason === 'request' ? 'request' : 'stale');
    }
    if (onlyIfCached(reqH)) return this.sendError(ctx.req, ctx.res, 504, 'Gateway Timeout', 'only-if-cached');
    // Collapse concurrent misses for the same URL (a HEAD waits for a GET in flight too: the
    // response is stored only once its body is complete, after the client got it).
    const pending = this.inflight.get(ctx.target.key);
    if (pending) {
      await pending;
      const again = store.lookup(ctx.target.key, reqH);
      if (again) {
        const d = decide(again, reqH, nowSec());
        if (d.kind === 'fresh' || d.kind === 'stale-ok') return this.serveStored(ctx, again, { hit: true, ttl: d.ttl, collapsed: true }, d.age);
      }
      return this.forward(ctx, undefined, store.hasUrl(ctx.target.key) ? 'vary-miss' : 'uri-miss');
    }
    const fwd = store.hasUrl(ctx.target.key) ? 'vary-miss' : 'uri-miss';
    if (ctx.method !== 'GET') return this.forward(ctx, undefined, fwd);
    const p = this.forward(ctx, undefined, fwd);
    const done = p.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.set(ctx.target.key, done);
    try {
      await p;
    } finally {
      if (this.inflight.get(ctx.target.key) === done) this.inflight.delete(ctx.target.key);
    }
  }

  /** Answers from a stored response: HEAD, Range (206/416), client conditionals (304), Age. */
  private serveStored(ctx: Ctx, e: CacheEntry, info: CacheStatusInfo, age: number): void {
    const store = this.o.cache!;
    if (info.hit) store.recordHit(e);
    const headers: HeaderMap = {};
    for (const k in e.resHeaders) if (k !== 'content-length') headers[k] = e.resHeaders[k];
    headers['age'] = String(Math.max(0, Math.floor(age)));
    headers['via'] = appendVia(headers['via'], this.via);
    headers['cache-status'] = cacheStatus(CACHE_NAME, info);
    const reqH = ctx.req.headers as HeaderMap;
    // RFC 9110 §13.1.2 / §13.1.3: evaluate the client's conditionals against the stored response.
    if (e.status === 200 && notModifiedFor(reqH, e.resHeaders)) {
      const h: HeaderMap = {};
      // RFC 9110 §15.4.5: a 304 carries the fields a 200 would have had that describe it.
      for (const k of ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified', 'age', 'via', 'cache-status']) if (headers[k] !== undefined) h[k] = headers[k];
      this.reply(ctx, 304, 'Not Modified', h, info);
      ctx.res.end();
      return;
    }
    let ranges: ByteRange[] | 'unsatisfiable' | null = null;
    const ifRange = headerString(reqH, 'if-range');
    // RFC 9110 §14.2: Range applies to GET; If-Range must match the stored validator (strong ETag or date).
    if (ctx.method === 'GET' && e.status === 200 && (!ifRange || ifRange.trim() === headerString(e.resHeaders, 'etag')?.trim() || ifRange.trim() === headerString(e.resHeaders, 'last-modified')?.trim())) {
      ranges = parseRanges(headerString(reqH, 'range'), e.size);
    }
    if (ranges === 'unsatisfiable') {
      // RFC 9110 §15.5.17: 416 with the current length.
      this.reply(ctx, 416, 'Range Not Satisfiable', { 'content-range': `bytes */${e.size}`, 'content-length': '0', via: headers['via'], 'cache-status': headers['cache-status'] }, info);
      ctx.res.end();
      return;
    }
    if (ranges && ranges.length > 1) return this.serveMultipart(ctx, e, headers, ranges, info);
    const range = ranges?.[0];
    const status = range ? 206 : e.status;
    headers['content-length'] = String(range ? range.end - range.start + 1 : e.size);
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${e.size}`;
    if (e.status === 200 && !range) headers['accept-ranges'] = 'bytes';
    this.reply(ctx, status, range ? 'Partial Content' : e.statusMessage, headers, info);
    if (ctx.method === 'HEAD' || e.size === 0) {
      ctx.res.end();
      return;
    }
    const body = store.body(e, range);
    if (Buffer.isBuffer(body)) {
      ctx.res.end(body);
      return;
    }
    body.on('error', (err) => {
      this.o.logger.warn('proxy cache body unreadable', { err, url: e.url });
      store.drop(e);
      ctx.res.destroy();
    });
    body.pipe(ctx.res);
  }

  /** RFC 9110 §14.6: 206 multipart/byteranges, one part per (coalesced) range, in the order asked. */
  private serveMultipart(ctx: Ctx, e: CacheEntry, headers: HeaderMap, ranges: ByteRange[], info: CacheStatusInfo): void {
    const store = this.o.cache!;
    const boundary = `wharf-${randomBytes(12).toString('hex')}`;
    const m = multipartByteranges(boundary, headerString(e.resHeaders, 'content-type'), ranges, e.size);
    // the representation's Content-Type moves into the parts (§14.6)
    headers['content-type'] = `multipart/byteranges; boundary=${boundary}`;
    headers['content-length'] = String(m.length);
    delete headers['content-range'];
    this.reply(ctx, 206, 'Partial Content', headers, info);
    const res = ctx.res;
    const run = async (): Promise<void> => {
      for (let i = 0; i < ranges.length; i++) {
        if (res.destroyed) return;
        res.write(m.heads[i]!);
        const body = store.body(e, ranges[i]);
        if (Buffer.isBuffer(body)) {
          if (!res.write(body)) await drained(res);
          continue;
        }
        for await (const chunk of body) {
          if (res.destroyed) {
            body.destroy();
            return;
          }
          if (!res.write(chunk as Buffer)) await drained(res);
        }
      }
      res.end(m.tail);
    };
    run().catch((err: unknown) => {
      this.o.logger.warn('proxy cache body unreadable', { err, url: e.url });
      store.drop(e);
      res.destroy();
    });
  }

  /** RFC 5861 §3: refresh a stale entry without a client waiting (collapsed per URL). */
  private backgroundRevalidate(target: Target, e: CacheEntry, reqH: HeaderMap): void {
    if (this.inflight.has(target.key)) return;
    const run = async (): Promise<void> => {
      const headers = this.originRequestHeaders(reqH, target);
      for (const k of CONDITIONALS) delete headers[k];
      Object.assign(headers, conditionalHeaders(e.resHeaders));
      const requestTime = nowSec();
      const res = await this.fetchOrigin(target, 'GET', headers, null);
      const responseTime = nowSec();
      const resH = stripHopByHop(res.headers as HeaderMap);
      if (res.statusCode === 304 && notModifiedMatches(e.resHeaders, resH)) {
        res.resume();
        this.o.cache!.update(e, updateHeaders(e.resHeaders, resH), requestTime, responseTime, correctedInitialAge(resH, requestTime, responseTime));
        return;
      }
      const status = res.statusCode ?? 502;
      if (notStorableReason({ method: 'GET', status, reqHeaders: reqH, resHeaders: resH }) !== null) {
        res.resume();
        return;
      }
      const w = this.o.cache!.begin({ url: target.key, status, statusMessage: res.statusMessage ?? '', resHeaders: resH, reqHeaders: reqH, requestTime, responseTime, initialAge: correctedInitialAge(resH, requestTime, responseTime) });
      await new Promise<void>((resolve) => {
        res.on('data', (c: Buffer) => w.write(c));
        res.on('end', () => resolve());
        res.on('error', () => {
          w.abort();
          resolve();
        });
      });
      await w.commit();
    };
    const p = run().catch((err: unknown) => this.o.logger.debug('proxy background revalidation failed', { err, url: target.key }));
    this.inflight.set(target.key, p);
    void p.finally(() => {
      if (this.inflight.get(target.key) === p) this.inflight.delete(target.key);
    });
  }

  // ---- forwarding -----------------------------------------------------------------------------

  private originRequestHeaders(reqH: HeaderMap, target: Target): HeaderMap {
    const h = stripHopByHop(reqH, REQUEST_DROPPED);
    // RFC 9112 §3.2.2: a proxy replaces Host with the target URI's authority.
    h['host'] = target.url.host;
    h['via'] = appendVia(h['via'], this.via);
    return h;
  }

  /**
   * Sends the request to the origin and relays the answer, storing it when allowed. With a
   * stale entry, the request is conditional and a 304 freshens the entry (RFC 9111 §4.3).
   */
  private async forward(ctx: Ctx, stale: CacheEntry | undefined, fwd: NonNullable<CacheStatusInfo['fwd']>): Promise<void> {
    const reqH = ctx.req.headers as HeaderMap;
    const headers = this.originRequestHeaders(reqH, ctx.target);
    let validating = false;
    if (stale) {
      // RFC 9111 §4.3.1: our validators replace the client's (we answer its conditionals ourselves).
      for (const k of CONDITIONALS) delete headers[k];
      const cond = conditionalHeaders(stale.resHeaders);
      Object.assign(headers, cond);
      validating = Object.keys(cond).length > 0;
      delete headers['range'];
    }
    const hasBody = reqH['content-length'] !== undefined || reqH['transfer-encoding'] !== undefined;
    if (this.o.cache && fwd !== 'bypass' && fwd !== 'method') this.o.cache.recordMiss();
    const requestTime = nowSec();
    let res: http.IncomingMessage;
    try {
      res = await this.fetchOrigin(ctx.target, ctx.method, headers, hasBody ? ctx.req : null);
    } catch (err) {
      const now = nowSec();
      // RFC 5861 §4: stale-if-error when the origin cannot be reached.
      if (stale && staleIfErrorAllowed(stale, reqH, now)) {
        const d = decide(stale, reqH, now);
        return this.serveStored(ctx, stale, { fwd, detail: 'stale-if-error' }, d.age);
      }
      const status = err instanceof OriginError ? err.status : 502;
      this.o.logger.debug('proxy origin failed', { url: ctx.target.key, err });
      return this.sendError(ctx.req, ctx.res, status, status === 504 ? 'Gateway Timeout' : 'Bad Gateway', err instanceof OriginError ? err.message : 'origin unreachable', fwd);
    }
    const responseTime = nowSec();
    const status = res.statusCode ?? 502;
    const resH = stripHopByHop(res.headers as HeaderMap);
    const store = this.o.cache;

    if (stale && store) {
      if (status === 304 && validating && notModifiedMatches(stale.resHeaders, resH)) {
        // RFC 9111 §4.3.4: freshen the stored response with the 304's fields.
        res.resume();
        store.update(stale, updateHeaders(stale.resHeaders, resH), requestTime, responseTime, correctedInitialAge(resH, requestTime, responseTime));
        const d = decide(stale, {}, nowSec());
        return this.serveStored(ctx, stale, { fwd, fwdStatus: 304, ttl: d.ttl }, d.age);
      }
      if (isErrorStatus(status) && staleIfErrorAllowed(stale, reqH, nowSec())) {
        res.resume();
        return this.serveStored(ctx, stale, { fwd, fwdStatus: status, detail: 'stale-if-error' }, decide(stale, reqH, nowSec()).age);
      }
    }

    // RFC 9111 §4.4: a non-error answer to an unsafe method invalidates the URI (and same-origin
    // Location / Content-Location).
    if (store) {
      const uris = invalidatedUris(ctx.method, status, ctx.target.key, resH);
      for (const u of uris) store.invalidate(u);
      // with workers: the other processes forget them before the client hears back
      if (uris.length > 0) await store.synced();
    }

    let writer = null;
    if (store && ctx.method === 'GET' && reqH['range'] === undefined && notStorableReason({ method: ctx.method, status, reqHeaders: reqH, resHeaders: resH }) === null) {
      const cl = Number(headerString(resH, 'content-length') ?? '0');
      if (!(cl > store.maxObjectSize)) {
        writer = store.begin({ url: ctx.target.key, status, statusMessage: res.statusMessage ?? '', resHeaders: resH, reqHeaders: reqH, requestTime, responseTime, initialAge: correctedInitialAge(resH, requestTime, responseTime) });
      }
    }
    // RFC 9111 §4.3.3: a full response replaces the stored one; one we may not store retires it.
    if (stale && store && !writer && status < 500 && ctx.method === 'GET' && reqH['range'] === undefined) store.drop(stale);
    const out: HeaderMap = { ...resH };
    out['via'] = appendVia(out['via'], this.via);
    const ttl = writer ? freshnessLifetime(status, resH, responseTime) - correctedInitialAge(resH, requestTime, responseTime) : undefined;
    const info: CacheStatusInfo = { fwd, fwdStatus: status, ...(ttl !== undefined ? { ttl } : {}), ...(writer ? { stored: true } : {}) };
    out['cache-status'] = cacheStatus(CACHE_NAME, info);
    this.reply(ctx, status, res.statusMessage ?? '', out, info);

    await new Promise<void>((resolve) => {
      let clientGone = false;
      const onClose = (): void => {
        if (ctx.res.writableFinished) return;
        clientGone = true;
        // keep filling the cache if we are storing; otherwise stop reading from the origin
        if (!writer?.active) res.destroy();
        res.resume();
      };
      ctx.res.once('close', onClose);
      res.setTimeout(this.o.timeouts.response, () => res.destroy(new OriginError(504, 'origin stalled')));
      res.on('data', (chunk: Buffer) => {
        writer?.write(chunk);
        if (clientGone) return;
        if (!ctx.res.write(chunk)) {
          res.pause();
          ctx.res.once('drain', () => res.resume());
        }
      });
      res.once('end', () => {
        ctx.res.off('close', onClose);
        if (!clientGone) ctx.res.end();
        if (writer) void writer.commit().then(() => resolve(), () => resolve());
        else resolve();
      });
      res.once('error', () => undefined);
      res.once('close', () => {
        if (res.complete) return;
        // origin broke off mid-body: do not store, cut the client (its framing cannot be completed)
        writer?.abort();
        ctx.res.off('close', onClose);
        ctx.res.destroy();
        resolve();
      });
    });
  }

  /** One request to the origin. Rejects with OriginError(502) on connect failure, (504) on timeout. */
  private async fetchOrigin(target: Target, method: string, headers: HeaderMap, body: Readable | null, retry = true): Promise<http.IncomingMessage> {
    let address: string;
    try {
      address = await this.resolveHost(target.url.hostname);
    } catch {
      throw new OriginError(502, 'cannot resolve origin');
    }
    const port = Number(target.url.port || 80);
    const clean: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) clean[k] = v;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = http.request({ host: address, port, method, path: target.url.pathname + target.url.search, headers: clean, agent: this.agent, setHost: false });
      let connectTimer: NodeJS.Timeout | undefined;
      const responseTimer = setTimeout(() => r.destroy(new OriginError(504, 'origin timed out')), this.o.timeouts.response);
      const clear = (): void => {
        clearTimeout(responseTimer);
        if (connectTimer) clearTimeout(connectTimer);
      };
      r.once('socket', (s: net.Socket) => {
        if (s.connecting) {
          connectTimer = setTimeout(() => r.destroy(new OriginError(502, 'connect timed out')), this.o.timeouts.connect);
          s.once('connect', () => clearTimeout(connectTimer));
        }
      });
      r.once('response', (res) => {
        clear();
        resolve(res);
      });
      r.once('error', (err: NodeJS.ErrnoException) => {
        clear();
        // a pooled connection the origin closed meanwhile: try once more on a new one
        if (retry && r.reusedSocket && !body && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          this.fetchOrigin(target, method, headers, body, false).then(resolve, reject);
          return;
        }
        if (err instanceof OriginError) reject(err);
        else if (err.code?.startsWith('HPE_')) reject(new OriginError(502, 'bad response from origin'));
        else reject(new OriginError(502, 'origin unreachable'));
      });
      if (body) body.pipe(r);
      else r.end();
    });
  }

  private async resolveHost(host: string): Promise<string> {
    const h = host.startsWith('[') ? host.slice(1, -1) : host;
    if (net.isIP(h)) return h;
    if (h.toLowerCase() === 'localhost') return '127.0.0.1';
    const list = await this.o.resolve(h);
    if (list.length === 0) throw new Error('no address');
    return list[0]!;
  }

  // ---- CONNECT ---------------------------------------------------------------------------------

  /** RFC 9110 §9.3.6: a blind tunnel to host:port, for allowed clients and ports only. */
  private onConnect(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const t = this.transcriptOf(socket);
    t.client(`CONNECT ${req.url} HTTP/${req.httpVersion}`);
    const event = (status: number, cache: ProxyCacheOutcome): void => {
      if (this.o.bus.listenerCount('proxy-request') === 0) return;
      const ev: ProxyRequestEvent = { session: t.session, client: t.peer, method: 'CONNECT', url: req.url ?? '', status, cache, cacheStatus: '', at: Date.now() };
      this.o.bus.emit('proxy-request', ev);
    };
    const answer = (status: string): void => {
      event(Number(status.slice(0, 3)), 'error');
      t.server(`HTTP/1.1 ${status}`);
      socket.end(`HTTP/1.1 ${status}\r\nVia: ${this.via}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    socket.on('error', () => undefined);
    if (!this.allow.has(socket.remoteAddress ?? '')) return answer('403 Forbidden');
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):(\d{1,5})$/.exec(req.url ?? '');
    if (!m) return answer('400 Bad Request');
    const port = Number(m[2]);
    if (!this.o.connectPorts.includes(port)) return answer('403 Forbidden');
    this.resolveHost(m[1]!).then(
      (address) => {
        const upstream = net.connect({ host: address, port });
        const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), this.o.timeouts.connect);
        this.sockets.add(upstream);
        upstream.once('close', () => this.sockets.delete(upstream));
        let connected = false;
        upstream.once('connect', () => {
          connected = true;
          clearTimeout(timer);
          t.server('HTTP/1.1 200 Connection Established');
          event(200, 'tunnel');
          socket.write(`HTTP/1.1 200 Connection Established\r\nVia: ${this.via}\r\n\r\n`);
          if (head.length > 0) upstream.write(head);
          socket.setTimeout(this.o.idleTimeout, () => socket.destroy());
          upstream.pipe(socket);
          socket.pipe(upstream);
        });
        upstream.on('error', () => {
          clearTimeout(timer);
          if (!connected && socket.writable) answer('502 Bad Gateway');
          else socket.destroy();
        });
        upstream.once('close', () => {
          if (connected) socket.destroy();
        });
        socket.once('close', () => upstream.destroy());
      },
      () => answer('502 Bad Gateway'),
    );
  }
}

/** Resolves when the response can take more data (or is gone). */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function appendVia(v: string | string[] | undefined, ours: string): string {
  const prev = v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
  return prev ? `${prev}, ${ours}` : ours;
}

/** RFC 9110 §13.1.2 If-None-Match (weak comparison) or, without it, §13.1.3 If-Modified-Since. */
export function notModifiedFor(reqH: HeaderMap, resH: HeaderMap): boolean {
  const inm = headerString(reqH, 'if-none-match');
  const etag = headerString(resH, 'etag')?.trim();
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    if (!etag) return false;
    const weak = (s: string): string => s.trim().replace(/^W\//, '');
    return inm.split(',').some((x) => weak(x) === weak(etag));
  }
  const ims = parseHttpDate(headerString(reqH, 'if-modified-since'));
  const lm = parseHttpDate(headerString(resH, 'last-modified'));
  return ims !== undefined && lm !== undefined && lm <= ims;
}
